import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { POSTGRES_SERVICE } from '../../node-plan/primary-with-replicas-plan';
import { standbySlotName } from '../../spec/primary-with-replicas';
import { Credentials } from './cluster-checks';
import { LocalEndpoints, endpointsPath, localStopService } from './local-cluster';

export interface PromoteReport {
  /** The primary that was stopped first (fenced), if one was running. */
  readonly fenced?: string;
  readonly promoted: string;
  /** Standbys now streaming from the new primary. */
  readonly repointed: string[];
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

/**
 * `pgha local promote NODE` for a PrimaryWithReplicas: the manual failover, scripted. It stops the
 * running primary first (so there are never two: HAProxy follows the role agents, and two nodes
 * answering /primary would split the writes), promotes NODE (pg_promote, waiting for it), then
 * points every other standby at it: its slot on the new primary, then its primary_conninfo (ALTER
 * SYSTEM and a reload; the standbys follow the new timeline, recovery_target_timeline = latest).
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
  for (const primary of primaries) await localStopService(dir, primary.name, POSTGRES_SERVICE);

  await withClient(target, credentials, (c) => c.query('SELECT pg_promote(true, 60)'));
  const repointed: string[] = [];
  for (const { member, recovery } of roles) {
    if (member === target || recovery !== true) continue;
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
  return { fenced: primaries[0]?.name, promoted: node, repointed };
}
