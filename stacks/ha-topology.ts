import { Construct } from 'constructs';
import {
  BackupJob,
  BackupJobProps,
  ClusterMonitoring,
  ClusterMonitoringProps,
  HaproxyFrontends,
  HaproxyFrontendsProps,
  PatroniCluster,
  PatroniClusterProps,
  Platform,
  PrometheusServer,
  PrometheusServerProps,
  RestoreFromProps,
  WalArchiveBucket,
  WalArchiveBucketProps,
} from 'cdktf-postgres-ha';

export interface HaTopologyProps {
  /** Cluster settings beyond the reference defaults. */
  readonly cluster?: Partial<Omit<PatroniClusterProps, 'platform' | 'archive' | 'restoreFrom'>>;
  /** Networks of the applications that connect through the proxies. */
  readonly clientCidrs?: readonly string[];
  /** Proxy settings beyond the reference defaults. */
  readonly frontends?: Partial<Omit<HaproxyFrontendsProps, 'platform' | 'cluster' | 'clientCidrs'>>;
  /** A pgBackRest repository the cluster archives WAL into. @default - none */
  readonly archive?: Partial<Omit<WalArchiveBucketProps, 'platform'>>;
  /** Bootstrap the cluster from the archive (point-in-time recovery); needs `archive`. */
  readonly restoreFrom?: Omit<RestoreFromProps, 'archive'>;
  /** Scheduled backups, checks and restore drills into the archive; needs `archive`. */
  readonly backup?: Omit<BackupJobProps, 'cluster'>;
  /** Exporters on every node, alert rules, scrape config and dashboard. @default - none */
  readonly monitoring?: Omit<ClusterMonitoringProps, 'cluster' | 'frontends'>;
  /** A Prometheus node that scrapes the cluster and loads its alert rules; needs `monitoring`. @default - none */
  readonly prometheusServer?: Omit<PrometheusServerProps, 'platform' | 'monitoring'>;
}

export interface HaTopology {
  readonly cluster: PatroniCluster;
  readonly frontends: HaproxyFrontends;
  readonly archive?: WalArchiveBucket;
  readonly backup?: BackupJob;
  readonly monitoring?: ClusterMonitoring;
  readonly prometheusServer?: PrometheusServer;
}

/**
 * The reference production topology, on any platform: 3 PostgreSQL nodes with Patroni and etcd
 * (synchronous replication), and 2 HAProxy nodes in front of them; with an archive when asked.
 */
export function haTopology(scope: Construct, platform: Platform, props: HaTopologyProps = {}): HaTopology {
  if (props.prometheusServer && !props.monitoring) {
    throw new Error(
      'haTopology: prometheusServer: got settings without monitoring; expected monitoring too (the exporters it scrapes and the alert rules it loads). ' +
        'Fix: add monitoring: {} (or remove prometheusServer).',
    );
  }
  const archive = props.archive ? new WalArchiveBucket(scope, 'Archive', { name: 'main', ...props.archive, platform }) : undefined;
  if (props.restoreFrom && !archive) throw new Error('haTopology: restoreFrom needs an archive to restore from');
  const cluster = new PatroniCluster(scope, 'Cluster', {
    clusterName: 'main',
    replicationMode: 'sync',
    ...props.cluster,
    platform,
    archive,
    restoreFrom: props.restoreFrom && archive ? { ...props.restoreFrom, archive } : undefined,
  });
  const backup = props.backup ? new BackupJob(scope, 'Backup', { ...props.backup, cluster }) : undefined;
  const frontends = new HaproxyFrontends(scope, 'Frontends', {
    ...props.frontends,
    platform,
    cluster,
    clientCidrs: [...(props.clientCidrs ?? [])],
  });
  const monitoring = props.monitoring ? new ClusterMonitoring(scope, 'Monitoring', { ...props.monitoring, cluster, frontends }) : undefined;
  const prometheusServer =
    props.prometheusServer && monitoring ? new PrometheusServer(scope, 'PrometheusServer', { ...props.prometheusServer, platform, monitoring: [monitoring] }) : undefined;
  return { cluster, frontends, archive, backup, monitoring, prometheusServer };
}
