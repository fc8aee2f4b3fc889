/**
 * The reference topology in `sync` mode, run for real on 127.61.x.y: bootstrap, routing through
 * both proxies (lagging replicas leave the read-only pool), a planned switchover, an unplanned
 * failover and the old primary's rejoin. One cluster; the scenarios run in order against it.
 */
import { haproxyServers, http } from '../../src/runner/cluster-checks';
import { processState } from '../../src/runner/processes';
import { HAPROXY_LISTENERS } from '../../src/render/haproxy-config';
import {
  eventually,
  leaderName,
  memberAddress,
  members,
  restApiOf,
  WriterLoop,
} from '../support/local-cluster';
import {
  ackRuns,
  expectBootstrapped,
  failoverAndRejoinTests,
  hostOf,
  memberNames,
  missingOn,
  nameOfHost,
  proxiesOf,
  restApiAuth,
  serverBehind,
  spread,
  sql,
  statsAuth,
  useCluster,
  waitForAcks,
  waitHealthy,
} from './helpers';

const BLOCK = 61;
const MAX_LAG_BYTES = 1024 * 1024;
const EXPECTED_SYNC = 1;

const { started, cleanup, figures } = useCluster('cluster tests, sync mode', { addressBlock: BLOCK, replicationMode: 'sync', failover: 'fast', maxReplicaLagBytes: MAX_LAG_BYTES });
function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

describe('sync cluster', () => {
  test('GIVEN a fresh sync cluster WHEN it has bootstrapped THEN one leader, two replicas streaming from it, exactly one synchronous standby', async () => {
    const c = started();
    // WHEN / THEN
    const { replication } = await expectBootstrapped(c, EXPECTED_SYNC);
    const view = await members(c);
    expect(replication.filter((r) => r.sync_state === 'async')).toHaveLength(2 - EXPECTED_SYNC);
    // The synchronous standby named in the replication list is the one Patroni reports.
    const sync = replication.find((r) => r.sync_state === 'sync')!.application_name;
    expect(view.find((m) => m.name === sync)?.role).toBe('sync_standby');
  }, 180_000);

  test('GIVEN a healthy cluster WHEN clients connect through either proxy THEN rw reaches the primary and ro spreads over every replica and never the primary', async () => {
    const c = started();
    const { leader } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    const replicaHosts = memberNames(c).filter((n) => n !== leader).map((n) => hostOf(c, n)).sort();
    for (const proxy of proxiesOf(c, BLOCK)) {
      // WHEN
      const writer = await serverBehind(c, proxy.rw);
      const readers = await spread(c, proxy.ro, 12);
      // THEN
      expect({ proxy: proxy.host, ...writer }).toEqual({ proxy: proxy.host, address: hostOf(c, leader), inRecovery: false });
      expect([...readers.primaries.keys()]).toEqual([]);
      expect([...readers.replicas.keys()].sort()).toEqual(replicaHosts);
      figures.note(`ro spread through ${proxy.host}: ${JSON.stringify(Object.fromEntries(readers.replicas))}`);
    }
  }, 180_000);

  test('GIVEN the async replica stops receiving WAL WHEN the primary writes past the lag limit THEN it leaves the ro pool on both proxies, and comes back once it catches up', async () => {
    const c = started();
    const { leader, asynchronous } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    // The async replica: freezing the synchronous standby would block commits instead.
    expect(asynchronous).toHaveLength(1);
    const lagging = asynchronous[0];
    const other = memberNames(c).find((n) => n !== leader && n !== lagging)!;
    const proxies = proxiesOf(c, BLOCK);
    const auth = statsAuth(c);
    const roStatus = async () => Promise.all(proxies.map(async (p) => (await haproxyServers(p.stats, auth, HAPROXY_LISTENERS.readOnly))[lagging]));

    // GIVEN: its walreceiver frozen (Patroni 3.0.2 compares the leader's LSN with the replica's
    // replayed LSN, but it resumes a paused replay on PostgreSQL 14+, so pausing replay is not enough).
    const [receiver] = await sql<{ pid: number }>(c, memberAddress(c, lagging), 'SELECT pid FROM pg_stat_wal_receiver');
    expect(receiver?.pid).toBeGreaterThan(0);
    process.kill(receiver.pid, 'SIGSTOP');
    cleanup.add('SIGCONT walreceiver', () => signalIfAlive(receiver.pid, 'SIGCONT'));
    await eventually('the walreceiver to be stopped', 5_000, async () => processState(receiver.pid) === 'T');

    // WHEN: ~4.5 MB of WAL, over four times the 1 MiB limit.
    const t0 = Date.now();
    await sql(c, c.endpoints.writer, 'CREATE TABLE IF NOT EXISTS lag_filler (id int, payload text)');
    await sql(c, c.endpoints.writer, "INSERT INTO lag_filler SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 4000) g", [], 30_000);

    // THEN: DOWN in postgres-ro on both proxies, and no fresh ro connection reaches it.
    await eventually(`${lagging} DOWN in ${HAPROXY_LISTENERS.readOnly} on both proxies`, 30_000, async () => (await roStatus()).every((s) => s === 'DOWN'));
    figures.note(`lagging replica out of the ro pool after ${Date.now() - t0} ms`);
    const lagAnswer = await http(`http://${restApiOf(c, lagging)}/replica?lag=${MAX_LAG_BYTES}`, { method: 'OPTIONS' });
    expect(lagAnswer.status).toBe(503);
    for (const proxy of proxies) {
      const readers = await spread(c, proxy.ro, 8);
      expect([...readers.primaries.keys()]).toEqual([]);
      expect([...readers.replicas.keys()]).toEqual([hostOf(c, other)]);
    }

    // WHEN it receives WAL again
    const t1 = Date.now();
    await cleanup.now('SIGCONT walreceiver');
    // THEN: UP on both proxies, and fresh ro connections reach it again.
    await eventually(`${lagging} UP in ${HAPROXY_LISTENERS.readOnly} on both proxies`, 30_000, async () => (await roStatus()).every((s) => s === 'UP'));
    figures.note(`caught-up replica back in the ro pool after ${Date.now() - t1} ms`);
    for (const proxy of proxies) {
      const readers = await spread(c, proxy.ro, 8);
      expect([...readers.replicas.keys()].sort()).toEqual([hostOf(c, lagging), hostOf(c, other)].sort());
    }
  }, 180_000);

  test('GIVEN writes through the rw port WHEN a switchover is requested through the Patroni REST API THEN the rw port follows the new leader and no acknowledged write is lost', async () => {
    const c = started();
    const { leader, synchronous } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    // In synchronous mode Patroni accepts only the synchronous standby as the candidate.
    const candidate = synchronous[0];
    await WriterLoop.createTable(c, c.endpoints.writer, 'switchover_writes');
    const writer = new WriterLoop(c, c.endpoints.writer, 'switchover_writes').start();
    cleanup.add('switchover writer', () => writer.stop());
    await waitForAcks(writer, 20);

    // WHEN
    const t0 = Date.now();
    const answer = await http(`http://${restApiOf(c, leader)}/switchover`, {
      method: 'POST',
      body: { leader, candidate },
      auth: restApiAuth(c),
      timeoutMs: 60_000,
    });
    const answeredMs = Date.now() - t0;

    // THEN
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: expect.stringContaining(candidate) });
    for (const proxy of proxiesOf(c, BLOCK)) {
      await eventually(`rw port of ${proxy.host} to reach ${candidate}`, 30_000, async () => {
        const seen = await serverBehind(c, proxy.rw);
        return seen.address === hostOf(c, candidate) && !seen.inRecovery;
      });
    }
    await waitForAcks(writer, 20);
    cleanup.forget('switchover writer');
    const report = await writer.stop();
    const firstIdByNew = report.acknowledged.find((id) => report.ackedBy.get(id) === hostOf(c, candidate));
    expect(firstIdByNew).toBeDefined();
    const firstByNew = report.ackTimes.get(firstIdByNew!)!;
    figures.note(`switchover ${leader} -> ${candidate}: REST answered after ${answeredMs} ms, first write on the new primary ${firstByNew - t0} ms after the request; ${report.errorTimes.length} failed attempt(s), ${report.unknown.length} unknown`);

    expect(await leaderName(c)).toBe(candidate);
    expect(ackRuns(report).map((h) => nameOfHost(c, h))).toEqual([leader, candidate]);
    expect(await missingOn(c, candidate, 'switchover_writes', report.acknowledged)).toEqual([]);
  }, 180_000);

  failoverAndRejoinTests({ started, cleanup, figures }, BLOCK, EXPECTED_SYNC, 'failover_writes');
});
