/**
 * PgBouncer on the proxies, run for real on 127.74.x.y: the reference topology (async) with
 * `pooling` of database "app" and pools of 3 server connections. An application role logs in
 * through the pools with its own password (looked up with auth_query once the auth job has run),
 * the read-write pool reaches the primary and the read-only pool a replica, and more clients than
 * the pool holds are all served while the primary sees at most the pool's connections.
 */
import { Client } from 'pg';
import { localRunJob } from '../../src/runner/local-cluster';
import { PGBOUNCER_AUTH_JOB } from '../../src/node-plan/pgbouncer-plan';
import { HostPort } from '../../src/runner/local-cluster';
import { TestCluster, eventually, leaderName, startTestCluster, stopTestCluster } from '../support/local-cluster';

const BLOCK = 74;
const POOL_SIZE = 3;
const CLIENTS = 24;
const APP = { user: 'app_user', password: 'App-pw-4c1d9e', database: 'app' };

async function asApp<T>(at: HostPort, run: (client: Client) => Promise<T>, credentials: { user: string; password: string; database?: string } = APP): Promise<T> {
  const client = new Client({ host: at.host, port: at.port, user: credentials.user, password: credentials.password, database: credentials.database ?? APP.database, connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function superuserQuery<T = Record<string, unknown>>(cluster: TestCluster, text: string, database = 'postgres'): Promise<T[]> {
  return asApp(cluster.endpoints.writer, async (client) => (await client.query(text)).rows as T[], { ...cluster.superuser, database });
}

describe('PgBouncer on the proxies (pooling), on 127.74.x.y', () => {
  let cluster: TestCluster | undefined;
  let pooledWriter: HostPort;
  let pooledReader: HostPort;

  beforeAll(async () => {
    cluster = await startTestCluster({
      addressBlock: BLOCK,
      replicationMode: 'async',
      topology: { frontends: { pooling: { databases: ['app'], readWritePoolSize: POOL_SIZE, readOnlyPoolSize: POOL_SIZE } } },
    });
    pooledWriter = cluster.endpoints.pooledWriter!;
    pooledReader = cluster.endpoints.pooledReader!;
  }, 180_000);
  afterAll(() => stopTestCluster(cluster), 120_000);

  test('THEN the endpoints name the pooled ports of the first proxy', () => {
    expect(pooledWriter).toEqual({ host: cluster!.endpoints.writer.host, port: 6432 });
    expect(pooledReader).toEqual({ host: cluster!.endpoints.writer.host, port: 6433 });
  });

  test('WHEN the application creates its database and role and the auth job runs THEN the role logs in through both pools with its own password', async () => {
    await superuserQuery(cluster!, 'CREATE DATABASE app');
    await superuserQuery(cluster!, `SET password_encryption = 'scram-sha-256'; CREATE ROLE ${APP.user} LOGIN PASSWORD '${APP.password}'`);
    await superuserQuery(cluster!, `CREATE TABLE items (id int PRIMARY KEY); GRANT SELECT, INSERT ON items TO ${APP.user}`, 'app');
    // The job's after-start run came before the database existed; this is its next run.
    const leader = (await leaderName(cluster!))!;
    const result = await localRunJob(cluster!.dir, leader, PGBOUNCER_AUTH_JOB, { timeoutMs: 60_000 });
    expect({ exitCode: result.exitCode, output: result.output }).toEqual({ exitCode: 0, output: expect.stringContaining('lookup in place in database app') });

    expect(await asApp(pooledWriter, async (c) => (await c.query('SELECT pg_is_in_recovery() AS r, current_user AS u')).rows[0])).toEqual({ r: false, u: APP.user });
    await asApp(pooledWriter, (c) => c.query('INSERT INTO items VALUES (1)'));
    // The replicas get the role, the lookup function and the row by replication.
    const onReplica = await eventually('the read-only pool to serve the row from a replica', 30_000, async () => {
      const row = await asApp(pooledReader, async (c) => (await c.query('SELECT pg_is_in_recovery() AS r, count(*)::int AS n FROM items')).rows[0]);
      return row.n === 1 ? row : undefined;
    });
    expect(onReplica).toEqual({ r: true, n: 1 });
  }, 120_000);

  test('THEN a wrong password, the superuser and a database that is not pooled are refused by PgBouncer', async () => {
    await expect(asApp(pooledWriter, (c) => c.query('SELECT 1'), { ...APP, password: 'wrong' })).rejects.toThrow(/SASL authentication failed|password authentication failed/);
    // The lookup does not answer for a superuser: PgBouncer knows no such user (before any password exchange).
    await expect(asApp(pooledWriter, (c) => c.query('SELECT 1'), { ...cluster!.superuser, database: 'app' })).rejects.toThrow(/no such user/);
    // A database that is not pooled gets a fake password exchange, indistinguishable from a wrong password.
    await expect(asApp(pooledWriter, (c) => c.query('SELECT 1'), { ...APP, database: 'postgres' })).rejects.toThrow(/SASL authentication failed/);
  }, 60_000);

  test(`WHEN ${CLIENTS} clients run at once through a pool of ${POOL_SIZE} THEN every one is served, over at most ${POOL_SIZE} server connections`, async () => {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await superuserQuery<{ n: number }>(cluster!, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = '${APP.user}' AND datname = 'app'`);
        peak = Math.max(peak, row.n);
        await new Promise((done) => setTimeout(done, 50));
      }
    })();
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => asApp(pooledWriter, async (c) => (await c.query('SELECT pg_sleep(0.25), $1::int AS i', [i])).rows[0].i as number)),
    );
    sampling = false;
    await sampler;
    expect(results).toEqual(Array.from({ length: CLIENTS }, (_, i) => i));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(POOL_SIZE);
  }, 90_000);
});
