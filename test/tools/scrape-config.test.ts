/**
 * The rendered Prometheus configuration against Debian 13's Prometheus 2.53.3 (prometheus and
 * promtool run from the node runtime root):
 * - `promtool check config` accepts a prometheus.yml with static targets (and a rule file) and one
 *   with EC2 service discovery (parsing it needs no AWS access when the region is given), and
 *   refuses broken copies;
 * - a real `prometheus` on 127.78.0.1 scrapes stand-in exporters (Node HTTP servers on 127.78.0.x
 *   serving the contract's metrics): static targets, and EC2-discovered instances played by a
 *   file_sd file carrying the labels EC2 discovery gives (__meta_ec2_*), so the rendered relabel
 *   rules run in the real relabeling code. Targets come up with cluster/node/pgha_role, the
 *   series carry them, and every Grafana panel's query returns data.
 * Every process and server started here is stopped in afterAll (Prometheus by its PID).
 */
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { renderGrafanaDashboard } from '../../src/render/grafana-dashboard';
import { http as httpRequest } from '../../src/runner/cluster-checks';
import { JOB_STATUS_METRICS, PG_METRICS, SCRAPE_JOBS, TARGET_LABELS } from '../../src/render/monitoring-metrics';
import { PrometheusConfigInput, ScrapeCluster, renderPrometheusConfig } from '../../src/render/scrape-config';
import { RunningProcess, makeTempDir, removeTempDir, requireNodeBinaries, runCommand, startProcess, stopProcess, waitUntil } from '../support/processes';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const PROMETHEUS_ADDRESS = '127.78.0.1';
/** Only PATH and a HOME of our own: no AWS credentials or config from the runner reach the tools. */
const toolEnv = (home: string) => ({ PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' });

const RULES = `groups:
  - name: pgha-scrape-test
    rules:
      - record: cluster:${PG_METRICS.up}:count
        expr: count by (${TARGET_LABELS.cluster}) (${PG_METRICS.up})
      - alert: PghaReplicationLagTest
        expr: ${PG_METRICS.lagSeconds} > 60
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "Replication lag on {{ $labels.${TARGET_LABELS.node} }}"
          description: "{{ $labels.${TARGET_LABELS.node} }} replays {{ $value }} s behind."
`;

let workDir: string;
let fileCount = 0;

beforeAll(() => {
  requireNodeBinaries([PROMETHEUS, PROMTOOL]);
  workDir = makeTempDir('pgha-prometheus');
});
afterAll(() => removeTempDir(workDir));

/** Writes prometheus.yml and its rule file (rules.yml, beside it) in a directory of their own. */
function writeConfig(config: string, rules = RULES): string {
  const dir = path.join(workDir, `config-${++fileCount}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'rules.yml'), rules);
  const file = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(file, config);
  return file;
}

async function checkConfig(file: string) {
  const result = await runCommand(PROMTOOL, { args: ['check', 'config', file], inheritEnv: false, node: true, env: toolEnv(workDir), timeoutMs: 20_000 });
  return { code: result.code, output: `${result.stdout}${result.stderr}`, durationMs: result.durationMs };
}

const NODES = [
  { name: 'main-pg-1', address: '10.0.1.11', role: 'postgres' },
  { name: 'main-pg-2', address: '10.0.2.11', role: 'postgres' },
  { name: 'main-proxy-1', address: '10.0.1.20', role: 'proxy' },
] as const;

function configInput(clusters: ScrapeCluster[]): PrometheusConfigInput {
  return { clusters, ruleFiles: ['rules.yml'], listenAddress: '127.0.0.1:9090' };
}

describe('promtool check config', () => {
  test('accepts a prometheus.yml with static targets and the rule file', async () => {
    // GIVEN
    const file = writeConfig(renderPrometheusConfig(configInput([{ cluster: 'main', targets: 'static', nodes: NODES, exporterPort: 9187, nodeExporterPort: 9100 }])));
    // WHEN
    const result = await checkConfig(file);
    // THEN
    expect(result.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(result.output).toMatch(/SUCCESS: .*prometheus\.yml is valid prometheus config file syntax/);
    expect(result.code).toBe(0);
  });

  test('accepts EC2 service discovery (two regions, beside a static cluster) without reaching AWS', async () => {
    // GIVEN only PATH and HOME in the environment: no credentials, no region
    const file = writeConfig(
      renderPrometheusConfig(
        configInput([
          { cluster: 'main', targets: 'ec2', region: 'eu-west-1', nodes: NODES, exporterPort: 9187, nodeExporterPort: 9100 },
          { cluster: 'orders', targets: 'ec2', region: 'us-east-1', nodes: NODES, exporterPort: 19187, nodeExporterPort: 19100 },
          { cluster: 'lab', targets: 'static', nodes: NODES, exporterPort: 9187, nodeExporterPort: 9100 },
        ]),
      ),
    );
    // WHEN
    const result = await checkConfig(file);
    // THEN
    expect(result.output).toMatch(/is valid prometheus config file syntax/);
    expect(result.code).toBe(0);
  });

  test.each<[string, (config: string) => string, string, RegExp]>([
    ['an unknown key in a job', (c) => c.replace(/^(\s+)- job_name: pgha-node$/m, '$1- job_name: pgha-node\n$1  frobnicate: true'), RULES, /field frobnicate not found/],
    ['an invalid relabel regex', (c) => c.replace('regex: (.+)', 'regex: "(.+"'), RULES, /missing closing \)/],
    ['a broken rule expression', (c) => c, RULES.replace('> 60', '> > 60'), /rules\.yml/],
  ])('refuses a copy with %s (the harness can fail)', async (_name, breakConfig, rules, message) => {
    // GIVEN
    const good = renderPrometheusConfig(
      configInput([{ cluster: 'main', targets: 'ec2', region: 'eu-west-1', nodes: NODES, exporterPort: 9187, nodeExporterPort: 9100 }]),
    );
    const broken = breakConfig(good);
    expect(broken === good).toBe(rules !== RULES);
    // WHEN
    const result = await checkConfig(writeConfig(broken, rules));
    // THEN
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/FAILED/);
    expect(result.output).toMatch(message);
  });
});

// ---------------------------------------------------------------------------------------------
// A running Prometheus against stand-in exporters.

/** Plays postgres_exporter / node_exporter for one node: the contract's metrics in the text format. */
interface FakeNode {
  readonly cluster: string;
  readonly name: string;
  readonly address: string;
  readonly postgres: boolean;
  readonly replica: boolean;
}

const STATIC_NODES: FakeNode[] = [
  { cluster: 'alpha', name: 'alpha-pg-1', address: '127.78.0.2', postgres: true, replica: false },
  { cluster: 'alpha', name: 'alpha-pg-2', address: '127.78.0.3', postgres: true, replica: true },
  { cluster: 'alpha', name: 'alpha-proxy-1', address: '127.78.0.4', postgres: false, replica: false },
];

/** What EC2 discovery would report for cluster "beta" (and a stranger), with the labels Prometheus 2.53.3 sets (as 2.42 did). */
const EC2_INSTANCES = [
  { id: 'i-0beta1', group: 'beta-pg', name: 'beta-pg-1', ip: '127.78.0.5', state: 'running' },
  { id: 'i-0beta2', group: 'beta-proxy', name: 'beta-proxy-1', ip: '127.78.0.6', state: 'running' },
  { id: 'i-0beta4', group: 'beta-pg', name: 'beta-pg-2', ip: '127.78.0.7', state: 'stopped' },
  { id: 'i-0gamma', group: 'gamma-pg', name: 'gamma-pg-1', ip: '127.78.0.8', state: 'running' },
  { id: 'i-0beta3', group: 'beta-pg', name: undefined, ip: '127.78.0.9', state: 'running' },
];

type Sample = readonly [labels: string, value: number];

/** One sample (or more) per contract metric: a new contract metric fails to compile until it is served. */
function postgresExporterSamples(node: FakeNode, tick: number): Record<keyof typeof PG_METRICS, Sample[]> {
  const db = 'datname="app"';
  const table = `${db},schemaname="public",relname="orders"`;
  return {
    up: [['', 1]],
    isReplica: [['', node.replica ? 1 : 0]],
    lagSeconds: [['', 0]],
    walReceiverStreaming: [['', node.replica ? 1 : 0]],
    blocksHit: [[db, 1000 + 99 * tick]],
    blocksRead: [[db, 10 + tick]],
    commits: [[db, 500 + 10 * tick]],
    rollbacks: [[db, 5 + tick]],
    backends: [[db, 3]],
    databaseSizeBytes: [[db, 8e6]],
    xidAge: [[db, 1234]],
    connectionsUsed: [['', 7]],
    connectionsMax: [['', 100]],
    liveTuples: [[table, 900]],
    deadTuples: [[table, 100]],
    tableSizeBytes: [[table, 81920]],
    archivedCount: [['', 20 + tick]],
    archiveFailedCount: [['', 0]],
    lastArchivedAgeSeconds: [['', 5]],
    archiveFailing: [['', 0]],
    slotRetainedBytes: node.replica ? [] : [['slot_name="main_pg_2",slot_type="physical",database=""', 0]],
    slotActive: node.replica ? [] : [['slot_name="main_pg_2",slot_type="physical",database=""', 1]],
    slotWalStatus: node.replica ? [] : [['slot_name="main_pg_2",slot_type="physical",database=""', 0]],
  };
}

/** node_exporter: a filesystem, plus on PostgreSQL nodes the job status textfiles the backup scripts write. */
function nodeExporterText(node: FakeNode): string {
  const fs = 'device="/dev/nvme1n1",fstype="ext4",mountpoint="/var/lib/postgresql"';
  const lines = [
    '# TYPE node_filesystem_avail_bytes gauge',
    `node_filesystem_avail_bytes{${fs}} 6e+10`,
    '# TYPE node_filesystem_size_bytes gauge',
    `node_filesystem_size_bytes{${fs}} 1e+11`,
  ];
  if (!node.postgres) return `${lines.join('\n')}\n`;
  // As record_status writes them (src/render/backup-scripts.ts): labels cluster, node, job.
  const labels = (job: string) => `cluster="${node.cluster}",node="${node.name}",job="${job}"`;
  const now = Math.floor(Date.now() / 1000);
  const status: Record<keyof typeof JOB_STATUS_METRICS, string> = {
    lastSuccess: `${JOB_STATUS_METRICS.lastSuccess}{${labels('backup-full')}} ${now - 3600}`,
    lastExitCode: `${JOB_STATUS_METRICS.lastExitCode}{${labels('backup-full')}} 0`,
    drillSuccess: `${JOB_STATUS_METRICS.drillSuccess}{${labels('restore-drill')}} 1`,
    drillDuration: `${JOB_STATUS_METRICS.drillDuration}{${labels('restore-drill')}} 42.5`,
  };
  for (const [key, line] of Object.entries(status)) lines.push(`# TYPE ${JOB_STATUS_METRICS[key as keyof typeof JOB_STATUS_METRICS]} gauge`, line);
  return `${lines.join('\n')}\n`;
}

function postgresExporterText(node: FakeNode, tick: number): string {
  const samples = postgresExporterSamples(node, tick);
  const lines: string[] = [];
  for (const [key, list] of Object.entries(samples)) {
    const name = PG_METRICS[key as keyof typeof PG_METRICS];
    lines.push(`# TYPE ${name} gauge`);
    for (const [labels, value] of list) lines.push(labels ? `${name}{${labels}} ${value}` : `${name} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}

function listen(server: net.Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** GET through the local platform's bounded HTTP helper. */
const httpGet = (host: string, port: number, urlPath: string) => httpRequest(`http://${host}:${port}${urlPath}`, { timeoutMs: 5_000 });

describe('a running Prometheus with the rendered config', () => {
  const servers: http.Server[] = [];
  const scrapes = new Map<string, number>();
  let prometheus: RunningProcess | undefined;
  let port = 0;
  let exporterPort = 0;
  let nodeExporterPort = 0;
  let readyAfterMs = 0;
  let firstScrapeAfterMs = 0;

  const api = async (urlPath: string): Promise<any> => {
    const { status, body } = await httpGet(PROMETHEUS_ADDRESS, port, urlPath);
    if (status !== 200) throw new Error(`GET ${urlPath}: HTTP ${status}: ${body}`);
    return JSON.parse(body);
  };
  const query = async (expr: string): Promise<any[]> => {
    const answer = await api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (answer.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(answer)}`);
    return answer.data.result;
  };
  const activeTargets = async (): Promise<any[]> => (await api('/api/v1/targets')).data.activeTargets;

  /** One HTTP server per address and port, each answering /metrics for the node at that address. */
  async function startExporters(): Promise<void> {
    const addresses = [...STATIC_NODES.map((n) => n.address), ...EC2_INSTANCES.map((i) => i.ip)];
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const address = req.socket.localAddress ?? '';
      const localPort = req.socket.localPort;
      const key = `${address}:${localPort}`;
      const tick = (scrapes.get(key) ?? 0) + 1;
      scrapes.set(key, tick);
      const instance = EC2_INSTANCES.find((i) => i.ip === address);
      const node: FakeNode | undefined =
        STATIC_NODES.find((n) => n.address === address) ??
        (instance && { cluster: 'beta', name: instance.name ?? instance.id, address, postgres: instance.group.endsWith('-pg'), replica: true });
      if (req.url !== '/metrics' || node === undefined) {
        res.writeHead(404).end();
        return;
      }
      const text = localPort === exporterPort ? postgresExporterText(node, tick) : nodeExporterText(node);
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(text);
    };
    // Two ports free on every address: chosen on the first, then taken on the others (retry on a clash).
    for (let attempt = 0; ; attempt++) {
      const first = [http.createServer(handler), http.createServer(handler)];
      const [e, n] = [await listen(first[0], addresses[0], 0), await listen(first[1], addresses[0], 0)];
      const rest: http.Server[] = [];
      try {
        for (const address of addresses.slice(1)) {
          for (const p of [e, n]) {
            const server = http.createServer(handler);
            await listen(server, address, p);
            rest.push(server);
          }
        }
        servers.push(...first, ...rest);
        exporterPort = e;
        nodeExporterPort = n;
        return;
      } catch (error) {
        await Promise.all([...first, ...rest].map(closeServer));
        if (attempt >= 5) throw error;
      }
    }
  }

  /** The rendered config, with EC2 discovery swapped for file_sd files listing the fake instances. */
  function liveConfig(dir: string): string {
    const nodes = [
      { name: 'alpha-pg-1', address: '127.78.0.2', role: 'postgres' },
      { name: 'alpha-pg-2', address: '127.78.0.3', role: 'postgres' },
      { name: 'alpha-proxy-1', address: '127.78.0.4', role: 'proxy' },
    ] as const;
    const rendered = renderPrometheusConfig({
      clusters: [
        { cluster: 'alpha', targets: 'static', nodes, exporterPort, nodeExporterPort },
        // The node list only tells which groups to discover: the instances come from "EC2".
        {
          cluster: 'beta',
          targets: 'ec2',
          region: 'eu-west-1',
          nodes: [
            { name: 'beta-pg-1', address: '0.0.0.0', role: 'postgres' },
            { name: 'beta-proxy-1', address: '0.0.0.0', role: 'proxy' },
          ],
          exporterPort,
          nodeExporterPort,
        },
      ],
      ruleFiles: ['rules.yml'],
      listenAddress: `${PROMETHEUS_ADDRESS}:${port}`,
      scrapeIntervalSeconds: 1,
      evaluationIntervalSeconds: 1,
    });
    const config = parse(rendered);
    for (const job of config.scrape_configs) {
      if (!job.ec2_sd_configs) continue;
      expect(job.ec2_sd_configs).toHaveLength(1);
      // EC2 discovery's filters would have left out the stopped and the foreign instance: listing
      // them here shows the relabel rules drop them too. __address__ gets a wrong port on purpose:
      // only the rendered rules make the target reachable.
      const groups = EC2_INSTANCES.map((i) => ({
        targets: [`${i.ip}:1`],
        labels: {
          __meta_ec2_instance_id: i.id,
          __meta_ec2_instance_state: i.state,
          __meta_ec2_private_ip: i.ip,
          __meta_ec2_tag_pgha_group: i.group,
          ...(i.name === undefined ? {} : { __meta_ec2_tag_Name: i.name }),
        },
      }));
      const sdFile = path.join(dir, `ec2-${job.job_name}.json`);
      fs.writeFileSync(sdFile, JSON.stringify(groups, null, 2));
      delete job.ec2_sd_configs;
      job.file_sd_configs = [{ files: [sdFile], refresh_interval: '1s' }];
    }
    return stringify(config);
  }

  beforeAll(async () => {
    requireNodeBinaries([PROMETHEUS]);
    await startExporters();
    const probe = net.createServer();
    port = await listen(probe, PROMETHEUS_ADDRESS, 0);
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const dir = path.join(workDir, 'live');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'rules.yml'), RULES);
    const configFile = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(configFile, liveConfig(dir));

    const started = Date.now();
    prometheus = startProcess('prometheus', PROMETHEUS, {
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=${PROMETHEUS_ADDRESS}:${port}`,
        '--log.level=info',
      ],
      inheritEnv: false,
      node: true,
      env: toolEnv(dir),
    });
    await waitUntil(
      `prometheus ready on ${PROMETHEUS_ADDRESS}:${port}`,
      async () => (await httpGet(PROMETHEUS_ADDRESS, port, '/-/ready').catch(() => ({ status: 0 }))).status === 200,
      { timeoutMs: 20_000, process: prometheus },
    );
    readyAfterMs = Date.now() - started;
    let last = '';
    await waitUntil(
      'all 11 targets up',
      async () => {
        const targets = await activeTargets();
        last = JSON.stringify(targets.map((t) => [t.labels.job, t.labels.node, t.health, t.lastError]));
        return targets.length === 11 && targets.every((t) => t.health === 'up');
      },
      { timeoutMs: 20_000, process: prometheus },
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\nlast targets: ${last}`);
    });
    firstScrapeAfterMs = Date.now() - started;
  }, 60_000);

  afterAll(async () => {
    if (prometheus) await stopProcess(prometheus, 10_000);
    await Promise.all(servers.map(closeServer));
  }, 30_000);

  test('is the node runtime\'s Prometheus 2.53.3', async () => {
    expect((await api('/api/v1/status/buildinfo')).data.version).toMatch(/^2\.53\.3\b/);
  });

  test('scrapes the static and the discovered targets, up, with cluster, node and pgha_role', async () => {
    // WHEN
    const targets = await activeTargets();
    // THEN
    const seen = targets
      .map((t) => [t.labels.job, t.labels[TARGET_LABELS.cluster], t.labels[TARGET_LABELS.node], t.labels[TARGET_LABELS.role], t.labels.instance, t.health])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const e = exporterPort;
    const n = nodeExporterPort;
    expect(seen).toEqual(
      [
        [SCRAPE_JOBS.node, 'alpha', 'alpha-pg-1', 'postgres', `127.78.0.2:${n}`, 'up'],
        [SCRAPE_JOBS.node, 'alpha', 'alpha-pg-2', 'postgres', `127.78.0.3:${n}`, 'up'],
        [SCRAPE_JOBS.node, 'alpha', 'alpha-proxy-1', 'proxy', `127.78.0.4:${n}`, 'up'],
        [SCRAPE_JOBS.node, 'beta', 'beta-pg-1', 'postgres', `127.78.0.5:${n}`, 'up'],
        [SCRAPE_JOBS.node, 'beta', 'beta-proxy-1', 'proxy', `127.78.0.6:${n}`, 'up'],
        [SCRAPE_JOBS.node, 'beta', 'i-0beta3', 'postgres', `127.78.0.9:${n}`, 'up'],
        [SCRAPE_JOBS.postgres, 'alpha', 'alpha-pg-1', 'postgres', `127.78.0.2:${e}`, 'up'],
        [SCRAPE_JOBS.postgres, 'alpha', 'alpha-pg-2', 'postgres', `127.78.0.3:${e}`, 'up'],
        [SCRAPE_JOBS.postgres, 'beta', 'beta-pg-1', 'postgres', `127.78.0.5:${e}`, 'up'],
        [SCRAPE_JOBS.postgres, 'beta', 'i-0beta3', 'postgres', `127.78.0.9:${e}`, 'up'],
        ['prometheus', undefined, undefined, undefined, `${PROMETHEUS_ADDRESS}:${port}`, 'up'],
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  test('drops the stopped instance, the other cluster\'s instance and the proxy from the PostgreSQL job', async () => {
    // WHEN
    const dropped = (await api('/api/v1/targets?state=dropped')).data.droppedTargets;
    const byJob = (job: string) =>
      dropped
        .filter((t: any) => t.discoveredLabels.job === job)
        .map((t: any) => t.discoveredLabels.__meta_ec2_instance_id)
        .sort();
    // THEN
    expect(byJob(SCRAPE_JOBS.postgres)).toEqual(['i-0beta2', 'i-0beta4', 'i-0gamma']);
    expect(byJob(SCRAPE_JOBS.node)).toEqual(['i-0beta4', 'i-0gamma']);
  });

  test(`${PG_METRICS.up} comes back with the target labels`, async () => {
    // WHEN
    const series = (await query(PG_METRICS.up)).map((s) => s.metric);
    // THEN
    expect(series.map((m) => [m[TARGET_LABELS.cluster], m[TARGET_LABELS.node], m[TARGET_LABELS.role], m.job]).sort()).toEqual([
      ['alpha', 'alpha-pg-1', 'postgres', SCRAPE_JOBS.postgres],
      ['alpha', 'alpha-pg-2', 'postgres', SCRAPE_JOBS.postgres],
      ['beta', 'beta-pg-1', 'postgres', SCRAPE_JOBS.postgres],
      ['beta', 'i-0beta3', 'postgres', SCRAPE_JOBS.postgres],
    ]);
    expect(Object.keys(series[0]).sort()).toEqual(['__name__', 'cluster', 'instance', 'job', 'node', 'pgha_role']);
  });

  test('the backup jobs\' textfile series keep their job name as "job", with no exported_* labels', async () => {
    // WHEN
    const series = (await query(`${JOB_STATUS_METRICS.lastSuccess}{cluster="alpha"}`))
      .map((s) => s.metric)
      .sort((a, b) => a.node.localeCompare(b.node));
    // THEN exactly these labels: no exported_job, exported_cluster or exported_node
    expect(series).toEqual(
      ['alpha-pg-1', 'alpha-pg-2'].map((node, index) => ({
        __name__: JOB_STATUS_METRICS.lastSuccess,
        cluster: 'alpha',
        node,
        pgha_role: 'postgres',
        job: 'backup-full',
        instance: `127.78.0.${2 + index}:${nodeExporterPort}`,
      })),
    );
  });

  test('loads the rule file: the recording rule counts PostgreSQL nodes per cluster', async () => {
    // WHEN the rules have been evaluated (every second) after a scrape of every target: an
    // evaluation between the first scrapes of two targets may count one of them only
    const counts = async () => JSON.stringify((await query(`cluster:${PG_METRICS.up}:count`)).map((s) => [s.metric.cluster, s.value[1]]).sort());
    let last = '';
    await waitUntil('the recording rule to count 2 PostgreSQL nodes in each cluster', async () => (last = await counts()) === '[["alpha","2"],["beta","2"]]', {
      timeoutMs: 10_000,
      process: prometheus,
    }).catch((error) => {
      throw new Error(`${(error as Error).message}\nlast: ${last}`);
    });
    // THEN
    expect(JSON.parse(last)).toEqual([
      ['alpha', '2'],
      ['beta', '2'],
    ]);
    const groups = (await api('/api/v1/rules')).data.groups;
    expect(groups.map((g: any) => [g.name, g.rules.map((r: any) => [r.type, r.health])])).toEqual([
      ['pgha-scrape-test', [['recording', 'ok'], ['alerting', 'ok']]],
    ]);
  });

  test('the Grafana variables and every panel query return data', async () => {
    // GIVEN the dashboard's queries with its variables set to "All" (as Grafana sends them)
    const dashboard = renderGrafanaDashboard() as any;
    const exprs: { title: string; expr: string }[] = dashboard.panels.flatMap((p: any) =>
      p.targets.map((t: any) => ({ title: p.title, expr: t.expr.replace(/\$__rate_interval/g, '1m').replace(/\$(cluster|node)\b/g, '.*') })),
    );
    // WHEN every query has data (rates need two scrapes)
    let empty: string[] = [];
    await waitUntil(
      'every panel query to return data',
      async () => {
        empty = [];
        for (const { title, expr } of exprs) if ((await query(expr)).length === 0) empty.push(`${title}: ${expr}`);
        return empty.length === 0;
      },
      { timeoutMs: 15_000, intervalMs: 500, process: prometheus },
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\nno data: ${empty.join('\n')}`);
    });
    // THEN the variables' label_values(...) find the clusters and nodes
    const labelValues = async (label: string, match: string) =>
      (await api(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`)).data;
    expect(await labelValues('cluster', PG_METRICS.up)).toEqual(['alpha', 'beta']);
    expect(await labelValues('node', `up{job=~"${SCRAPE_JOBS.postgres}|${SCRAPE_JOBS.node}", cluster=~"alpha"}`)).toEqual([
      'alpha-pg-1',
      'alpha-pg-2',
      'alpha-proxy-1',
    ]);
    // and a few values are what the exporters serve
    const value = async (expr: string) => (await query(expr)).map((s) => [s.metric.node, Number(s.value[1])]).sort();
    const byTitle = (title: string) => exprs.find((e) => e.title === title)!.expr;
    expect(await value(`${byTitle('Dead tuple ratio, top 10 tables')} and on(node) ${PG_METRICS.up}{cluster="alpha"}`)).toEqual([
      ['alpha-pg-1', 0.1],
      ['alpha-pg-2', 0.1],
    ]);
    expect(await value(`${byTitle('Role')} and on(node) ${PG_METRICS.up}{cluster="alpha"}`)).toEqual([
      ['alpha-pg-1', 0],
      ['alpha-pg-2', 1],
    ]);
    const backupAge = (await query(byTitle('Backup age'))).map((s) => Number(s.value[1]));
    for (const age of backupAge) expect(age).toBeGreaterThan(3590);
  }, 30_000);

  test('stops on SIGTERM, by its PID, with exit code 0', async () => {
    // WHEN
    const proc = prometheus!;
    await stopProcess(proc, 10_000);
    // THEN
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    // eslint-disable-next-line no-console
    console.log(`prometheus: ready after ${readyAfterMs} ms, all targets up after ${firstScrapeAfterMs} ms`);
  }, 20_000);
});
