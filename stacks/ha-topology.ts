import { Construct } from 'constructs';
import { HaproxyFrontends, HaproxyFrontendsProps } from '../src/constructs/haproxy-frontends';
import { PatroniCluster, PatroniClusterProps } from '../src/constructs/patroni-cluster';
import { Platform } from '../src/platform/platform';

export interface HaTopologyProps {
  /** Cluster settings beyond the reference defaults. */
  readonly cluster?: Partial<Omit<PatroniClusterProps, 'platform'>>;
  /** Networks of the applications that connect through the proxies. */
  readonly clientCidrs?: readonly string[];
  /** Proxy settings beyond the reference defaults. */
  readonly frontends?: Partial<Omit<HaproxyFrontendsProps, 'platform' | 'cluster' | 'clientCidrs'>>;
}

export interface HaTopology {
  readonly cluster: PatroniCluster;
  readonly frontends: HaproxyFrontends;
}

/**
 * The reference production topology, on any platform: 3 PostgreSQL nodes with Patroni and etcd
 * (synchronous replication), and 2 HAProxy nodes in front of them.
 */
export function haTopology(scope: Construct, platform: Platform, props: HaTopologyProps = {}): HaTopology {
  const cluster = new PatroniCluster(scope, 'Cluster', {
    clusterName: 'main',
    replicationMode: 'sync',
    ...props.cluster,
    platform,
  });
  const frontends = new HaproxyFrontends(scope, 'Frontends', {
    ...props.frontends,
    platform,
    cluster,
    clientCidrs: [...(props.clientCidrs ?? [])],
  });
  return { cluster, frontends };
}
