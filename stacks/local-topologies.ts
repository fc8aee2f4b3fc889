import { HaproxyFrontends } from '../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../src/constructs/patroni-cluster';
import { PrimaryWithReplicas } from '../src/constructs/primary-with-replicas';
import { TopologyBuilder } from '../src/runner/local-cluster';
import { FailoverProfile } from '../src/spec/failover';
import { AwsHaStackSettings, withReferenceDefaults } from './aws-ha';
import { cdktfContext } from './context';
import { haTopology } from './ha-topology';

/**
 * The stacks `pgha local up --stack NAME` can run: the same topology as the stack, with the same
 * cluster settings from cdktf.json, on the local platform. `profile` overrides the failover timing.
 */
export const LOCAL_TOPOLOGIES: Record<string, (profile?: FailoverProfile) => TopologyBuilder> = {
  'aws-ha': (profile) => (scope, platform) => {
    const settings = withReferenceDefaults((cdktfContext()['aws-ha'] ?? {}) as AwsHaStackSettings);
    return haTopology(scope, platform, {
      archive: settings.archive,
      backup: settings.backup,
      restoreFrom: settings.restoreFrom,
      monitoring: settings.monitoring,
      cluster: { ...settings.cluster, ...(profile ? { failover: profile } : {}) },
    });
  },
  /** A primary and 2 hot standbys without Patroni (synchronous, FIRST 1), behind 2 HAProxy: try `pgha local promote`. */
  'primary-with-replicas': () => (scope, platform) => {
    const cluster = new PrimaryWithReplicas(scope, 'Cluster', { platform, clusterName: 'main', replicationMode: 'sync' });
    return { cluster, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster }) };
  },
  /**
   * Logical replication: "main" (3 Patroni nodes behind 2 HAProxy) publishes every table of
   * database "app"; "reports" (1 Patroni node) subscribes. Create the database and tables on both.
   */
  'logical-replication': (profile) => (scope, platform) => {
    const cluster = new PatroniCluster(scope, 'Cluster', { platform, clusterName: 'main', failover: profile ?? 'default', publications: [{ name: 'app_pub', database: 'app', tables: 'all' }] });
    new PatroniCluster(scope, 'Reports', {
      platform,
      clusterName: 'reports',
      nodeCount: 1,
      allowSingleNode: true,
      replicationMode: 'async',
      failover: profile ?? 'default',
      subscriptions: [{ name: 'app_sub', publisher: cluster, publication: 'app_pub' }],
    });
    return { cluster, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster }) };
  },
};
