import { Construct } from 'constructs';
import { LocalBackend, TerraformStack } from 'cdktf';
import { HaproxyFrontends, PatroniCluster, Platform, PrimaryWithReplicas, stackPlatform } from 'cdktf-postgres-ha';
import { awsPlatform } from './aws-network';

/** An example stack: its topology on AWS, in a VPC of its own, or on this machine under `pgha local up --stack <id>`. */
abstract class ExampleStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    let clientCidrs: readonly string[] = [];
    const platform = stackPlatform(this, () => {
      const aws = awsPlatform(this, id, {});
      clientCidrs = aws.clientCidrs;
      return aws.platform;
    });
    this.build(platform, [...clientCidrs]);
  }

  protected abstract build(platform: Platform, clientCidrs: string[]): void;
}

/** A primary and 2 hot standbys without Patroni (synchronous, FIRST 1), behind 2 HAProxy: try `pgha local promote`. */
export class PrimaryWithReplicasStack extends ExampleStack {
  protected build(platform: Platform, clientCidrs: string[]): void {
    const cluster = new PrimaryWithReplicas(this, 'Cluster', { platform, clusterName: 'main', replicationMode: 'sync' });
    new HaproxyFrontends(this, 'Frontends', { platform, cluster, clientCidrs });
  }
}

/**
 * Logical replication: "main" (3 Patroni nodes behind 2 HAProxy) publishes every table of
 * database "app"; "reports" (1 Patroni node) subscribes. Create the database and tables on both.
 */
export class LogicalReplicationStack extends ExampleStack {
  protected build(platform: Platform, clientCidrs: string[]): void {
    const cluster = new PatroniCluster(this, 'Cluster', { platform, clusterName: 'main', publications: [{ name: 'app_pub', database: 'app', tables: 'all' }] });
    new PatroniCluster(this, 'Reports', {
      platform,
      clusterName: 'reports',
      nodeCount: 1,
      allowSingleNode: true,
      replicationMode: 'async',
      subscriptions: [{ name: 'app_sub', publisher: cluster, publication: 'app_pub' }],
    });
    new HaproxyFrontends(this, 'Frontends', { platform, cluster, clientCidrs });
  }
}
