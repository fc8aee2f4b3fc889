import { Construct } from 'constructs';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { AwsArchiveBucket, HaproxyFrontends, PatroniCluster, stackPlatform } from 'cdktf-postgres-ha';
import { AwsNetworkSettings, awsPlatform } from './aws-network';
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

export interface AwsHaStackProps extends HaTopologyProps, AwsNetworkSettings {}

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
    // A relative state path keeps the synthesized JSON free of this machine's paths; use an
    // S3 backend for a shared deployment (see README).
    new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    let defaultClients: readonly string[] = [];
    // On AWS unless `pgha local up --stack aws-ha` runs the app: then the same topology on this machine.
    const platform = stackPlatform(this, () => {
      const aws = awsPlatform(this, id, settings);
      defaultClients = aws.clientCidrs;
      return aws.platform;
    });
    const { cluster, frontends, archive } = haTopology(this, platform, { ...withReferenceDefaults(settings), clientCidrs: settings.clientCidrs ?? defaultClients });
    this.cluster = cluster;
    this.frontends = frontends;
    if (archive?.repository instanceof AwsArchiveBucket) {
      const bucket = archive.repository;
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
