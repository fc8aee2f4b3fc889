/**
 * Backups and point-in-time recovery with real pgBackRest 2.45 on a local cluster: continuous
 * archiving, the backup jobs (from the leader), check and verify, a replica rebuilt from the
 * repository, the restore drill, logical dumps, and restores of new clusters to a moment between
 * two batches of rows, from a directory repository and from an S3-compatible one.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { LocalArchiveStore } from '../../src/platform/local/archive-store';
import { localRunJob, localStartService, localStopService } from '../../src/runner/local-cluster';
import { JobResult } from '../../src/runner/processes';
import { LOCAL_S3_BUCKET } from '../../src/platform/local/archive-store';
import { startLocalS3Server, stopLocalS3Server } from '../../src/runner/s3-server';
import { clusterHealth } from '../../src/runner/cluster-checks';
import { eventually, leaderName, members, query, startTestCluster, stopTestCluster, TestCluster } from '../support/local-cluster';
import { PATRONI_SERVICE, useCluster } from './helpers';
import { commandAs } from '../support/processes';
import { postgresDataDir } from '../../src/model/layout';

const SOURCE_BLOCK = 66;
const RESTORED_BLOCK = 67;
const S3_SOURCE_BLOCK = 68;
const S3_RESTORED_BLOCK = 69;
const S3_PORT = 19466;

const store: LocalArchiveStore = { type: 'posix', dir: mkdtempSync(join(tmpdir(), 'pgha-archive-')) };

/** The node's Prometheus textfile of a job: metric name -> value. */
function jobStatus(c: TestCluster, node: string, job: string): Record<string, number> | undefined {
  const file = join(c.dir, 'nodes', node, 'var/lib/pgha/status', `${job}.prom`);
  if (!existsSync(file)) return undefined;
  const metrics: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([a-z_]+)\{[^}]*\}\s+(\S+)$/.exec(line);
    if (match) metrics[match[1]] = Number(match[2]);
  }
  return metrics;
}

/** A job's exit code, with its output in the failure message. */
function expectExit(result: JobResult, zero = true): void {
  if ((result.exitCode === 0) !== zero) throw new Error(`expected ${zero ? 'success' : 'failure'}, got exit ${result.exitCode}:\n${result.output}`);
}

const replicaNames = async (c: TestCluster) => (await members(c)).filter((m) => m.role !== 'leader').map((m) => m.name);

/** `pgbackrest info` of a stanza as JSON, read with the leader's configuration and environment. */
function backupInfo(c: TestCluster, node: string, stanza = 'main'): { type: string; label: string }[] {
  const root = join(c.dir, 'nodes', node);
  const env = Object.fromEntries(
    readFileSync(join(root, 'etc/pgbackrest/pgbackrest.env'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const [command, args] = commandAs({ user: 'postgres' }, '/usr/bin/pgbackrest', [`--config=${root}/etc/pgbackrest/pgbackrest.conf`, `--stanza=${stanza}`, '--output=json', 'info'], true);
  const out = execFileSync(command, args, { env: { PATH: '/usr/bin:/bin', ...env } }).toString();
  return (JSON.parse(out)[0].backup as { type: string; label: string }[]).map((b) => ({ type: b.type, label: b.label }));
}

/** Inserts batch 1, takes the time, inserts batch 2, and waits until all of it is archived. */
async function twoBatchesAroundATime(c: TestCluster, table: string): Promise<string> {
  const writer = c.endpoints.writer;
  await query(c, writer, `CREATE TABLE ${table} (batch int, n int)`);
  await query(c, writer, `INSERT INTO ${table} SELECT 1, g FROM generate_series(1, 100) g`);
  await new Promise((done) => setTimeout(done, 1_100));
  const [{ at }] = await query<{ at: string }>(c, writer, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`);
  await new Promise((done) => setTimeout(done, 1_100));
  await query(c, writer, `INSERT INTO ${table} SELECT 2, g FROM generate_series(1, 100) g`);
  // A time target is reached only once a commit after it is in the archive.
  const [{ segment }] = await query<{ segment: string }>(c, writer, 'SELECT pg_walfile_name(pg_switch_wal()) AS segment');
  await eventually(`segment ${segment} archived`, 60_000, async () => {
    const [archiver] = await query<{ last: string | null }>(c, writer, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return archiver.last !== null && archiver.last.slice(8) >= segment.slice(8);
  });
  return at;
}

async function expectRestoredToFirstBatch(restored: TestCluster, table: string): Promise<void> {
  const rows = await query<{ batch: number; count: string }>(restored, restored.endpoints.writer, `SELECT batch, count(*) FROM ${table} GROUP BY batch ORDER BY batch`);
  expect(rows.map((r) => [r.batch, Number(r.count)])).toEqual([[1, 100]]);
  const settings = Object.fromEntries(
    (await query<{ name: string; setting: string }>(restored, restored.endpoints.writer, "SELECT name, setting FROM pg_settings WHERE name IN ('archive_command', 'synchronous_standby_names', 'recovery_target_time', 'restore_command')")).map((r) => [r.name, r.setting]),
  );
  // It archives into its own stanza, carries no synchronous setting of the source (it is async),
  // and its recovery is over.
  expect(settings.archive_command).toMatch(/--stanza=restored archive-push %p$/);
  expect(settings.synchronous_standby_names).toBe('');
  const [{ recovery }] = await query<{ recovery: boolean }>(restored, restored.endpoints.writer, 'SELECT pg_is_in_recovery() AS recovery');
  expect(recovery).toBe(false);
  // Patroni 4.0.7 may leave the restore's recovery settings (the source's restore_command, the
  // target) in the new leader's postgresql.conf until it next rewrites it: inert outside recovery.
  // Every replica must fetch WAL from the restored cluster's own stanza, with no target, or its
  // replay would follow the source's history or stop at the target.
  for (const member of restored.endpoints.members) {
    const [row] = await query<{ recovery: boolean; restore: string; target: string }>(
      restored,
      { host: member.host, port: member.port },
      "SELECT pg_is_in_recovery() AS recovery, current_setting('restore_command') AS restore, current_setting('recovery_target_time') AS target",
    );
    if (row.recovery) expect({ member: member.name, restoresFromOwnStanza: /--stanza=restored archive-get/.test(row.restore), target: row.target }).toEqual({ member: member.name, restoresFromOwnStanza: true, target: '' });
  }
  // And its archiving works once its stanza exists.
  const [{ segment }] = await query<{ segment: string }>(restored, restored.endpoints.writer, 'SELECT pg_walfile_name(pg_switch_wal()) AS segment');
  await eventually(`restored cluster archives ${segment}`, 60_000, async () => {
    const [archiver] = await query<{ last: string | null }>(restored, restored.endpoints.writer, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return archiver.last !== null && archiver.last >= segment;
  });
}

describe('GIVEN a cluster archiving into a directory repository, with backup jobs', () => {
  const under = useCluster('backups and PITR', {
    addressBlock: SOURCE_BLOCK,
    archiveStore: store,
    topology: { archive: {}, backup: { logicalDump: {} } },
  });
  afterAll(() => rmSync(store.dir, { recursive: true, force: true }));

  test('WAL is archived continuously: a switched segment reaches the repository, nothing fails', async () => {
    const c = under.started();
    const [{ segment }] = await query<{ segment: string }>(c, c.endpoints.writer, 'SELECT pg_walfile_name(pg_switch_wal()) AS segment');
    const archiver = await eventually('the segment archived', 30_000, async () => {
      const [row] = await query<{ last: string | null; failed: string }>(c, c.endpoints.writer, 'SELECT last_archived_wal AS last, failed_count AS failed FROM pg_stat_archiver');
      return row.last !== null && row.last >= segment ? row : undefined;
    });
    expect(Number(archiver.failed)).toBe(0);
    const archived = readdirSync(join(store.dir, 'main/pgbackrest/archive/main/17-1/0000000100000000'));
    expect(archived.some((name) => name.startsWith(segment))).toBe(true);
  });

  test('the check job passes on the leader, and the replicas leave it to the leader without recording anything', async () => {
    const c = under.started();
    const leader = (await leaderName(c))!;
    expectExit(await localRunJob(c.dir, leader, 'pgha-check'));
    expect(jobStatus(c, leader, 'check')).toMatchObject({ pgha_job_last_exit_code: 0 });
    for (const replica of await replicaNames(c)) {
      expect((await localRunJob(c.dir, replica, 'pgha-check')).exitCode).toBe(0);
      expect(jobStatus(c, replica, 'check')).toBeUndefined();
    }
  }, 120_000);

  test('a full backup and then a differential succeed, and pgBackRest lists both', async () => {
    const c = under.started();
    const leader = (await leaderName(c))!;
    const full = await localRunJob(c.dir, leader, 'pgha-backup-full');
    expectExit(full);
    await query(c, c.endpoints.writer, 'CREATE TABLE after_full AS SELECT g FROM generate_series(1, 10000) g');
    const diff = await localRunJob(c.dir, leader, 'pgha-backup-diff');
    expectExit(diff);
    expect(backupInfo(c, leader).map((b) => b.type)).toEqual(['full', 'diff']);
    const status = jobStatus(c, leader, 'backup-diff');
    expect(status).toMatchObject({ pgha_job_last_exit_code: 0 });
    expect(status?.pgha_job_last_success_timestamp_seconds).toBeGreaterThan(Date.now() / 1000 - 120);
    under.figures.note(`full backup job: ${full.durationMs} ms, differential: ${diff.durationMs} ms`);
  }, 180_000);

  test('verify passes, fails on a corrupted repository file, and keeps the last success time', async () => {
    const c = under.started();
    const leader = (await leaderName(c))!;
    expectExit(await localRunJob(c.dir, leader, 'pgha-verify'));
    const succeeded = jobStatus(c, leader, 'verify')?.pgha_job_last_success_timestamp_seconds;
    // Corrupt one file of the full backup (and put it back afterwards: later tests restore from it).
    const backupDir = join(store.dir, 'main/pgbackrest/backup/main');
    const label = readdirSync(backupDir).find((name) => name.endsWith('F'))!;
    const file = join(backupDir, label, 'pg_data/global/pg_control.zst');
    const saved = `${file}.saved`;
    copyFileSync(file, saved);
    try {
      const bytes = readFileSync(file);
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      writeFileSync(file, bytes);
      const failed = await localRunJob(c.dir, leader, 'pgha-verify');
      expectExit(failed, false);
      const status = jobStatus(c, leader, 'verify');
      expect(status?.pgha_job_last_exit_code).not.toBe(0);
      expect(status?.pgha_job_last_success_timestamp_seconds).toBe(succeeded);
    } finally {
      copyFileSync(saved, file);
      rmSync(saved);
    }
  }, 180_000);

  test('a replica whose data is lost is rebuilt from the repository, catches up and streams', async () => {
    const c = under.started();
    const [replica] = await replicaNames(c);
    await localStopService(c.dir, replica, PATRONI_SERVICE);
    rmSync(join(c.dir, 'nodes', replica, postgresDataDir('main').slice(1)), { recursive: true, force: true });
    const log = join(c.dir, 'logs', `${replica}.${PATRONI_SERVICE}.log`);
    const logBefore = statSync(log).size;
    localStartService(c.dir, replica, PATRONI_SERVICE);
    await eventually('the replica streams again', 120_000, async () => {
      const health = await clusterHealth(c.endpoints.members.map((m) => m.restApi), 1);
      return health.healthy && health.streaming.includes(replica);
    });
    const newLog = readFileSync(log, 'utf8').slice(logBefore);
    expect(newLog).toMatch(/replica has been created using pgbackrest/);
  }, 180_000);

  test('the restore drill runs on one replica and records success and its duration; with a wrong passphrase it records failure', async () => {
    const c = under.started();
    const nodes = c.endpoints.members.map((m) => m.name);
    const results = await Promise.all(nodes.map((node) => localRunJob(c.dir, node, 'pgha-restore-drill')));
    results.forEach((result) => expectExit(result));
    const ran = nodes.filter((node) => jobStatus(c, node, 'restore-drill') !== undefined);
    expect(ran).toHaveLength(1);
    expect(await replicaNames(c)).toContain(ran[0]);
    const status = jobStatus(c, ran[0], 'restore-drill')!;
    expect(status).toMatchObject({ pgha_job_last_exit_code: 0, pgha_restore_drill_success: 1 });
    expect(status.pgha_restore_drill_duration_seconds).toBeGreaterThan(0);
    under.figures.note(`restore drill: ${status.pgha_restore_drill_duration_seconds} s`);

    const failed = await localRunJob(c.dir, ran[0], 'pgha-restore-drill', { env: { PGBACKREST_REPO1_CIPHER_PASS: 'not-the-passphrase' } });
    expectExit(failed, false);
    expect(jobStatus(c, ran[0], 'restore-drill')).toMatchObject({ pgha_restore_drill_success: 0 });
    // Nothing of the failed drill is left: its scratch directory (made by the node plan) is empty.
    expect(readdirSync(join(c.dir, 'nodes', ran[0], 'var/lib/pgha/restore-drill'))).toEqual([]);
  }, 300_000);

  test('the dump job keeps a dump of each database that pg_restore can read', async () => {
    const c = under.started();
    const leader = (await leaderName(c))!;
    expectExit(await localRunJob(c.dir, leader, 'pgha-dump'));
    const dumps = readdirSync(join(c.dir, 'nodes', leader, 'var/lib/pgha/dumps'));
    expect(dumps.filter((name) => name.startsWith('postgres-') && name.endsWith('.dump'))).toHaveLength(1);
    expect(dumps.filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(jobStatus(c, leader, 'dump')).toMatchObject({ pgha_job_last_exit_code: 0 });
  }, 120_000);

  test('PITR: a new cluster restored to a recorded time holds exactly the first batch', async () => {
    const c = under.started();
    const target = await twoBatchesAroundATime(c, 'pitr_posix');
    let restored: TestCluster | undefined;
    const t0 = Date.now();
    try {
      restored = await startTestCluster({
        addressBlock: RESTORED_BLOCK,
        archiveStore: store,
        replicationMode: 'async',
        topology: { cluster: { clusterName: 'restored' }, archive: {}, restoreFrom: { sourceCluster: 'main', targetTime: target } },
      });
      under.figures.note(`PITR restore to a healthy 3-node cluster: ${Date.now() - t0} ms`);
      await expectRestoredToFirstBatch(restored, 'pitr_posix');
    } finally {
      await stopTestCluster(restored);
    }
  }, 300_000);
});

describe('GIVEN a single-node cluster archiving into the local S3-compatible server', () => {
  const s3Store: LocalArchiveStore = { type: 's3', dir: mkdtempSync(join(tmpdir(), 'pgha-s3-')), port: S3_PORT };
  let server: { pid: number } | undefined;
  let source: TestCluster | undefined;
  beforeAll(async () => {
    server = await startLocalS3Server({ dir: s3Store.dir, port: S3_PORT, bucket: LOCAL_S3_BUCKET });
  }, 60_000);
  afterAll(async () => {
    await stopTestCluster(source);
    if (server) await stopLocalS3Server(server);
    rmSync(s3Store.dir, { recursive: true, force: true });
  }, 120_000);

  test('PITR from S3: restored to a recorded time, exactly the first batch is there', async () => {
    const single = { nodeCount: 1, allowSingleNode: true, replicationMode: 'async' as const };
    source = await startTestCluster({ addressBlock: S3_SOURCE_BLOCK, archiveStore: s3Store, replicationMode: 'async', topology: { cluster: single, archive: {}, backup: {} } });
    const leader = (await leaderName(source))!;
    expectExit(await localRunJob(source.dir, leader, 'pgha-backup-full'));
    const target = await twoBatchesAroundATime(source, 'pitr_s3');
    let restored: TestCluster | undefined;
    try {
      restored = await startTestCluster({
        addressBlock: S3_RESTORED_BLOCK,
        archiveStore: s3Store,
        replicationMode: 'async',
        topology: { cluster: { ...single, clusterName: 'restored' }, archive: {}, restoreFrom: { sourceCluster: 'main', targetTime: target } },
      });
      await expectRestoredToFirstBatch(restored, 'pitr_s3');
    } finally {
      await stopTestCluster(restored);
    }
  }, 300_000);
});

describe('GIVEN backups from a standby (pgBackRest TLS servers with the cluster certificate)', () => {
  const standbyStore: LocalArchiveStore = { type: 'posix', dir: mkdtempSync(join(tmpdir(), 'pgha-archive-standby-')) };
  const under = useCluster('backups from a standby', {
    addressBlock: 70,
    archiveStore: standbyStore,
    topology: { archive: {}, backup: { backupStandby: true } },
  });
  afterAll(() => rmSync(standbyStore.dir, { recursive: true, force: true }));

  test('a full backup and then a differential run on one replica, copying its files, and succeed', async () => {
    const c = under.started();
    const nodes = c.endpoints.members.map((m) => m.name);
    for (const type of ['full', 'diff']) {
      const results = await Promise.all(nodes.map((node) => localRunJob(c.dir, node, `pgha-backup-${type}`)));
      results.forEach((result) => expectExit(result));
      const ran = nodes.filter((node) => jobStatus(c, node, `backup-${type}`) !== undefined);
      expect(ran).toHaveLength(1);
      expect(await replicaNames(c)).toContain(ran[0]);
      // pgBackRest logs each command with its options: this backup ran with --backup-standby and
      // reached the primary through its TLS server (pg2/pg3 are the peers).
      const log = readFileSync(join(c.dir, 'nodes', ran[0], 'var/log/pgbackrest/main-backup.log'), 'utf8');
      const begin = log.split('\n').filter((line) => line.includes('backup command begin')).pop() ?? '';
      expect(begin).toContain('--backup-standby');
      expect(begin).toContain(`--type=${type}`);
      expect(begin).toMatch(/--pg2-host-type=tls/);
    }
    expect(backupInfo(c, nodes[0]).map((b) => b.type)).toEqual(['full', 'diff']);
  }, 240_000);
});
