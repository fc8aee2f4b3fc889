import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { LocalBackend, TerraformOutput, TerraformStack } from '../src/cdktf';
import { HaproxyFrontends } from '../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../src/constructs/patroni-cluster';
import { AwsPlatform } from '../src/platform/aws/aws-platform';
import { AwsSubnet } from '../src/platform/aws/subnet';
import { AwsVpc } from '../src/platform/aws/vpc';
import { HaTopologyProps, haTopology } from './ha-topology';

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

  constructor(scope: Construct, id: string, props: AwsHaStackProps = {}) {
    super(scope, id);
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
    const { cluster, frontends } = haTopology(this, platform, { ...props, clientCidrs: props.clientCidrs ?? defaultClients });
    this.cluster = cluster;
    this.frontends = frontends;
    new TerraformOutput(this, 'cluster_members', {
      staticId: true,
      value: this.cluster.members.map((m) => `${m.name}=${m.address}`).join(','),
      description: 'Patroni members (name=address); each serves its REST API on port 8008',
    });
  }
}
