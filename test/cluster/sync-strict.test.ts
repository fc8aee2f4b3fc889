/**
 * The reference topology in `sync-strict` mode on 127.63.x.y: with no standby left a commit is
 * never acknowledged, and it completes once a standby returns; an unplanned failover loses no
 * acknowledged write, and the old primary rejoins by itself.
 */
import { Client } from 'pg';
import { localStopService } from '../../src/runner/local-cluster';
import { replicationOf } from '../../src/runner/cluster-checks';
import {
  connect,
  eventually,
  memberAddress,
  restApiOf,
  sleep,
} from '../support/local-cluster';
import {
  ensureRunning,
  expectBootstrapped,
  failoverAndRejoinTests,
  hostOf,
  memberNames,
  missingOn,
  PATRONI_SERVICE,
  proxiesOf,
  serverBehind,
  sql,
  useCluster,
  waitHealthy,
  withTimeout,
} from './helpers';

const BLOCK = 63;
const EXPECTED_SYNC = 1;
/** How long a commit with no standby must stay unacknowledged. */
const BLOCKED_FOR_MS = 10_000;

const { started, cleanup, figures } = useCluster('cluster tests, sync-strict mode', { addressBlock: BLOCK, replicationMode: 'sync-strict', failover: 'fast' });

/** Starts a node's Patroni again unless it runs (clean-up after a test that stopped it). */
describe('sync-strict cluster', () => {
  test('GIVEN a fresh sync-strict cluster WHEN it has bootstrapped THEN one leader, two replicas streaming, exactly one synchronous standby, and rw reaches the leader through both proxies', async () => {
    const c = started();
    // WHEN / THEN
    const { leader, replication } = await expectBootstrapped(c, EXPECTED_SYNC);
    const [settings] = await sql<{ names: string }>(c, memberAddress(c, leader), "SELECT current_setting('synchronous_standby_names') AS names");
    expect(settings.names).toContain(replication.find((r) => r.sync_state === 'sync')!.application_name);
    for (const proxy of proxiesOf(c, BLOCK)) {
      expect(await serverBehind(c, proxy.rw)).toEqual({ address: hostOf(c, leader), inRecovery: false });
    }
  }, 180_000);

  test('GIVEN both replicas stopped WHEN a client commits through the rw port THEN no acknowledgement comes; AND WHEN a replica returns THEN that commit completes', async () => {
    const c = started();
    const { leader, synchronous } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    const replicas = memberNames(c).filter((n) => n !== leader);
    await sql(c, c.endpoints.writer, 'CREATE TABLE IF NOT EXISTS strict_writes (id bigint PRIMARY KEY, server inet NOT NULL)');

    // GIVEN: both replicas' Patroni stopped cleanly (their postgres with them).
    for (const name of replicas) cleanup.add(`start patroni on ${name}`, () => ensureRunning(c, name, PATRONI_SERVICE));
    const stopped = await Promise.all(replicas.map((name) => localStopService(c.dir, name, PATRONI_SERVICE)));
    expect(stopped).toEqual(['stopped', 'stopped']);
    await eventually(`${leader} to have no standby left`, 30_000, async () => (await replicationOf(restApiOf(c, leader))).length === 0);
    // The primary stays the primary: only its standbys are gone.
    expect(await serverBehind(c, c.endpoints.writer)).toEqual({ address: hostOf(c, leader), inRecovery: false });

    // WHEN: a commit through the rw port, given BLOCKED_FOR_MS to be acknowledged. No
    // statement_timeout: cancelling a synchronous-commit wait acknowledges the (locally
    // committed) transaction with a WARNING, which would hide the very property tested here.
    const client: Client = await connect(c, c.endpoints.writer);
    cleanup.add('blocked client', () => client.end());
    let acknowledgedAt: number | undefined;
    let failure: Error | undefined;
    const sentAt = Date.now();
    const pending = client
      .query('INSERT INTO strict_writes (id, server) VALUES (1, inet_server_addr())')
      .then(() => void (acknowledgedAt = Date.now()))
      .catch((error: Error) => void (failure = error));
    await sleep(BLOCKED_FOR_MS);

    // THEN: neither acknowledged nor failed; the backend waits for a synchronous standby, and
    // the row is invisible to other sessions while it waits.
    expect({ acknowledgedAt, failure }).toEqual({ acknowledgedAt: undefined, failure: undefined });
    const [waiting] = await sql<{ count: string }>(
      c,
      memberAddress(c, leader),
      "SELECT count(*) AS count FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE 'INSERT INTO strict_writes%'",
    );
    expect(Number(waiting.count)).toBe(1);
    expect(await missingOn(c, leader, 'strict_writes', [1])).toEqual([1]);

    // WHEN: one replica (the former synchronous standby) returns
    const returning = synchronous[0];
    const returnedAt = Date.now();
    await cleanup.now(`start patroni on ${returning}`);
    // THEN: the waiting commit is acknowledged, and new commits go through
    await withTimeout('the blocked commit to complete', 60_000, pending);
    expect(failure).toBeUndefined();
    expect(acknowledgedAt).toBeDefined();
    figures.note(`commit with no standby: unacknowledged for ${returnedAt - sentAt} ms; acknowledged ${acknowledgedAt! - returnedAt} ms after ${returning}'s Patroni started`);
    expect(await missingOn(c, leader, 'strict_writes', [1])).toEqual([]);
    const [next] = await sql<{ server: string }>(c, c.endpoints.writer, 'INSERT INTO strict_writes (id, server) VALUES (2, inet_server_addr()) RETURNING host(server) AS server', [], 10_000);
    expect(next.server).toBe(hostOf(c, leader));
    await cleanup.now('blocked client');

    // And with the other replica back the cluster is whole again.
    for (const name of replicas) await cleanup.now(`start patroni on ${name}`);
    await waitHealthy(c, BLOCK, EXPECTED_SYNC);
  }, 180_000);

  failoverAndRejoinTests({ started, cleanup, figures }, BLOCK, EXPECTED_SYNC, 'strict_failover_writes');
});
