/**
 * PrimaryWithReplicas with cascading standbys and a WAL archive, run for real on 127.83.x.y: a
 * primary (casc-pg-1), two direct standbys (casc-pg-2, casc-pg-3, FIRST 1 synchronous) and two
 * cascading ones (casc-pg-4 from casc-pg-2, casc-pg-5 from casc-pg-3), archiving through pgBackRest
 * into the local S3-compatible server. A cascading standby streams from its upstream only; the
 * primary archives a switched segment; a standby without primary_conninfo catches up from the
 * archive alone; `pgha local promote` keeps cascading standbys on their upstream, and promoting a
 * cascading standby drops its slot on its former upstream; the new primary archives.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaproxyFrontends } from '../../src/constructs/haproxy-frontends';
import { PrimaryWithReplicas } from '../../src/constructs/primary-with-replicas';
import { WalArchiveBucket } from '../../src/constructs/wal-archive-bucket';
import { postgresDataDir } from '../../src/model/layout';
import { STANZA_CREATE_JOB } from '../../src/node-plan/pgbackrest-plan';
import { POSTGRES_SERVICE } from '../../src/node-plan/primary-with-replicas-plan';
import { HostPort, LocalEndpoints, localDown, localRunJob, localStartService, localStopService, localUp } from '../../src/runner/local-cluster';
import { localPromote } from '../../src/runner/local-promote';
import { readEnvironmentFile } from '../../src/runner/node-directory';
import { eventually } from '../support/local-cluster';
import { Credentials, queryAt as query } from '../support/pg-query';
import { makeTempDir, removeTempDir, runCommand } from '../support/processes';

const BLOCK = 83;
const S3_PORT = 19483;

/** pgbackrest as postgres with a node's own configuration and archive secret, as its jobs run it. */
function pgbackrest(dir: string, node: string, ...args: string[]) {
  const root = join(dir, 'nodes', node);
  return runCommand('/usr/bin/pgbackrest', {
    args: [`--config=${root}/etc/pgbackrest/pgbackrest.conf`, '--stanza=casc', ...args],
    env: readEnvironmentFile(join(root, 'etc/pgbackrest/pgbackrest.env')),
    inheritEnv: false,
    runAs: { user: 'postgres' },
    node: true,
    timeoutMs: 90_000,
  });
}

/** The newest WAL segment in the archive, from `pgbackrest info`. */
async function archivedMax(dir: string, node: string): Promise<string | undefined> {
  const result = await pgbackrest(dir, node, '--output=json', 'info');
  if (result.code !== 0) throw new Error(`pgbackrest info on ${node} exited ${result.code}: ${result.stderr}`);
  const [stanza] = JSON.parse(result.stdout) as { archive: { max: string | null }[] }[];
  return stanza.archive.map((a) => a.max ?? '').sort().pop() || undefined;
}

const senders = (at: HostPort, c: Credentials) =>
  query<{ application_name: string; state: string; sync_state: string }>(at, c, 'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY 1');
const slots = (at: HostPort, c: Credentials) => query<{ slot_name: string; active: boolean }>(at, c, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1');
const count = async (at: HostPort, c: Credentials, table: string) => (await query<{ n: number }>(at, c, `SELECT count(*)::int AS n FROM ${table}`))[0].n;

describe('PrimaryWithReplicas with cascading standbys and an S3 archive on 127.83.x.y', () => {
  const dir = makeTempDir('pgha-pwr-casc');
  const s3Dir = makeTempDir('pgha-pwr-casc-s3');
  const progress: string[] = [];
  let e: LocalEndpoints;
  let m: Record<string, LocalEndpoints['members'][number]>;
  const started = Date.now();

  beforeAll(async () => {
    e = await localUp({
      dir,
      platform: { addressBlock: BLOCK, archiveStore: { type: 's3', dir: s3Dir, port: S3_PORT } },
      progress: (line) => progress.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${line}`),
      build: (scope, platform) => {
        const archive = new WalArchiveBucket(scope, 'Archive', { platform, name: 'casc' });
        const cluster = new PrimaryWithReplicas(scope, 'Cluster', {
          platform,
          clusterName: 'casc',
          standbyCount: 4,
          replicationMode: 'sync',
          replicateFrom: { 'casc-pg-4': 'casc-pg-2', 'casc-pg-5': 'casc-pg-3' },
          archive,
        });
        return { cluster, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster }) };
      },
    });
    m = Object.fromEntries(e.members.map((member) => [member.name, member]));
    // eslint-disable-next-line no-console
    console.log(`localUp in ${((Date.now() - started) / 1000).toFixed(1)} s:\n${progress.join('\n')}`);
  }, 240_000);

  afterAll(async () => {
    await localDown(dir).catch(() => undefined);
    removeTempDir(dir);
    removeTempDir(s3Dir);
  }, 120_000);

  test('a cascading standby streams from its upstream standby, which holds its slot; the primary has neither, and names only direct standbys', async () => {
    const c = e.superuser;
    expect(await senders(m['casc-pg-1'], c)).toEqual([
      { application_name: 'casc_pg_2', state: 'streaming', sync_state: 'sync' },
      { application_name: 'casc_pg_3', state: 'streaming', sync_state: 'potential' },
    ]);
    expect(await slots(m['casc-pg-1'], c)).toEqual([
      { slot_name: 'casc_pg_2', active: true },
      { slot_name: 'casc_pg_3', active: true },
    ]);
    expect(await senders(m['casc-pg-2'], c)).toEqual([{ application_name: 'casc_pg_4', state: 'streaming', sync_state: 'async' }]);
    expect(await slots(m['casc-pg-2'], c)).toEqual([{ slot_name: 'casc_pg_4', active: true }]);
    expect(await senders(m['casc-pg-3'], c)).toEqual([{ application_name: 'casc_pg_5', state: 'streaming', sync_state: 'async' }]);
    expect(await query(m['casc-pg-4'], c, 'SELECT sender_host, slot_name FROM pg_stat_wal_receiver')).toEqual([{ sender_host: m['casc-pg-2'].host, slot_name: 'casc_pg_4' }]);
    expect(await query(m['casc-pg-1'], c, 'SHOW synchronous_standby_names')).toEqual([{ synchronous_standby_names: 'FIRST 1 (casc_pg_2, casc_pg_3)' }]);

    const inserted = Date.now();
    await query(e.writer, c, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    await eventually('row 1 on the cascading standbys', 20_000, async () => ((await count(m['casc-pg-4'], c, 't')) === 1 && (await count(m['casc-pg-5'], c, 't')) === 1) || undefined);
    // eslint-disable-next-line no-console
    console.log(`a row reached both cascading standbys ${Date.now() - inserted} ms after its commit`);
  }, 60_000);

  test('the stanza job creates the stanza on the primary only, again without harm; the primary archives a switched segment', async () => {
    const onStandby = await localRunJob(dir, 'casc-pg-3', STANZA_CREATE_JOB, { timeoutMs: 60_000 });
    expect(onStandby).toMatchObject({ exitCode: 0 });
    expect(onStandby.output).toContain('a standby: only the primary creates the stanza');
    const again = await localRunJob(dir, 'casc-pg-1', STANZA_CREATE_JOB, { timeoutMs: 60_000 });
    expect(again).toMatchObject({ exitCode: 0 });

    const [{ segment }] = await query<{ segment: string }>(m['casc-pg-1'], e.superuser, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
    await query(m['casc-pg-1'], e.superuser, 'INSERT INTO t VALUES (2); SELECT pg_switch_wal()');
    await eventually(`segment ${segment} in the archive`, 30_000, async () => ((await archivedMax(dir, 'casc-pg-1')) ?? '') >= segment || undefined);
    const check = await pgbackrest(dir, 'casc-pg-1', 'check');
    expect({ code: check.code, stderr: check.stderr }).toMatchObject({ code: 0 });
  }, 90_000);

  test('a standby without primary_conninfo replays from the archive alone', async () => {
    const c = e.superuser;
    const autoConf = join(dir, 'nodes', 'casc-pg-3', postgresDataDir('casc'), 'postgresql.auto.conf');
    await localStopService(dir, 'casc-pg-3', POSTGRES_SERVICE);
    const original = readFileSync(autoConf, 'utf8');
    writeFileSync(autoConf, original.replace(/^primary_(conninfo|slot_name) = .*$/gm, ''));
    // casc-pg-2 stays synchronous: commits go on while casc-pg-3 is down.
    await query(m['casc-pg-1'], c, 'CREATE TABLE archived (n int); INSERT INTO archived SELECT generate_series(1, 1000)');
    const [{ segment }] = await query<{ segment: string }>(m['casc-pg-1'], c, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
    await query(m['casc-pg-1'], c, 'SELECT pg_switch_wal()');
    await eventually(`segment ${segment} in the archive`, 30_000, async () => ((await archivedMax(dir, 'casc-pg-1')) ?? '') >= segment || undefined);

    localStartService(dir, 'casc-pg-3', POSTGRES_SERVICE);
    await eventually('the rows on casc-pg-3, from the archive', 30_000, async () => (await count(m['casc-pg-3'], c, 'archived').catch(() => 0)) === 1000 || undefined);
    expect(await query(m['casc-pg-3'], c, 'SELECT count(*)::int AS n FROM pg_stat_wal_receiver')).toEqual([{ n: 0 }]);
    expect((await senders(m['casc-pg-1'], c)).map((s) => s.application_name)).toEqual(['casc_pg_2']);
    const log = readFileSync(join(dir, 'logs', 'casc-pg-3.pgha-postgres.log'), 'utf8');
    expect(log).toMatch(new RegExp(`restored log file "${segment}" from archive`));

    // Streaming again, for the promotions below.
    await localStopService(dir, 'casc-pg-3', POSTGRES_SERVICE);
    writeFileSync(autoConf, original);
    localStartService(dir, 'casc-pg-3', POSTGRES_SERVICE);
    await eventually('casc-pg-3 streaming again', 30_000, async () => (await senders(m['casc-pg-1'], c)).some((s) => s.application_name === 'casc_pg_3' && s.state === 'streaming') || undefined);
    await eventually('casc-pg-5 streaming from casc-pg-3 again', 30_000, async () => (await senders(m['casc-pg-3'], c)).some((s) => s.application_name === 'casc_pg_5' && s.state === 'streaming') || undefined);
  }, 120_000);

  test('WHEN the upstream casc-pg-2 is promoted THEN casc-pg-4 keeps streaming from it, casc-pg-3 is repointed and keeps casc-pg-5; the new primary archives on timeline 2', async () => {
    const c = e.superuser;
    expect(await localPromote(dir, 'casc-pg-2')).toEqual({ fenced: 'casc-pg-1', promoted: 'casc-pg-2', repointed: ['casc-pg-3'] });
    await eventually('casc-pg-3 and casc-pg-4 streaming from casc-pg-2', 60_000, async () => {
      const now = await senders(m['casc-pg-2'], c);
      return (now.map((s) => `${s.application_name} ${s.state}`).join(', ') === 'casc_pg_3 streaming, casc_pg_4 streaming') || undefined;
    });
    // casc-pg-5's walreceiver may restart across casc-pg-3's timeline switch (no row for a moment).
    const receiver = () => query(m['casc-pg-5'], c, 'SELECT sender_host FROM pg_stat_wal_receiver');
    await eventually('casc-pg-5 receiving from casc-pg-3', 30_000, async () => (await receiver()).length === 1 || undefined);
    expect(await receiver()).toEqual([{ sender_host: m['casc-pg-3'].host }]);
    await query(m['casc-pg-2'], c, 'INSERT INTO t VALUES (3)');
    await eventually('row 3 on every standby', 30_000, async () => {
      const counts = await Promise.all(['casc-pg-3', 'casc-pg-4', 'casc-pg-5'].map((name) => count(m[name], c, 't')));
      return counts.every((n) => n === 3) || undefined;
    });
    await query(m['casc-pg-2'], c, 'SELECT pg_switch_wal()');
    await eventually('a timeline-2 segment in the archive', 30_000, async () => ((await archivedMax(dir, 'casc-pg-2')) ?? '').startsWith('00000002') || undefined);
  }, 120_000);

  test('WHEN the cascading casc-pg-5 is promoted THEN its slot on casc-pg-3 is dropped and casc-pg-3 and casc-pg-4 follow it', async () => {
    const c = e.superuser;
    expect(await localPromote(dir, 'casc-pg-5')).toEqual({ fenced: 'casc-pg-2', promoted: 'casc-pg-5', repointed: ['casc-pg-3', 'casc-pg-4'], droppedSlot: 'casc_pg_5 on casc-pg-3' });
    expect(await slots(m['casc-pg-3'], c)).toEqual([]);
    await eventually('casc-pg-3 and casc-pg-4 streaming from casc-pg-5', 60_000, async () => {
      const now = await senders(m['casc-pg-5'], c);
      return (now.map((s) => `${s.application_name} ${s.state}`).join(', ') === 'casc_pg_3 streaming, casc_pg_4 streaming') || undefined;
    });
    await query(m['casc-pg-5'], c, 'INSERT INTO t VALUES (4)');
    await eventually('row 4 on casc-pg-3 and casc-pg-4', 30_000, async () => ((await count(m['casc-pg-3'], c, 't')) === 4 && (await count(m['casc-pg-4'], c, 't')) === 4) || undefined);
  }, 120_000);
});
