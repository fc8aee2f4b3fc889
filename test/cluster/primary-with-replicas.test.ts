/**
 * PrimaryWithReplicas run for real on 127.79.x.y: a primary and 2 hot standbys without Patroni,
 * behind 2 HAProxy routing by the role agents. The primary initialises itself and the standbys copy
 * it with pg_basebackup at their first start. In sync mode (FIRST 1) a commit waits while no
 * standby is there and completes when one returns; `pgha local promote` stops the primary, promotes
 * a standby, points the other at it, and the read-write port follows. In async mode commits go on
 * with both standbys down.
 */
import { HaproxyFrontends } from '../../src/constructs/haproxy-frontends';
import { PrimaryWithReplicas, PrimaryWithReplicasProps } from '../../src/constructs/primary-with-replicas';
import { POSTGRES_SERVICE } from '../../src/node-plan/primary-with-replicas-plan';
import { HostPort, LocalEndpoints, localDown, localStartService, localStatus, localStopService, localUp } from '../../src/runner/local-cluster';
import { localPromote } from '../../src/runner/local-promote';
import { eventually } from '../support/local-cluster';
import { Credentials, queryAt as query } from '../support/pg-query';
import { makeTempDir, removeTempDir } from '../support/processes';

const BLOCK = 79;

const walSenders = (at: HostPort, credentials: Credentials) =>
  query<{ application_name: string; state: string; sync_state: string }>(at, credentials, 'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY 1');

function upReplicas(dir: string, props: Partial<PrimaryWithReplicasProps>): Promise<LocalEndpoints> {
  return localUp({
    dir,
    platform: { addressBlock: BLOCK },
    build: (scope, platform) => {
      const cluster = new PrimaryWithReplicas(scope, 'Cluster', { platform, clusterName: 'plain', ...props });
      return { cluster, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster }) };
    },
  });
}

describe('PrimaryWithReplicas on 127.79.x.y', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) {
      await localDown(dir).catch(() => undefined);
      removeTempDir(dir);
    }
  }, 180_000);

  describe('GIVEN sync mode, FIRST 1', () => {
    const dir = makeTempDir('pgha-pwr-sync');
    dirs.push(dir);
    let e: LocalEndpoints;

    test('WHEN started THEN both standbys stream from slots, one synchronous, and the proxies route writes to the primary and reads to a standby', async () => {
      e = await upReplicas(dir, { replicationMode: 'sync' });
      expect(await walSenders(e.members[0], e.superuser)).toEqual([
        { application_name: 'plain_pg_2', state: 'streaming', sync_state: 'sync' },
        { application_name: 'plain_pg_3', state: 'streaming', sync_state: 'potential' },
      ]);
      const slots = await query(e.members[0], e.superuser, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1');
      expect(slots).toEqual([
        { slot_name: 'plain_pg_2', active: true },
        { slot_name: 'plain_pg_3', active: true },
      ]);
      expect(await query(e.writer, e.superuser, 'SELECT pg_is_in_recovery() AS r, host(inet_server_addr()) AS a')).toEqual([{ r: false, a: e.members[0].host }]);
      expect(await query(e.reader, e.superuser, 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: true }]);
      // `pgha local status` reads the roles from the role agents (there is no Patroni API).
      const status = await localStatus(dir);
      expect(status).toMatch(/^plain-pg-1\s+127\.79\.1\.10\s+primary\s+running/m);
      expect(status).toMatch(/^plain-pg-2\s+127\.79\.2\.10\s+replica\s+running/m);
      expect(status).toMatch(/^plain-pg-3\s+127\.79\.3\.10\s+replica\s+running/m);
      await query(e.writer, e.superuser, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
      await eventually('row 1 on both standbys', 20_000, async () => {
        const counts = await Promise.all(e.members.slice(1).map(async (m) => (await query<{ n: number }>(m, e.superuser, 'SELECT count(*)::int AS n FROM t'))[0].n));
        return counts.every((n) => n === 1) || undefined;
      });
    }, 180_000);

    test('WHEN both standbys stop THEN a commit waits (SyncRep); WHEN one starts again THEN it completes', async () => {
      for (const name of ['plain-pg-2', 'plain-pg-3']) await localStopService(dir, name, POSTGRES_SERVICE);
      const commit = query(e.members[0], e.superuser, 'INSERT INTO t VALUES (2)', 120_000).then(() => Date.now());
      const waiting = await eventually('the commit to wait for a synchronous standby', 15_000, async () => {
        const rows = await query<{ n: number }>(e.members[0], e.superuser, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
        return rows[0].n === 1 || undefined;
      });
      expect(waiting).toBe(true);
      let done = false;
      void commit.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 3_000));
      expect(done).toBe(false);
      const started = Date.now();
      localStartService(dir, 'plain-pg-3', POSTGRES_SERVICE);
      const finished = await commit;
      expect(finished).toBeGreaterThan(started);
      localStartService(dir, 'plain-pg-2', POSTGRES_SERVICE);
      await eventually('both standbys streaming again', 60_000, async () => (await walSenders(e.members[0], e.superuser)).filter((w) => w.state === 'streaming').length === 2 || undefined);
    }, 180_000);

    test('WHEN pgha local promote plain-pg-2 THEN the primary is stopped, plain-pg-2 takes writes through the read-write port, and plain-pg-3 streams from it', async () => {
      const report = await localPromote(dir, 'plain-pg-2');
      expect(report).toEqual({ fenced: 'plain-pg-1', promoted: 'plain-pg-2', repointed: ['plain-pg-3'] });
      const newPrimary = e.members[1];
      await eventually('the read-write port to reach plain-pg-2', 30_000, async () => {
        const [row] = await query<{ r: boolean; a: string }>(e.writer, e.superuser, 'SELECT pg_is_in_recovery() AS r, host(inet_server_addr()) AS a').catch(() => [{ r: true, a: '' }]);
        return (!row.r && row.a === newPrimary.host) || undefined;
      });
      await eventually('plain-pg-3 streaming from plain-pg-2', 60_000, async () => {
        const senders = await walSenders(newPrimary, e.superuser);
        return senders.some((w) => w.application_name === 'plain_pg_3' && w.state === 'streaming') || undefined;
      });
      // Synchronous again (FIRST 1 names plain_pg_3 too): a write through the proxy commits and reaches plain-pg-3.
      await query(e.writer, e.superuser, 'INSERT INTO t VALUES (3)');
      await eventually('row 3 on plain-pg-3', 20_000, async () => (await query<{ n: number }>(e.members[2], e.superuser, 'SELECT count(*)::int AS n FROM t WHERE id = 3'))[0].n === 1 || undefined);
      expect(await query(e.members[2], e.superuser, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 3 }]);
    }, 180_000);
  });

  describe('GIVEN async mode', () => {
    const dir = makeTempDir('pgha-pwr-async');
    dirs.push(dir);

    test('WHEN both standbys are down THEN commits go on', async () => {
      // The sync cluster above used the same addresses: stop it first.
      await localDown(dirs[0]);
      const e = await upReplicas(dir, { replicationMode: 'async' });
      expect((await walSenders(e.members[0], e.superuser)).map((w) => w.sync_state)).toEqual(['async', 'async']);
      for (const name of ['plain-pg-2', 'plain-pg-3']) await localStopService(dir, name, POSTGRES_SERVICE);
      const started = Date.now();
      await query(e.writer, e.superuser, 'CREATE TABLE a (id int); INSERT INTO a VALUES (1)', 10_000);
      expect(Date.now() - started).toBeLessThan(10_000);
    }, 180_000);
  });
});
