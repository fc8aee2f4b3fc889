import { request } from 'node:http';
import { Client } from 'pg';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** One bounded HTTP request; never throws on a status, only when nothing answers. */
export function http(
  url: string,
  options: { method?: string; body?: unknown; auth?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        auth: options.auth,
        timeout: options.timeoutMs ?? 3_000,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 3_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function etcdHealthy(endpoint: string): Promise<boolean> {
  try {
    const answer = await http(`http://${endpoint}/health`);
    return answer.status === 200 && JSON.parse(answer.body).health === 'true';
  } catch {
    return false;
  }
}

/** A member as Patroni's GET /cluster reports it. */
export interface PatroniMember {
  readonly name: string;
  readonly role: string;
  readonly state: string;
  readonly host: string;
  readonly port: number;
  readonly api_url?: string;
  readonly timeline?: number;
  readonly lag?: number | string;
}

export async function patroniCluster(restApi: string): Promise<PatroniMember[]> {
  const answer = await http(`http://${restApi}/cluster`);
  if (answer.status !== 200) throw new Error(`GET ${restApi}/cluster answered ${answer.status}`);
  return JSON.parse(answer.body).members ?? [];
}

/** The replication list of a primary (GET / on its REST API). */
export interface ReplicationEntry {
  readonly application_name: string;
  readonly state: string;
  readonly sync_state: string;
}

export async function replicationOf(restApi: string): Promise<ReplicationEntry[]> {
  const answer = await http(`http://${restApi}/`);
  return JSON.parse(answer.body).replication ?? [];
}

export interface ClusterHealth {
  readonly healthy: boolean;
  /** What is still missing, for progress and error messages. */
  readonly waitingFor: string;
  readonly leader?: string;
  readonly streaming: readonly string[];
  readonly synchronous: readonly string[];
}

/**
 * Healthy: one leader, every other member streaming from it or from its upstream (a cascading
 * replica), and as many synchronous standbys as configured, both in PostgreSQL and in Patroni.
 * Asks any member that answers.
 */
export async function clusterHealth(restApis: readonly string[], expectedSync: number): Promise<ClusterHealth> {
  let members: PatroniMember[] | undefined;
  for (const api of restApis) {
    try {
      members = await patroniCluster(api);
      break;
    } catch {
      // Try the next member.
    }
  }
  const none = { healthy: false, streaming: [], synchronous: [] };
  if (!members) return { ...none, waitingFor: 'a Patroni REST API to answer' };
  const leaders = members.filter((m) => m.role === 'leader');
  if (leaders.length !== 1) return { ...none, waitingFor: `one leader (have ${leaders.length})` };
  const leader = leaders[0];
  const leaderApi = restApis.find((api) => api.startsWith(`${leader.host}:`)) ?? `${leader.host}:8008`;
  const replication = await replicationOf(leaderApi).catch(() => [] as ReplicationEntry[]);
  // A cascading replica (PatroniCluster replicateFrom, Patroni's replicatefrom tag) streams from
  // another replica, whose REST API lists it: every member's list counts for streaming, the
  // leader's alone for synchronous standbys. Only members count: while a replica is being built,
  // pg_basebackup's own WAL stream shows as "streaming" under application_name pg_basebackup.
  const cascaded = await Promise.all(restApis.filter((api) => api !== leaderApi).map((api) => replicationOf(api).catch(() => [] as ReplicationEntry[])));
  const replicaNames = new Set(members.filter((m) => m.name !== leader.name).map((m) => m.name));
  const streaming = [
    ...new Set([...replication, ...cascaded.flat()].filter((r) => r.state === 'streaming' && replicaNames.has(r.application_name)).map((r) => r.application_name)),
  ];
  // Synchronous for PostgreSQL (pg_stat_replication) and for Patroni (its /sync key, which decides
  // who may be promoted): the second follows the first by up to a loop.
  const syncStandbys = new Set(members.filter((m) => m.role === 'sync_standby').map((m) => m.name));
  const synchronous = replication.filter((r) => r.sync_state === 'sync' && syncStandbys.has(r.application_name)).map((r) => r.application_name);
  const replicas = restApis.length - 1;
  if (streaming.length < replicas) {
    return { healthy: false, leader: leader.name, streaming, synchronous, waitingFor: `${replicas} replicas streaming (have ${streaming.length})` };
  }
  if (synchronous.length < expectedSync) {
    return { healthy: false, leader: leader.name, streaming, synchronous, waitingFor: `${expectedSync} synchronous standby(s) (have ${synchronous.length})` };
  }
  return { healthy: true, leader: leader.name, streaming, synchronous, waitingFor: '' };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** One query as the superuser over TCP (database postgres), on a short-lived connection with short timeouts. */
async function queryRows(host: string, port: number, credentials: Credentials, text: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ host, port, ...credentials, database: 'postgres', connectionTimeoutMillis: 3_000, query_timeout: 3_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `SELECT pg_is_in_recovery()` through host:port, or an Error saying why not. */
export async function inRecovery(host: string, port: number, credentials: Credentials): Promise<boolean> {
  return (await queryRows(host, port, credentials, 'SELECT pg_is_in_recovery() AS recovery'))[0].recovery as boolean;
}

/** The walsenders of a PostgreSQL server (pg_stat_replication), as the superuser over TCP. */
export async function replicationRows(host: string, port: number, credentials: Credentials): Promise<ReplicationEntry[]> {
  return (await queryRows(host, port, credentials, 'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name')) as unknown as ReplicationEntry[];
}

/**
 * Whether a standby's WAL receiver streams, asked of the standby itself: the primary's
 * pg_stat_replication cannot tell a standby from the pg_basebackup copying it (both stream under
 * the standby's application_name).
 */
export async function walReceiverStreaming(host: string, port: number, credentials: Credentials): Promise<boolean> {
  return (await queryRows(host, port, credentials, "SELECT count(*)::int AS n FROM pg_stat_wal_receiver WHERE status = 'streaming'"))[0].n === 1;
}

/** Server states of one HAProxy backend from its stats CSV: name -> "UP" / "DOWN" / ... */
export async function haproxyServers(stats: string, auth: string, backend: string): Promise<Record<string, string>> {
  const answer = await http(`http://${stats}/;csv`, { auth });
  if (answer.status !== 200) throw new Error(`HAProxy stats at ${stats} answered ${answer.status}`);
  const [header, ...rows] = answer.body.trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const at = (row: string[], column: string) => row[columns.indexOf(column)];
  const servers: Record<string, string> = {};
  for (const row of rows.map((line) => line.split(','))) {
    const name = at(row, 'svname');
    // A server counts only once a real check ran: right after start HAProxy shows every server UP.
    if (at(row, 'pxname') === backend && name !== 'FRONTEND' && name !== 'BACKEND') {
      servers[name] = at(row, 'check_status')?.startsWith('L7') ? at(row, 'status') : 'UNCHECKED';
    }
  }
  return servers;
}
