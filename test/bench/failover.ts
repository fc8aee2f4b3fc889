/**
 * `npm run bench:failover`: unplanned failover of the reference topology, for real, on loopback.
 *
 * For each failover profile (`fast`, then `default`), in `sync` replication mode, one cluster runs
 * ROUNDS failovers in a row. Each round: a WriterLoop commits through the read-write port, the
 * current leader's Patroni and postgres are SIGKILLed (a crashed database; its colocated etcd
 * member survives unless --crash-etcd), and we measure
 *   - kill -> first write: from the kill to the first commit acknowledged through the rw port;
 *   - lost: acknowledged commits missing from the new primary (must be 0 in sync mode);
 *   - rejoin: from restarting the old primary's Patroni until the new leader lists it as a
 *     streaming standby on the new timeline (Patroni runs pg_rewind);
 *   - sync back: until the cluster is healthy again (every replica streaming, 1 synchronous).
 * Patroni's and PostgreSQL's logs split the outage into lease expiry (kill -> new leader took the
 * leader key), promotion (-> "database system is ready to accept connections") and HAProxy
 * (-> first write). The leader refreshes its lease once per loop_wait (its HA cycle), so the outage
 * depends on where in that cycle the kill lands; rounds would all land at the same place (each
 * starts right after the leader cycle that restores the sync standby). So each round, after 2 s
 * of writes, waits for the leader to log a cycle ("the leader with the lock", written just after
 * the lease keepalive) and kills it (round - 0.5) / ROUNDS * loop_wait later: the rounds sample
 * the cycle evenly, and the lease's age at the kill is known.
 *
 * Options (after `--`):
 *   --profile fast,default      profiles to run (default: both)
 *   --timing TTL/LOOP/RETRY     also run explicit Patroni timings, e.g. 6/1/2 (repeatable)
 *   --rounds N                  failovers per cluster (default 5)
 *   --crash-etcd                also SIGKILL the node's colocated etcd member (a whole machine
 *                               crash, not only Patroni + postgres); it restarts before Patroni.
 *                               Odd rounds first move etcd's leadership to the doomed node, even
 *                               rounds away from it (a new etcd leader renews every lease).
 *
 * Every wait is bounded (a failover that never happens fails the run); every cluster is torn down
 * in a `finally`, also on SIGINT/SIGTERM.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ETCD_SERVICE } from '../../src/node-plan/etcd-member';
import { PATRONI_SERVICE } from '../../src/node-plan/patroni-cluster-plan';
import { clusterHealth, etcdHealthy, http, replicationOf } from '../../src/runner/cluster-checks';
import { localDown, localKillService, localStartService, localUp } from '../../src/runner/local-cluster';
import { logPath } from '../../src/runner/node-directory';
import { detachedPid, isAlive } from '../../src/runner/processes';
import { FAILOVER_PROFILES, FailoverTiming } from '../../src/spec/failover';
import { haTopology } from '../../stacks/ha-topology';
import { etcdEndpointOf, etcdRaftLeader, moveEtcdLeadership } from '../support/etcd';
import { eventually, killMember, memberAddress, members, query, restApiOf, sleep, TestCluster, WriterLoop, WriterReport } from '../support/local-cluster';
import { handleInterruption } from './interruption';

const WAIT_MS = 120_000;
const WRITES_BEFORE_KILL_MS = 2_000;
/** --crash-etcd: the killed node's etcd member dies with it. */
let crashEtcd = false;
/** Patroni's leader logs this at the end of each HA cycle, just after refreshing its lease. */
const LEADER_CYCLE = /the leader with the lock/;

interface Profile {
  readonly name: string;
  readonly timing: FailoverTiming;
  readonly addressBlock: number;
  /** Target for the median of kill -> first write. */
  readonly targetMedianS: number;
}

interface Round {
  readonly round: number;
  readonly killed: string;
  readonly newLeader: string;
  readonly timeline: number;
  readonly resumeMs: number;
  /** How long before the kill the dead leader last logged a cycle as leader (its last lease refresh). */
  readonly leaseAgeMs?: number;
  /** Kill -> the new leader logged that it took the leader key (undefined if not found in its log). */
  readonly lockMs?: number;
  /** Kill -> the new primary's postgres accepted read-write connections. */
  readonly promotedMs?: number;
  readonly acknowledged: number;
  readonly lost: number;
  readonly inDoubt: number;
  readonly inDoubtCommitted: number;
  /** Acknowledgements after the outage began by a server other than the new leader (split brain): must be 0. */
  readonly foreignAcks: number;
  /** Commits acknowledged after the kill but before the first failure: in flight on the old primary as it died. */
  readonly inFlightAcks: number;
  /** --crash-etcd: whether the etcd member killed with the node was etcd's leader. */
  readonly etcdLeaderKilled?: boolean;
  readonly rejoinMs: number;
  readonly rewound: boolean;
  readonly syncBackMs: number;
}

const interruption = handleInterruption((line) => log(line));
const guard = <T>(work: Promise<T>) => interruption.guard(work);

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await guard(Promise.race([work, timeout]));
  } finally {
    clearTimeout(timer);
  }
}

const wait = <T>(what: string, check: () => Promise<T | undefined | false>, ms = WAIT_MS) => guard(eventually(what, ms, check));
const pause = (ms: number) => guard(sleep(ms));

// ---------------------------------------------------------------------------------------------
// Output

const started = Date.now();
function log(line: string): void {
  const s = Math.floor((Date.now() - started) / 1000);
  console.log(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}`);
}
const sec = (ms: number | undefined, digits = 1) => (ms === undefined ? '?' : (ms / 1000).toFixed(digits));
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
const spread = (values: readonly number[], digits = 1) =>
  `${sec(Math.min(...values), digits).padStart(5)} / ${sec(median(values), digits).padStart(5)} / ${sec(Math.max(...values), digits).padStart(5)}`;
const timingText = (t: FailoverTiming) => `ttl ${t.ttlSeconds} s / loop_wait ${t.loopWaitSeconds} s / retry_timeout ${t.retryTimeoutSeconds} s`;

// ---------------------------------------------------------------------------------------------
// Cluster lifecycle

interface TrackedState {
  processes: { node: string; service: string; pid: number; detachedPidFile?: string }[];
}

function readTracked(dir: string): TrackedState | undefined {
  const file = join(dir, 'state.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as TrackedState) : undefined;
}

function aliveIn(dir: string): number[] {
  return (readTracked(dir)?.processes ?? []).flatMap((p) => [p.pid, detachedPid(p.detachedPidFile) ?? 0]).filter((pid) => pid > 0 && isAlive(pid));
}

async function startCluster(profile: Profile): Promise<TestCluster> {
  // The directory is known before anything starts, so a teardown can always find what was started.
  const dir = mkdtempSync(join(tmpdir(), `pgha-failover-${profile.addressBlock}-`));
  current = { dir };
  const endpoints = await guard(
    localUp({
      dir,
      platform: { addressBlock: profile.addressBlock },
      progress: (line) => log(`  ${line}`),
      build: (scope, platform) => haTopology(scope, platform, { cluster: { replicationMode: 'sync', failover: profile.timing } }),
    }),
  );
  return { dir, endpoints, superuser: endpoints.superuser };
}

/** Stops everything the cluster in `dir` started, by PID, until nothing it recorded runs; then removes it. */
async function teardown(dir: string): Promise<void> {
  const t0 = Date.now();
  for (let attempt = 1; attempt <= 3; attempt++) {
    // localUp may still be starting services while the first pass runs (an interrupt during start):
    // pass again until the state file records nothing alive.
    if (readTracked(dir)) await localDown(dir).catch((error) => log(`  teardown: ${(error as Error).message}`));
    if (aliveIn(dir).length === 0) {
      rmSync(dir, { recursive: true, force: true });
      log(`  cluster stopped and removed (${sec(Date.now() - t0)} s)`);
      return;
    }
  }
  throw new Error(`processes of ${dir} still running after teardown: ${aliveIn(dir).join(', ')} (directory kept)`);
}

let current: { dir: string } | undefined;

// ---------------------------------------------------------------------------------------------
// Observations

/** Patroni's own status of one member (GET /): role, state, timeline. */
async function patroniStatus(restApi: string): Promise<{ role?: string; state?: string; timeline?: number }> {
  const answer = await http(`http://${restApi}/`, { timeoutMs: 2_000 });
  return JSON.parse(answer.body);
}

/** The dynamic configuration the running cluster uses (GET /config). */
async function runningTiming(cluster: TestCluster): Promise<string> {
  for (const member of cluster.endpoints.members) {
    try {
      const config = JSON.parse((await http(`http://${member.restApi}/config`)).body);
      return `ttl=${config.ttl} loop_wait=${config.loop_wait} retry_timeout=${config.retry_timeout}`;
    } catch {
      // Next member.
    }
  }
  return '(no REST API answered)';
}

/** PIDs of a process's children, from /proc (to wait for a killed postmaster's backends). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

function postmasterOf(cluster: TestCluster, name: string): number | undefined {
  const tracked = readTracked(cluster.dir)?.processes.find((p) => p.node === name && p.service === PATRONI_SERVICE);
  return detachedPid(tracked?.detachedPidFile);
}

const logSize = (file: string) => (existsSync(file) ? statSync(file).size : 0);
/** Bytes [from, to) of a file, as text (reads only those). */
function readBytes(file: string, from: number, to: number): string {
  const buffer = Buffer.alloc(to - from);
  const fd = openSync(file, 'r');
  try {
    return buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, from)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
const logSince = (file: string, offset: number) => (existsSync(file) ? readFileSync(file).subarray(offset).toString('utf8') : '');

/** Times of the lines of `text` matching `pattern` (Patroni: local time with a comma; PostgreSQL: "... UTC"). */
function logTimes(text: string, pattern: RegExp): number[] {
  const times: number[] = [];
  for (const line of text.split('\n')) {
    if (!pattern.test(line)) continue;
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})[.,](\d{3})( UTC)?/.exec(line);
    if (m) times.push(new Date(`${m[1]}T${m[2]}.${m[3]}${m[4] ? 'Z' : ''}`).getTime());
  }
  return times;
}
const firstLogTime = (text: string, pattern: RegExp, notBefore: number) => logTimes(text, pattern).find((t) => t >= notBefore - 1_000);
const lastLogTime = (text: string, pattern: RegExp, notAfter: number) => logTimes(text, pattern).filter((t) => t <= notAfter).pop();

/**
 * The time of a leader cycle line that `file` gets from now on, seen early enough that
 * `phaseMs` after it is still ahead (polls every 20 ms: phases of 100 ms must be caught).
 */
async function nextLeaderCycle(file: string, phaseMs: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let offset = logSize(file);
  let pending = '';
  while (Date.now() < deadline) {
    const size = logSize(file);
    if (size > offset) {
      const text = pending + readBytes(file, offset, size);
      offset = size;
      const complete = text.lastIndexOf('\n') + 1;
      pending = text.slice(complete);
      const cycle = logTimes(text.slice(0, complete), LEADER_CYCLE).pop();
      if (cycle !== undefined && cycle + phaseMs > Date.now() + 10) return cycle;
    }
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for a leader cycle line in ${file}`);
}

// ---------------------------------------------------------------------------------------------
// One failover

async function failoverRound(cluster: TestCluster, profile: Profile, round: number, rounds: number): Promise<Round> {
  const table = `failover_round_${round}`;
  const writerAt = cluster.endpoints.writer;
  await guard(WriterLoop.createTable(cluster, writerAt, table));
  const killed = await wait('a leader', async () => (await members(cluster)).find((m) => m.role === 'leader')?.name);
  const oldTimeline = (await guard(patroniStatus(restApiOf(cluster, killed)))).timeline ?? 0;
  const logOffsets = new Map(cluster.endpoints.members.map((m) => [m.name, logSize(logPath(cluster.dir, m.name, PATRONI_SERVICE))]));
  if (crashEtcd) {
    // Before the writes start: the Patroni leader refreshes its lease after the move (a new etcd
    // leader renews every lease to ttl + 1 s), so the move itself does not lengthen the outage.
    const survivor = cluster.endpoints.members.find((m) => m.name !== killed)!.name;
    await guard(moveEtcdLeadership(cluster, round % 2 === 1 ? killed : survivor));
  }

  const writer = new WriterLoop(cluster, writerAt, table).start();
  let report: WriterReport | undefined;
  let killTime = 0;
  let resumedAt = 0;
  let backends: number[] = [];
  let failure: unknown;
  let lastCycle = 0;
  let etcdLeaderKilled: boolean | undefined;
  let etcdPids: number[] = [];
  try {
    await wait('first writes through the rw port', async () => writer.acknowledgedCount > 0, 30_000);
    await pause(WRITES_BEFORE_KILL_MS);
    // Kill at a chosen phase of the leader's lease-refresh cycle (see the header).
    const phaseMs = Math.round(((round - 0.5) / rounds) * profile.timing.loopWaitSeconds * 1000);
    lastCycle = await guard(nextLeaderCycle(logPath(cluster.dir, killed, PATRONI_SERVICE), phaseMs));
    await pause(lastCycle + phaseMs - Date.now());
    const postmaster = postmasterOf(cluster, killed);
    backends = postmaster ? childrenOf(postmaster) : [];
    etcdLeaderKilled = crashEtcd ? (await guard(etcdRaftLeader(cluster))) === killed : undefined;
    const before = writer.acknowledgedCount;
    killTime = Date.now();
    const pids = killMember(cluster, killed);
    if (crashEtcd) etcdPids = localKillService(cluster.dir, killed, ETCD_SERVICE);
    log(
      `  round ${round}: ${before} writes acknowledged; SIGKILL leader ${killed} (pids ${pids.join(', ')}; timeline ${oldTimeline})` +
        `${crashEtcd ? ` and its etcd member (pid ${etcdPids.join(', ')}; ${etcdLeaderKilled ? 'the etcd leader' : 'an etcd follower'})` : ''}`,
    );
    resumedAt = await wait(`writes to resume through ${writerAt.host}:${writerAt.port} after killing ${killed}`, async () => writer.resumedAfter(killTime));
    log(`  round ${round}: writes resumed ${sec(resumedAt - killTime)} s after the kill`);
    await pause(1_000);
  } catch (error) {
    failure = error;
  }
  // Stop the writer on every path; a failure of the round wins over one of stopping.
  try {
    report = await withTimeout(writer.stop(), 60_000, 'the writer to stop');
  } catch (error) {
    failure ??= error;
  }
  if (failure || !report) throw failure;

  const newLeader = await wait('a new leader', async () => {
    const leader = (await members(cluster)).find((m) => m.role === 'leader')?.name;
    return leader && leader !== killed ? leader : undefined;
  });
  const newAddress = memberAddress(cluster, newLeader);
  const present = new Set(
    (await guard(query<{ id: string }>(cluster, newAddress, `SELECT id FROM ${table}`))).map((r) => Number(r.id)),
  );
  const lost = report.acknowledged.filter((id) => !present.has(id));
  const inDoubtCommitted = report.unknown.filter((id) => present.has(id)).length;
  // The kill is a signal: a commit in flight can still be acknowledged by the old primary a moment
  // after it was sent. From the writer's first failure on, only the new leader may acknowledge.
  const outageBegan = report.errorTimes.find((t) => t >= killTime) ?? killTime;
  const acksAfter = (from: number, to = Infinity) => [...report.ackTimes].filter(([, at]) => at >= from && at <= to).map(([id]) => id);
  const inFlightAcks = acksAfter(killTime, outageBegan).length;
  const foreign = acksAfter(outageBegan).filter((id) => report.ackedBy.get(id) !== newAddress.host);
  for (const id of foreign) log(`  round ${round}: SPLIT BRAIN? id ${id} acknowledged by ${report.ackedBy.get(id)} ${sec((report.ackTimes.get(id) ?? 0) - killTime, 3)} s after the kill`);
  const foreignAcks = foreign.length;
  const timeline = (await guard(patroniStatus(restApiOf(cluster, newLeader)))).timeline ?? 0;

  // Where the outage went, from the new leader's log; the lease's age at the kill from the old one's.
  const killedLog = logSince(logPath(cluster.dir, killed, PATRONI_SERVICE), logOffsets.get(killed) ?? 0);
  const lastRefresh = lastLogTime(killedLog, LEADER_CYCLE, killTime);
  if (lastRefresh !== lastCycle) log(`  round ${round}: note: ${killed} logged another leader cycle before the kill than the one timed`);
  const leaseAgeMs = lastRefresh && killTime - lastRefresh;
  const newLog = logSince(logPath(cluster.dir, newLeader, PATRONI_SERVICE), logOffsets.get(newLeader) ?? 0);
  const lockAt = firstLogTime(newLog, /promoted self to leader by acquiring session lock/, killTime);
  const promotedAt = firstLogTime(newLog, /database system is ready to accept connections/, killTime);
  log(
    `  round ${round}: new leader ${newLeader} (timeline ${timeline}); lease refreshed ${sec(leaseAgeMs, 2)} s before the kill; ` +
      `leader key taken +${sec(lockAt && lockAt - killTime, 2)} s, ` +
      `promoted +${sec(promotedAt && promotedAt - killTime, 2)} s; ${report.acknowledged.length} acknowledged, ${lost.length} lost` +
      `${inFlightAcks ? `, ${inFlightAcks} acknowledged as the old primary died` : ''}` +
      `${report.unknown.length ? `, ${report.unknown.length} in doubt (${inDoubtCommitted} committed)` : ''}`,
  );

  // The dead machine is fully gone (postmaster's backends exit on its death) before it boots again.
  await wait(`the killed ${killed}'s processes to exit`, async () => backends.every((pid) => !isAlive(pid)) && postmasterOf(cluster, killed) === undefined, 30_000);
  if (crashEtcd) {
    // The machine boots: etcd first (its unit starts before Patroni's), back in its cluster.
    await wait(`the killed etcd member of ${killed} to exit`, async () => etcdPids.every((pid) => !isAlive(pid)), 30_000);
    localStartService(cluster.dir, killed, ETCD_SERVICE);
    await wait(`etcd on ${killed} healthy again`, async () => etcdHealthy(etcdEndpointOf(cluster, killed)), 60_000);
  }
  const oldLog = logPath(cluster.dir, killed, PATRONI_SERVICE);
  const oldLogOffset = logSize(oldLog);
  const restartAt = Date.now();
  localStartService(cluster.dir, killed, PATRONI_SERVICE);
  await wait(`${killed} to rejoin as a streaming standby of ${newLeader} on timeline ${timeline}`, async () => {
    const streaming = (await replicationOf(restApiOf(cluster, newLeader))).some((r) => r.application_name === killed && r.state === 'streaming');
    if (!streaming) return undefined;
    const status = await patroniStatus(restApiOf(cluster, killed));
    return status.role === 'replica' && status.timeline === timeline ? true : undefined;
  });
  const rejoinMs = Date.now() - restartAt;
  const rewound = /running pg_rewind from/.test(logSince(oldLog, oldLogOffset));
  await wait('the cluster healthy again (2 replicas streaming, 1 synchronous standby)', async () => {
    const health = await clusterHealth(
      cluster.endpoints.members.map((m) => m.restApi),
      1,
    );
    return health.healthy && health.leader === newLeader ? health : undefined;
  });
  const syncBackMs = Date.now() - restartAt;
  log(`  round ${round}: ${killed} rejoined ${sec(rejoinMs)} s after restart${rewound ? ' (pg_rewind ran)' : ' (no pg_rewind needed)'}; synchronous standby back after ${sec(syncBackMs)} s`);

  return {
    round,
    killed,
    newLeader,
    timeline,
    resumeMs: resumedAt - killTime,
    leaseAgeMs,
    lockMs: lockAt && lockAt - killTime,
    promotedMs: promotedAt && promotedAt - killTime,
    acknowledged: report.acknowledged.length,
    lost: lost.length,
    inDoubt: report.unknown.length,
    inDoubtCommitted,
    foreignAcks,
    inFlightAcks,
    etcdLeaderKilled,
    rejoinMs,
    rewound,
    syncBackMs,
  };
}

// ---------------------------------------------------------------------------------------------
// One profile

async function runProfile(profile: Profile, rounds: number): Promise<{ rounds: Round[]; running: string }> {
  log(`profile ${profile.name} (${timingText(profile.timing)}): starting a sync cluster on 127.${profile.addressBlock}.x.y`);
  let cluster: TestCluster | undefined;
  try {
    cluster = await startCluster(profile);
    const running = await guard(runningTiming(cluster));
    log(`  cluster up in ${cluster.dir}; Patroni runs with ${running}`);
    const results: Round[] = [];
    for (let round = 1; round <= rounds; round++) results.push(await failoverRound(cluster, profile, round, rounds));
    return { rounds: results, running };
  } finally {
    if (current) {
      await teardown(current.dir);
      current = undefined;
    }
  }
}

function printProfile(profile: Profile, running: string, rounds: readonly Round[]): void {
  const lines: string[] = [];
  lines.push(`profile ${profile.name}: ${timingText(profile.timing)} (running cluster: ${running}), replication sync, ${rounds.length} unplanned failovers`);
  lines.push('  round  killed     new leader  TL  lease age  key taken  promoted  first write  acked  lost  in doubt  rejoin  rewind  sync back');
  for (const r of rounds) {
    lines.push(
      `  ${String(r.round).padStart(5)}  ${r.killed.padEnd(9)}  ${r.newLeader.padEnd(10)}  ${String(r.timeline).padStart(2)}  ` +
        `${`${sec(r.leaseAgeMs, 2)} s`.padStart(9)}  ${`${sec(r.lockMs, 2)} s`.padStart(9)}  ${`${sec(r.promotedMs, 2)} s`.padStart(8)}  ${`${sec(r.resumeMs, 2)} s`.padStart(11)}  ` +
        `${String(r.acknowledged).padStart(5)}  ${String(r.lost).padStart(4)}  ${`${r.inDoubt} (${r.inDoubtCommitted} c)`.padStart(8)}  ` +
        `${`${sec(r.rejoinMs)} s`.padStart(6)}  ${(r.rewound ? 'ran' : 'no').padStart(6)}  ${`${sec(r.syncBackMs)} s`.padStart(9)}`,
    );
  }
  const resume = rounds.map((r) => r.resumeMs);
  const lost = rounds.reduce((n, r) => n + r.lost, 0);
  const acked = rounds.reduce((n, r) => n + r.acknowledged, 0);
  const foreign = rounds.reduce((n, r) => n + r.foreignAcks, 0);
  const locks = rounds.flatMap((r) => (r.lockMs === undefined ? [] : [r.lockMs]));
  const promos = rounds.flatMap((r) => (r.promotedMs === undefined || r.lockMs === undefined ? [] : [r.promotedMs - r.lockMs]));
  const proxy = rounds.flatMap((r) => (r.promotedMs === undefined ? [] : [r.resumeMs - r.promotedMs]));
  lines.push('                                   min / median /   max (s)');
  lines.push(`  kill -> first write through rw   ${spread(resume, 2)}   target median <= ${profile.targetMedianS} s: ${verdict(median(resume) <= profile.targetMedianS * 1000)}`);
  // Lease expiry predicted from the refresh: ttl after it. What remains is etcd's expiry check and Patroni waking up.
  const late = rounds.flatMap((r) => (r.lockMs === undefined || r.leaseAgeMs === undefined ? [] : [r.lockMs + r.leaseAgeMs - profile.timing.ttlSeconds * 1000]));
  if (locks.length) lines.push(`    kill -> leader key taken       ${spread(locks, 2)}   (lease of the dead leader expires; ttl ${profile.timing.ttlSeconds}, loop_wait ${profile.timing.loopWaitSeconds})`);
  if (late.length) lines.push(`      of which after the lease's ttl ${spread(late, 2)}   (last refresh + ttl -> key taken: etcd expiry check + watch wake-up + leader race)`);
  if (promos.length) lines.push(`    key taken -> promoted          ${spread(promos, 2)}`);
  if (proxy.length) lines.push(`    promoted -> first write        ${spread(proxy, 2)}   (HAProxy /primary check, rise 2)`);
  lines.push(`  rejoin (restart -> streaming)    ${spread(rounds.map((r) => r.rejoinMs))}   pg_rewind in ${rounds.filter((r) => r.rewound).length}/${rounds.length}`);
  lines.push(`  restart -> sync standby again    ${spread(rounds.map((r) => r.syncBackMs))}`);
  lines.push(`  acknowledged writes lost         ${lost} of ${acked}   target 0 in sync mode: ${verdict(lost === 0)}`);
  if (crashEtcd) {
    const part = (leader: boolean) => rounds.filter((r) => r.etcdLeaderKilled === leader).map((r) => r.resumeMs);
    const describe = (values: number[]) => (values.length ? `${values.map((v) => sec(v, 2)).join(', ')} s` : 'none');
    lines.push(`  with the node's etcd member: kill -> first write when it was the etcd leader: ${describe(part(true))}; a follower: ${describe(part(false))}`);
  }
  const inFlight = rounds.reduce((n, r) => n + r.inFlightAcks, 0);
  lines.push(`  acknowledged after the outage began by a server other than the new leader: ${foreign} (must be 0); in flight at the kill, acknowledged by the old primary: ${inFlight}`);
  console.log(`\n${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

function parseArgs(argv: readonly string[]): { profiles: Profile[]; rounds: number } {
  let names: string[] = ['fast', 'default'];
  const timings: FailoverTiming[] = [];
  let rounds = 5;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--profile') names = value().split(',').filter(Boolean);
    else if (flag === '--rounds') rounds = Number(value());
    else if (flag === '--crash-etcd') crashEtcd = true;
    else if (flag === '--timing') {
      const parts = value().split('/').map(Number);
      if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`--timing wants TTL/LOOP_WAIT/RETRY_TIMEOUT in whole seconds, e.g. 20/1/5 (Patroni 4: ttl >= 20, retry_timeout >= 3)`);
      timings.push({ ttlSeconds: parts[0], loopWaitSeconds: parts[1], retryTimeoutSeconds: parts[2] });
    } else throw new Error(`unknown option ${argv[i]} (use --profile fast,default, --timing TTL/LOOP/RETRY, --rounds N, --crash-etcd)`);
  }
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds wants a whole number >= 1');
  const blocks: Record<string, number> = { fast: 71, default: 72 };
  // fast: Patroni 4 takes no lease under 20 s, so no profile fails over in less than ~20 s (the
  // former target of 8 s, set on Patroni 3.0.2 with ttl 10, cannot be met): the lease plus 2 s.
  const targets: Record<string, number> = { fast: 22, default: 35 };
  const profiles: Profile[] = names.map((name) => {
    if (!(name in FAILOVER_PROFILES)) throw new Error(`unknown profile ${name}: use ${Object.keys(FAILOVER_PROFILES).join(', ')}`);
    return { name, timing: FAILOVER_PROFILES[name as keyof typeof FAILOVER_PROFILES], addressBlock: blocks[name], targetMedianS: targets[name] };
  });
  // Explicit timings are candidates for the fast target: measured against it, on blocks 73, 74, ...
  timings.forEach((timing, i) =>
    profiles.push({ name: `${timing.ttlSeconds}/${timing.loopWaitSeconds}/${timing.retryTimeoutSeconds}`, timing, addressBlock: 73 + i, targetMedianS: targets.fast }),
  );
  return { profiles, rounds };
}

async function main(): Promise<number> {
  const { profiles, rounds } = parseArgs(process.argv.slice(2));
  console.log(`cdktf-postgres-ha failover benchmark: SIGKILL of the primary (Patroni + postgres${crashEtcd ? ' + its colocated etcd member' : ''}), sync replication\n`);
  for (const p of profiles) console.log(`  ${p.name.padEnd(8)} ${timingText(p.timing)}   target: median kill -> first write <= ${p.targetMedianS} s, 0 acknowledged writes lost`);
  console.log('');
  const results: { profile: Profile; running: string; rounds: Round[] }[] = [];
  for (const profile of profiles) {
    const { rounds: done, running } = await runProfile(profile, rounds);
    results.push({ profile, running, rounds: done });
    printProfile(profile, running, done);
  }
  if (results.length > 1) {
    console.log('summary');
    for (const { profile, rounds: r } of results) {
      const resume = median(r.map((x) => x.resumeMs));
      const lost = r.reduce((n, x) => n + x.lost, 0);
      console.log(
        `  ${profile.name.padEnd(8)} ${timingText(profile.timing).padEnd(48)} median kill -> write ${sec(resume).padStart(5)} s (<= ${profile.targetMedianS} s: ${verdict(resume <= profile.targetMedianS * 1000)}), ` +
          `median rejoin ${sec(median(r.map((x) => x.rejoinMs)))} s, lost ${lost} (${verdict(lost === 0)})`,
      );
    }
  }
  return 0;
}

main()
  .then((code) => process.exit(code))
  .catch(async (error) => {
    // runProfile's finally has torn its cluster down; this is the last resort if it could not.
    if (current) await teardown(current.dir).catch((e) => log(`teardown failed: ${(e as Error).message}`));
    console.error(`\nfailover benchmark failed: ${(error as Error).stack ?? error}`);
    process.exit(interruption.exitCode);
  });
