/**
 * Logical replication with a PrimaryWithReplicas on either side, run for real on 127.85.x.y:
 * "ledger" (a primary and a standby, no Patroni) publishes its database "app"; "mirror" (another
 * primary with a standby) and "reports" (a 1-node PatroniCluster) subscribe. Without Patroni the
 * publications job makes the subscribers' slots on the primary. One `localUp` starts all three.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HaproxyFrontends } from '../../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../../src/constructs/patroni-cluster';
import { PrimaryWithReplicas } from '../../src/constructs/primary-with-replicas';
import { PUBLICATIONS_JOB, SUBSCRIPTIONS_JOB } from '../../src/node-plan/logical-replication-plan';
import { HostPort, localRunJob, localUp } from '../../src/runner/local-cluster';
import { PATRONI_USERS } from '../../src/render/patroni-config';
import { subscriptionSlotName } from '../../src/spec/logical-replication';
import { queryAt } from '../support/pg-query';
import { makeTempDir } from '../support/processes';
import { eventually, stopLocalDir } from '../support/local-cluster';
import { Figures } from './helpers';

const BLOCK = 85;

describe('logical replication from a PrimaryWithReplicas, on 127.85.x.y', () => {
  let dir: string;
  const figures = new Figures('logical replication without Patroni (127.85.x.y)');
  const members: Record<string, HostPort[]> = {};
  let passwords: Record<string, string>;
  const sql = (cluster: string, text: string, member = 0) =>
    queryAt(members[cluster][member], { user: PATRONI_USERS.superuser, password: passwords[cluster] }, text, 20_000, 'app');
  const count = async (cluster: string, member = 0) => Number((await sql(cluster, 'SELECT count(*)::int AS n FROM entries', member))[0].n);

  beforeAll(async () => {
    dir = makeTempDir(`pgha-logical-plain-${BLOCK}-`);
    const lines: string[] = [];
    await localUp({
      dir,
      platform: { addressBlock: BLOCK },
      progress: (line) => lines.push(line),
      build: (scope, platform) => {
        const ledger = new PrimaryWithReplicas(scope, 'Ledger', { platform, clusterName: 'ledger', standbyCount: 1, publications: [{ name: 'ledger_pub', database: 'app', tables: 'all' }] });
        const mirror = new PrimaryWithReplicas(scope, 'Mirror', { platform, clusterName: 'mirror', standbyCount: 1, subscriptions: [{ name: 'ledger_sub', publisher: ledger, publication: 'ledger_pub' }] });
        const reports = new PatroniCluster(scope, 'Reports', {
          platform,
          clusterName: 'reports',
          nodeCount: 1,
          allowSingleNode: true,
          replicationMode: 'async',
          failover: 'fast',
          subscriptions: [{ name: 'ledger_sub', publisher: ledger, publication: 'ledger_pub' }],
        });
        for (const c of [ledger, mirror, reports]) members[c.clusterName] = c.members.map((m) => ({ host: m.address, port: c.spec.postgresPort }));
        return { cluster: ledger, frontends: new HaproxyFrontends(scope, 'Frontends', { platform, cluster: ledger }) };
      },
    });
    const secrets = JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as Record<string, Record<string, string>>;
    passwords = { ledger: secrets['ledger/postgres'].superuser_password, mirror: secrets['mirror/postgres'].superuser_password, reports: secrets['reports/patroni'].superuser_password };
    // One localUp waited for all three: the standbys of both plain clusters and the Patroni leader.
    expect(lines).toEqual(expect.arrayContaining([expect.stringContaining('primary ledger-pg-1 up'), expect.stringContaining('primary mirror-pg-1 up'), expect.stringContaining('leader elected: reports-pg-1')]));
  }, 240_000);

  afterAll(async () => {
    figures.print();
    await stopLocalDir(dir);
  }, 180_000);

  test('THEN the publisher runs wal_level logical, the subscribers replica', async () => {
    const level = async (cluster: string) => (await queryAt(members[cluster][0], { user: PATRONI_USERS.superuser, password: passwords[cluster] }, 'SHOW wal_level'))[0].wal_level;
    expect({ ledger: await level('ledger'), mirror: await level('mirror'), reports: await level('reports') }).toEqual({ ledger: 'logical', mirror: 'replica', reports: 'replica' });
  });

  test('WHEN the database and tables exist THEN the publications job makes the publication and one slot per subscriber on the primary', async () => {
    for (const cluster of ['ledger', 'mirror', 'reports']) {
      await queryAt(members[cluster][0], { user: PATRONI_USERS.superuser, password: passwords[cluster] }, 'CREATE DATABASE app');
      await sql(cluster, 'CREATE TABLE entries (id int PRIMARY KEY, amount numeric)');
    }
    await sql('ledger', 'INSERT INTO entries SELECT g, g * 1.5 FROM generate_series(1, 500) g');
    const result = await localRunJob(dir, 'ledger-pg-1', PUBLICATIONS_JOB, { timeoutMs: 60_000 });
    expect({ exitCode: result.exitCode, output: result.output }).toEqual({ exitCode: 0, output: expect.stringContaining('publication ledger_pub in place in database app') });
    const slots = [subscriptionSlotName('mirror', 'ledger_sub'), subscriptionSlotName('reports', 'ledger_sub')];
    for (const slot of slots) expect(result.output).toContain(`slot ${slot} created in database app`);
    expect(await sql('ledger', "SELECT slot_name, plugin, database FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY 1")).toEqual(slots.map((slot_name) => ({ slot_name, plugin: 'pgoutput', database: 'app' })));
    // The standby of the publisher does nothing (and keeps no slot: a promotion loses them, README).
    expect((await localRunJob(dir, 'ledger-pg-2', PUBLICATIONS_JOB, { timeoutMs: 60_000 })).output).toContain('this node is a replica: nothing to do');
    const again = await localRunJob(dir, 'ledger-pg-1', PUBLICATIONS_JOB, { timeoutMs: 60_000 });
    expect(again.output).not.toContain('created');
  }, 120_000);

  test('WHEN each subscriber runs its job THEN it subscribes, the rows are copied and inserts stream to both, and to the mirror\'s standby', async () => {
    for (const [cluster, node] of [['mirror', 'mirror-pg-1'], ['reports', 'reports-pg-1']]) {
      const created = await localRunJob(dir, node, SUBSCRIPTIONS_JOB, { timeoutMs: 60_000 });
      expect({ exitCode: created.exitCode, output: created.output }).toEqual({ exitCode: 0, output: expect.stringContaining(`subscription ledger_sub: created in database app on slot ${subscriptionSlotName(cluster, 'ledger_sub')}`) });
    }
    const started = Date.now();
    await eventually('500 rows copied to both', 60_000, async () => (await count('mirror')) === 500 && (await count('reports')) === 500);
    figures.note(`500 rows copied to both subscribers within ${Date.now() - started} ms`);
    const insertedAt = Date.now();
    await sql('ledger', 'INSERT INTO entries SELECT g, 0 FROM generate_series(501, 600) g');
    await eventually('the 100 new rows on both subscribers and on the mirror standby', 30_000, async () => (await count('mirror')) === 600 && (await count('reports')) === 600 && (await count('mirror', 1)) === 600);
    figures.note(`100 inserted rows on both subscribers and the mirror's standby within ${Date.now() - insertedAt} ms`);
    // Both stream from the slots the job made; the table copies' own slots go once each copy is done.
    const subscriberSlots = [subscriptionSlotName('mirror', 'ledger_sub'), subscriptionSlotName('reports', 'ledger_sub')];
    const logicalSlots = () => sql('ledger', "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY 1");
    const expected = subscriberSlots.map((slot_name) => ({ slot_name, active: true }));
    await eventually('only the subscribers\' slots, both in use', 30_000, async () => JSON.stringify(await logicalSlots()) === JSON.stringify(expected), async () => `the publisher's logical slots: ${JSON.stringify(await logicalSlots())}`);
  }, 120_000);
});
