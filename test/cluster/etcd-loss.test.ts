/**
 * The reference topology (sync mode, etcd colocated on the 3 PostgreSQL nodes) on 127.62.x.y,
 * against the loss of etcd members: one member at a time must not disturb anything, even the
 * raft leader on the primary's own node; the loss of quorum must not make two writers, and the
 * cluster must come back by itself when etcd does.
 */
import { localKillService } from '../../src/runner/local-cluster';
import { replicationOf } from '../../src/runner/cluster-checks';
import {
  eventually,
  leaderName,
  memberAddress,
  members,
  restApiOf,
  sleep,
  TestCluster,
  WriterLoop,
} from '../support/local-cluster';
import {
  ackRuns,
  ETCD_SERVICE,
  hostOf,
  longestAckGap,
  memberNames,
  missingOn,
  nameOfHost,
  primariesNow,
  PrimarySampler,
  restartEtcd,
  sql,
  timelineOf,
  TIMING,
  useCluster,
  waitEtcdHealthy,
  waitForAcks,
  waitHealthy,
} from './helpers';
import { etcdRaftLeader, moveEtcdLeadership } from '../support/etcd';

const BLOCK = 62;
const EXPECTED_SYNC = 1;
/** How long a single etcd loss is watched: twice the leader lease. */
const WATCH_MS = 2 * TIMING.ttlSeconds * 1000;

const { started, cleanup, figures } = useCluster('cluster tests, etcd loss', { addressBlock: BLOCK, replicationMode: 'sync', failover: 'fast' });

/**
 * Kills one node's etcd while a WriterLoop commits through the rw port, watches for WATCH_MS, then
 * starts that etcd again. Returns what the writer saw and the leader/timeline before and after.
 */
async function loseOneEtcdMember(c: TestCluster, node: string, table: string) {
  const { leader } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
  const timeline = await timelineOf(c, leader);
  await WriterLoop.createTable(c, c.endpoints.writer, table);
  const writer = new WriterLoop(c, c.endpoints.writer, table).start();
  cleanup.add(`writer ${table}`, () => writer.stop());
  await waitForAcks(writer, 10);

  cleanup.add(`restart etcd on ${node}`, () => restartEtcd(c, node));
  const killedAt = Date.now();
  localKillService(c.dir, node, ETCD_SERVICE);
  await sleep(WATCH_MS);
  const leaderAfter = await leaderName(c);
  const timelineAfter = await timelineOf(c, leader);
  cleanup.forget(`writer ${table}`);
  const report = await writer.stop();

  await cleanup.now(`restart etcd on ${node}`);
  await waitEtcdHealthy(c);
  return {
    leader,
    leaderAfter,
    timeline,
    timelineAfter,
    report,
    killedAt,
    acksWhileDown: report.acknowledged.filter((id) => report.ackTimes.get(id)! > killedAt).length,
    longestGap: longestAckGap(report, killedAt),
  };
}

describe('etcd member loss', () => {
  test('GIVEN a fresh sync cluster WHEN it has bootstrapped THEN every etcd member is healthy, one leader, two replicas streaming, one synchronous standby', async () => {
    const c = started();
    // WHEN
    await waitEtcdHealthy(c, 10_000);
    const view = await members(c);
    // THEN
    const leaders = view.filter((m) => m.role === 'leader');
    expect(leaders).toHaveLength(1);
    const replication = await replicationOf(restApiOf(c, leaders[0].name));
    expect(replication.map((r) => r.application_name).sort()).toEqual(memberNames(c).filter((n) => n !== leaders[0].name).sort());
    expect(replication.every((r) => r.state === 'streaming')).toBe(true);
    expect(replication.filter((r) => r.sync_state === 'sync')).toHaveLength(EXPECTED_SYNC);
    expect(await primariesNow(c)).toEqual([leaders[0].name]);
  }, 180_000);

  test('GIVEN writes through the rw port WHEN the etcd member of a replica node (not the raft leader) is killed THEN for 2 x ttl the leader stays and every write succeeds', async () => {
    const c = started();
    const { leader } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    const raftLeader = await etcdRaftLeader(c);
    const node = memberNames(c).find((n) => n !== leader && n !== raftLeader)!;
    // WHEN
    const seen = await loseOneEtcdMember(c, node, 'etcd_replica_writes');
    figures.note(`etcd on replica node ${node} killed: ${seen.acksWhileDown} writes in ${WATCH_MS} ms, longest pause ${seen.longestGap} ms, ${seen.report.errorTimes.length} errors`);
    // THEN
    expect(seen.report.errorTimes).toEqual([]);
    expect(seen.report.unknown).toEqual([]);
    expect(seen.leaderAfter).toBe(seen.leader);
    expect(seen.timelineAfter).toBe(seen.timeline);
    expect(ackRuns(seen.report)).toEqual([hostOf(c, seen.leader)]);
    expect(seen.acksWhileDown).toBeGreaterThan(20);
    expect(seen.longestGap).toBeLessThan(TIMING.retryTimeoutSeconds * 1000);
  }, 180_000);

  test('GIVEN writes through the rw port WHEN the etcd raft leader on the primary\'s own node is killed THEN for 2 x ttl the leader stays and every write succeeds', async () => {
    const c = started();
    const { leader } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    // GIVEN: the nastiest single loss: Patroni's leader loses its local etcd, which leads raft.
    await moveEtcdLeadership(c, leader);
    // WHEN
    const seen = await loseOneEtcdMember(c, leader, 'etcd_leader_writes');
    const newRaftLeader = await etcdRaftLeader(c);
    figures.note(
      `etcd raft leader on the primary's node ${leader} killed: ${seen.acksWhileDown} writes in ${WATCH_MS} ms, longest pause ${seen.longestGap} ms, ` +
        `${seen.report.errorTimes.length} errors; raft leader now on ${newRaftLeader}`,
    );
    // THEN
    expect(seen.report.errorTimes).toEqual([]);
    expect(seen.report.unknown).toEqual([]);
    expect(seen.leaderAfter).toBe(leader);
    expect(seen.timelineAfter).toBe(seen.timeline);
    expect(ackRuns(seen.report)).toEqual([hostOf(c, leader)]);
    expect(seen.acksWhileDown).toBeGreaterThan(20);
    expect(seen.longestGap).toBeLessThan(TIMING.retryTimeoutSeconds * 1000);
  }, 180_000);

  test('GIVEN writes through the rw port WHEN 2 of 3 etcd members die THEN the primary demotes, no server accepts writes, never two primaries; AND WHEN etcd returns THEN one leader again and writes resume with none lost', async () => {
    const c = started();
    const { leader } = await waitHealthy(c, BLOCK, EXPECTED_SYNC);
    // The two members away from the primary: its own etcd stays up but in a minority.
    const victims = memberNames(c).filter((n) => n !== leader);
    await WriterLoop.createTable(c, c.endpoints.writer, 'quorum_writes');
    const writer = new WriterLoop(c, c.endpoints.writer, 'quorum_writes').start();
    cleanup.add('quorum writer', () => writer.stop());
    const sampler = new PrimarySampler(c).start();
    cleanup.add('primary sampler', () => sampler.stop());
    await waitForAcks(writer, 20);

    // WHEN quorum is lost
    for (const node of victims) cleanup.add(`restart etcd on ${node}`, () => restartEtcd(c, node));
    const lostAt = Date.now();
    for (const node of victims) localKillService(c.dir, node, ETCD_SERVICE);

    // THEN the primary demotes by itself (it cannot renew its leader key)
    await eventually(`${leader} to demote`, 30_000, async () => {
      const [own] = await sql<{ recovery: boolean }>(c, memberAddress(c, leader), 'SELECT pg_is_in_recovery() AS recovery', [], 2_000);
      return own.recovery && (await primariesNow(c)).length === 0;
    });
    const demotedAt = Date.now();
    // and stays read-only while etcd has no quorum
    await sleep(2 * TIMING.loopWaitSeconds * 1000 + 2_000);
    expect(await primariesNow(c)).toEqual([]);

    // WHEN etcd members come back
    const restartedAt = Date.now();
    for (const node of victims) await cleanup.now(`restart etcd on ${node}`);
    await waitEtcdHealthy(c);
    // THEN one leader, and writes resume
    const resumedAt = await eventually('writes to resume after etcd quorum returns', 60_000, async () => writer.firstAckAfter(restartedAt));
    await waitForAcks(writer, 20);
    cleanup.forget('quorum writer');
    const report = await writer.stop();
    cleanup.forget('primary sampler');
    await sampler.stop();
    const newLeader = await leaderName(c);

    const acksAfterLoss = report.acknowledged.filter((id) => report.ackTimes.get(id)! > lostAt && report.ackTimes.get(id)! < restartedAt);
    const acksAfterDemotion = report.acknowledged.filter((id) => report.ackTimes.get(id)! > demotedAt && report.ackTimes.get(id)! < restartedAt);
    figures.note(
      `etcd quorum lost (${victims.join(', ')}): ${leader} demoted ${demotedAt - lostAt} ms later (${acksAfterLoss.length} writes acknowledged in between); ` +
        `etcd back -> writes resumed after ${resumedAt - restartedAt} ms on ${newLeader}; ${sampler.samples.length} samples, ${sampler.doubles.length} with two primaries`,
    );
    expect(demotedAt - lostAt).toBeLessThan(30_000);
    expect(acksAfterDemotion).toEqual([]);
    expect(new Set(acksAfterLoss.map((id) => report.ackedBy.get(id)))).toEqual(new Set(acksAfterLoss.length > 0 ? [hostOf(c, leader)] : []));
    expect(sampler.doubles).toEqual([]);
    const runs = ackRuns(report).map((h) => nameOfHost(c, h));
    expect(runs.length).toBe(new Set(runs).size);
    expect(runs[0]).toBe(leader);
    expect(runs[runs.length - 1]).toBe(newLeader);
    expect(await primariesNow(c)).toEqual([newLeader]);
    expect(await missingOn(c, newLeader!, 'quorum_writes', report.acknowledged)).toEqual([]);
    await waitHealthy(c, BLOCK, EXPECTED_SYNC);
  }, 180_000);
});
