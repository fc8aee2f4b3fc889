import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { POSTGRES_SERVICE } from '../node-plan/primary-with-replicas-plan';
import { standbySlotName } from '../spec/primary-with-replicas';
import { Credentials } from './cluster-checks';
import { LocalEndpoints, endpointsPath, localStopService } from './local-cluster';

export interface PromoteReport {
  /** The primary that was stopped first (fenced), if one was running. */
  readonly fenced?: string;
  readonly promoted: string;
  /** Standbys now streaming from the new primary. */
  readonly repointed: string[];
  /** A cascading standby promoted: its slot, dropped on its former upstream (or WAL would pile up there). */
  readonly droppedSlot?: string;
}

type Member = LocalEndpoints['members'][number];

async function withClient<T>(member: Member, credentials: Credentials, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ host: member.host, port: member.port, ...credentials, database: 'postgres', connectionTimeoutMillis: 3_000, query_timeout: 70_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const inRecovery = (member: Member, credentials: Credentials) =>
  withClient(member, credentials, async (c) => (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r as boolean).catch(() => undefined);

const primaryConninfo = (member: Member, credentials: Credentials) =>
  withClient(member, credentials, async (c) => (await c.query('SHOW primary_conninfo')).rows[0].primary_conninfo as string);

const hostOf = (conninfo: string) => /\bhost=(\S+)/.exec(conninfo)?.[1];
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * `pgha local promote NODE` for a PrimaryWithReplicas: the manual failover, scripted. It stops the
 * running primary first (so there are never two: HAProxy follows the role agents, and two nodes
 * answering /primary would split the writes), promotes NODE (pg_promote, waiting for it), then
 * points the standbys that followed the old primary at it: its slot on the new primary, then its
 * primary_conninfo (ALTER SYSTEM and a reload; the standbys follow the new timeline,
 * recovery_target_timeline = latest). Cascading standbys keep their upstream: a running standby,
 * or NODE itself (now the primary). When NODE cascaded, its slot on its former upstream is dropped.
 * The old primary stays stopped: rebuild it as a standby before starting it again (README).
 */
export async function localPromote(dir: string, node: string): Promise<PromoteReport> {
  const endpoints = JSON.parse(readFileSync(endpointsPath(resolve(dir)), 'utf8')) as LocalEndpoints;
  const credentials: Credentials = endpoints.superuser;
  const target = endpoints.members.find((m) => m.name === node);
  if (!target) throw new Error(`pgha local promote: no member ${node} in ${dir}; its members: ${endpoints.members.map((m) => m.name).join(', ')}`);
  const roles = await Promise.all(endpoints.members.map(async (m) => ({ member: m, recovery: await inRecovery(m, credentials) })));
  if (roles.find((r) => r.member === target)?.recovery !== true) {
    throw new Error(`pgha local promote: ${node} is not a running standby (it is ${roles.find((r) => r.member === target)?.recovery === false ? 'the primary' : 'not answering'}); name a standby`);
  }
  const primaries = roles.filter((r) => r.recovery === false).map((r) => r.member);
  // Who streams from whom, before anything changes: a standby upstream keeps its cascading standbys.
  const standbyHosts = new Set(roles.filter((r) => r.recovery === true).map((r) => r.member.host));
  const upstreamHosts = new Map(await Promise.all(roles.filter((r) => r.recovery === true).map(async (r) => [r.member, hostOf(await primaryConninfo(r.member, credentials))] as const)));
  for (const primary of primaries) await localStopService(dir, primary.name, POSTGRES_SERVICE);
  await catchUp(target, [...upstreamHosts.keys()], credentials);

  await withClient(target, credentials, (c) => c.query('SELECT pg_promote(true, 60)'));
  const repointed: string[] = [];
  for (const [member, upstreamHost] of upstreamHosts) {
    if (member === target || (upstreamHost !== undefined && standbyHosts.has(upstreamHost))) continue;
    const slot = standbySlotName(member.name);
    await withClient(target, credentials, (c) =>
      c.query('SELECT pg_create_physical_replication_slot($1) WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)', [slot]),
    );
    await withClient(member, credentials, async (c) => {
      const current = (await c.query('SHOW primary_conninfo')).rows[0].primary_conninfo as string;
      const next = /\bhost=\S+/.test(current) ? current.replace(/\bhost=\S+/, `host=${target.host}`) : `${current} host=${target.host}`;
      // ALTER SYSTEM takes no parameters: the value is quoted as a literal.
      await c.query(`ALTER SYSTEM SET primary_conninfo = ${c.escapeLiteral(next)}`);
      await c.query('SELECT pg_reload_conf()');
    });
    repointed.push(member.name);
  }
  const formerUpstream = endpoints.members.find((m) => m !== target && m.host === upstreamHosts.get(target) && standbyHosts.has(m.host));
  const droppedSlot = formerUpstream ? await dropSlotWhenInactive(formerUpstream, credentials, standbySlotName(node)) : undefined;
  return { fenced: primaries[0]?.name, promoted: node, repointed, ...(droppedSlot ? { droppedSlot: `${droppedSlot} on ${formerUpstream!.name}` } : {}) };
}

/**
 * Waits (10 s at most) until the target has replayed all the WAL any standby has received: a
 * standby ahead of the new primary's switch point could not follow its timeline. A cascading
 * target relays what its upstream received last.
 */
async function catchUp(target: Member, standbys: readonly Member[], credentials: Credentials): Promise<void> {
  const received = await Promise.all(
    standbys.map((m) => withClient(m, credentials, async (c) => (await c.query('SELECT pg_last_wal_receive_lsn()::text AS lsn')).rows[0].lsn as string | null).catch(() => null)),
  );
  const lsns = received.filter((lsn): lsn is string => lsn !== null);
  for (let attempt = 0; attempt < 20 && lsns.length > 0; attempt++) {
    const behind = await withClient(target, credentials, async (c) =>
      (await c.query('SELECT bool_or(pg_wal_lsn_diff(lsn::pg_lsn, pg_last_wal_replay_lsn()) > 0) AS behind FROM unnest($1::text[]) AS lsn', [lsns])).rows[0].behind as boolean,
    );
    if (!behind) return;
    await sleep(500);
  }
}

/** Drops a slot once its walsender has gone (the promoted node stops streaming as it promotes); 15 s at most. */
async function dropSlotWhenInactive(member: Member, credentials: Credentials, slot: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 30; attempt++) {
    const state = await withClient(member, credentials, async (c) => {
      const [found] = (await c.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows;
      if (!found) return 'none';
      if (found.active) return 'active';
      await c.query('SELECT pg_drop_replication_slot($1)', [slot]);
      return 'dropped';
    }).catch(() => 'active');
    if (state === 'none') return undefined;
    if (state === 'dropped') return slot;
    await sleep(500);
  }
  throw new Error(`pgha local promote: the slot ${slot} on ${member.name} stayed in use for 15 s; drop it by hand there: SELECT pg_drop_replication_slot('${slot}')`);
}
