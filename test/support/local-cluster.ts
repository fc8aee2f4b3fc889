/**
 * Real clusters on loopback for the cluster tests and the failover benchmark: start one from the
 * reference topology with a given mode and profile, write through it, break it, tear it down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PATRONI_SERVICE } from '../../src/node-plan/patroni-cluster-plan';
import { patroniCluster, PatroniMember } from '../../src/runner/cluster-checks';
import { HostPort, LocalEndpoints, localDown, localKillService, localUp } from '../../src/runner/local-cluster';
import { FailoverProfile } from '../../src/spec/failover';
import { ReplicationMode } from '../../src/spec/patroni-cluster';
import { HaTopologyProps, haTopology } from '../../stacks/ha-topology';
import { LocalArchiveStore } from '../../src/platform/local/archive-store';

export interface TestCluster {
  readonly dir: string;
  readonly endpoints: LocalEndpoints;
  readonly superuser: { user: string; password: string };
}

export interface TestClusterOptions {
  /** Second octet of the node addresses: unique per test file, so files never share addresses. */
  readonly addressBlock: number;
  readonly replicationMode?: ReplicationMode;
  readonly failover?: FailoverProfile;
  /** @default 16 MiB */
  readonly maxReplicaLagBytes?: number;
  readonly progress?: (line: string) => void;
  /** Archive, backups, restore and other cluster settings, on top of the reference topology. */
  readonly topology?: HaTopologyProps;
  /** Where archives live: shared by clusters that restore from each other. @default a directory of the cluster's own */
  readonly archiveStore?: LocalArchiveStore;
}

/** Starts the reference topology (3 Patroni nodes with etcd, 2 HAProxy) on 127.<block>.x.y. */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), `pgha-cluster-${options.addressBlock}-`));
  const endpoints = await localUp({
    dir,
    platform: { addressBlock: options.addressBlock, archiveStore: options.archiveStore },
    progress: options.progress,
    build: (scope, platform) => {
      const topology = haTopology(scope, platform, {
        ...options.topology,
        cluster: { replicationMode: options.replicationMode ?? 'sync', failover: options.failover ?? 'fast', ...options.topology?.cluster },
        frontends: { ...options.topology?.frontends, ...(options.maxReplicaLagBytes === undefined ? {} : { maxReplicaLagBytes: options.maxReplicaLagBytes }) },
      });
      return topology;
    },
  }).catch((error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  return { dir, endpoints, superuser: endpoints.superuser };
}

/** Stops every process of the cluster (by PID) and removes its directory. Throws if one survives. */
export async function stopTestCluster(cluster: TestCluster | undefined): Promise<void> {
  if (cluster) await stopLocalDir(cluster.dir);
}

/**
 * Stops everything `localUp` started from `dir` (by PID) and removes it, unless PGHA_KEEP_DIR is
 * set (to read a failed run's logs). Throws if a process survives.
 */
export async function stopLocalDir(dir: string | undefined): Promise<void> {
  if (!dir) return;
  const report = await localDown(dir);
  if (!process.env.PGHA_KEEP_DIR) rmSync(dir, { recursive: true, force: true });
  if (report.leftBehind.length > 0) throw new Error(`processes left behind: ${report.leftBehind.join(', ')}`);
}

export async function members(cluster: TestCluster): Promise<PatroniMember[]> {
  for (const member of cluster.endpoints.members) {
    const found = await patroniCluster(member.restApi).catch(() => undefined);
    if (found) return found;
  }
  throw new Error('no Patroni REST API answers');
}

export async function leaderName(cluster: TestCluster): Promise<string | undefined> {
  return (await members(cluster)).find((m) => m.role === 'leader')?.name;
}

export function connect(cluster: TestCluster, at: HostPort): Promise<Client> {
  const client = new Client({ host: at.host, port: at.port, ...cluster.superuser, database: 'postgres', connectionTimeoutMillis: 2_000 });
  // A connection the server closes while idle (a failover) emits 'error'; the next query reports it.
  client.on('error', () => undefined);
  return client.connect().then(() => client);
}

/** Runs one query on a fresh connection and returns its rows. */
export async function query<T = Record<string, unknown>>(cluster: TestCluster, at: HostPort, text: string, values: unknown[] = []): Promise<T[]> {
  const client = await connect(cluster, at);
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const memberAddress = (cluster: TestCluster, name: string): HostPort => {
  const member = cluster.endpoints.members.find((m) => m.name === name);
  if (!member) throw new Error(`no member ${name}`);
  return { host: member.host, port: member.port };
};

export const restApiOf = (cluster: TestCluster, name: string): string => {
  const member = cluster.endpoints.members.find((m) => m.name === name);
  if (!member) throw new Error(`no member ${name}`);
  return member.restApi;
};

/** Kills a member's Patroni and postgres with SIGKILL, as a crashed machine would. */
export function killMember(cluster: TestCluster, name: string): number[] {
  return localKillService(cluster.dir, name, PATRONI_SERVICE);
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Polls until `check` returns a value; fails with `what` when `timeoutMs` runs out, adding what
 * `explain` finds then (the state a CI log needs to tell why it never happened).
 */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(250);
  }
  const state = explain ? await explain().catch((error: Error) => `(could not tell: ${error.message})`) : undefined;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}${state ? `\n${state}` : ''}`);
}

export interface WriterReport {
  /** Ids whose INSERT committed and was acknowledged to the client. */
  readonly acknowledged: number[];
  /** Ids whose outcome is unknown: the connection broke after the INSERT was sent. */
  readonly unknown: number[];
  /** Acknowledgement time of each acknowledged id (ms since the epoch). */
  readonly ackTimes: Map<number, number>;
  /** The server address (inet_server_addr) that acknowledged each id. */
  readonly ackedBy: Map<number, string>;
  /** When each failed attempt failed (ms since the epoch). */
  readonly errorTimes: number[];
}

/**
 * Commits sequential ids through one endpoint, one INSERT per transaction, reconnecting after any
 * error, until stopped. Each commit records which server acknowledged it (inet_server_addr), so a
 * test can prove that no two servers ever accepted writes at the same time.
 */
export class WriterLoop {
  private running = false;
  private loop?: Promise<void>;
  private nextId = 1;
  private readonly report: WriterReport = { acknowledged: [], unknown: [], ackTimes: new Map(), ackedBy: new Map(), errorTimes: [] };

  constructor(
    private readonly cluster: TestCluster,
    private readonly at: HostPort,
    private readonly table = 'writes',
  ) {}

  static async createTable(cluster: TestCluster, at: HostPort, table = 'writes'): Promise<void> {
    await query(cluster, at, `CREATE TABLE IF NOT EXISTS ${table} (id bigint PRIMARY KEY, server inet NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  }

  start(): this {
    this.running = true;
    this.loop = this.run();
    return this;
  }

  private async run(): Promise<void> {
    let client: Client | undefined;
    while (this.running) {
      const id = this.nextId++;
      try {
        client ??= await connect(this.cluster, this.at);
        const result = await client.query(`INSERT INTO ${this.table} (id, server) VALUES ($1, inet_server_addr()) RETURNING host(server) AS server`, [id]);
        this.report.acknowledged.push(id);
        this.report.ackTimes.set(id, Date.now());
        this.report.ackedBy.set(id, result.rows[0].server as string);
      } catch {
        this.report.errorTimes.push(Date.now());
        if (client) this.report.unknown.push(id);
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(50);
      }
      await sleep(10);
    }
    await client?.end().catch(() => undefined);
  }

  /** The first acknowledgement at or after `since` (ms since the epoch). */
  firstAckAfter(since: number): number | undefined {
    const times = [...this.report.ackTimes.values()].filter((t) => t >= since);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /**
   * When writes came back after an outage that began at or after `since`: the first
   * acknowledgement after the first failure. Undefined while writes have not failed yet, or
   * have failed and not come back. (Commits in flight when the outage began are not a recovery.)
   */
  resumedAfter(since: number): number | undefined {
    const firstFailure = this.report.errorTimes.find((t) => t >= since);
    return firstFailure === undefined ? undefined : this.firstAckAfter(firstFailure);
  }

  get acknowledgedCount(): number {
    return this.report.acknowledged.length;
  }

  /**
   * Stops the loop and returns what it saw. Bounded: an INSERT can block for good (a sync-strict
   * primary with no standby), and a hang is a finding, not a reason to wait forever.
   */
  async stop(timeoutMs = 30_000): Promise<WriterReport> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the writer loop did not stop within ${timeoutMs} ms: a write is blocked`)), timeoutMs);
    });
    try {
      await Promise.race([this.loop, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.report;
  }
}
