import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { LocalBackend, TerraformOutput, TerraformStack } from '../src/cdktf';
import { HaproxyFrontends } from '../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../src/constructs/patroni-cluster';
import { AwsPlatform } from '../src/platform/aws/aws-platform';
import { AwsSubnet } from '../src/platform/aws/subnet';
import { AwsVpc } from '../src/platform/aws/vpc';
import { AwsArchiveBucket } from '../src/platform/aws/archive-bucket';
import { HaTopologyProps, haTopology } from './ha-topology';

/**
 * What the reference stack adds to the topology unless its settings say otherwise: a WAL archive
 * and scheduled backups (weekly full, daily differential, hourly check, weekly verify and restore
 * drill), and monitoring (exporters, alert rules, scrape configuration, dashboard). Set
 * `archive: false` or `monitoring: false` to leave them out.
 */
export function withReferenceDefaults(settings: AwsHaStackSettings): HaTopologyProps {
  const { archive, backup, monitoring, ...rest } = settings;
  return {
    ...rest,
    ...(archive === false ? {} : { archive: archive ?? {}, backup: backup ?? {} }),
    ...(monitoring === false ? {} : { monitoring: monitoring ?? {} }),
  };
}

/** The stack's settings as cdktf.json's context gives them. */
export type AwsHaStackSettings = Omit<AwsHaStackProps, 'archive' | 'monitoring'> & {
  readonly archive?: HaTopologyProps['archive'] | false;
  readonly monitoring?: HaTopologyProps['monitoring'] | false;
};

export interface AwsHaStackProps extends HaTopologyProps {
  /** @default "eu-west-1" */
  readonly region?: string;
  /** Zones of the new VPC's subnets. @default "<region>a", "<region>b", "<region>c" */
  readonly availabilityZones?: readonly string[];
  /** Put the nodes in an existing VPC instead of creating one. */
  readonly existingNetwork?: { readonly vpcId: string; readonly subnets: readonly AwsSubnet[] };
}

/**
 * The reference topology on AWS: 3 PostgreSQL nodes with Patroni and etcd across 3 zones,
 * 2 HAProxy nodes behind an internal NLB, all in private subnets (of a new VPC by default, whose
 * CIDR is then the default client network).
 */
export class AwsHaStack extends TerraformStack {
  readonly cluster: PatroniCluster;
  readonly frontends: HaproxyFrontends;

  constructor(scope: Construct, id: string, settings: AwsHaStackSettings = {}) {
    super(scope, id);
    const props: AwsHaStackProps = { ...withReferenceDefaults(settings), region: settings.region, availabilityZones: settings.availabilityZones, existingNetwork: settings.existingNetwork };
    const region = props.region ?? 'eu-west-1';
    new AwsProvider(this, 'aws', {
      region,
      defaultTags: [{ tags: { 'pgha:stack': id, ManagedBy: 'cdktf-postgres-ha' } }],
    });
    // A relative state path keeps the synthesized JSON free of this machine's paths; use an
    // S3 backend for a shared deployment (see README).
    new LocalBackend(this, { path: `terraform.${id}.tfstate` });

    let network = props.existingNetwork;
    let defaultClients: readonly string[] = [];
    if (!network) {
      const vpc = new AwsVpc(this, 'Network', {
        name: id,
        availabilityZones: props.availabilityZones ?? ['a', 'b', 'c'].map((zone) => `${region}${zone}`),
      });
      network = { vpcId: vpc.vpcId, subnets: vpc.privateSubnets };
      defaultClients = [vpc.cidrBlock];
    }
    const platform = new AwsPlatform(this, 'Platform', network);
    const { cluster, frontends, archive } = haTopology(this, platform, { ...props, clientCidrs: props.clientCidrs ?? defaultClients });
    this.cluster = cluster;
    this.frontends = frontends;
    if (archive) {
      const bucket = archive.repository as AwsArchiveBucket;
      new TerraformOutput(this, 'archive_bucket_arn', { staticId: true, value: bucket.bucketArn, description: 'S3 bucket of the pgBackRest repository' });
      new TerraformOutput(this, 'archive_bucket_name', { staticId: true, value: bucket.bucketName, description: `pgBackRest repository: stanza ${cluster.clusterName} under ${bucket.repositoryPath}` });
    }
    new TerraformOutput(this, 'cluster_members', {
      staticId: true,
      value: this.cluster.members.map((m) => `${m.name}=${m.address}`).join(','),
      description: 'Patroni members (name=address); each serves its REST API on port 8008',
    });
  }
}
