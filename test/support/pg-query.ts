import { Client } from 'pg';
import { HostPort } from '../../src/runner/local-cluster';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** Runs `text` on a fresh connection to host:port (database postgres unless named) and returns its rows. */
export async function queryAt<T = Record<string, unknown>>(at: HostPort, credentials: Credentials, text: string, timeoutMs = 20_000, database = 'postgres'): Promise<T[]> {
  const client = new Client({ ...at, ...credentials, database, connectionTimeoutMillis: 5_000, query_timeout: timeoutMs });
  // A connection the server closes while idle (a stop or promotion) emits 'error'; the query reports it.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}
