/**
 * A publication and a subscription declared after the publisher was created, run for real on
 * 127.87.x.y. "main" (1 Patroni node) first runs without publications: wal_level replica, no
 * slots in its DCS. Then the stack gains a publication on main and a subscriber "reports", and
 * `localUp` runs again on the same directory (main keeps its data and its DCS, where
 * bootstrap.dcs no longer applies). The publications job merges the slot, ignore_slots and
 * wal_level into the DCS; the restart it asks for brings wal_level logical; Patroni makes the
 * slot, and the subscription streams.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PatroniCluster, PatroniClusterProps } from '../../src/constructs/patroni-cluster';
import { HaproxyFrontends } from '../../src/constructs/haproxy-frontends';
import { PUBLICATIONS_JOB, SUBSCRIPTIONS_JOB } from '../../src/node-plan/logical-replication-plan';
import { HostPort, localDown, localRunJob, localUp } from '../../src/runner/local-cluster';
import { PATRONI_USERS } from '../../src/render/patroni-config';
import { subscriptionSlotName } from '../../src/spec/logical-replication';
import { queryAt } from '../support/pg-query';
import { makeTempDir, runCommand } from '../support/processes';
import { eventually, stopLocalDir } from '../support/local-cluster';

const BLOCK = 87;
const SLOT = subscriptionSlotName('reports', 'app_sub');

describe('logical replication declared on a running publisher, on 127.87.x.y', () => {
  let dir: string;
  const members: Record<string, HostPort> = {};
  const single: Omit<PatroniClusterProps, 'platform' | 'clusterName'> = { nodeCount: 1, allowSingleNode: true, replicationMode: 'async', failover: 'fast' };
  const secrets = () => JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as Record<string, Record<string, string>>;
  const sql = (cluster: string, text: string, database = 'app') =>
    queryAt(members[cluster], { user: PATRONI_USERS.superuser, password: secrets()[`${cluster}/patroni`].superuser_password }, text, 20_000, database);
  const patronictl = (...args: string[]) =>
    runCommand('/usr/bin/patronictl', {
      args: ['-c', join(dir, 'nodes/main-pg-1/etc/patroni/patroni.yml'), ...args],
      runAs: { user: 'postgres' },
      inheritEnv: false,
      node: true,
      env: { PATRONI_RESTAPI_PASSWORD: secrets()['main/patroni'].restapi_password },
      timeoutMs: 60_000,
    });
  const dcs = async () => parse((await patronictl('show-config', 'main')).stdout);
  /** main's DCS as the first stack left it. */
  let before: { slots?: unknown; postgresql: { parameters: Record<string, unknown> } };

  beforeAll(async () => {
    dir = makeTempDir(`pgha-logical-later-${BLOCK}-`);
    await localUp({
      dir,
      platform: { addressBlock: BLOCK },
      build: (scope, platform) => {
        const cluster = new PatroniCluster(scope, 'Cluster', { platform, clusterName: 'main', ...single });
        members.main = { host: cluster.members[0].address, port: 5432 };
        return { cluster, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster, proxyCount: 1, allowSingleProxy: true }) };
      },
    });
    await sql('main', 'CREATE DATABASE app', 'postgres');
    await sql('main', "CREATE TABLE events (id int PRIMARY KEY); INSERT INTO events SELECT generate_series(1, 30)");
    before = await dcs();
    await localDown(dir);
  }, 240_000);

  afterAll(() => stopLocalDir(dir), 180_000);

  test('GIVEN main created without publications THEN its DCS has wal_level replica and no slots', () => {
    // The second start below finds the same DCS: etcd keeps its data in the directory.
    expect(before.postgresql.parameters.wal_level).toBe('replica');
    expect(before.slots).toBeUndefined();
  });

  test('WHEN the stack gains a publication and a subscriber and starts again THEN the publications job merges the slot and wal_level into the DCS and asks for a restart', async () => {
    await localUp({
      dir,
      platform: { addressBlock: BLOCK },
      build: (scope, platform) => {
        const cluster = new PatroniCluster(scope, 'Cluster', { platform, clusterName: 'main', ...single, publications: [{ name: 'app_pub', database: 'app', tables: 'all' }] });
        const reports = new PatroniCluster(scope, 'Reports', { platform, clusterName: 'reports', ...single, subscriptions: [{ name: 'app_sub', publisher: cluster, publication: 'app_pub' }] });
        members.reports = { host: reports.members[0].address, port: 5432 };
        return { cluster, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster, proxyCount: 1, allowSingleProxy: true }) };
      },
    });
    const log = readFileSync(join(dir, 'logs', `main-pg-1.${PUBLICATIONS_JOB}.log`), 'utf8');
    expect(log).toContain("Patroni's dynamic configuration updated with:");
    expect(log).toContain('restart main --pending --force');
    const config = await dcs();
    expect(config.slots).toEqual({ [SLOT]: { type: 'logical', database: 'app', plugin: 'pgoutput' } });
    expect(config.ignore_slots).toEqual([{ type: 'logical', database: 'app', plugin: 'pgoutput' }]);
    expect(config.postgresql.parameters.wal_level).toBe('logical');
    // Not yet in force: wal_level needs a restart, and until then Patroni cannot make the slot.
    expect(await sql('main', 'SHOW wal_level', 'postgres')).toEqual([{ wal_level: 'replica' }]);
    // A second run has nothing left to merge.
    const again = await localRunJob(dir, 'main-pg-1', PUBLICATIONS_JOB, { timeoutMs: 60_000 });
    expect({ code: again.exitCode, updated: again.output.includes('updated') }).toEqual({ code: 0, updated: false });
  }, 240_000);

  test('WHEN main is restarted as the job says THEN wal_level is logical, Patroni makes the slot and the subscription streams', async () => {
    const restart = await patronictl('restart', 'main', '--pending', '--force');
    expect({ code: restart.code, err: restart.stderr }).toEqual({ code: 0, err: '' });
    await eventually('wal_level logical after the restart', 60_000, async () => (await sql('main', 'SHOW wal_level', 'postgres').catch(() => []))[0]?.wal_level === 'logical');
    await eventually(`slot ${SLOT} on main`, 60_000, async () => (await sql('main', `SELECT 1 FROM pg_replication_slots WHERE slot_name = '${SLOT}'`, 'postgres')).length === 1);
    expect((await localRunJob(dir, 'main-pg-1', PUBLICATIONS_JOB, { timeoutMs: 60_000 })).output).toContain('publication app_pub in place in database app');
    await sql('reports', 'CREATE DATABASE app', 'postgres');
    await sql('reports', 'CREATE TABLE events (id int PRIMARY KEY)');
    const created = await localRunJob(dir, 'reports-pg-1', SUBSCRIPTIONS_JOB, { timeoutMs: 60_000 });
    expect({ code: created.exitCode, output: created.output }).toEqual({ code: 0, output: expect.stringContaining(`created in database app on slot ${SLOT}`) });
    await eventually('the 30 rows copied', 60_000, async () => (await sql('reports', 'SELECT count(*)::int AS n FROM events'))[0].n === 30);
    await sql('main', 'INSERT INTO events VALUES (31)');
    await eventually('the new row streamed', 30_000, async () => (await sql('reports', 'SELECT count(*)::int AS n FROM events'))[0].n === 31);
  }, 240_000);
});
