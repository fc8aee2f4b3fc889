/**
 * Helpers shared by the real-process cluster tests in this folder (not a test file itself).
 *
 * Every wait is bounded; every process the tests disturb is put back (or left to
 * `stopTestCluster`) through `Cleanup`, which afterAll runs even when a test failed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { ETCD_SERVICE } from '../../src/node-plan/etcd-member';
import { HAPROXY_STATS_USER } from '../../src/node-plan/haproxy-plan';
import { PATRONI_SERVICE } from '../../src/node-plan/patroni-cluster-plan';
import { clusterHealth, etcdHealthy, haproxyServers, http, patroniCluster, replicationOf, ReplicationEntry } from '../../src/runner/cluster-checks';
import { HostPort, localStartService } from '../../src/runner/local-cluster';
import { HAPROXY_LISTENERS } from '../../src/render/haproxy-config';
import { PATRONI_USERS } from '../../src/render/patroni-config';
import { FAILOVER_PROFILES } from '../../src/spec/failover';
import {
  eventually,
  killMember,
  memberAddress,
  members,
  restApiOf,
  sleep,
  startTestCluster,
  stopTestCluster,
  TestCluster,
  TestClusterOptions,
  WriterLoop,
  WriterReport,
} from '../support/local-cluster';

export { ETCD_SERVICE, PATRONI_SERVICE };

/** The clusters here run the `fast` profile (startTestCluster's default). */
export const TIMING = FAILOVER_PROFILES.fast;
export const STATS_PORT = 7000;
export const CLUSTER_SECRET = 'main/patroni';
export const PROXY_SECRET = 'main/haproxy';

// ---------------------------------------------------------------------------------------------
// Bookkeeping: figures to print at the end, and clean-up that runs even after a failure.
// ---------------------------------------------------------------------------------------------

/** Measured figures, printed together in afterAll. */
export class Figures {
  private readonly lines: string[] = [];
  constructor(private readonly title: string) {}
  note(line: string): void {
    this.lines.push(line);
  }
  print(): void {
    if (this.lines.length > 0) console.log(`${this.title}\n  ${this.lines.join('\n  ')}`);
  }
}

/** Actions that put the cluster back (SIGCONT a stopped process, end a client, stop a writer). */
export class Cleanup {
  private readonly actions = new Map<string, () => Promise<unknown> | unknown>();
  add(key: string, action: () => Promise<unknown> | unknown): void {
    this.actions.set(key, action);
  }
  /** Runs and forgets one action now (the normal path of a test). */
  async now(key: string): Promise<void> {
    const action = this.actions.get(key);
    this.actions.delete(key);
    await action?.();
  }
  forget(key: string): void {
    this.actions.delete(key);
  }
  /** Runs what is left, each bounded to 30 s; never throws (teardown must go on). */
  async runAll(): Promise<string[]> {
    const failures: string[] = [];
    for (const [key, action] of [...this.actions].reverse()) {
      try {
        await withTimeout(`clean-up ${key}`, 30_000, Promise.resolve().then(action));
      } catch (error) {
        failures.push(`${key}: ${(error as Error).message}`);
      }
    }
    this.actions.clear();
    return failures;
  }
}

export function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// One cluster per test file.
// ---------------------------------------------------------------------------------------------

export interface ClusterUnderTest {
  /** The running cluster; fails the test when beforeAll could not start it. */
  readonly started: () => TestCluster;
  readonly cleanup: Cleanup;
  readonly figures: Figures;
}

/**
 * Starts one cluster for the whole file in beforeAll and stops it (by PID) in afterAll, even when
 * tests failed. After each test the clean-up list puts back whatever the test disturbed (a frozen
 * process, a stopped service), so one failure does not cascade into the next scenarios.
 */
export function useCluster(title: string, options: TestClusterOptions): ClusterUnderTest {
  let cluster: TestCluster | undefined;
  const cleanup = new Cleanup();
  const figures = new Figures(`${title} (127.${options.addressBlock}.x.y)`);
  beforeAll(async () => {
    const t0 = Date.now();
    cluster = await startTestCluster(options);
    figures.note(`bootstrap (startTestCluster until healthy and routing): ${Date.now() - t0} ms`);
  }, 180_000);
  afterEach(async () => {
    const failures = await cleanup.runAll();
    if (failures.length > 0) throw new Error(`clean-up after the test failed: ${failures.join('; ')}`);
  }, 120_000);
  afterAll(async () => {
    const failures = await cleanup.runAll();
    const t0 = Date.now();
    try {
      await stopTestCluster(cluster);
      figures.note(`teardown: ${Date.now() - t0} ms`);
    } finally {
      figures.print();
    }
    if (failures.length > 0) throw new Error(`clean-up failed: ${failures.join('; ')}`);
  }, 180_000);
  const started = () => {
    if (!cluster) throw new Error('the cluster did not start (see beforeAll)');
    return cluster;
  };
  return { started, cleanup, figures };
}

/**
 * A freshly bootstrapped cluster: exactly one leader, every other member streaming from it, and
 * `expectedSync` synchronous standbys. Returns the leader and its replication list.
 */
export async function expectBootstrapped(c: TestCluster, expectedSync: number): Promise<{ leader: string; replication: ReplicationEntry[] }> {
  const view = await members(c);
  const leaders = view.filter((m) => m.role === 'leader');
  expect(leaders).toHaveLength(1);
  const leader = leaders[0].name;
  const replication = await replicationOf(restApiOf(c, leader));
  expect(replication.map((r) => r.application_name).sort()).toEqual(memberNames(c).filter((n) => n !== leader).sort());
  expect(replication.every((r) => r.state === 'streaming')).toBe(true);
  expect(replication.filter((r) => r.sync_state === 'sync')).toHaveLength(expectedSync);
  return { leader, replication };
}

/**
 * The unplanned failover and the old primary's rejoin, as two tests in order: writes resume on
 * the synchronous standby through both proxies, never go back, lose no acknowledged write; the old
 * primary, restarted, streams on the new timeline (pg_rewind) and holds every acknowledged write.
 */
export function failoverAndRejoinTests(under: ClusterUnderTest, block: number, expectedSync: number, table: string): void {
  const { started, cleanup, figures } = under;
  let failedLeader: string | undefined;
  let failoverAcked: number[] = [];

  test('GIVEN writes through the rw port WHEN the leader is killed (SIGKILL) THEN writes resume on the synchronous standby within 60 s, never go back, and no acknowledged write is lost', async () => {
    const c = started();
    // WHEN
    const outcome = await failoverDrill(c, block, cleanup, { table, expectedSync, resumeWithinMs: 60_000 });
    failedLeader = outcome.oldLeader;
    failoverAcked = outcome.report.acknowledged;
    figures.note(
      `unplanned failover ${outcome.oldLeader} -> ${outcome.newLeader}: writes resumed ${outcome.resumedAfterMs} ms after the kill; ` +
        `${outcome.report.acknowledged.length} acknowledged, ${outcome.report.unknown.length} unknown, ${outcome.lost.length} lost`,
    );
    // THEN
    expect(outcome.resumedAfterMs).toBeLessThan(60_000);
    expect(outcome.syncStandbyBefore).toEqual([outcome.newLeader]);
    expect(outcome.runs.map((h) => nameOfHost(c, h))).toEqual([outcome.oldLeader, outcome.newLeader]);
    expect(outcome.lost).toEqual([]);
    // Both proxies' rw ports follow (each proxy runs its own health checks).
    for (const proxy of proxiesOf(c, block)) {
      await eventually(`rw port of ${proxy.host} to reach ${outcome.newLeader}`, 10_000, async () => {
        const seen = await serverBehind(c, proxy.rw);
        return seen.address === hostOf(c, outcome.newLeader) && !seen.inRecovery;
      });
    }
  }, 180_000);

  test('GIVEN the killed old primary WHEN its Patroni is started again THEN it rejoins as a streaming replica on the new timeline with no manual step, holding every acknowledged write', async () => {
    const c = started();
    if (!failedLeader) throw new Error('the failover scenario did not run to the point of killing a leader');
    const rejoined = failedLeader;
    // WHEN
    const outcome = await rejoinDrill(c, rejoined);
    figures.note(`rejoin of ${rejoined}: streaming on the leader's timeline ${outcome.rejoinedAfterMs} ms after its Patroni started (pg_rewind ${outcome.usedPgRewind ? 'ran' : 'not needed'}); timeline ${outcome.memberTimeline}`);
    // THEN
    expect(outcome.leader).not.toBe(rejoined);
    expect(outcome.inRecovery).toBe(true);
    expect(outcome.leaderTimeline).toBeGreaterThan(1);
    expect(outcome.memberTimeline).toBe(outcome.leaderTimeline);
    expect(outcome.receivedTimeline).toBe(outcome.leaderTimeline);
    await eventually(`${rejoined} to hold every write acknowledged during the failover`, 30_000, async () => (await missingOn(c, rejoined, table, failoverAcked)).length === 0);
    // And the whole cluster is healthy again: both proxies route to it as a replica.
    await waitHealthy(c, block, expectedSync);
  }, 180_000);
}

// ---------------------------------------------------------------------------------------------
// Addresses and secrets of a running test cluster.
// ---------------------------------------------------------------------------------------------

export interface Proxy {
  readonly host: string;
  readonly rw: HostPort;
  readonly ro: HostPort;
  readonly stats: string;
}

/** The two HAProxy nodes of the reference topology: 127.<block>.1.11 and 127.<block>.2.11. */
export function proxiesOf(cluster: TestCluster, block: number): Proxy[] {
  const { writer, reader } = cluster.endpoints;
  return [1, 2].map((n) => {
    const host = `127.${block}.${n}.11`;
    return { host, rw: { host, port: writer.port }, ro: { host, port: reader.port }, stats: `${host}:${STATS_PORT}` };
  });
}

function secrets(cluster: TestCluster): Record<string, Record<string, string>> {
  return JSON.parse(readFileSync(join(cluster.dir, 'secrets.json'), 'utf8'));
}

export const statsAuth = (cluster: TestCluster) => `${HAPROXY_STATS_USER}:${secrets(cluster)[PROXY_SECRET].stats_password}`;
export const restApiAuth = (cluster: TestCluster) => `${PATRONI_USERS.restApi}:${secrets(cluster)[CLUSTER_SECRET].restapi_password}`;

export const hostOf = (cluster: TestCluster, name: string) => memberAddress(cluster, name).host;
export const nameOfHost = (cluster: TestCluster, host: string) => cluster.endpoints.members.find((m) => m.host === host)?.name ?? host;
export const memberNames = (cluster: TestCluster) => cluster.endpoints.members.map((m) => m.name);

// ---------------------------------------------------------------------------------------------
// SQL with bounded waits.
// ---------------------------------------------------------------------------------------------

/** A client whose connect and every query are bounded (the support `connect` bounds only connect). */
export async function boundedClient(cluster: TestCluster, at: HostPort, queryTimeoutMs = 5_000): Promise<Client> {
  const client = new Client({
    host: at.host,
    port: at.port,
    ...cluster.superuser,
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
    query_timeout: queryTimeoutMs,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function sql<T = Record<string, unknown>>(cluster: TestCluster, at: HostPort, text: string, values: unknown[] = [], timeoutMs = 5_000): Promise<T[]> {
  const client = await boundedClient(cluster, at, timeoutMs);
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface ServerSeen {
  readonly address: string;
  readonly inRecovery: boolean;
}

/** Which server one fresh connection to `at` reaches, and whether it is in recovery. */
export async function serverBehind(cluster: TestCluster, at: HostPort): Promise<ServerSeen> {
  const [row] = await sql<{ address: string; recovery: boolean }>(cluster, at, 'SELECT host(inet_server_addr()) AS address, pg_is_in_recovery() AS recovery');
  return { address: row.address, inRecovery: row.recovery };
}

/** `count` fresh connections in a row to `at`: how many reached each server (replicas and primaries apart). */
export async function spread(cluster: TestCluster, at: HostPort, count: number): Promise<{ replicas: Map<string, number>; primaries: Map<string, number> }> {
  const replicas = new Map<string, number>();
  const primaries = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const seen = await serverBehind(cluster, at);
    const bucket = seen.inRecovery ? replicas : primaries;
    bucket.set(seen.address, (bucket.get(seen.address) ?? 0) + 1);
  }
  return { replicas, primaries };
}

/** The ids of `ids` that the member's table does NOT hold (asked on the member itself). */
export async function missingOn(cluster: TestCluster, member: string, table: string, ids: readonly number[]): Promise<number[]> {
  const rows = await sql<{ id: string }>(cluster, memberAddress(cluster, member), `SELECT id FROM ${table} WHERE id = ANY($1::bigint[])`, [ids], 15_000);
  const present = new Set(rows.map((r) => Number(r.id)));
  return ids.filter((id) => !present.has(id));
}

// ---------------------------------------------------------------------------------------------
// Cluster state.
// ---------------------------------------------------------------------------------------------

export interface Health {
  readonly leader: string;
  readonly replication: ReplicationEntry[];
  readonly synchronous: string[];
  readonly asynchronous: string[];
}

/**
 * Waits until the cluster is healthy end to end: one leader, every other member streaming, exactly
 * `expectedSync` synchronous standbys, and on both proxies the leader alone UP in postgres-rw and
 * every replica (and not the leader) UP in postgres-ro.
 */
export async function waitHealthy(cluster: TestCluster, block: number, expectedSync: number, timeoutMs = 90_000): Promise<Health> {
  const restApis = cluster.endpoints.members.map((m) => m.restApi);
  const auth = statsAuth(cluster);
  let last = '';
  const healthy = eventually('a healthy cluster and proxies', timeoutMs, async () => {
    const health = await clusterHealth(restApis, expectedSync);
    if (!health.healthy || !health.leader) {
      last = health.waitingFor;
      return undefined;
    }
    const leader = health.leader;
    const replication = await replicationOf(restApiOf(cluster, leader));
    const synchronous = replication.filter((r) => r.sync_state === 'sync').map((r) => r.application_name);
    if (synchronous.length !== expectedSync) {
      last = `${expectedSync} synchronous standby(s), have ${synchronous.join(',') || 'none'}`;
      return undefined;
    }
    const replicas = memberNames(cluster).filter((n) => n !== leader);
    for (const proxy of proxiesOf(cluster, block)) {
      const rw = await haproxyServers(proxy.stats, auth, HAPROXY_LISTENERS.readWrite);
      const ro = await haproxyServers(proxy.stats, auth, HAPROXY_LISTENERS.readOnly);
      const rwOk = Object.entries(rw).every(([name, status]) => status === (name === leader ? 'UP' : 'DOWN'));
      const roOk = Object.entries(ro).every(([name, status]) => status === (replicas.includes(name) ? 'UP' : 'DOWN'));
      if (!rwOk || !roOk) {
        last = `proxy ${proxy.host}: rw ${JSON.stringify(rw)} ro ${JSON.stringify(ro)}`;
        return undefined;
      }
    }
    return {
      leader,
      replication,
      synchronous,
      asynchronous: replication.filter((r) => r.sync_state === 'async').map((r) => r.application_name),
    };
  });
  return healthy.catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${last}`);
  });
}

/** The leader's timeline as its REST API reports it. */
export async function timelineOf(cluster: TestCluster, name: string): Promise<number | undefined> {
  const answer = await http(`http://${restApiOf(cluster, name)}/patroni`);
  return answer.status === 200 || answer.status === 503 ? (JSON.parse(answer.body).timeline as number | undefined) : undefined;
}

/** Members that report themselves out of recovery right now (unreachable ones do not count). */
export async function primariesNow(cluster: TestCluster): Promise<string[]> {
  const seen = await Promise.all(
    cluster.endpoints.members.map(async (m) => {
      try {
        const [row] = await sql<{ recovery: boolean }>(cluster, { host: m.host, port: m.port }, 'SELECT pg_is_in_recovery() AS recovery', [], 2_000);
        return row.recovery ? undefined : m.name;
      } catch {
        return undefined;
      }
    }),
  );
  return seen.filter((name): name is string => name !== undefined);
}

/** Samples every member's pg_is_in_recovery() every `intervalMs` (plus the round trip), to catch two primaries at once. */
export class PrimarySampler {
  private running = false;
  private loop?: Promise<void>;
  readonly samples: { at: number; primaries: string[] }[] = [];

  constructor(
    private readonly cluster: TestCluster,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const primaries = await primariesNow(this.cluster);
        this.samples.push({ at: Date.now(), primaries });
        await sleep(this.intervalMs);
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await withTimeout('the primary sampler to stop', 15_000, this.loop ?? Promise.resolve());
  }

  /** Samples that saw more than one primary. */
  get doubles(): { at: number; primaries: string[] }[] {
    return this.samples.filter((s) => s.primaries.length > 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Writers.
// ---------------------------------------------------------------------------------------------

/** Waits until the loop has `count` more acknowledgements than `from`. */
export async function waitForAcks(loop: WriterLoop, count: number, timeoutMs = 30_000, from = loop.acknowledgedCount): Promise<void> {
  await eventually(`${count} acknowledged writes`, timeoutMs, async () => loop.acknowledgedCount >= from + count);
}

/**
 * The servers that acknowledged writes, in order, consecutive repeats merged: [A, B] when writes
 * moved from A to B once. A server that appears twice means writes went back to it.
 */
export function ackRuns(report: WriterReport): string[] {
  const runs: string[] = [];
  for (const id of report.acknowledged) {
    const server = report.ackedBy.get(id)!;
    if (runs[runs.length - 1] !== server) runs.push(server);
  }
  return runs;
}

/** The longest pause between two consecutive acknowledgements (ms). */
export function longestAckGap(report: WriterReport, from = 0, to = Number.MAX_SAFE_INTEGER): number {
  const times = report.acknowledged.map((id) => report.ackTimes.get(id)!).filter((t) => t >= from && t <= to);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

// ---------------------------------------------------------------------------------------------
// Drills shared by the files: unplanned failover, rejoin.
// ---------------------------------------------------------------------------------------------

export interface FailoverOutcome {
  readonly oldLeader: string;
  readonly syncStandbyBefore: string[];
  readonly newLeader: string;
  readonly killedAt: number;
  /** ms from the kill to the first acknowledged write after the outage. */
  readonly resumedAfterMs: number;
  readonly report: WriterReport;
  readonly runs: string[];
  /** Acknowledged ids the new primary does not hold. */
  readonly lost: number[];
}

/**
 * With a WriterLoop committing through the rw port, SIGKILLs the leader's Patroni and postgres,
 * waits (at most `resumeWithinMs`) for writes to come back, lets a few more commit, and reports.
 */
export async function failoverDrill(
  cluster: TestCluster,
  block: number,
  cleanup: Cleanup,
  options: { table: string; expectedSync: number; resumeWithinMs: number },
): Promise<FailoverOutcome> {
  const before = await waitHealthy(cluster, block, options.expectedSync);
  await WriterLoop.createTable(cluster, cluster.endpoints.writer, options.table);
  const writer = new WriterLoop(cluster, cluster.endpoints.writer, options.table).start();
  cleanup.add(`writer ${options.table}`, () => writer.stop());
  await waitForAcks(writer, 20);

  const killedAt = Date.now();
  killMember(cluster, before.leader);
  const resumedAt = await eventually('writes to resume through the rw port', options.resumeWithinMs, async () => writer.resumedAfter(killedAt));
  await waitForAcks(writer, 20);
  cleanup.forget(`writer ${options.table}`);
  const report = await writer.stop();

  const newLeader = await eventually('a new leader', 30_000, async () => {
    const leaders = (await patroniCluster(restApiOf(cluster, memberNames(cluster).find((n) => n !== before.leader)!))).filter((m) => m.role === 'leader');
    return leaders.length === 1 && leaders[0].name !== before.leader ? leaders[0].name : undefined;
  });
  return {
    oldLeader: before.leader,
    syncStandbyBefore: before.synchronous,
    newLeader,
    killedAt,
    resumedAfterMs: resumedAt - killedAt,
    report,
    runs: ackRuns(report),
    lost: await missingOn(cluster, newLeader, options.table, report.acknowledged),
  };
}

export interface RejoinOutcome {
  readonly rejoinedAfterMs: number;
  readonly leader: string;
  readonly leaderTimeline?: number;
  readonly memberTimeline?: number;
  readonly receivedTimeline?: number;
  readonly inRecovery: boolean;
  readonly usedPgRewind: boolean;
}

/**
 * Starts a killed member's Patroni again, as `up` did, and waits until it streams from the leader
 * and is on the leader's timeline (Patroni's view and its own walreceiver's).
 */
export async function rejoinDrill(cluster: TestCluster, name: string, timeoutMs = 90_000): Promise<RejoinOutcome> {
  const logFile = join(cluster.dir, 'logs', `${name}.${PATRONI_SERVICE}.log`);
  const logBefore = safeRead(logFile).length;
  const startedAt = Date.now();
  localStartService(cluster.dir, name, PATRONI_SERVICE);
  let last = 'nothing yet';
  const outcome = await eventually(`${name} to stream from the leader on its timeline`, timeoutMs, async () => {
    const found = (await patroniCluster(restApiOf(cluster, name)).catch(() => undefined)) ?? [];
    const leader = found.find((m) => m.role === 'leader')?.name;
    if (!leader || leader === name) return void (last = `leader ${leader}`);
    const replication = await replicationOf(restApiOf(cluster, leader));
    const streaming = replication.some((r) => r.application_name === name && r.state === 'streaming');
    const [row] = await sql<{ recovery: boolean; tli: number | null }>(
      cluster,
      memberAddress(cluster, name),
      'SELECT pg_is_in_recovery() AS recovery, (SELECT received_tli FROM pg_stat_wal_receiver) AS tli',
    );
    const seen: RejoinOutcome = {
      rejoinedAfterMs: Date.now() - startedAt,
      leader,
      leaderTimeline: await timelineOf(cluster, leader),
      memberTimeline: (await patroniCluster(restApiOf(cluster, leader))).find((m) => m.name === name)?.timeline,
      receivedTimeline: row.tli ?? undefined,
      inRecovery: row.recovery,
      usedPgRewind: false,
    };
    last = `streaming ${streaming}, ${JSON.stringify(seen)}`;
    const done = streaming && seen.inRecovery && seen.leaderTimeline !== undefined && seen.memberTimeline === seen.leaderTimeline && seen.receivedTimeline === seen.leaderTimeline;
    return done ? seen : undefined;
  }).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${last}`);
  });
  return { ...outcome, usedPgRewind: /pg_rewind exit code=0/.test(safeRead(logFile).slice(logBefore)) };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// etcd.
// ---------------------------------------------------------------------------------------------

export async function waitEtcdHealthy(cluster: TestCluster, timeoutMs = 30_000): Promise<void> {
  await eventually('every etcd member healthy', timeoutMs, async () => (await Promise.all(cluster.endpoints.etcd.map(etcdHealthy))).every(Boolean));
}

/** Starts a node's service again if it is down (for clean-up after a test that killed or stopped it). */
export function ensureRunning(cluster: TestCluster, name: string, service: string): void {
  try {
    localStartService(cluster.dir, name, service);
  } catch (error) {
    if (!/still running/.test((error as Error).message)) throw error;
  }
}

export const restartEtcd = (cluster: TestCluster, name: string) => ensureRunning(cluster, name, ETCD_SERVICE);
