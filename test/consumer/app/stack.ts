import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider'; // submodules, never the barrel
import { AwsPlatform, BackupJob, ClusterMonitoring, HaproxyFrontends, PatroniCluster, WalArchiveBucket, stackPlatform } from 'cdktf-postgres-ha';

/** Orders' database: 3 PostgreSQL nodes with automatic failover, 2 proxies, backups and monitoring. */
export class OrdersStack extends TerraformStack {
  readonly cluster: PatroniCluster;
  readonly frontends: HaproxyFrontends;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // On AWS; under `pgha local up --stack orders`, the same topology as processes on this machine.
    const platform = stackPlatform(this, () => {
      new AwsProvider(this, 'aws', { region: 'eu-west-1' });
      // Existing private subnets: their CIDRs and zones must be known at synth time, because every
      // node gets a fixed address in its subnet (configs name their peers without Terraform cycles).
      return new AwsPlatform(this, 'Platform', {
        vpcId: 'vpc-0123456789abcdef0',
        subnets: [
          { subnetId: 'subnet-0aaaaaaaaaaaaaaa1', availabilityZone: 'eu-west-1a', cidrBlock: '10.0.1.0/24' },
          { subnetId: 'subnet-0bbbbbbbbbbbbbbb2', availabilityZone: 'eu-west-1b', cidrBlock: '10.0.2.0/24' },
          { subnetId: 'subnet-0ccccccccccccccc3', availabilityZone: 'eu-west-1c', cidrBlock: '10.0.3.0/24' },
        ],
      });
    });
    const archive = new WalArchiveBucket(this, 'Archive', { platform, name: 'orders' });
    this.cluster = new PatroniCluster(this, 'Cluster', { platform, clusterName: 'orders', archive, postgresqlParameters: { work_mem: '16MB' } });
    new BackupJob(this, 'Backup', { cluster: this.cluster });
    this.frontends = new HaproxyFrontends(this, 'Frontends', { platform, cluster: this.cluster, clientCidrs: ['10.0.0.0/16'] });
    new ClusterMonitoring(this, 'Monitoring', { cluster: this.cluster, frontends: this.frontends });
  }
}
