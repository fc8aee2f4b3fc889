/**
 * The fault drills of the fault suite (test/cluster/faults.test.ts runs each once, `npm run chaos`
 * repeats them): each injects one fault into a healthy sync cluster while a WriterLoop commits
 * through the writer endpoint and every member's pg_is_in_recovery() is sampled directly, heals
 * it, waits for the cluster to be whole again, and reports what the database says happened.
 */
import { localServicePids, localStartService } from '../../src/runner/local-cluster';
import { eventually, killMember, memberAddress, sleep, TestCluster, WriterLoop } from '../support/local-cluster';
import {
  ackRuns,
  Cleanup,
  ETCD_SERVICE,
  longestAckGap,
  memberNames,
  missingOn,
  nameOfHost,
  PATRONI_SERVICE,
  PrimarySampler,
  primariesNow,
  sql,
  timelineOf,
  TIMING,
  waitForAcks,
  waitHealthy,
} from './helpers';

export const FAULTS = ['leader-agent-frozen', 'etcd-quorum-lost', 'leader-etcd-stopped', 'leader-killed'] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_DESCRIPTIONS: Record<Fault, string> = {
  'leader-agent-frozen': `the leader's Patroni stopped (SIGSTOP) for ttl + 20 s (${TIMING.ttlSeconds + 20} s), then continued`,
  'etcd-quorum-lost': 'etcd quorum lost: the 2 etcd members on the replicas stopped (SIGSTOP) for 30 s',
  'leader-etcd-stopped': "the etcd member on the leader's node alone stopped (SIGSTOP) for 30 s",
  'leader-killed': "kill -9 of the leader's Patroni and PostgreSQL, then Patroni started again",
};

export interface FaultOutcome {
  readonly fault: Fault;
  readonly oldLeader: string;
  readonly newLeader: string;
  readonly acknowledged: number;
  /** Acknowledged ids the final leader does not hold. */
  readonly lost: number[];
  /** Ids the old leader acknowledged after another member was seen writable. */
  readonly ackedAfterAnotherWritable: number[];
  /** Writers' order: [old, new] after a failover; a server appearing twice means writes went back. */
  readonly runs: string[];
  readonly longestWriteGapMs: number;
  /** How long two members answered pg_is_in_recovery() = false at once (sampled every 0.2 s). */
  readonly twoWritableMs: number;
  /** From the fault's start until one leader, every other member streaming on its timeline, the proxies right. */
  readonly timeToHealthyMs: number;
  /** Each member's timeline and role once healthy again. */
  readonly members: { name: string; inRecovery: boolean; timeline: number | null }[];
  readonly leaderTimeline?: number;
}

/** A client-side acknowledgement may arrive a little after the commit it reports: no more than this. */
const ACK_DELIVERY_SLACK_MS = 50;
const HOLD_MS = 30_000;

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** Stops (SIGSTOP) processes for `ms`, then continues them; the clean-up list continues them if the test dies first. */
async function freeze(cleanup: Cleanup, key: string, pids: readonly number[], ms: number): Promise<void> {
  if (pids.length === 0) throw new Error(`${key}: no running process to stop`);
  cleanup.add(key, () => signalAll(pids, 'SIGCONT'));
  signalAll(pids, 'SIGSTOP');
  await sleep(ms);
  await cleanup.now(key);
}

/** The running program of a service on each node (never the child it detached): a fault aimed at Patroni must not stop its postgres. */
function mainPids(cluster: TestCluster, nodes: readonly string[], service: string): number[] {
  return nodes.map((node) => {
    const { main } = localServicePids(cluster.dir, node, service);
    if (main === undefined) throw new Error(`${node}/${service} is not running: the fault needs it running`);
    return main;
  });
}

/** Injects the fault and heals it (returns once the fault is over, not once the cluster is whole). */
async function inject(fault: Fault, cluster: TestCluster, leader: string, cleanup: Cleanup): Promise<void> {
  const replicas = memberNames(cluster).filter((name) => name !== leader);
  switch (fault) {
    case 'leader-agent-frozen':
      // Only Patroni: its postgres goes on serving, as on a VM whose agent stalls.
      await freeze(cleanup, `SIGCONT patroni on ${leader}`, mainPids(cluster, [leader], PATRONI_SERVICE), (TIMING.ttlSeconds + 20) * 1000);
      return;
    case 'etcd-quorum-lost':
      await freeze(cleanup, 'SIGCONT etcd on the replicas', mainPids(cluster, replicas, ETCD_SERVICE), HOLD_MS);
      return;
    case 'leader-etcd-stopped':
      await freeze(cleanup, `SIGCONT etcd on ${leader}`, mainPids(cluster, [leader], ETCD_SERVICE), HOLD_MS);
      return;
    case 'leader-killed': {
      killMember(cluster, leader);
      cleanup.add(`start patroni on ${leader}`, () => localStartService(cluster.dir, leader, PATRONI_SERVICE));
      // Patroni started again once another member is writable, as an operator or systemd would.
      await eventually('another member to be writable', 120_000, async () => (await primariesNow(cluster)).some((name) => replicas.includes(name)));
      await cleanup.now(`start patroni on ${leader}`);
      return;
    }
  }
}

/** Time during which two or more members were writable, from consecutive samples. */
function twoWritableMs(sampler: PrimarySampler): number {
  let total = 0;
  const samples = sampler.samples;
  for (let i = 0; i < samples.length - 1; i++) if (samples[i].primaries.length > 1) total += samples[i + 1].at - samples[i].at;
  return total;
}

/**
 * One drill: healthy cluster, writer and sampler running, the fault, the heal, healthy again,
 * a few more writes; then the facts. Throws only when the cluster does not come back.
 */
export async function runFault(cluster: TestCluster, block: number, fault: Fault, cleanup: Cleanup, table: string): Promise<FaultOutcome> {
  const before = await waitHealthy(cluster, block, 1, 120_000);
  await WriterLoop.createTable(cluster, cluster.endpoints.writer, table);
  const writer = new WriterLoop(cluster, cluster.endpoints.writer, table).start();
  cleanup.add(`writer ${table}`, () => writer.stop(60_000));
  const sampler = new PrimarySampler(cluster, 200).start();
  cleanup.add(`sampler ${table}`, () => sampler.stop());
  await waitForAcks(writer, 20);

  const startedAt = Date.now();
  await inject(fault, cluster, before.leader, cleanup);
  const after = await waitHealthy(cluster, block, 1, 180_000);
  const timeToHealthyMs = Date.now() - startedAt;
  await waitForAcks(writer, 20, 60_000);
  cleanup.forget(`writer ${table}`);
  const report = await writer.stop(60_000);
  cleanup.forget(`sampler ${table}`);
  await sampler.stop();

  const leaderTimeline = await timelineOf(cluster, after.leader);
  const members = await Promise.all(
    memberNames(cluster).map(async (name) => {
      const [row] = await sql<{ recovery: boolean; timeline: number | null }>(
        cluster,
        memberAddress(cluster, name),
        'SELECT pg_is_in_recovery() AS recovery, CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver) ELSE (SELECT timeline_id FROM pg_control_checkpoint()) END AS timeline',
      );
      return { name, inRecovery: row.recovery, timeline: row.timeline };
    }),
  );
  // When another member was first seen writable (the old leader's acknowledgements after it are suspect).
  const oldHost = memberAddress(cluster, before.leader).host;
  const otherWritableAt = sampler.samples.find((s) => s.at >= startedAt && s.primaries.some((name) => name !== before.leader))?.at;
  const ackedAfterAnotherWritable =
    otherWritableAt === undefined ? [] : report.acknowledged.filter((id) => report.ackedBy.get(id) === oldHost && report.ackTimes.get(id)! > otherWritableAt + ACK_DELIVERY_SLACK_MS);
  return {
    fault,
    oldLeader: before.leader,
    newLeader: after.leader,
    acknowledged: report.acknowledged.length,
    lost: await missingOn(cluster, after.leader, table, report.acknowledged),
    ackedAfterAnotherWritable,
    runs: ackRuns(report).map((host) => nameOfHost(cluster, host)),
    longestWriteGapMs: longestAckGap(report),
    twoWritableMs: twoWritableMs(sampler),
    timeToHealthyMs,
    members,
    leaderTimeline,
  };
}

/** What must hold after every fault; the problems found, none when it held. */
export function faultProblems(outcome: FaultOutcome): string[] {
  const problems: string[] = [];
  if (outcome.lost.length > 0) problems.push(`${outcome.lost.length} acknowledged write(s) lost: ${outcome.lost.slice(0, 10).join(', ')}`);
  if (outcome.ackedAfterAnotherWritable.length > 0) {
    problems.push(`${outcome.oldLeader} acknowledged ${outcome.ackedAfterAnotherWritable.length} write(s) after another member was writable`);
  }
  if (new Set(outcome.runs).size !== outcome.runs.length) problems.push(`writes went back to a former writer: ${outcome.runs.join(' -> ')}`);
  for (const member of outcome.members) {
    const isLeader = member.name === outcome.newLeader;
    if (isLeader === member.inRecovery) problems.push(`${member.name} is ${member.inRecovery ? 'in recovery' : 'writable'} though ${isLeader ? 'it leads' : 'another member leads'}`);
    if (!isLeader && member.timeline !== outcome.leaderTimeline) problems.push(`${member.name} streams timeline ${member.timeline}, the leader is on ${outcome.leaderTimeline}`);
  }
  return problems;
}

/** One line of figures for a drill. */
export function faultLine(outcome: FaultOutcome): string {
  return (
    `${outcome.fault}: leader ${outcome.oldLeader} -> ${outcome.newLeader}, ${outcome.acknowledged} acknowledged, ${outcome.lost.length} lost, ` +
    `longest write gap ${(outcome.longestWriteGapMs / 1000).toFixed(1)} s, two writable ${(outcome.twoWritableMs / 1000).toFixed(1)} s, ` +
    `healthy after ${(outcome.timeToHealthyMs / 1000).toFixed(1)} s, timeline ${outcome.leaderTimeline}`
  );
}
