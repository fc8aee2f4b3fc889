import { Construct } from 'constructs';
import { LAYOUT } from '../model/layout';
import { MONITORING_PASSWORD_KEY, nodeExporterAddition, postgresExporterAddition } from '../node-plan/monitoring-plan';
import { Peer } from '../model/node-plan';
import { NodeGroup, SecretRef } from '../platform/platform';
import { RendersArtifacts, StackArtifact } from '../platform/rendered-node';
import { renderAlertRules } from '../render/alert-rules';
import { renderExporterQueries } from '../render/exporter-queries';
import { renderGrafanaDashboardJson } from '../render/grafana-dashboard';
import { MONITORING_ROLE, MONITORING_PASSWORD_VARIABLE, monitoringRoleScriptFile } from '../render/monitoring-role';
import { ScrapeCluster, ScrapeNodeRole, renderPrometheusConfig, renderScrapeConfig } from '../render/scrape-config';
import { MonitoringSpec, MonitoringSpecInput, validateMonitoringSpec } from '../spec/monitoring';
import { BackupJob } from './backup-job';
import { HaproxyFrontends } from './haproxy-frontends';
import { PatroniCluster } from './patroni-cluster';
import { FRONTENDS, PATRONI_CLUSTER, checkReference, propsObject } from './references';
import { claimPorts } from './stack-claims';
import { checkAddedPeer, checkPeers } from '../spec/peer';
import { SpecError } from '../spec/problems';
import { registerStackOutput } from './stack-output';

/** The exporters answer without authentication: never to every address. */
const SCRAPER_PEERS = { why: 'the network or security group of your Prometheus: the exporters answer without authentication' } as const;

/** A warning and a critical threshold. */
export interface ThresholdPair {
  readonly warning: number;
  readonly critical: number;
}

export interface ClusterMonitoringProps {
  readonly cluster: PatroniCluster;
  /** Its proxies: node_exporter on them too. @default - none */
  readonly frontends?: HaproxyFrontends;
  /**
   * Who may scrape the exporters (ports 9187 and 9100): your Prometheus servers' security group
   * or network. Nobody else can reach them. @default - nobody (add with allowScraper)
   */
  readonly scrapers?: Peer[];
  /** Cache hit ratio per database, percent; alerts below. @default { warning: 99, critical: 95 } */
  readonly cacheHitPercent?: ThresholdPair;
  /** Databases reading fewer blocks per second are not judged on their cache hit ratio. @default 1 */
  readonly cacheHitMinBlocksPerSecond?: number;
  /** Replica replay lag in seconds; alerts above. @default { warning: 60, critical: 300 } */
  readonly replicationLagSeconds?: ThresholdPair;
  /** Connections in use, percent of max_connections; alerts above. @default { warning: 80, critical: 95 } */
  readonly connectionUsagePercent?: ThresholdPair;
  /** Data volume usage, percent; alerts above. @default { warning: 80, critical: 90 } */
  readonly diskUsagePercent?: ThresholdPair;
  /** Dead tuples, percent of a table's rows; alerts above. @default { warning: 10, critical: 20 } */
  readonly deadTuplePercent?: ThresholdPair;
  /** Tables with fewer rows are not judged on dead tuples. @default 10000 */
  readonly deadTupleMinRows?: number;
  /** age(datfrozenxid) in transactions; alerts above. @default { warning: 1000000000, critical: 1500000000 } */
  readonly xidAge?: ThresholdPair;
  /**
   * WAL a replication slot keeps on a node, in bytes (its standby or subscriber is down or far
   * behind); alerts above. At least 16777216 (one WAL segment).
   * @default { warning: 1073741824, critical: 8589934592 } (1 GiB, 8 GiB)
   */
  readonly slotRetainedWalBytes?: ThresholdPair;
  /** The newest backup may be this old. @default - from the cluster's BackupJob schedules (daily: 26) */
  readonly backupMaxAgeHours?: number;
  /** @default 9187 */
  readonly exporterPort?: number;
  /** @default 9100 */
  readonly nodeExporterPort?: number;
}

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
const propsMatchSpec: [Required<Omit<ClusterMonitoringProps, 'cluster' | 'frontends' | 'scrapers'>>] extends [Required<MonitoringSpecInput>] ? true : never = true;
void propsMatchSpec;

/** How often the monitoring role is checked (created after a bootstrap, password kept current). */
const ROLE_SCHEDULE = '*:0/5';

/**
 * Monitoring for a cluster: postgres_exporter (as a pg_monitor role whose password comes from a
 * secret) on every PostgreSQL node, node_exporter on every node, each bound to the node's address
 * and reachable only from the scrapers; and, as stack artifacts, the Prometheus alert rules with
 * these thresholds, the scrape configuration and a Grafana dashboard
 * (`monitoring/<cluster>/` beside the nodes' files).
 */
export class ClusterMonitoring extends Construct implements RendersArtifacts {
  readonly spec: MonitoringSpec;
  /** The monitoring role's password. */
  readonly secret: SecretRef;
  private readonly cluster: PatroniCluster;
  private readonly groups: { group: NodeGroup; role: ScrapeNodeRole }[];
  /** The networks the exporters are open to so far. */
  private readonly scraperNetworks: string[] = [];

  constructor(scope: Construct, id: string, props: ClusterMonitoringProps) {
    super(scope, id);
    registerStackOutput(this);
    const { cluster, frontends, scrapers, ...specInput } = propsObject('ClusterMonitoring spec', this.node.path, props);
    const outside = [
      ...checkReference('cluster', cluster, PATRONI_CLUSTER),
      ...checkReference('frontends', frontends, FRONTENDS, true),
      ...(scrapers === undefined ? [] : checkPeers('scrapers', scrapers, SCRAPER_PEERS)),
    ];
    this.spec = validateMonitoringSpec(specInput, this.node.path, { problems: outside, props: ['cluster', 'frontends', 'scrapers'] });
    this.cluster = cluster;
    const spec = this.spec;
    this.secret = cluster.platform.createSecret(this, 'Secret', `${cluster.clusterName}/monitoring`, [MONITORING_PASSWORD_KEY]);
    cluster.nodes.grantSecret(this.secret);

    const queries = renderExporterQueries();
    const roleScript = monitoringRoleScriptFile({ socketDir: LAYOUT.postgresSocketDir, port: cluster.spec.postgresPort, binDir: LAYOUT.postgresBinDir, passwordVariable: MONITORING_PASSWORD_VARIABLE });
    cluster.nodes.extendPlans((plan) =>
      postgresExporterAddition(plan, {
        port: spec.exporterPort,
        postgresPort: cluster.spec.postgresPort,
        secretName: this.secret.name,
        role: MONITORING_ROLE,
        queries,
        roleScript,
        roleSchedule: ROLE_SCHEDULE,
      }),
    );
    this.groups = [
      { group: cluster.nodes, role: 'postgres' },
      ...(cluster.etcdNodes ? [{ group: cluster.etcdNodes, role: 'etcd' as const }] : []),
      ...(frontends ? [{ group: frontends.nodes, role: 'proxy' as const }] : []),
    ];
    const claimant = { specName: 'ClusterMonitoring spec', construct: this };
    claimPorts(claimant, cluster.nodes, [{ port: spec.exporterPort, field: 'exporterPort', what: 'postgres_exporter' }]);
    for (const { group } of this.groups) claimPorts(claimant, group, [{ port: spec.nodeExporterPort, field: 'nodeExporterPort', what: 'node_exporter' }]);
    for (const { group } of this.groups) group.extendPlans((plan) => nodeExporterAddition(plan, spec.nodeExporterPort));
    for (const scraper of scrapers ?? []) this.allowScraper(scraper);
  }

  /** Lets a Prometheus (a network or security group) scrape every exporter. */
  allowScraper(peer: Peer): void {
    const problems = checkAddedPeer('allowScraper(peer)', peer, SCRAPER_PEERS, this.scraperNetworks);
    if (problems.length > 0) throw new SpecError('ClusterMonitoring spec', problems, this.node.path);
    if ('cidr' in peer) this.scraperNetworks.push(peer.cidr);
    this.cluster.nodes.allow(this.spec.exporterPort, 'postgres_exporter (Prometheus)', peer);
    for (const { group } of this.groups) group.allow(this.spec.nodeExporterPort, 'node_exporter (Prometheus)', peer);
  }

  /**
   * What Prometheus scrapes, and how it finds it on this platform.
   * @internal PrometheusServer reads it.
   */
  get scrapeCluster(): ScrapeCluster {
    const discovery = this.cluster.platform.scrapeDiscovery;
    return {
      cluster: this.cluster.clusterName,
      targets: discovery.kind,
      region: discovery.kind === 'ec2' ? discovery.region : undefined,
      nodes: this.groups.flatMap(({ group, role }) => group.placements.map((p) => ({ name: p.name, address: p.address, role }))),
      exporterPort: this.spec.exporterPort,
      nodeExporterPort: this.spec.nodeExporterPort,
    };
  }

  /** The alert rules, with the cluster's BackupJob (when it has one) for the backup-age rule. */
  alertRules(): string {
    const backup = this.node.root.node.findAll().find((c): c is BackupJob => c instanceof BackupJob && c.cluster === this.cluster);
    return renderAlertRules({ spec: this.spec, backup: backup?.spec });
  }

  artifacts(): StackArtifact[] {
    const dir = `monitoring/${this.cluster.clusterName}`;
    const clusters = [this.scrapeCluster];
    return [
      { path: `${dir}/alert-rules.yml`, content: this.alertRules() },
      { path: `${dir}/scrape-config.yml`, content: renderScrapeConfig({ clusters }) },
      { path: `${dir}/prometheus.yml`, content: renderPrometheusConfig({ clusters, ruleFiles: ['alert-rules.yml'] }) },
      { path: `${dir}/grafana-dashboard.json`, content: renderGrafanaDashboardJson({ title: `PostgreSQL ${this.cluster.clusterName}` }) },
    ];
  }
}
