/**
 * `npm run bench:backup`: backup, restore and point-in-time recovery throughput with real
 * pgBackRest 2.45, on loopback, against `pg_basebackup` of the same data measured in the same run.
 *
 * For each repository (a directory, `posix`, then the local S3-compatible server, `s3`: s3rver over
 * HTTPS on 127.0.0.1), one single-node cluster with an archive and the backup jobs:
 *   - data: a table of realistic, not trivially compressible rows (random numbers, timestamps and
 *     96 hex characters of md5 per row) with a primary key, loaded until the database reaches
 *     --size-mb; VACUUM ANALYZE, CHECKPOINT, and all of the load's WAL archived before timing;
 *   - baseline: `pg_basebackup -Ft -X fetch -c fast` (an uncompressed tar, streamed over TCP
 *     as the replication user: pg_hba allows replication only over TCP) into a temp dir;
 *   - backup: the `pgha-backup-full` job (zstd, aes-256-cbc, process-max 2, from pgbackrest.conf);
 *   - restore: the `pgha-restore-drill` job (on a single node it runs on the leader): restores the
 *     latest backup into a scratch dir, starts it, queries it, stops and deletes it; its recorded
 *     pgha_restore_drill_duration_seconds;
 *   - PITR: a marker row, a target time, a row after it, WAL switched and archived; then a new
 *     single-node cluster restored from the archive to that time, timed until healthy, must hold
 *     the marker, not the later row, and every row of the data set.
 * MB/s is the data set (pg_database_size) over the time; each time is also printed as a ratio to
 * the pg_basebackup time of the same cluster (the median of 3 runs). MB = 2^20 bytes.
 *
 * Options (after `--`):
 *   --size-mb N        size of the data set (default 1024)
 *   --repo posix,s3    repositories to measure (default both, in that order)
 *
 * Every wait is bounded; every cluster and the S3 server are stopped by PID and every temp dir
 * removed in a `finally`, also on SIGINT/SIGTERM; a failed step fails the run (exit 1).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { LAYOUT } from '../../src/model/layout';
import { LOCAL_S3_BUCKET, LocalArchiveStore } from '../../src/platform/local/archive-store';
import { localDown, localRunJob, localUp } from '../../src/runner/local-cluster';
import { ownerIds, readEnvironmentFile } from '../../src/runner/node-directory';
import { ensureNodeRoot } from '../../src/runner/node-root';
import { detachedPid, isAlive, JobResult } from '../../src/runner/processes';
import { startLocalS3Server, stopLocalS3Server } from '../../src/runner/s3-server';
import { HaTopologyProps, haTopology } from '../../stacks/ha-topology';
import { eventually, leaderName, memberAddress, query, sleep, TestCluster } from '../support/local-cluster';
import { commandAs } from '../support/processes';
import { handleInterruption } from './interruption';

const MB = 1024 * 1024;
const BIN = LAYOUT.postgresBinDir;
const S3_PORT = 19481;
/** Source and restored clusters of each repository: their own address blocks (127.<block>.x.y). */
const REPOS = {
  posix: { sourceBlock: 81, restoredBlock: 82, title: 'posix (directory)' },
  s3: { sourceBlock: 83, restoredBlock: 84, title: 's3 (s3rver, HTTPS)' },
} as const;
type RepoName = keyof typeof REPOS;

/** Bounds: each step of a cluster start (a PITR restore of the whole data set is one), each job, each command. */
const STEP_TIMEOUT_MS = 20 * 60_000;
const JOB_TIMEOUT_MS = 30 * 60_000;
const COMMAND_TIMEOUT_MS = 30 * 60_000;
const STATEMENT_TIMEOUT_MS = 20 * 60_000;
const ARCHIVE_WAIT_MS = 15 * 60_000;
/** Rows per INSERT while loading (one transaction each). */
const BATCH_ROWS = 1_000_000;
/** pg_basebackup runs per cluster; the median is the baseline. */
const BASELINE_RUNS = 3;
const single = { nodeCount: 1, allowSingleNode: true, replicationMode: 'async' as const };

const interruption = handleInterruption(
  (line) => log(line),
  () => {
    for (const child of children) if (child.pid) signalPid(child.pid, 'SIGKILL');
  },
);
const guard = <T>(work: Promise<T>) => interruption.guard(work);

const wait = <T>(what: string, ms: number, check: () => Promise<T | undefined | false>) => guard(eventually(what, ms, check));

function signalPid(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const started = Date.now();
function log(line: string): void {
  const s = Math.floor((Date.now() - started) / 1000);
  console.log(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}`);
}
const sec = (ms: number, digits = 1) => (ms / 1000).toFixed(digits);
const mb = (bytes: number) => (bytes / MB).toFixed(0);
const rate = (bytes: number, ms: number) => (bytes / MB / (ms / 1000)).toFixed(1);

// ---------------------------------------------------------------------------------------------
// What this run started: stopped by PID and removed in `finally` blocks, and once more at exit.

/** Directories of clusters started (running or partly started). */
const clusters = new Set<string>();
const s3Servers = new Set<number>();
const tempDirs = new Set<string>();
/** Commands running now (pg_basebackup, pgbackrest info, du): killed by PID on interruption. */
const children = new Set<ChildProcess>();

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

interface TrackedState {
  processes: { pid: number; detachedPidFile?: string }[];
}

function aliveIn(dir: string): number[] {
  const file = join(dir, 'state.json');
  if (!existsSync(file)) return [];
  const state = JSON.parse(readFileSync(file, 'utf8')) as TrackedState;
  return state.processes.flatMap((p) => [p.pid, detachedPid(p.detachedPidFile) ?? 0]).filter((pid) => pid > 0 && isAlive(pid));
}

/**
 * A restore drill cut short (an interrupted run) can leave its postgres running in the node's
 * drill directory: stop it by the PID in its postmaster.pid, only if that process runs there.
 */
async function stopStrayDrills(dir: string): Promise<void> {
  const nodes = join(dir, 'nodes');
  if (!existsSync(nodes)) return;
  for (const node of readdirSync(nodes)) {
    const data = join(nodes, node, LAYOUT.restoreDrillDir, 'data');
    const pidFile = join(data, 'postmaster.pid');
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    let runsThere = false;
    try {
      runsThere = Number.isInteger(pid) && pid > 1 && realpathSync(`/proc/${pid}/cwd`) === realpathSync(data);
    } catch {
      runsThere = false;
    }
    if (!runsThere) continue;
    log(`  stopping the restore drill's postgres left on ${node} (pid ${pid})`);
    signalPid(pid, 'SIGQUIT');
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) signalPid(pid, 'SIGKILL');
  }
}

/**
 * A job still running when the run is cut short (localRunJob starts each in a process group of its
 * own, led by the job's script): its group is killed, found by the PIDs of this cluster's scripts.
 */
function killRunningJobs(dir: string): void {
  const scripts = join(dir, 'nodes') + '/';
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!(argv[0] === '/bin/bash' && argv[1]?.startsWith(scripts) && argv[1].includes(`${LAYOUT.scriptDir}/`))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const pid = Number(entry);
      log(`  killing the job still running: ${argv[1].slice(scripts.length)} (pid ${pid})`);
      signalPid(pgrp === pid ? -pid : pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** Stops everything the cluster in `dir` started, by PID, until nothing it recorded runs; then removes it. */
async function teardown(dir: string): Promise<void> {
  const t0 = Date.now();
  killRunningJobs(dir);
  await stopStrayDrills(dir);
  for (let attempt = 1; attempt <= 3; attempt++) {
    // localUp may still be starting services while the first pass runs (an interrupt during start).
    if (existsSync(join(dir, 'state.json'))) await localDown(dir).catch((error) => log(`  teardown: ${(error as Error).message}`));
    if (aliveIn(dir).length === 0) {
      await stopStrayDrills(dir);
      rmSync(dir, { recursive: true, force: true });
      clusters.delete(dir);
      log(`  cluster ${dir} stopped and removed (${sec(Date.now() - t0)} s)`);
      return;
    }
    await sleep(1_000);
  }
  throw new Error(`processes of ${dir} still running after teardown: ${aliveIn(dir).join(', ')} (directory kept)`);
}

async function stopCluster(cluster: TestCluster | undefined): Promise<void> {
  if (cluster) await teardown(cluster.dir);
}

/** Stops what is left (after a failure), each part on its own, and reports what could not be stopped. */
async function cleanUpAll(): Promise<string[]> {
  const problems: string[] = [];
  for (const child of children) if (child.pid) signalPid(child.pid, 'SIGKILL');
  for (const dir of [...clusters]) await teardown(dir).catch((error) => problems.push((error as Error).message));
  for (const pid of [...s3Servers]) {
    await stopLocalS3Server({ pid })
      .then(() => s3Servers.delete(pid))
      .catch((error) => problems.push((error as Error).message));
  }
  for (const dir of [...tempDirs]) removeTemp(dir);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Clusters, commands, jobs

/**
 * Starts a single-node cluster of the reference topology (what startTestCluster does, with a
 * longer bound per step: a PITR bootstrap restores the whole data set in one step).
 */
async function startCluster(label: string, block: number, store: LocalArchiveStore, topology: HaTopologyProps): Promise<TestCluster> {
  // The directory is known before anything starts, so a teardown can always find what was started.
  const dir = mkdtempSync(join(tmpdir(), `pgha-bench-backup-${block}-`));
  clusters.add(dir);
  const endpoints = await guard(
    localUp({
      dir,
      platform: { addressBlock: block, archiveStore: store },
      stepTimeoutMs: STEP_TIMEOUT_MS,
      progress: (line) => log(`    ${label}: ${line}`),
      build: (scope, platform) => haTopology(scope, platform, { ...topology, cluster: { replicationMode: 'async', failover: 'fast', ...topology.cluster } }),
    }),
  );
  return { dir, endpoints, superuser: endpoints.superuser };
}

/** Runs a command to its end (bounded), as postgres when asked; its stdout, or an error with its output. */
function run(argv: readonly string[], options: { asPostgres?: boolean; env?: Record<string, string>; timeoutMs?: number; node?: boolean } = {}): Promise<string> {
  // node: a node program, run from the node runtime root (as the cluster's own programs are).
  const [file, args] = commandAs(options.asPostgres ? { user: 'postgres' } : undefined, argv[0], argv.slice(1), options.node);
  const full = [file, ...args];
  const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
  const work = new Promise<string>((resolve, reject) => {
    const child = spawn(full[0], full.slice(1), { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.pid && signalPid(child.pid, 'SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${argv.join(' ')} failed (${signal ? `killed by ${signal}${signal === 'SIGKILL' ? `, bound ${sec(timeoutMs, 0)} s` : ''}` : `exit ${code}`}):\n${stderr.trim() || stdout.trim()}`));
    });
  });
  return guard(work);
}

/** Bytes on disk under a path (du -sb: apparent sizes), 0 when it does not exist. */
async function bytesUnder(path: string): Promise<number> {
  if (!existsSync(path)) return 0;
  return Number((await run(['/usr/bin/du', '-sb', path], { timeoutMs: 120_000 })).split('\t')[0]);
}

/** A job of a node, run now as its timer would; fails unless it exits 0. */
async function runJob(cluster: TestCluster, node: string, job: string): Promise<JobResult> {
  const result = await guard(localRunJob(cluster.dir, node, job, { timeoutMs: JOB_TIMEOUT_MS }));
  if (result.exitCode !== 0) throw new Error(`${job} on ${node} exited ${result.exitCode} after ${sec(result.durationMs)} s:\n${result.output}`);
  return result;
}

const nodeRoot = (cluster: TestCluster, node: string) => join(cluster.dir, 'nodes', node);

/** The node's Prometheus textfile of a job: metric name -> value. */
function jobStatus(cluster: TestCluster, node: string, job: string): Record<string, number> {
  const file = join(nodeRoot(cluster, node), LAYOUT.jobStatusDir, `${job}.prom`);
  if (!existsSync(file)) throw new Error(`${file} is missing: the ${job} job recorded nothing on ${node}`);
  const metrics: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([a-z_]+)\{[^}]*\}\s+(\S+)$/.exec(line);
    if (match) metrics[match[1]] = Number(match[2]);
  }
  return metrics;
}

interface BackupInfo {
  readonly label: string;
  /** Bytes of cluster files backed up. */
  readonly size: number;
  /** Bytes the backup takes in the repository (compressed, encrypted), as pgBackRest counts them. */
  readonly repoSize: number;
}

/** The latest backup of the stanza, from `pgbackrest info` with the node's configuration and environment. */
async function latestBackup(cluster: TestCluster, node: string, stanza = 'main'): Promise<BackupInfo> {
  const root = nodeRoot(cluster, node);
  const env = readEnvironmentFile(join(root, LAYOUT.pgbackrestSecretsEnv));
  const out = await run(['/usr/bin/pgbackrest', `--config=${join(root, LAYOUT.pgbackrestConfig)}`, `--stanza=${stanza}`, '--output=json', 'info'], {
    asPostgres: true,
    node: true,
    env,
    timeoutMs: 120_000,
  });
  const backups = JSON.parse(out)[0].backup as { label: string; info: { size: number; repository: { size: number } } }[];
  const last = backups[backups.length - 1];
  if (!last) throw new Error(`pgbackrest info lists no backup of stanza ${stanza}`);
  return { label: last.label, size: last.info.size, repoSize: last.info.repository.size };
}

/** A client on the node itself (not through HAProxy: its timeouts are not for hour-long statements). */
async function connectTo(cluster: TestCluster, node: string): Promise<Client> {
  const at = memberAddress(cluster, node);
  const client = new Client({ host: at.host, port: at.port, ...cluster.superuser, database: 'postgres', connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await guard(client.connect());
  await client.query(`SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
  return client;
}

// ---------------------------------------------------------------------------------------------
// Steps

const TABLE = 'bench_data';

interface DataSet {
  readonly rows: number;
  /** pg_database_size of the database holding the data set. */
  readonly bytes: number;
  readonly loadMs: number;
}

/** Loads rows in batches until the database holds `targetBytes`, then VACUUM ANALYZE and CHECKPOINT. */
async function loadData(cluster: TestCluster, node: string, targetBytes: number): Promise<DataSet> {
  const client = await connectTo(cluster, node);
  try {
    const t0 = Date.now();
    await guard(
      client.query(
        `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, account_id int NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, payload text NOT NULL)`,
      ),
    );
    const dbSize = async () => Number((await guard(client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size'))).rows[0].size);
    const insert = (from: number, to: number) =>
      guard(
        client.query(
          `INSERT INTO ${TABLE}
           SELECT g, (random() * 1000000)::int, round((random() * 10000)::numeric, 2),
                  (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + floor(random() * 4)::int],
                  timestamptz '2024-01-01 00:00:00+00' + random() * interval '365 days',
                  md5(random()::text) || md5(g::text) || md5(random()::text)
           FROM generate_series($1::bigint, $2::bigint) AS g`,
          [from, to],
        ),
      );
    // A first small batch tells how much a row takes (with its index entry); then batches up to the target.
    const empty = await dbSize();
    let rows = 50_000;
    await insert(1, rows);
    let size = await dbSize();
    while (size < targetBytes) {
      // Bytes per row so far (heap and index), and 1 % more rows than that predicts: files grow in steps.
      const perRow = Math.max(1, (size - empty) / rows);
      const batch = Math.max(1_000, Math.min(BATCH_ROWS, Math.ceil(((targetBytes - size) / perRow) * 1.01)));
      await insert(rows + 1, rows + batch);
      rows += batch;
      size = await dbSize();
      log(`    loaded ${rows.toLocaleString('en-US')} rows, ${mb(size)} MB (${sec(Date.now() - t0, 0)} s)`);
    }
    await guard(client.query(`VACUUM ANALYZE ${TABLE}`));
    await guard(client.query('CHECKPOINT'));
    return { rows, bytes: await dbSize(), loadMs: Date.now() - t0 };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Switches WAL and waits until that segment (and so all WAL before it) is in the repository. */
async function switchAndWaitArchived(cluster: TestCluster, node: string): Promise<number> {
  const at = memberAddress(cluster, node);
  const t0 = Date.now();
  const [{ segment }] = await guard(query<{ segment: string }>(cluster, at, 'SELECT pg_walfile_name(pg_switch_wal()) AS segment'));
  await wait(`WAL segment ${segment} archived`, ARCHIVE_WAIT_MS, async () => {
    const [archiver] = await query<{ last: string | null }>(cluster, at, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return archiver.last !== null && archiver.last.slice(8) >= segment.slice(8);
  });
  return Date.now() - t0;
}

/**
 * pg_basebackup of the node (tar, WAL fetched at the end, fast checkpoint) into a temp dir:
 * uncompressed (the baseline), or with extra options (`-Z zstd`: the same compression as pgBackRest's).
 */
async function baseBackup(cluster: TestCluster, node: string, extra: readonly string[] = []): Promise<{ ms: number; bytes: number }> {
  const root = nodeRoot(cluster, node);
  const password = readEnvironmentFile(join(root, LAYOUT.patroniSecretsEnv)).PATRONI_REPLICATION_PASSWORD;
  if (!password) throw new Error(`no PATRONI_REPLICATION_PASSWORD in ${join(root, LAYOUT.patroniSecretsEnv)}`);
  const at = memberAddress(cluster, node);
  const dir = tempDir('pgha-bench-basebackup-');
  try {
    chmodSync(dir, 0o700);
    const postgres = ownerIds('postgres:postgres', ensureNodeRoot());
    if (postgres) chownSync(dir, postgres.uid, postgres.gid);
    const target = join(dir, 'base');
    const t0 = Date.now();
    await run(
      [join(BIN, 'pg_basebackup'), '-h', at.host, '-p', String(at.port), '-U', 'replicator', '-w', '-D', target, '-Ft', '-X', 'fetch', '-c', 'fast', ...extra],
      { asPostgres: true, node: true, env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' } },
    );
    const ms = Date.now() - t0;
    return { ms, bytes: await bytesUnder(target) };
  } finally {
    removeTemp(dir);
  }
}

interface RepoResult {
  readonly repo: RepoName;
  readonly data: DataSet;
  readonly emptyStartMs: number;
  readonly archiveCatchUpMs: number;
  readonly baseline: { ms: number; bytes: number };
  /** Every baseline run's time, for the spread. */
  readonly baselineSpread: string;
  readonly baselineZstd: { ms: number; bytes: number };
  readonly backup: { ms: number; recordedS: number; info: BackupInfo; backupDirBytes: number; archiveDirBytes: number; storeBytes: number };
  readonly drill: { ms: number; recordedS: number; recoveredS?: number };
  readonly pitr: { prepareMs: number; ms: number; restoredRows: number };
}

async function measureRepo(repo: RepoName, sizeMb: number): Promise<RepoResult> {
  const plan = REPOS[repo];
  log(`${plan.title}: single-node cluster on 127.${plan.sourceBlock}.x.y${repo === 's3' ? `, S3 server on 127.0.0.1:${S3_PORT}` : ''}`);
  const storeDir = tempDir(`pgha-bench-${repo}-store-`);
  const store: LocalArchiveStore = repo === 'posix' ? { type: 'posix', dir: storeDir } : { type: 's3', dir: storeDir, port: S3_PORT };
  let s3Pid: number | undefined;
  let source: TestCluster | undefined;
  let restored: TestCluster | undefined;
  try {
    if (store.type === 's3') {
      const server = await guard(startLocalS3Server({ dir: store.dir, port: store.port, bucket: LOCAL_S3_BUCKET }));
      s3Pid = server.pid;
      s3Servers.add(server.pid);
      log(`  S3 server up (pid ${server.pid}), data in ${store.dir}/data`);
    }

    const t0 = Date.now();
    source = await startCluster('source', plan.sourceBlock, store, { cluster: single, archive: {}, backup: {} });
    const emptyStartMs = Date.now() - t0;
    const leader = await guard(leaderName(source));
    if (!leader) throw new Error('the source cluster has no leader');
    log(`  cluster up in ${sec(emptyStartMs)} s (leader ${leader}); loading ${sizeMb} MB`);

    const data = await loadData(source, leader, sizeMb * MB);
    log(`  data set: ${data.rows.toLocaleString('en-US')} rows, ${mb(data.bytes)} MB in ${sec(data.loadMs)} s (with VACUUM ANALYZE and CHECKPOINT)`);
    const archiveCatchUpMs = await switchAndWaitArchived(source, leader);
    log(`  the load's WAL archived ${sec(archiveCatchUpMs)} s after the load ended`);

    // The baseline is cheap: the median of BASELINE_RUNS, so one slow run does not skew every ratio.
    log(`  baseline: pg_basebackup -Ft -X fetch -c fast, ${BASELINE_RUNS} runs`);
    const baselineRuns: { ms: number; bytes: number }[] = [];
    for (let i = 0; i < BASELINE_RUNS; i++) {
      baselineRuns.push(await baseBackup(source, leader));
      log(`  pg_basebackup run ${i + 1}: ${sec(baselineRuns[i].ms)} s, ${rate(data.bytes, baselineRuns[i].ms)} MB/s, tar ${mb(baselineRuns[i].bytes)} MB`);
    }
    const baseline = [...baselineRuns].sort((a, b) => a.ms - b.ms)[Math.floor(BASELINE_RUNS / 2)];
    const baselineSpread = baselineRuns.map((b) => sec(b.ms)).join(', ');
    // For reference, not the baseline: how much of pgBackRest's time zstd alone would take (one process, level 3).
    const baselineZstd = await baseBackup(source, leader, ['-Z', 'zstd']);
    log(`  pg_basebackup -Z zstd (reference): ${sec(baselineZstd.ms)} s, ${rate(data.bytes, baselineZstd.ms)} MB/s, tar ${mb(baselineZstd.bytes)} MB`);

    log('  full backup: pgha-backup-full');
    const full = await runJob(source, leader, 'pgha-backup-full');
    const recordedBackup = jobStatus(source, leader, 'backup-full').pgha_job_last_duration_seconds;
    const info = await latestBackup(source, leader);
    const backupDir = store.type === 'posix' ? join(store.dir, 'main/pgbackrest/backup/main', info.label) : join(store.dir, 'data', LOCAL_S3_BUCKET, 'main/pgbackrest/backup/main', info.label);
    const archiveDir = store.type === 'posix' ? join(store.dir, 'main/pgbackrest/archive/main') : join(store.dir, 'data', LOCAL_S3_BUCKET, 'main/pgbackrest/archive/main');
    const backupDirBytes = await bytesUnder(backupDir);
    if (backupDirBytes === 0) throw new Error(`the backup ${info.label} is not at ${backupDir}`);
    const archiveDirBytes = await bytesUnder(archiveDir);
    const storeBytes = await bytesUnder(store.type === 'posix' ? store.dir : join(store.dir, 'data'));
    log(
      `  full backup ${info.label}: ${sec(full.durationMs)} s (recorded ${recordedBackup} s), ${rate(data.bytes, full.durationMs)} MB/s; ` +
        `${mb(info.size)} MB of cluster files -> ${mb(info.repoSize)} MB in the repository, ${mb(backupDirBytes)} MB on disk`,
    );

    log('  restore drill: pgha-restore-drill');
    const drillResult = await runJob(source, leader, 'pgha-restore-drill');
    const drillStatus = jobStatus(source, leader, 'restore-drill');
    if (drillStatus.pgha_restore_drill_success !== 1) throw new Error(`the restore drill recorded no success: ${JSON.stringify(drillStatus)}\n${drillResult.output}`);
    const recovered = /recovery finished after ([0-9.]+) s/.exec(drillResult.output);
    const drill = { ms: drillResult.durationMs, recordedS: drillStatus.pgha_restore_drill_duration_seconds, recoveredS: recovered ? Number(recovered[1]) : undefined };
    log(`  restore drill: recorded ${drill.recordedS} s (restore + recovery ${drill.recoveredS ?? '?'} s), ${rate(data.bytes, drill.recordedS * 1000)} MB/s`);

    // PITR: a marker before the target time, a row after it (a time target is reached only once a
    // later commit is in the archive), the WAL switched and archived.
    const at = memberAddress(source, leader);
    const p0 = Date.now();
    await guard(query(source, at, 'CREATE TABLE bench_marker (name text PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())'));
    await guard(query(source, at, "INSERT INTO bench_marker (name) VALUES ('before-target')"));
    await guard(sleep(1_100));
    const [{ target }] = await guard(query<{ target: string }>(source, at, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS target`));
    await guard(sleep(1_100));
    await guard(query(source, at, "INSERT INTO bench_marker (name) VALUES ('after-target')"));
    await switchAndWaitArchived(source, leader);
    const prepareMs = Date.now() - p0;
    log(`  PITR: target ${target}, marker archived (${sec(prepareMs)} s); starting a cluster restored to it`);
    const r0 = Date.now();
    restored = await startCluster('restored', plan.restoredBlock, store, {
      cluster: { ...single, clusterName: 'restored' },
      archive: {},
      restoreFrom: { sourceCluster: 'main', targetTime: target },
    });
    const pitrMs = Date.now() - r0;
    const restoredLeader = await guard(leaderName(restored));
    if (!restoredLeader) throw new Error('the restored cluster has no leader');
    const rAt = memberAddress(restored, restoredLeader);
    const markers = (await guard(query<{ name: string }>(restored, rAt, 'SELECT name FROM bench_marker ORDER BY name'))).map((r) => r.name);
    if (markers.join(',') !== 'before-target') throw new Error(`the restored cluster holds markers [${markers.join(', ')}], expected only before-target`);
    const client = await connectTo(restored, restoredLeader);
    let restoredRows: number;
    try {
      restoredRows = Number((await guard(client.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`))).rows[0].n);
    } finally {
      await client.end().catch(() => undefined);
    }
    if (restoredRows !== data.rows) throw new Error(`the restored cluster holds ${restoredRows} rows of ${TABLE}, the source ${data.rows}`);
    log(`  PITR restore: healthy after ${sec(pitrMs)} s, ${rate(data.bytes, pitrMs)} MB/s; the marker is there, the later row is not, all ${restoredRows.toLocaleString('en-US')} rows`);

    return {
      repo,
      data,
      emptyStartMs,
      archiveCatchUpMs,
      baseline,
      baselineSpread,
      baselineZstd,
      backup: { ms: full.durationMs, recordedS: recordedBackup, info, backupDirBytes, archiveDirBytes, storeBytes },
      drill,
      pitr: { prepareMs, ms: pitrMs, restoredRows },
    };
  } finally {
    // Each part on its own: one that cannot be stopped is left to cleanUpAll, the rest still stops.
    await stopCluster(restored).catch((error) => log(`  stopping the restored cluster failed: ${(error as Error).message}`));
    await stopCluster(source).catch((error) => log(`  stopping the source cluster failed: ${(error as Error).message}`));
    if (s3Pid !== undefined) {
      const pid = s3Pid;
      await stopLocalS3Server({ pid })
        .then(() => {
          s3Servers.delete(pid);
          log(`  S3 server (pid ${pid}) stopped`);
        })
        .catch((error) => log(`  stopping the S3 server failed: ${(error as Error).message}`));
    }
    removeTemp(storeDir);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function printResult(r: RepoResult): void {
  const base = r.baseline.ms;
  const db = r.data.bytes;
  const row = (step: string, ms: number, note = '') =>
    `  ${step.padEnd(40)} ${`${sec(ms)} s`.padStart(8)}  ${rate(db, ms).padStart(7)}  ${(ms / base).toFixed(2).padStart(6)}${note ? `   ${note}` : ''}`;
  const lines: string[] = [];
  lines.push(`repository ${REPOS[r.repo].title}: data set ${mb(db)} MB (pg_database_size, ${r.data.rows.toLocaleString('en-US')} rows)`);
  lines.push(`  ${'step'.padEnd(40)} ${'time'.padStart(8)}  ${'MB/s'.padStart(7)}  ${'/ base'.padStart(6)}`);
  lines.push(row('pg_basebackup -Ft -X fetch (baseline)', base, `median of ${BASELINE_RUNS} (${r.baselineSpread} s); uncompressed tar ${mb(r.baseline.bytes)} MB`));
  lines.push(row('pg_basebackup -Z zstd (reference)', r.baselineZstd.ms, `client-side zstd, one process: tar ${mb(r.baselineZstd.bytes)} MB`));
  lines.push(row('full backup (pgha-backup-full)', r.backup.ms, `recorded ${r.backup.recordedS.toFixed(1)} s`));
  lines.push(
    row(
      'restore drill (pgha-restore-drill)',
      r.drill.recordedS * 1000,
      `recorded duration; restore + recovery ${r.drill.recoveredS === undefined ? '?' : r.drill.recoveredS.toFixed(1)} s, job ${sec(r.drill.ms)} s`,
    ),
  );
  lines.push(row('PITR: new cluster restored, healthy', r.pitr.ms, `an empty cluster starts in ${sec(r.emptyStartMs)} s`));
  const info = r.backup.info;
  lines.push(
    `  compression: ${mb(info.size)} MB of cluster files backed up -> ${mb(info.repoSize)} MB in the repository (pgBackRest), ` +
      `${mb(r.backup.backupDirBytes)} MB on disk${r.repo === 's3' ? ' in the s3rver data dir (objects + metadata)' : ''}: ` +
      `${(r.backup.backupDirBytes / db).toFixed(2)} of the database size (${(db / r.backup.backupDirBytes).toFixed(2)}x)`,
  );
  lines.push(
    `  repository on disk: backup ${mb(r.backup.backupDirBytes)} MB + WAL archive ${mb(r.backup.archiveDirBytes)} MB` +
      ` (whole ${r.repo === 's3' ? 's3rver data dir' : 'store'} ${mb(r.backup.storeBytes)} MB); load ${sec(r.data.loadMs)} s, its WAL archived ${sec(r.archiveCatchUpMs)} s after`,
  );
  console.log(`\n${lines.join('\n')}`);
}

function printSummary(results: readonly RepoResult[]): void {
  console.log('\nsummary: time / pg_basebackup time of the same cluster (MB/s)');
  console.log(`  ${'repository'.padEnd(20)} ${'pg_basebackup'.padStart(15)} ${'full backup'.padStart(18)} ${'restore drill'.padStart(18)} ${'PITR restore'.padStart(18)}`);
  for (const r of results) {
    const db = r.data.bytes;
    const cell = (ms: number) => `${(ms / r.baseline.ms).toFixed(2)} (${rate(db, ms)})`.padStart(18);
    console.log(
      `  ${REPOS[r.repo].title.padEnd(20)} ${`${sec(r.baseline.ms)} s (${rate(db, r.baseline.ms)})`.padStart(15)} ${cell(r.backup.ms)} ${cell(r.drill.recordedS * 1000)} ${cell(r.pitr.ms)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function parseArgs(argv: readonly string[]): { sizeMb: number; repos: RepoName[] } {
  let sizeMb = 1024;
  let repos: RepoName[] = ['posix', 's3'];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--size-mb') sizeMb = Number(value());
    else if (flag === '--repo') {
      const names = value().split(',').filter(Boolean);
      for (const name of names) if (!(name in REPOS)) throw new Error(`unknown repository ${name}: use ${Object.keys(REPOS).join(', ')}`);
      repos = names as RepoName[];
    } else throw new Error(`unknown option ${argv[i]} (use --size-mb N, --repo posix,s3)`);
  }
  if (!Number.isInteger(sizeMb) || sizeMb < 16) throw new Error('--size-mb wants a whole number >= 16');
  if (repos.length === 0) throw new Error('--repo names no repository');
  return { sizeMb, repos };
}

async function main(): Promise<number> {
  const { sizeMb, repos } = parseArgs(process.argv.slice(2));
  console.log(
    `cdktf-postgres-ha backup benchmark: pgBackRest 2.45 (zstd, aes-256-cbc, process-max 2) against pg_basebackup, ` +
      `${sizeMb} MB data set, single-node clusters on loopback, repositories: ${repos.join(', ')}\n`,
  );
  const results: RepoResult[] = [];
  for (const repo of repos) {
    const result = await measureRepo(repo, sizeMb);
    results.push(result);
    printResult(result);
    console.log('');
  }
  printSummary(results);
  console.log(`\ntotal wall time ${sec(Date.now() - started, 0)} s`);
  return 0;
}

main()
  .then((code) => process.exit(code))
  .catch(async (error) => {
    // measureRepo's finally has stopped what it started; this is the last resort if it could not.
    const problems = await cleanUpAll().catch((e) => [(e as Error).message]);
    for (const problem of problems) log(`clean-up failed: ${problem}`);
    console.error(`\nbackup benchmark failed: ${(error as Error).stack ?? error}`);
    process.exit(interruption.exitCode);
  });
