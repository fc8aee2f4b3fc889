/**
 * The custom queries and the monitoring role, run for real: a standalone PostgreSQL 17 primary and
 * a streaming replica (pg_basebackup -R), each with Debian 13's postgres_exporter 0.17.1 connected as
 * the pg_monitor role over TCP, all on 127.77.0.1/127.77.0.2 in a temp dir. Every query must run
 * without an error on both, every metric of the contract must appear, the replication lag must
 * rise while replay is paused and fall back to 0 after, and the slot metrics must follow the WAL a
 * slot keeps (written on the primary, replayed on the replica) and its wal_status up to lost.
 * Every process started here is stopped by its PID in afterAll.
 */
import { chmodSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORTER_METRIC_NAMES, TABLE_METRICS_LIMIT, renderExporterQueries } from '../../src/render/exporter-queries';
import { PG_METRICS, SLOT_WAL_STATUS } from '../../src/render/monitoring-metrics';
import { MONITORING_PASSWORD_VARIABLE, MONITORING_ROLE, renderMonitoringRoleScript } from '../../src/render/monitoring-role';
import * as standalone from '../support/standalone-postgres';
import { StandalonePostgres } from '../support/standalone-postgres';
import {
  RunningProcess,
  StepTimings,
  canConnect,
  chownTo,
  makeTempDir,
  removeTempDir,
  removeTempDirAndProcesses,
  requireBinaries,
  requireNodeBinaries,
  runCommand,
  sleep,
  startProcess,
  stopProcess,
  waitForPort,
  waitUntil,
} from '../support/processes';

const BIN = standalone.POSTGRES_BIN_DIR;
const EXPORTER = '/usr/bin/prometheus-postgres-exporter';
const SHELLCHECK = '/usr/bin/shellcheck';
const POSTGRES = { user: 'postgres' } as const;
const EXPORTER_USER = { user: 'prometheus' } as const;
const PASSWORD = 'Mon1tor-pw_7f3a';
const NEW_PASSWORD = 'Mon1tor-pw_rotated_91c2';
const MAX_CONNECTIONS = 37;

interface Node {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly exporterPort: number;
}
const PRIMARY: Node = { name: 'primary', address: '127.77.0.1', port: 5591, exporterPort: 9591 };
const REPLICA: Node = { name: 'replica', address: '127.77.0.2', port: 5592, exporterPort: 9592 };
/** The negative controls' exporter, on the primary's address. */
const CONTROL_PORT = 9593;
/** Slots: one nobody consumes (made before the first scrape: the slot series exist from the start), the replica's, one on the replica. */
const SLOTS = { idle: 'pgha_idle', unreserved: 'pgha_unreserved', replica: 'pgha_replica', onReplica: 'pgha_cascade' } as const;

// ---- the exposition format -------------------------------------------------------------------

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const only = (samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** The value of the single sample of `name` (with `labels`); fails when there is not exactly one. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = only(samples, name, labels);
  if (found.length !== 1) throw new Error(`expected one sample of ${name} ${JSON.stringify(labels)}, got ${found.length}`);
  return found[0].value;
}


describe('the role script passes shellcheck', () => {
  let dir: string;
  beforeAll(() => {
    requireBinaries([SHELLCHECK]);
    dir = makeTempDir('pgha-monitoring-shellcheck');
  });
  afterAll(() => removeTempDir(dir));

  test('finds nothing at style severity', async () => {
    const path = join(dir, 'pgha-monitoring-role');
    writeFileSync(path, renderMonitoringRoleScript({ socketDir: '/run/postgresql', port: 5432 }));
    const result = await runCommand(SHELLCHECK, { args: ['--severity=style', '--shell=bash', path] });
    expect({ out: result.stdout, code: result.code }).toEqual({ out: '', code: 0 });
  });
});

describe('postgres_exporter 0.17.1 with the custom queries, on a PostgreSQL 17 primary and a streaming replica', () => {
  let root: string;
  const postgres: Partial<Record<'primary' | 'replica', RunningProcess>> = {};
  const exporters: Partial<Record<'primary' | 'replica', RunningProcess>> = {};
  const timings = new StepTimings();

  const socketDir = (node: Node) => `${root}/socket-${node.name}`;
  const dataDir = (node: Node) => `${root}/data-${node.name}`;
  const pg = (node: Node): StandalonePostgres => ({ ...node, dataDir: dataDir(node), socketDir: socketDir(node) });
  const query = (node: Node, sql: string, database = 'postgres') => standalone.query(pg(node), sql, database);
  const roleScript = () => `${root}/scripts/pgha-monitoring-role`;
  const runRoleScript = (node: Node, password: string | undefined) =>
    runCommand(`${root}/scripts/pgha-monitoring-role-${node.name}`, {
      runAs: POSTGRES,
      inheritEnv: false,
      node: true,
      env: password === undefined ? {} : { [MONITORING_PASSWORD_VARIABLE]: password },
      timeoutMs: 30_000,
    });
  const scrape = async (node: Node): Promise<Sample[]> => {
    const response = await fetch(`http://${node.address}:${node.exporterPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    return parseMetrics(await response.text());
  };

  function startPostgres(node: Node): RunningProcess {
    const proc = standalone.startPostgres(pg(node));
    postgres[node.name as 'primary' | 'replica'] = proc;
    return proc;
  }

  const others: RunningProcess[] = [];
  function startExporter(node: Node, password: string, options: { queries?: string; port?: number } = {}): RunningProcess {
    const proc = startProcess(`exporter-${node.name}${options.queries ? '-control' : ''}`, EXPORTER, {
      args: [`--web.listen-address=${node.address}:${options.port ?? node.exporterPort}`, `--extend.query-path=${options.queries ?? `${root}/queries.yaml`}`],
      runAs: EXPORTER_USER,
      inheritEnv: false,
      node: true,
      env: {
        DATA_SOURCE_URI: `${node.address}:${node.port}/app?sslmode=disable`,
        DATA_SOURCE_USER: MONITORING_ROLE,
        DATA_SOURCE_PASS: password,
      },
    });
    if (options.queries) others.push(proc);
    else exporters[node.name as 'primary' | 'replica'] = proc;
    return proc;
  }

  /**
   * The two warnings 0.17.1 logs at every start with the node's command line: --extend.query-path
   * is deprecated (it still works), and there is no postgres_exporter.yml (it holds only
   * auth_modules, which the nodes do not use). Anything else at WARN or ERROR is a problem.
   */
  const EXPECTED_WARNINGS = [/level=WARN .*msg="The extended queries.yaml config is DEPRECATED"/, /level=WARN .*msg="Error loading config" err="Error opening config file \\"postgres_exporter.yml\\"/];
  /**
   * The exporter's log lines that tell of a problem. 0.17.1 logs with slog: upper-case levels
   * (0.11's go-kit logged level=error / level=warn). A failing custom query is logged at INFO
   * ("error finding namespace"): its message catches it.
   */
  const logProblems = (exporter: RunningProcess | undefined): string[] =>
    (exporter?.logTail(10_000) ?? '')
      .split('\n')
      .filter((line) => /level=(ERROR|WARN)|Error running query|queryNamespaceMappings returned|Failed to reload user queries|Unexpected error parsing column|Unparseable column|collector failed/.test(line))
      .filter((line) => !EXPECTED_WARNINGS.some((warning) => warning.test(line)));
  /** No query error anywhere: not in the exporter's log, not in its own metrics. */
  function expectNoQueryErrors(exporter: RunningProcess | undefined, samples: Sample[], queriesFile = `${root}/queries.yaml`) {
    const log = (exporter?.logTail(10_000) ?? '').split('\n');
    expect({ exporter: exporter?.name, problems: logProblems(exporter) }).toEqual({ exporter: exporter?.name, problems: [] });
    // The allowed warnings are really there: the log is read in 0.17.1's format.
    if (exporter) for (const warning of EXPECTED_WARNINGS) expect({ warning: String(warning), logged: log.some((line) => warning.test(line)) }).toEqual({ warning: String(warning), logged: true });
    expect(value(samples, 'pg_exporter_last_scrape_error')).toBe(0);
    // The built-in collectors of 0.17.1 (stat_database, replication_slot, wal, ...) report a failure here and in the log
    // ("collector failed"), never in pg_exporter_last_scrape_error.
    const collectors = only(samples, 'pg_scrape_collector_success');
    expect(collectors.length).toBeGreaterThan(0);
    expect(collectors.filter((s) => s.value !== 1).map((s) => s.labels.collector)).toEqual([]);
    const load = only(samples, 'pg_exporter_user_queries_load_error');
    expect(load.map((s) => [s.labels.filename, s.value])).toEqual([[queriesFile, 0]]);
    expect(value(samples, PG_METRICS.up)).toBe(1);
  }

  beforeAll(async () => {
    requireNodeBinaries([`${BIN}/postgres`, `${BIN}/initdb`, `${BIN}/psql`, `${BIN}/pg_basebackup`, EXPORTER]);
    for (const node of [PRIMARY, REPLICA]) {
      for (const port of [node.port, node.exporterPort, CONTROL_PORT]) {
        if (await canConnect(node.address, port)) throw new Error(`${node.address}:${port} is taken: something else runs there`);
      }
    }
    root = makeTempDir('pgha-exporter');
    chmodSync(root, 0o755);
    for (const sub of ['socket-primary', 'socket-replica', 'archive', 'scripts']) mkdirSync(join(root, sub), { mode: 0o755 });
    writeFileSync(`${root}/queries.yaml`, renderExporterQueries(), { mode: 0o644 });
    for (const node of [PRIMARY, REPLICA]) {
      writeFileSync(`${roleScript()}-${node.name}`, renderMonitoringRoleScript({ socketDir: socketDir(node), port: node.port }), { mode: 0o755 });
    }
    chownTo(root, 'postgres');

    await timings.timed('initdb', () =>
      standalone.initPostgres(pg(PRIMARY), {
        authHost: 'scram-sha-256',
        title: '# pgha exporter test',
        settings: [
          `max_connections = ${MAX_CONNECTIONS}`,
          'shared_buffers = 16MB',
          'wal_level = replica',
          'max_wal_senders = 4',
          // Archiving that fails while a flag file exists: the archiver metrics both ways.
          'archive_mode = on',
          `archive_command = 'test ! -e ${root}/archive-fail && cp %p ${root}/archive/%f'`,
          // Every statement is logged: the role script must keep its password out of the log all the same.
          "log_statement = 'all'",
        ],
        // The exporter connects over TCP from the loopback range (initdb allows 127.0.0.1/32 only).
        hba: 'host all all 127.0.0.0/8 scram-sha-256',
      }),
    );

    const primary = startPostgres(PRIMARY);
    await timings.timed('primary start', () => standalone.waitAccepting(pg(PRIMARY), primary));
    await query(PRIMARY, 'CREATE DATABASE app');
    // Dead tuples that stay: updates and deletes on a table autovacuum leaves alone.
    await query(PRIMARY, 'CREATE TABLE churn (id int PRIMARY KEY, note text) WITH (autovacuum_enabled = off)', 'app');
    await query(PRIMARY, 'INSERT INTO churn SELECT g, md5(g::text) FROM generate_series(1, 20000) g', 'app');
    await query(PRIMARY, "UPDATE churn SET note = note || 'x' WHERE id <= 5000", 'app');
    await query(PRIMARY, 'DELETE FROM churn WHERE id > 18000', 'app');
    // More (empty) tables than the table query reports: only the largest stay.
    await query(
      PRIMARY,
      `CREATE SCHEMA many; DO $$ BEGIN FOR i IN 1..${TABLE_METRICS_LIMIT + 10} LOOP EXECUTE format('CREATE TABLE many.t%s (x int)', i); END LOOP; END $$`,
      'app',
    );
    // A physical slot that reserves WAL now and that nothing consumes: a standby gone for good.
    await query(PRIMARY, `SELECT pg_create_physical_replication_slot('${SLOTS.idle}', true)`);
  }, 120_000);

  afterAll(async () => {
    for (const proc of [...others, exporters.replica, exporters.primary]) if (proc) await stopProcess(proc).catch(() => undefined);
    for (const proc of [postgres.replica, postgres.primary]) await standalone.stopPostgres(proc);
    // A backend or an archiver left behind by a failed test: ours, stopped by PID.
    await removeTempDirAndProcesses(root);
    timings.print('postgres_exporter test timings');
  }, 90_000);

  test('the role script creates pgha_monitor with pg_monitor only, keeps its password out of files and logs, and rotates it', async () => {
    const missing = await runRoleScript(PRIMARY, undefined);
    expect({ code: missing.code, stderr: missing.stderr.trim() }).toEqual({
      code: 2,
      stderr: `pgha-monitoring-role: ${MONITORING_PASSWORD_VARIABLE} is not set or empty: no password for ${MONITORING_ROLE}`,
    });

    const created = await timings.timed('role script (create)', () => runRoleScript(PRIMARY, PASSWORD));
    expect({ code: created.code, stderr: created.stderr.trim() }).toEqual({ code: 0, stderr: `pgha-monitoring-role: role ${MONITORING_ROLE} is in place (pg_monitor)` });
    expect(await query(PRIMARY, `SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = '${MONITORING_ROLE}'`)).toBe('f|f|f|f|f|t');
    expect(await query(PRIMARY, `SELECT string_agg(roleid::regrole::text, ',') FROM pg_auth_members WHERE member = '${MONITORING_ROLE}'::regrole`)).toBe('pg_monitor');
    expect(await query(PRIMARY, `SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '${MONITORING_ROLE}'`)).toBe('t');

    const login = (password: string) =>
      runCommand(`${BIN}/psql`, {
        args: ['-h', PRIMARY.address, '-p', String(PRIMARY.port), '-U', MONITORING_ROLE, '-d', 'app', '-XAtc', "SELECT current_user, current_setting('lock_timeout')"],
        inheritEnv: false,
        node: true,
        env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
      });
    expect((await login(PASSWORD)).stdout.trim()).toBe(`${MONITORING_ROLE}|2s`);

    // Rotation: the new password works, the old one no longer does; then back (idempotent runs).
    expect((await runRoleScript(PRIMARY, NEW_PASSWORD)).code).toBe(0);
    expect((await login(NEW_PASSWORD)).code).toBe(0);
    const old = await login(PASSWORD);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('password authentication failed');
    expect((await runRoleScript(PRIMARY, PASSWORD)).code).toBe(0);
    expect((await login(PASSWORD)).code).toBe(0);
    expect(await query(PRIMARY, `SELECT count(*) FROM pg_roles WHERE rolname = '${MONITORING_ROLE}'`)).toBe('1');

    // Neither password is in the scripts, nor in the server log although it logs every statement.
    for (const node of [PRIMARY, REPLICA]) {
      const script = readFileSync(`${roleScript()}-${node.name}`, 'utf8');
      expect(script).not.toContain(PASSWORD);
      expect(script).not.toContain(NEW_PASSWORD);
    }
    const serverLog = postgres.primary!.logTail(100_000);
    expect(serverLog).toContain('statement: SELECT pg_is_in_recovery()');
    expect(serverLog).not.toContain(PASSWORD);
    expect(serverLog).not.toContain(NEW_PASSWORD);
  }, 90_000);

  test('on the primary: every query runs, every metric of the contract appears with the values of the server', async () => {
    const exporter = startExporter(PRIMARY, PASSWORD);
    await timings.timed('primary exporter listening', () => waitForPort(PRIMARY.address, PRIMARY.exporterPort, { timeoutMs: 15_000, process: exporter }));
    // Bound to the node's address only.
    expect(await canConnect('127.0.0.1', PRIMARY.exporterPort)).toBe(false);

    const samples = await timings.timed('primary first scrape', () => scrape(PRIMARY));
    // The exporter and the server this test is about.
    expect(only(samples, 'postgres_exporter_build_info').map((s) => s.labels.version)).toEqual(['0.17.1']);
    expect(await query(PRIMARY, "SELECT current_setting('server_version_num')::int / 10000")).toBe('17');
    expectNoQueryErrors(exporters.primary, samples);
    for (const name of Object.values(PG_METRICS)) expect({ name, present: only(samples, name).length > 0 }).toEqual({ name, present: true });
    // Our queries produce exactly the names of the contract, nothing else.
    expect([...new Set(samples.map((s) => s.name).filter((name) => name.startsWith('pgha_')))].sort()).toEqual([...EXPORTER_METRIC_NAMES].sort());

    // Databases: no series for pg_stat_database's row of shared objects (datid 0, NULL datname), which
    // PostgreSQL 17 still has. Ours are driven by pg_database; 0.17.1's built-in stat_database
    // collector skips rows without a datname (0.14+; 0.11's built-in exported it as datname="").
    expect(await query(PRIMARY, 'SELECT count(*) FROM pg_stat_database WHERE datid = 0 AND datname IS NULL')).toBe('1');
    expect(only(samples, 'pg_stat_database_blks_hit', { datname: '' })).toEqual([]);
    const databases = (await query(PRIMARY, 'SELECT string_agg(datname, \',\' ORDER BY datname) FROM pg_database')).split(',');
    expect(only(samples, 'pg_stat_database_blks_hit').map((s) => s.labels.datname).sort()).toEqual(databases);
    for (const name of [PG_METRICS.blocksHit, PG_METRICS.blocksRead, PG_METRICS.commits, PG_METRICS.rollbacks, PG_METRICS.backends, PG_METRICS.databaseSizeBytes, PG_METRICS.xidAge]) {
      expect(only(samples, name).map((s) => s.labels.datname).sort()).toEqual(databases);
    }
    expect(databases).toEqual(['app', 'postgres', 'template0', 'template1']);
    expect(value(samples, PG_METRICS.databaseSizeBytes, { datname: 'app' })).toBe(Number(await query(PRIMARY, "SELECT pg_database_size('app')")));
    expect(value(samples, PG_METRICS.commits, { datname: 'app' })).toBeGreaterThan(0);
    expect(value(samples, PG_METRICS.xidAge, { datname: 'template0' })).toBeGreaterThan(0);

    // Tables of the database the exporter connects to, the 100 largest only.
    const churn = { datname: 'app', schemaname: 'public', relname: 'churn' };
    expect(value(samples, PG_METRICS.deadTuples, churn)).toBeGreaterThan(0);
    expect(value(samples, PG_METRICS.liveTuples, churn)).toBe(18000);
    expect(value(samples, PG_METRICS.tableSizeBytes, churn)).toBe(Number(await query(PRIMARY, "SELECT pg_total_relation_size('churn')", 'app')));
    for (const name of [PG_METRICS.deadTuples, PG_METRICS.liveTuples, PG_METRICS.tableSizeBytes]) expect(only(samples, name)).toHaveLength(TABLE_METRICS_LIMIT);
    expect(await query(PRIMARY, 'SELECT count(*) FROM pg_stat_user_tables', 'app')).toBe(String(TABLE_METRICS_LIMIT + 11));

    // Connections against max_connections.
    expect(value(samples, PG_METRICS.connectionsMax)).toBe(Number(await query(PRIMARY, 'SHOW max_connections')));
    expect(value(samples, PG_METRICS.connectionsMax)).toBe(MAX_CONNECTIONS);
    expect(value(samples, PG_METRICS.connectionsUsed)).toBeGreaterThanOrEqual(1);
    expect(value(samples, PG_METRICS.connectionsUsed)).toBeLessThan(MAX_CONNECTIONS);

    // A primary: no lag, no WAL receiver.
    expect(value(samples, PG_METRICS.isReplica)).toBe(0);
    expect(value(samples, PG_METRICS.lagSeconds)).toBe(0);
    expect(value(samples, PG_METRICS.walReceiverStreaming)).toBe(0);
  }, 60_000);

  test('on the primary: the archiver metrics follow successes and failures of archive_command', async () => {
    const switchWal = () => query(PRIMARY, "INSERT INTO churn VALUES ((random() * 1e9)::int + 100000, 'wal'); SELECT pg_switch_wal()", 'app');
    const archiver = async () => {
      const samples = await scrape(PRIMARY);
      return {
        archived: value(samples, PG_METRICS.archivedCount),
        failed: value(samples, PG_METRICS.archiveFailedCount),
        age: value(samples, PG_METRICS.lastArchivedAgeSeconds),
        failing: value(samples, PG_METRICS.archiveFailing),
      };
    };
    const before = await archiver();
    expect(before.failing).toBe(0);
    await switchWal();
    await timings.timed('archived segment seen', () => waitUntil('an archived segment in the metrics', async () => (await archiver()).archived > before.archived, { timeoutMs: 20_000, intervalMs: 250 }));
    const archived = await archiver();
    expect(archived.age).toBeGreaterThanOrEqual(0);
    expect(archived.age).toBeLessThan(30);
    expect(archived.failing).toBe(0);

    writeFileSync(`${root}/archive-fail`, '');
    await switchWal();
    await timings.timed('archive failure seen', () => waitUntil('archiving to fail in the metrics', async () => (await archiver()).failing === 1, { timeoutMs: 20_000, intervalMs: 250 }));
    const failing = await archiver();
    expect(failing.failed).toBeGreaterThan(archived.failed);
    expect(failing.archived).toBe(archived.archived);

    // The archiver retries on the next segment (or within a minute): archiving works again.
    unlinkSync(`${root}/archive-fail`);
    await switchWal();
    // Both pending segments: failing drops to 0 with the first, while the second may still be copying.
    await timings.timed('archive recovery seen', () =>
      waitUntil('archiving to succeed again', async () => {
        const now = await archiver();
        return now.failing === 0 && now.archived >= archived.archived + 2;
      }, { timeoutMs: 70_000, intervalMs: 250 }),
    );
    expect((await archiver()).archived).toBeGreaterThanOrEqual(archived.archived + 2);
    expectNoQueryErrors(exporters.primary, await scrape(PRIMARY));
  }, 120_000);

  /** The slot's retained bytes from the metrics, between the same computed in SQL just before and just after the scrape. */
  async function retainedBetween(node: Node, slot: string, position: string): Promise<{ before: number; metric: number; after: number; samples: Sample[] }> {
    const sqlRetained = async () => Number(await query(node, `SELECT pg_wal_lsn_diff(${position}, restart_lsn) FROM pg_replication_slots WHERE slot_name = '${slot}'`));
    const before = await sqlRetained();
    const samples = await scrape(node);
    const after = await sqlRetained();
    const metric = value(samples, PG_METRICS.slotRetainedBytes, { slot_name: slot });
    expect(metric).toBeGreaterThanOrEqual(before);
    expect(metric).toBeLessThanOrEqual(after);
    return { before, metric, after, samples };
  }
  const slotMeasures: string[] = [];

  test('on the primary: a slot nobody consumes keeps every WAL byte written since it was made; inactive, wal_status reserved', async () => {
    const first = await retainedBetween(PRIMARY, SLOTS.idle, 'pg_current_wal_lsn()');
    const labels = { slot_name: SLOTS.idle, slot_type: 'physical', database: '' };
    expect(first.metric).toBeGreaterThan(0);
    expect(value(first.samples, PG_METRICS.slotActive, labels)).toBe(0);
    expect(value(first.samples, PG_METRICS.slotWalStatus, labels)).toBe(SLOT_WAL_STATUS.reserved);
    // 3 MB of rows and a segment switch: the slot keeps all of it.
    await query(PRIMARY, "INSERT INTO churn SELECT g, repeat('w', 1000) FROM generate_series(300001, 303000) g ON CONFLICT (id) DO UPDATE SET note = excluded.note", 'app');
    await query(PRIMARY, 'SELECT pg_switch_wal()');
    const second = await retainedBetween(PRIMARY, SLOTS.idle, 'pg_current_wal_lsn()');
    expect(second.metric).toBeGreaterThan(first.metric + 2_000_000);
    expect(value(second.samples, PG_METRICS.slotWalStatus, labels)).toBe(SLOT_WAL_STATUS.reserved);
    slotMeasures.push(`idle slot on the primary: ${first.metric} then ${second.metric} bytes`);
    expectNoQueryErrors(exporters.primary, second.samples);
  }, 60_000);

  test('on the primary: a slot without reserved WAL reports 0 bytes and status -1; past max_slot_wal_keep_size a slot is lost (status 3, 0 bytes)', async () => {
    await query(PRIMARY, `SELECT pg_create_physical_replication_slot('${SLOTS.unreserved}')`);
    const unreserved = await scrape(PRIMARY);
    expect(await query(PRIMARY, `SELECT restart_lsn IS NULL, wal_status IS NULL FROM pg_replication_slots WHERE slot_name = '${SLOTS.unreserved}'`)).toBe('t|t');
    expect(value(unreserved, PG_METRICS.slotRetainedBytes, { slot_name: SLOTS.unreserved })).toBe(0);
    expect(value(unreserved, PG_METRICS.slotWalStatus, { slot_name: SLOTS.unreserved })).toBe(SLOT_WAL_STATUS.none);

    // max_slot_wal_keep_size 0: the next checkpoint invalidates every slot behind the current segment.
    await query(PRIMARY, 'ALTER SYSTEM SET max_slot_wal_keep_size = 0');
    await query(PRIMARY, 'SELECT pg_reload_conf()');
    try {
      await waitUntil('max_slot_wal_keep_size 0 in effect', async () => (await query(PRIMARY, 'SHOW max_slot_wal_keep_size')) === '0', { timeoutMs: 10_000 });
      await query(PRIMARY, "INSERT INTO churn VALUES (400001, 'lost') ON CONFLICT (id) DO NOTHING", 'app');
      await query(PRIMARY, 'SELECT pg_switch_wal()');
      await query(PRIMARY, 'CHECKPOINT');
      await timings.timed('slot lost', () =>
        waitUntil('the idle slot to be lost', async () => (await query(PRIMARY, `SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${SLOTS.idle}'`)) === 'lost', {
          timeoutMs: 20_000,
        }),
      );
      expect(await query(PRIMARY, `SELECT restart_lsn IS NULL FROM pg_replication_slots WHERE slot_name = '${SLOTS.idle}'`)).toBe('t');
      const lost = await scrape(PRIMARY);
      expect(value(lost, PG_METRICS.slotWalStatus, { slot_name: SLOTS.idle })).toBe(SLOT_WAL_STATUS.lost);
      expect(value(lost, PG_METRICS.slotRetainedBytes, { slot_name: SLOTS.idle })).toBe(0);
      expect(value(lost, PG_METRICS.slotActive, { slot_name: SLOTS.idle })).toBe(0);
      // The slot that never reserved WAL is not invalidated: still nothing reserved.
      expect(value(lost, PG_METRICS.slotWalStatus, { slot_name: SLOTS.unreserved })).toBe(SLOT_WAL_STATUS.none);
      expectNoQueryErrors(exporters.primary, lost);
    } finally {
      await query(PRIMARY, 'ALTER SYSTEM RESET max_slot_wal_keep_size');
      await query(PRIMARY, 'SELECT pg_reload_conf()');
    }
    for (const slot of [SLOTS.idle, SLOTS.unreserved]) await query(PRIMARY, `SELECT pg_drop_replication_slot('${slot}')`);
    expect(only(await scrape(PRIMARY), PG_METRICS.slotWalStatus)).toEqual([]);
  }, 60_000);

  test('negative control: the same checks catch a failing query and an unreadable queries file', async () => {
    const controls: [string, string, RegExp][] = [
      ['failing', 'pgha_control:\n  query: "SELECT 1 / 0 AS x"\n  master: true\n  metrics:\n    - x:\n        usage: GAUGE\n        description: fails\n', /Error running query on database .*pgha_control pq: division by zero/],
      ['unreadable', 'pgha_control: [\n', /Failed to reload user queries/],
    ];
    for (const [what, content, logLine] of controls) {
      const file = `${root}/control-${what}.yaml`;
      writeFileSync(file, content, { mode: 0o644 });
      const exporter = startExporter(PRIMARY, PASSWORD, { queries: file, port: CONTROL_PORT });
      try {
        await waitForPort(PRIMARY.address, CONTROL_PORT, { timeoutMs: 15_000, process: exporter });
        const samples = parseMetrics(await (await fetch(`http://${PRIMARY.address}:${CONTROL_PORT}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
        await waitUntil(`the ${what} control to log its error`, () => logLine.test(exporter.logTail(200)), { timeoutMs: 5_000, process: exporter });
        expect(() => expectNoQueryErrors(exporter, samples, file)).toThrow();
        // The log check itself sees the error, at 0.17.1's upper-case level.
        expect(logProblems(exporter).filter((line) => /level=ERROR/.test(line))).not.toEqual([]);
        if (what === 'failing') expect(value(samples, 'pg_exporter_last_scrape_error')).toBe(1);
        else expect(value(samples, 'pg_exporter_user_queries_load_error', { filename: file })).toBe(1);
      } finally {
        await stopProcess(exporter);
      }
    }
  }, 60_000);

  describe('with a streaming replica', () => {
    beforeAll(async () => {
      // The copy carries the primary's settings: its own port, address and socket win (last line wins).
      await timings.timed('pg_basebackup', () => standalone.copyStandby(pg(PRIMARY), pg(REPLICA), '# pgha exporter test: the replica'));
      const replica = startPostgres(REPLICA);
      await timings.timed('replica streaming', () => standalone.waitStreaming(pg(REPLICA), replica));
      // The replica streams through a slot of its own on the primary (primary_slot_name is reloadable),
      // and holds a slot itself, as a standby others cascade from does.
      await query(PRIMARY, `SELECT pg_create_physical_replication_slot('${SLOTS.replica}', true)`);
      await query(REPLICA, `ALTER SYSTEM SET primary_slot_name = '${SLOTS.replica}'`);
      await query(REPLICA, 'SELECT pg_reload_conf()');
      await timings.timed('replica on its slot', () =>
        waitUntil('the replica to stream through its slot', async () => (await query(PRIMARY, `SELECT active FROM pg_replication_slots WHERE slot_name = '${SLOTS.replica}'`)) === 't', {
          timeoutMs: 30_000,
        }),
      );
      await query(REPLICA, `SELECT pg_create_physical_replication_slot('${SLOTS.onReplica}', true)`);
      const exporter = startExporter(REPLICA, PASSWORD);
      await waitForPort(REPLICA.address, REPLICA.exporterPort, { timeoutMs: 15_000, process: exporter });
    }, 120_000);

    const lag = async (node: Node) => value(await scrape(node), PG_METRICS.lagSeconds);

    test('the role script leaves a replica alone: the role is there by replication', async () => {
      const result = await runRoleScript(REPLICA, PASSWORD);
      expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({
        code: 0,
        stderr: 'pgha-monitoring-role: this node is a replica: the role comes from the primary by replication',
      });
      expect(await query(REPLICA, `SELECT rolsuper FROM pg_roles WHERE rolname = '${MONITORING_ROLE}'`)).toBe('f');
    });

    test('on the replica: every query runs; a replica, streaming, lag 0 once all received WAL is replayed', async () => {
      const samples = await scrape(REPLICA);
      expectNoQueryErrors(exporters.replica, samples);
      for (const name of Object.values(PG_METRICS)) expect({ name, present: only(samples, name).length > 0 }).toEqual({ name, present: true });
      expect(value(samples, PG_METRICS.isReplica)).toBe(1);
      expect(value(samples, PG_METRICS.walReceiverStreaming)).toBe(1);
      expect(only(samples, PG_METRICS.blocksHit, { datname: '' })).toEqual([]);
      // A standby keeps its own statistics: the table is listed (with its size), its tuple counts are the standby's.
      expect(value(samples, PG_METRICS.tableSizeBytes, { datname: 'app', schemaname: 'public', relname: 'churn' })).toBeGreaterThan(0);
      // Nothing archived on a standby (archive_mode = on archives on the primary only).
      expect(value(samples, PG_METRICS.lastArchivedAgeSeconds)).toBe(-1);

      await timings.timed('replica caught up', () =>
        waitUntil('the replica to replay all it received', async () => (await query(REPLICA, 'SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()')) === 't', { timeoutMs: 20_000 }),
      );
      await waitUntil('lag 0 on the idle, caught-up replica', async () => (await lag(REPLICA)) === 0, { timeoutMs: 20_000, intervalMs: 250 });
    }, 60_000);

    /** Pauses replay, writes on the primary, and follows the replica's lag up and back to 0 after the resume. */
    async function pauseWriteResume(round: string, rows: number) {
      const marker = `paused-${round}`;
      await query(REPLICA, 'SELECT pg_wal_replay_pause()');
      await waitUntil('replay to pause', async () => (await query(REPLICA, 'SELECT pg_get_wal_replay_pause_state()')) === 'paused', { timeoutMs: 10_000 });
      const paused = Date.now();
      try {
        await query(PRIMARY, `INSERT INTO churn SELECT g, '${marker}' FROM generate_series(1, ${rows}) g ON CONFLICT (id) DO UPDATE SET note = '${marker}'`, 'app');
        let seen = 0;
        await timings.timed(`${round}: lag > 0 seen after the pause`, () =>
          waitUntil('lag above 0 on the paused replica', async () => (seen = await lag(REPLICA)) > 0, { timeoutMs: 20_000, intervalMs: 250 }),
        );
        expect(seen).toBeGreaterThan(0);
        // It grows while replay stays paused.
        await sleep(1500);
        const later = await lag(REPLICA);
        expect(later).toBeGreaterThan(seen);
        expect(later).toBeGreaterThanOrEqual((Date.now() - paused) / 1000 - 1);
        // The primary is unaffected, the replica still streams.
        const primary = await scrape(PRIMARY);
        expect(value(primary, PG_METRICS.isReplica)).toBe(0);
        expect(value(primary, PG_METRICS.lagSeconds)).toBe(0);
        expect(value(await scrape(REPLICA), PG_METRICS.walReceiverStreaming)).toBe(1);
        expect(await query(REPLICA, `SELECT count(*) FROM churn WHERE note = '${marker}'`, 'app')).toBe('0');
      } finally {
        await query(REPLICA, 'SELECT pg_wal_replay_resume()');
      }
      await timings.timed(`${round}: lag back to 0 after the resume`, () =>
        waitUntil('lag back to 0 after the resume', async () => (await lag(REPLICA)) === 0, { timeoutMs: 20_000, intervalMs: 250 }),
      );
      expect(await query(REPLICA, `SELECT count(*) FROM churn WHERE note = '${marker}'`, 'app')).toBe(String(rows));
    }

    test('lag rises above 0 while replay is paused, also before the replica has replayed any commit, and falls back to 0 after', async () => {
      // Round 1: no commit replayed since the replica started (pg_last_xact_replay_timestamp() is NULL).
      expect(await query(REPLICA, 'SELECT pg_last_xact_replay_timestamp() IS NULL')).toBe('t');
      await pauseWriteResume('first', 100);
      // Round 2: the usual case, measured from the last replayed commit.
      expect(await query(REPLICA, 'SELECT pg_last_xact_replay_timestamp() IS NULL')).toBe('f');
      await pauseWriteResume('second', 50);
      expectNoQueryErrors(exporters.replica, await scrape(REPLICA));
      expectNoQueryErrors(exporters.primary, await scrape(PRIMARY));
    }, 120_000);

    test("slots: the replica's slot on the primary is active and keeps little; a slot on the replica keeps the WAL replayed since it was made", async () => {
      // An active slot moves as its standby confirms: no exact bounds, but it keeps at most what is in flight.
      const primary = await scrape(PRIMARY);
      const replicaSlot = { slot_name: SLOTS.replica, slot_type: 'physical', database: '' };
      expect(value(primary, PG_METRICS.slotActive, replicaSlot)).toBe(1);
      expect(value(primary, PG_METRICS.slotWalStatus, replicaSlot)).toBe(SLOT_WAL_STATUS.reserved);
      const onPrimary = value(primary, PG_METRICS.slotRetainedBytes, replicaSlot);
      expect(onPrimary).toBeGreaterThanOrEqual(0);
      expect(onPrimary).toBeLessThan(16 * 1024 ** 2);
      // The built-in pg_replication_slots metrics, replaced by a standby-safe query of the same names.
      expect(value(primary, 'pg_replication_slots_active', { slot_name: SLOTS.replica })).toBe(1);

      // On the replica: measured against the replayed WAL (pg_current_wal_lsn() fails there).
      const labels = { slot_name: SLOTS.onReplica, slot_type: 'physical', database: '' };
      const first = await retainedBetween(REPLICA, SLOTS.onReplica, 'pg_last_wal_replay_lsn()');
      expect(value(first.samples, PG_METRICS.slotActive, labels)).toBe(0);
      expect(value(first.samples, PG_METRICS.slotWalStatus, labels)).toBe(SLOT_WAL_STATUS.reserved);
      expect(value(first.samples, PG_METRICS.isReplica)).toBe(1);
      await query(PRIMARY, "INSERT INTO churn SELECT g, repeat('r', 1000) FROM generate_series(500001, 503000) g ON CONFLICT (id) DO UPDATE SET note = excluded.note", 'app');
      const target = await query(PRIMARY, 'SELECT pg_current_wal_lsn()');
      await waitUntil('the replica to replay the rows', async () => (await query(REPLICA, `SELECT pg_last_wal_replay_lsn() >= '${target}'`)) === 't', { timeoutMs: 20_000 });
      const second = await retainedBetween(REPLICA, SLOTS.onReplica, 'pg_last_wal_replay_lsn()');
      expect(second.metric).toBeGreaterThan(first.metric + 2_000_000);
      const builtIn = value(second.samples, 'pg_replication_slots_pg_wal_lsn_diff', { slot_name: SLOTS.onReplica });
      expect(builtIn).toBeGreaterThanOrEqual(second.before);
      expect(builtIn).toBeLessThanOrEqual(second.after);
      slotMeasures.push(`the replica's slot on the primary: ${onPrimary} bytes (active); a slot on the replica: ${first.metric} then ${second.metric} bytes`);
      console.log(`slot measures: ${slotMeasures.join('; ')}`);
      expectNoQueryErrors(exporters.replica, second.samples);
    }, 60_000);
  });
});
