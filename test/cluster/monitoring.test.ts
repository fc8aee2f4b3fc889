/**
 * Monitoring on a real local cluster, every program from the node runtime root (Debian 13):
 * postgres_exporter 0.17.1 and node_exporter 1.9.0 on every node, the custom queries running on
 * PostgreSQL 17 without error, replication lag that rises when a replica's replay is paused and
 * falls back to 0, and a real Prometheus 2.53.3 that loads the generated alert rules and scrapes
 * every target of the generated scrape configuration as up: once started here by hand from the
 * artifacts (where every metric the alert rules and the dashboard read is shown to be exported by
 * the real exporters), once as the topology's PrometheusServer node, started by `localUp`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ClusterMonitoring } from '../../src/constructs/cluster-monitoring';
import { PrometheusServer } from '../../src/constructs/prometheus-server';
import { LocalEndpoints, localDown, localRunJob, localUp } from '../../src/runner/local-cluster';
import { PG_METRICS, SCRAPE_JOBS } from '../../src/render/monitoring-metrics';
import { renderGrafanaDashboard } from '../../src/render/grafana-dashboard';
import { renderPrometheusConfig } from '../../src/render/scrape-config';
import { postgresDataDir } from '../../src/model/layout';
import { haTopology } from '../../stacks/ha-topology';
import { RunningProcess, startProcess, stopProcess, waitUntil } from '../support/processes';

/** Per-slot series: only where slots are (the leader here). */
const SLOT_METRICS: readonly string[] = [PG_METRICS.slotRetainedBytes, PG_METRICS.slotActive, PG_METRICS.slotWalStatus];
import { TestCluster, eventually, leaderName, members, query } from '../support/local-cluster';

const BLOCK = 71;
const PROMETHEUS_ADDRESS = `127.${BLOCK}.9.1`;
const PROMETHEUS_PORT = 19071;

let dir: string | undefined;
let endpoints: LocalEndpoints | undefined;
let monitoring: ClusterMonitoring | undefined;
let prometheusServer: PrometheusServer | undefined;
let prometheus: RunningProcess | undefined;
let promDir: string | undefined;

const cluster = (): TestCluster => {
  if (!dir || !endpoints) throw new Error('the cluster did not start (see beforeAll)');
  return { dir, endpoints, superuser: endpoints.superuser };
};

/** One exporter's metrics as name{labels} -> value lines. */
async function scrape(host: string, port: number): Promise<string[]> {
  const response = await fetch(`http://${host}:${port}/metrics`);
  return (await response.text()).split('\n').filter((line) => line && !line.startsWith('#'));
}

/** The PID of a server's startup process (WAL replay), a child of its postmaster. */
function startupProcessOf(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === postmaster && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('startup')) return Number(entry);
    } catch {
      // The process went away while we looked.
    }
  }
  throw new Error(`no startup process under postmaster ${postmaster} of ${dataDir}`);
}

const value = (lines: string[], name: string): number | undefined => {
  const line = lines.find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

/** PromQL words that are no metric name. */
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, ranges
 * and label lists (by, on, ...) are taken out, function and aggregation names (followed by "(")
 * and keywords dropped. Enough for the generated rules and dashboard; the sanity checks where it
 * is used fail when it misses a name or takes something else for one.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)].map((m) => m[1]).filter((name) => !PROMQL_WORDS.has(name.toLowerCase()));
}

async function prometheusApi<T>(path: string, base = `http://${PROMETHEUS_ADDRESS}:${PROMETHEUS_PORT}`): Promise<T> {
  const response = await fetch(`${base}${path}`);
  return ((await response.json()) as { data: T }).data;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `pgha-monitoring-${BLOCK}-`));
  endpoints = await localUp({
    dir,
    platform: { addressBlock: BLOCK },
    build: (scope, platform) => {
      const topology = haTopology(scope, platform, { cluster: { failover: 'fast' }, archive: {}, backup: {}, monitoring: {}, prometheusServer: {} });
      monitoring = topology.monitoring;
      prometheusServer = topology.prometheusServer;
      return topology;
    },
  });
}, 180_000);

afterAll(async () => {
  if (prometheus) await stopProcess(prometheus);
  if (promDir) rmSync(promDir, { recursive: true, force: true });
  if (dir) {
    const report = await localDown(dir);
    rmSync(dir, { recursive: true, force: true });
    if (report.leftBehind.length > 0) throw new Error(`processes left behind: ${report.leftBehind.join(', ')}`);
  }
}, 180_000);

describe('GIVEN a local cluster with ClusterMonitoring', () => {
  test('every custom query runs on PostgreSQL 17 without error, on the primary and the replicas, and the metrics named in the contract appear', async () => {
    const c = cluster();
    // Per-table series need a user table (the table query is cached for 30 s by the exporter).
    await query(c, c.endpoints.writer, 'CREATE TABLE IF NOT EXISTS monitored AS SELECT g AS id FROM generate_series(1, 1000) g');
    for (const member of c.endpoints.members) {
      await eventually(`table series on ${member.name}`, 45_000, async () => (await scrape(member.host, 9187)).some((l) => l.startsWith(PG_METRICS.liveTuples)));
    }
    for (const member of c.endpoints.members) {
      const lines = await scrape(member.host, 9187);
      expect({ node: member.name, error: value(lines, 'pg_exporter_last_scrape_error') }).toEqual({ node: member.name, error: 0 });
      // 0.17.1's built-in collectors (stat_database, replication_slot, wal, ...) report a failure only here.
      const collectors = lines.filter((l) => l.startsWith('pg_scrape_collector_success{'));
      expect(collectors.length).toBeGreaterThan(0);
      expect({ node: member.name, failed: collectors.filter((l) => !l.endsWith(' 1')) }).toEqual({ node: member.name, failed: [] });
      expect(lines.some((l) => l.startsWith('postgres_exporter_build_info{') && l.includes('version="0.17.1"'))).toBe(true);
      expect(value(lines, PG_METRICS.up)).toBe(1);
      for (const name of Object.values(PG_METRICS).filter((metric) => !SLOT_METRICS.includes(metric))) {
        // Table and archiver series exist on every node, per-database ones for each database.
        expect({ node: member.name, name, present: lines.some((l) => l.startsWith(name)) }).toEqual({ node: member.name, name, present: true });
      }
      expect(lines.some((l) => l.startsWith(PG_METRICS.blocksHit) && l.includes('datname=""'))).toBe(false);
      const log = readFileSync(join(c.dir, 'logs', `${member.name}.pgha-postgres-exporter.log`), 'utf8');
      // By message, not by level: until PostgreSQL accepts the role (the role job runs after the
      // exporter starts) 0.17.1 logs connection errors at ERROR, which are expected.
      expect(log).not.toMatch(/Error running query|Failed to reload user queries|collector failed/);
    }
    const leader = (await leaderName(c))!;
    const leaderLines = await scrape(c.endpoints.members.find((m) => m.name === leader)!.host, 9187);
    expect(value(leaderLines, PG_METRICS.isReplica)).toBe(0);
    // Slots exist on the leader only here (a replica holds none unless something cascades from it):
    // one per replica, each active and retaining little.
    for (const name of SLOT_METRICS) {
      expect({ name, series: leaderLines.filter((l) => l.startsWith(`${name}{`)).length }).toEqual({ name, series: c.endpoints.members.length - 1 });
    }
    expect(leaderLines.filter((l) => l.startsWith(`${PG_METRICS.slotActive}{`)).map((l) => Number(l.split(' ').pop()))).toEqual(c.endpoints.members.slice(1).map(() => 1));
    expect(value(leaderLines, PG_METRICS.connectionsMax)).toBe(200);
  }, 120_000);

  test('replication lag reads 0 on a caught-up replica, rises while its replay is stopped, and returns to 0', async () => {
    const c = cluster();
    const replica = (await members(c)).find((m) => m.role !== 'leader')!;
    const at = c.endpoints.members.find((m) => m.name === replica.name)!;
    const lag = async () => value(await scrape(at.host, 9187), PG_METRICS.lagSeconds);
    await query(c, c.endpoints.writer, 'CREATE TABLE IF NOT EXISTS lag_probe (at timestamptz)');
    await eventually('the replica caught up (lag 0)', 30_000, async () => (await lag()) === 0);
    // Replay stopped: SIGSTOP of the replica's startup process (the one that replays WAL), not
    // pg_wal_replay_pause(): Patroni 4.0.7 (as 3.0.2 did) resumes a paused replay within a loop
    // ("Resuming paused WAL replay for PostgreSQL 14+"). WAL keeps arriving, so received is ahead of replayed.
    const startup = startupProcessOf(join(c.dir, 'nodes', replica.name, postgresDataDir('main')));
    process.kill(startup, 'SIGSTOP');
    try {
      for (let i = 0; i < 3; i += 1) {
        await query(c, c.endpoints.writer, 'INSERT INTO lag_probe VALUES (now())');
        await new Promise((done) => setTimeout(done, 1_000));
      }
      const stopped = await eventually('lag above 0 while replay is stopped', 30_000, async () => {
        const seconds = await lag();
        return seconds !== undefined && seconds > 0 ? seconds : undefined;
      });
      expect(stopped).toBeGreaterThan(0);
    } finally {
      process.kill(startup, 'SIGCONT');
    }
    await eventually('lag back to 0 once replay goes on', 30_000, async () => (await lag()) === 0);
  }, 120_000);

  test('a real Prometheus loads the generated rules and scrapes every generated target as up, with the cluster and node labels', async () => {
    const c = cluster();
    // A backup and a restore drill (on the one replica that runs it), so node_exporter serves the
    // job status textfiles of both too.
    const leader = (await leaderName(c))!;
    expect((await localRunJob(c.dir, leader, 'pgha-backup-full')).exitCode).toBe(0);
    const drills = await Promise.all(c.endpoints.members.map((m) => localRunJob(c.dir, m.name, 'pgha-restore-drill')));
    expect(drills.map((d) => d.exitCode)).toEqual(c.endpoints.members.map(() => 0));

    promDir = mkdtempSync(join(tmpdir(), 'pgha-prometheus-'));
    writeFileSync(join(promDir, 'alert-rules.yml'), monitoring!.alertRules());
    const configFile = join(promDir, 'prometheus.yml');
    writeFileSync(configFile, renderPrometheusConfig({ clusters: [monitoring!.scrapeCluster], ruleFiles: ['alert-rules.yml'], scrapeIntervalSeconds: 1, evaluationIntervalSeconds: 1 }));
    // Debian 13's prometheus, from the node runtime root (promDir is under the temp dir it binds in).
    prometheus = startProcess('prometheus', '/usr/bin/prometheus', {
      args: [`--config.file=${configFile}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=${PROMETHEUS_ADDRESS}:${PROMETHEUS_PORT}`],
      inheritEnv: false,
      node: true,
      env: { HOME: promDir },
    });
    const expected = monitoring!.scrapeCluster.nodes.length + monitoring!.scrapeCluster.nodes.filter((n) => n.role === 'postgres').length;
    type Target = { health: string; labels: Record<string, string>; lastError: string };
    await waitUntil(
      `all ${expected} targets up`,
      async () => {
        const targets = await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets').catch(() => ({ activeTargets: [] as Target[] }));
        return targets.activeTargets.length === expected && targets.activeTargets.every((t) => t.health === 'up');
      },
      { timeoutMs: 60_000, process: prometheus },
    );
    const { activeTargets } = await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets');
    expect(new Set(activeTargets.map((t) => t.labels.job))).toEqual(new Set([SCRAPE_JOBS.postgres, SCRAPE_JOBS.node]));
    for (const target of activeTargets) expect(target.labels.cluster).toBe('main');
    expect(activeTargets.map((t) => t.labels.node).sort()).toEqual(
      [...monitoring!.scrapeCluster.nodes.map((n) => n.name), ...monitoring!.scrapeCluster.nodes.filter((n) => n.role === 'postgres').map((n) => n.name)].sort(),
    );
    const rules = await prometheusApi<{ groups: { rules: { name: string; health: string }[] }[] }>('/api/v1/rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBeGreaterThan(15);
    await waitUntil('every rule evaluated without error', async () => {
      const now = await prometheusApi<{ groups: { rules: { health: string }[] }[] }>('/api/v1/rules');
      return now.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok');
    }, { timeoutMs: 30_000, process: prometheus });
    // The healthy cluster fires nothing critical.
    const alerts = await prometheusApi<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
    expect(alerts.alerts.filter((a) => a.labels.severity === 'critical' && a.state === 'firing')).toEqual([]);
    // The backup's status reached Prometheus through node_exporter's textfile collector, with the job label.
    type Series = { metric: Record<string, string>; value: [number, string] };
    const instant = async (expr: string) => (await prometheusApi<{ result: Series[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
    const backup = await instant('pgha_job_last_success_timestamp_seconds{job="backup-full"}');
    expect(backup.map((r) => r.metric.node)).toEqual([leader]);
    // The versions this test is about: node_exporter on every node, the Prometheus started here.
    const nodeExporters = await instant(`node_exporter_build_info{job="${SCRAPE_JOBS.node}"}`);
    expect(nodeExporters.map((r) => [r.metric.node, r.metric.version]).sort()).toEqual(monitoring!.scrapeCluster.nodes.map((n) => [n.name, '1.9.0']).sort());
    expect((await prometheusApi<{ version: string }>('/api/v1/status/buildinfo')).version).toMatch(/^2\.53\.3\b/);
    // node_exporter 1.9.0 reads every job status file without error, on every node.
    const textfileErrors = await instant(`node_textfile_scrape_error{job="${SCRAPE_JOBS.node}"}`);
    expect(textfileErrors.map((r) => [r.metric.node, r.value[1]]).sort()).toEqual(monitoring!.scrapeCluster.nodes.map((n) => [n.name, '0']).sort());

    // Every metric the alert rules and the dashboard read is exported by the real exporters
    // (postgres_exporter 0.17.1, node_exporter 1.9.0 with the job status textfiles): a name renamed
    // or dropped by an exporter would leave its alert silent for good.
    const rulesFile = parse(monitoring!.alertRules()) as { groups: { rules: { expr: string }[] }[] };
    const dashboard = renderGrafanaDashboard() as { panels: { targets: { expr: string }[] }[]; templating: { list: { type: string; query?: unknown }[] } };
    const exprs = [
      ...rulesFile.groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      // The variables' label_values(<series>, <label>): the series part.
      ...dashboard.templating.list.flatMap((v) => (v.type === 'query' ? [/^label_values\((.*), *[a-zA-Z_]\w*\)$/s.exec(String(v.query))?.[1] ?? `unparsed ${v.query}`] : [])),
    ];
    const names = [...new Set(exprs.flatMap(metricNames))].sort();
    // The extraction sees what it must (a sanity check of metricNames): a few of each source.
    expect(names).toEqual(
      expect.arrayContaining(['up', PG_METRICS.up, PG_METRICS.lagSeconds, PG_METRICS.slotWalStatus, 'node_filesystem_avail_bytes', 'node_filesystem_size_bytes',
        'pgha_job_last_run_timestamp_seconds', 'pgha_restore_drill_success', 'pgha_restore_drill_duration_seconds']),
    );
    expect(names.filter((n) => !/^(up|pg_up|pgha_[a-z0-9_]+|node_[a-z0-9_]+)$/.test(n))).toEqual([]);
    const missing: string[] = [];
    for (const name of names) if ((await instant(`count({__name__="${name}", cluster="main"})`)).length === 0) missing.push(name);
    expect({ names: names.length, missing }).toEqual({ names: names.length, missing: [] });
    // (count() of a name nothing exports is no series at all: the check above can fail.)
    expect(await instant('count({__name__="pgha_database_blks_hit_total", cluster="main"})')).toEqual([]);
    // The filesystem series carry the labels the rules and the dashboard select on, on every node.
    const filesystems = await instant(`count by (node) (node_filesystem_size_bytes{job="${SCRAPE_JOBS.node}", mountpoint!="", fstype!=""})`);
    expect(filesystems.map((r) => r.metric.node).sort()).toEqual(monitoring!.scrapeCluster.nodes.map((n) => n.name).sort());
  }, 180_000);

  test('the PrometheusServer node, started by localUp like any node service, scrapes every target as up and evaluates the rules it loaded', async () => {
    const c = cluster();
    const server = prometheusServer!;
    const node = server.nodes.placements[0].name;
    // A service of its node like the others: started (and later stopped) by localUp / localDown.
    expect(c.endpoints.pids[`${node}/pgha-prometheus`]).toBeGreaterThan(0);
    expect(server.url).toBe(`http://${server.nodes.placements[0].address}:9090`);
    type Target = { health: string; labels: Record<string, string>; lastError: string };
    const scrape = monitoring!.scrapeCluster;
    const expected = [
      ...scrape.nodes.map((n) => `${SCRAPE_JOBS.node} ${n.name}`),
      ...scrape.nodes.filter((n) => n.role === 'postgres').map((n) => `${SCRAPE_JOBS.postgres} ${n.name}`),
      `prometheus ${server.nodes.placements[0].address}:9090`,
    ].sort();
    const targetsOf = async () => (await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets', server.url).catch(() => ({ activeTargets: [] as Target[] }))).activeTargets;
    const label = (t: Target) => `${t.labels.job} ${t.labels.node ?? t.labels.instance}`;
    // Its scrape interval is 15 s: a target's first scrape can be up to 15 s after the server started.
    let last: Target[] = [];
    await eventually(`every target of ${server.url} up`, 60_000, async () => {
      last = await targetsOf();
      return last.length === expected.length && last.every((t) => t.health === 'up');
    }).catch((error: Error) => {
      throw new Error(`${error.message}; targets: ${JSON.stringify(last.map((t) => [label(t), t.health, t.lastError]))}`);
    });
    expect(last.map(label).sort()).toEqual(expected);
    for (const target of last.filter((t) => t.labels.job !== 'prometheus')) expect(target.labels.cluster).toBe('main');

    // The cluster's rule file, from the node's own directory, evaluated without error.
    type RuleGroup = { file: string; rules: { name: string; health: string; lastError?: string }[] };
    let groups: RuleGroup[] = [];
    await eventually('every rule of the PrometheusServer evaluated with health ok', 60_000, async () => {
      groups = (await prometheusApi<{ groups: RuleGroup[] }>('/api/v1/rules', server.url)).groups;
      const rules = groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((r) => r.health === 'ok');
    }).catch((error: Error) => {
      const unhealthy = groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
      throw new Error(`${error.message}; not ok: ${JSON.stringify(unhealthy.map((r) => [r.name, r.health, r.lastError]))}`);
    });
    expect([...new Set(groups.map((g) => g.file))]).toEqual([join(c.dir, 'nodes', node, 'etc/pgha/prometheus/rules/pgha.yml')]);
    expect(groups.flatMap((g) => g.rules).map((r) => r.name).sort()).toEqual(
      (parse(monitoring!.alertRules()) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert)).sort(),
    );
    // Its TSDB is on the node's data volume (its own directory here).
    expect(existsSync(join(c.dir, 'nodes', node, 'var/lib/pgha/prometheus/wal'))).toBe(true);
  }, 150_000);
});
