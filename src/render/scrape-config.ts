import { Document } from 'yaml';
import { SCRAPE_JOBS, TARGET_LABELS } from './monitoring-metrics';

/** How Prometheus finds a cluster's nodes: EC2 service discovery (AWS) or a fixed list (local, Docker). */
export type ScrapeTargets = 'ec2' | 'static';

/** What a node runs: PostgreSQL (with Patroni and maybe etcd), HAProxy, or a dedicated etcd member. */
export type ScrapeNodeRole = 'postgres' | 'proxy' | 'etcd';

export interface ScrapeNode {
  /** The node's name: the `node` label (on AWS also the instance's `Name` tag). */
  readonly name: string;
  /** The address the exporters listen on (the node's private address). */
  readonly address: string;
  readonly role: ScrapeNodeRole;
}

export interface ScrapeCluster {
  /** The cluster's name: the `cluster` label. */
  readonly cluster: string;
  readonly targets: ScrapeTargets;
  /**
   * AWS region of the instances. Required with `ec2`: without one Prometheus asks the instance
   * metadata service (169.254.169.254) at config load, which fails anywhere but on EC2.
   */
  readonly region?: string;
  /**
   * `static`: the scrape targets. `ec2`: the instances are discovered, not listed; the roles
   * present here choose which of the cluster's node groups node_exporter is discovered in
   * (a cluster without dedicated etcd nodes has no `<cluster>-etcd` group to look for).
   */
  readonly nodes: readonly ScrapeNode[];
  /** postgres_exporter's port on the PostgreSQL nodes. */
  readonly exporterPort: number;
  /** node_exporter's port on every node. */
  readonly nodeExporterPort: number;
}

export interface ScrapeConfigInput {
  readonly clusters: readonly ScrapeCluster[];
}

export interface PrometheusConfigInput extends ScrapeConfigInput {
  /** Rule files (paths or globs, as Prometheus resolves them: relative to the config file). */
  readonly ruleFiles: readonly string[];
  /** "host:port" of the Prometheus server itself: adds a `prometheus` job scraping it. @default - no self-scrape */
  readonly listenAddress?: string;
  /** @default 15 */
  readonly scrapeIntervalSeconds?: number;
  /** @default 15 */
  readonly evaluationIntervalSeconds?: number;
}

/**
 * The tags the AWS platform puts on every EC2 instance (src/platform/aws/node-group.ts):
 * `pgha:group` is the node group's name, `Name` the node's (placement) name. There is no tag for
 * the cluster or the role: both are read from the group name, which the constructs form as
 * `<cluster>-<suffix>` (patroni-cluster.ts, haproxy-frontends.ts).
 */
export const AWS_INSTANCE_TAGS = { group: 'pgha:group', name: 'Name' } as const;

/** Node group name suffix per role: `<cluster>-pg`, `<cluster>-proxy`, `<cluster>-etcd`. */
export const NODE_GROUP_SUFFIXES: Readonly<Record<ScrapeNodeRole, string>> = { postgres: 'pg', proxy: 'proxy', etcd: 'etcd' };

/** The node group name the constructs give a cluster's nodes of one role. */
export function nodeGroupName(cluster: string, role: ScrapeNodeRole): string {
  return `${cluster}-${NODE_GROUP_SUFFIXES[role]}`;
}

/** Prometheus' EC2 discovery labels (2.53.3, as in 2.42): tag keys with every character outside [A-Za-z0-9_] as "_". */
const EC2_META = {
  state: '__meta_ec2_instance_state',
  instanceId: '__meta_ec2_instance_id',
  privateIp: '__meta_ec2_private_ip',
  tag: (key: string) => `__meta_ec2_tag_${key.replace(/[^A-Za-z0-9_]/g, '_')}`,
} as const;

const ROLES: readonly ScrapeNodeRole[] = ['postgres', 'proxy', 'etcd'];
const CLUSTER_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const DEFAULT_INTERVAL_SECONDS = 15;

const SCRAPE_HEADER = [
  ' Prometheus scrape configuration for cdktf-postgres-ha clusters: generated, do not edit.',
  ` Jobs: ${SCRAPE_JOBS.postgres} (postgres_exporter on PostgreSQL nodes), ${SCRAPE_JOBS.node} (node_exporter on every node).`,
  ` Every series gets the labels ${TARGET_LABELS.cluster}, ${TARGET_LABELS.node} and ${TARGET_LABELS.role}, whether the targets are static or found by EC2 discovery.`,
  ' Paste the scrape_configs entries into your prometheus.yml.',
].join('\n');

const PROMETHEUS_HEADER = [
  ' Prometheus server configuration for cdktf-postgres-ha clusters: generated, do not edit.',
  ` Jobs: ${SCRAPE_JOBS.postgres} (postgres_exporter on PostgreSQL nodes), ${SCRAPE_JOBS.node} (node_exporter on every node).`,
].join('\n');

type Yaml = Record<string, unknown>;

/** The `scrape_configs` entries (plain objects, in Prometheus' keys): the pgha-postgres job, then pgha-node. */
export function scrapeConfigs(input: ScrapeConfigInput): Yaml[] {
  const clusters = checkInput(input);
  const jobs: Yaml[] = [];
  const postgres = job(SCRAPE_JOBS.postgres, clusters, (c) => ({ roles: ['postgres'], port: c.exporterPort }), false);
  if (postgres) jobs.push(postgres);
  const node = job(SCRAPE_JOBS.node, clusters, (c) => ({ roles: rolesOf(c), port: c.nodeExporterPort }), true);
  if (node) jobs.push(node);
  return jobs;
}

/** The `scrape_configs:` block as YAML text, with a header comment. */
export function renderScrapeConfig(input: ScrapeConfigInput): string {
  const document = new Document({ scrape_configs: scrapeConfigs(input) });
  document.commentBefore = SCRAPE_HEADER;
  return document.toString({ lineWidth: 0 });
}

/** A whole prometheus.yml: global intervals, the rule files and the scrape configs. */
export function renderPrometheusConfig(input: PrometheusConfigInput): string {
  const scrapeInterval = interval('scrapeIntervalSeconds', input.scrapeIntervalSeconds);
  const evaluationInterval = interval('evaluationIntervalSeconds', input.evaluationIntervalSeconds);
  for (const file of input.ruleFiles) {
    if (file.trim() === '' || /[\n\r]/.test(file)) {
      throw new Error(`PrometheusConfigInput.ruleFiles: got ${JSON.stringify(file)}; expected a file path or glob. Fix: pass the rule file's path.`);
    }
  }
  const selfScrape: Yaml[] = [];
  if (input.listenAddress !== undefined) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(input.listenAddress)) {
      throw new Error(
        `PrometheusConfigInput.listenAddress: got ${JSON.stringify(input.listenAddress)}; expected "host:port" (e.g. "10.0.1.5:9090"). Fix: give the server's own address and port.`,
      );
    }
    selfScrape.push({ job_name: 'prometheus', static_configs: [{ targets: [input.listenAddress] }] });
  }
  const config = {
    global: { scrape_interval: scrapeInterval, evaluation_interval: evaluationInterval },
    rule_files: [...input.ruleFiles],
    scrape_configs: [...scrapeConfigs(input), ...selfScrape],
  };
  const document = new Document(config);
  document.commentBefore = PROMETHEUS_HEADER;
  return document.toString({ lineWidth: 0 });
}

function interval(field: string, seconds: number | undefined): string {
  const value = seconds ?? DEFAULT_INTERVAL_SECONDS;
  if (!Number.isInteger(value) || value < 1 || value > 3600) {
    throw new Error(`PrometheusConfigInput.${field}: got ${value}; expected whole seconds from 1 to 3600. Fix: use e.g. 15.`);
  }
  return `${value}s`;
}

/** The roles a cluster's node_exporter job covers: those of its nodes (PostgreSQL always). */
function rolesOf(cluster: ScrapeCluster): ScrapeNodeRole[] {
  const present = new Set<ScrapeNodeRole>(['postgres', ...cluster.nodes.map((n) => n.role)]);
  return ROLES.filter((r) => present.has(r));
}

/** One scrape job over every cluster: static_configs for static clusters, ec2_sd_configs for the others. */
function job(
  name: string,
  clusters: readonly ScrapeCluster[],
  scope: (c: ScrapeCluster) => { roles: ScrapeNodeRole[]; port: number },
  nodeExporter: boolean,
): Yaml | undefined {
  const staticConfigs: Yaml[] = [];
  const ec2Configs: Yaml[] = [];
  const ec2Clusters: { cluster: ScrapeCluster; roles: ScrapeNodeRole[]; port: number }[] = [];
  for (const cluster of clusters) {
    const { roles, port } = scope(cluster);
    if (cluster.targets === 'static') {
      const nodes = cluster.nodes.filter((n) => roles.includes(n.role)).sort((a, b) => compare(a.name, b.name));
      for (const node of nodes) {
        staticConfigs.push({
          targets: [hostPort(node.address, port)],
          labels: { [TARGET_LABELS.cluster]: cluster.cluster, [TARGET_LABELS.node]: node.name, [TARGET_LABELS.role]: node.role },
        });
      }
    } else {
      ec2Clusters.push({ cluster, roles, port });
      ec2Configs.push({
        region: cluster.region,
        port,
        filters: [
          { name: `tag:${AWS_INSTANCE_TAGS.group}`, values: roles.map((r) => nodeGroupName(cluster.cluster, r)).sort(compare) },
          { name: 'instance-state-name', values: ['running'] },
        ],
      });
    }
  }
  if (staticConfigs.length === 0 && ec2Configs.length === 0) return undefined;

  const result: Yaml = { job_name: name };
  if (ec2Configs.length > 0) result.ec2_sd_configs = ec2Configs;
  if (staticConfigs.length > 0) result.static_configs = staticConfigs;
  if (ec2Clusters.length > 0) result.relabel_configs = ec2Relabeling(ec2Clusters);
  if (nodeExporter) result.metric_relabel_configs = jobStatusRelabeling();
  return result;
}

/**
 * Relabeling of discovered instances, so that their series carry the same labels as static
 * targets. Static targets in the same job come through untouched: they have no __meta_ec2_*
 * labels, so only the drop rule applies to them, and it keeps them (they have a cluster label).
 *
 * 1. A running instance of one of the cluster's groups gets the `cluster` label (per cluster).
 * 2. Every target without a `cluster` label is dropped: stopped, pending or terminated instances,
 *    and instances of other groups, should the EC2 filters ever let one through.
 * 3. `pgha_role` from the group, `node` from the Name tag (the instance id when it has none),
 *    `__address__` the private IP and the cluster's exporter port.
 */
function ec2Relabeling(clusters: readonly { cluster: ScrapeCluster; roles: ScrapeNodeRole[]; port: number }[]): Yaml[] {
  const group = EC2_META.tag(AWS_INSTANCE_TAGS.group);
  const rules: Yaml[] = [];
  for (const { cluster, roles } of clusters) {
    const groups = roles.map((r) => escapeRegex(nodeGroupName(cluster.cluster, r))).join('|');
    rules.push({
      source_labels: [group, EC2_META.state],
      regex: `(?:${groups});running`,
      target_label: TARGET_LABELS.cluster,
      replacement: cluster.cluster,
    });
  }
  rules.push({ source_labels: [TARGET_LABELS.cluster], regex: '', action: 'drop' });
  for (const { cluster, roles } of clusters) {
    for (const role of roles) {
      rules.push({ source_labels: [group], regex: escapeRegex(nodeGroupName(cluster.cluster, role)), target_label: TARGET_LABELS.role, replacement: role });
    }
  }
  rules.push({ source_labels: [EC2_META.instanceId], regex: '(.+)', target_label: TARGET_LABELS.node, replacement: '$1' });
  rules.push({ source_labels: [EC2_META.tag(AWS_INSTANCE_TAGS.name)], regex: '(.+)', target_label: TARGET_LABELS.node, replacement: '$1' });
  for (const { cluster, port } of clusters) {
    rules.push({
      source_labels: [TARGET_LABELS.cluster, EC2_META.privateIp],
      regex: `${escapeRegex(cluster.cluster)};(.+)`,
      target_label: '__address__',
      replacement: `$1:${port}`,
    });
  }
  return rules;
}

/**
 * The backup jobs' textfile metrics carry their own `cluster`, `node` and `job` labels (job =
 * "backup-full", "restore-drill", ...). Prometheus keeps the target's labels and renames clashing
 * ones to `exported_<name>`; these rules give the series back the job's name as `job` (node_exporter
 * exposes no `job` label of its own) and drop the duplicate cluster and node.
 */
function jobStatusRelabeling(): Yaml[] {
  return [
    { source_labels: ['exported_job'], regex: '(.+)', target_label: 'job', replacement: '$1' },
    { regex: `exported_(?:job|${TARGET_LABELS.cluster}|${TARGET_LABELS.node})`, action: 'labeldrop' },
  ];
}

function checkInput(input: ScrapeConfigInput): ScrapeCluster[] {
  if (input.clusters.length === 0) {
    throw new Error('ScrapeConfigInput.clusters: got none; expected at least one cluster. Fix: pass the clusters to scrape.');
  }
  const seen = new Set<string>();
  input.clusters.forEach((cluster, index) => {
    const at = `ScrapeConfigInput.clusters[${index}]`;
    if (!CLUSTER_NAME.test(cluster.cluster)) {
      throw new Error(`${at}.cluster: got ${JSON.stringify(cluster.cluster)}; expected a cluster name (lower-case letters, digits and "-"). Fix: use the cluster's clusterName.`);
    }
    if (seen.has(cluster.cluster)) {
      throw new Error(`${at}.cluster: "${cluster.cluster}" appears twice; expected each cluster once. Fix: merge its nodes into one entry.`);
    }
    seen.add(cluster.cluster);
    if (cluster.targets !== 'static' && cluster.targets !== 'ec2') {
      throw new Error(`${at}.targets: got ${JSON.stringify(cluster.targets)}; expected "static" or "ec2".`);
    }
    for (const field of ['exporterPort', 'nodeExporterPort'] as const) {
      const port = cluster[field];
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(`${at}.${field}: got ${port}; expected a TCP port from 1 to 65535.`);
      }
    }
    if (cluster.targets === 'ec2' && (cluster.region === undefined || !REGION.test(cluster.region))) {
      throw new Error(
        `${at}.region: got ${JSON.stringify(cluster.region)}; expected an AWS region such as "eu-west-1" with EC2 discovery ` +
          '(without one Prometheus asks the instance metadata service at load and fails off EC2). Fix: pass the region the cluster is in.',
      );
    }
    const names = new Set<string>();
    cluster.nodes.forEach((node, nodeIndex) => {
      const nodeAt = `${at}.nodes[${nodeIndex}]`;
      if (!NODE_NAME.test(node.name)) {
        throw new Error(`${nodeAt}.name: got ${JSON.stringify(node.name)}; expected a node name (letters, digits, ".", "_", ":" and "-").`);
      }
      if (names.has(node.name)) {
        throw new Error(`${nodeAt}.name: "${node.name}" appears twice in cluster "${cluster.cluster}"; expected unique node names.`);
      }
      names.add(node.name);
      if (!ROLES.includes(node.role)) {
        throw new Error(`${nodeAt}.role: got ${JSON.stringify(node.role)}; expected one of ${ROLES.join(', ')}.`);
      }
      if (cluster.targets === 'static' && !/^[0-9A-Za-z.:-]+$/.test(node.address)) {
        throw new Error(`${nodeAt}.address: got ${JSON.stringify(node.address)}; expected an IP address or host name.`);
      }
    });
    if (!cluster.nodes.some((n) => n.role === 'postgres')) {
      throw new Error(`${at}.nodes: cluster "${cluster.cluster}" has no node with role "postgres"; expected its PostgreSQL nodes. Fix: list them.`);
    }
  });
  return [...input.clusters].sort((a, b) => compare(a.cluster, b.cluster));
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Code-unit order: the same on every machine (localeCompare depends on the locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
