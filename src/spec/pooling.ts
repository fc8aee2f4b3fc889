import { z } from 'zod';
import { port, wholeNumber } from './common';
import { SpecProblem } from './problems';
import { expectation } from './validate';

/** PgBouncer's pool modes we offer (not "statement": it breaks multi-statement transactions). */
export const POOL_MODES = ['transaction', 'session'] as const;
export type PoolMode = (typeof POOL_MODES)[number];

const databaseName = z
  .string(expectation('a database name', 'name a database, e.g. "app"'))
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, expectation('a lowercase PostgreSQL identifier (letters, digits, _; 1-63, not starting with a digit)', 'name the database as PostgreSQL has it, e.g. "app"'));

/** PgBouncer on the proxy nodes, in front of the read-write and read-only frontends. */
export const poolingSchema = z
  .object({
    /** The databases clients reach through the pools. Each is sized, so there is no wildcard. */
    databases: z
      .array(databaseName, expectation('a list of database names', 'pass e.g. ["app"]'))
      .min(1, expectation('at least one database', 'list the databases the applications use, e.g. ["app"]')),
    /** "transaction" (a server connection per transaction: most clients per server) or "session". */
    poolMode: z.enum(POOL_MODES, expectation('"transaction" or "session"', 'use "transaction" unless clients need session state (prepared statements, advisory locks, SET)')).default('transaction'),
    readWritePort: port(6432),
    readOnlyPort: port(6433),
    /** Server connections of each proxy's read-write pool to each database. */
    readWritePoolSize: wholeNumber('server connections', 1, 1000, 20).default(20),
    /** Server connections of each proxy's read-only pool to each database. */
    readOnlyPoolSize: wholeNumber('server connections', 1, 1000, 20).default(20),
    /** Client connections each PgBouncer instance accepts. */
    maxClientConnections: wholeNumber('client connections', 1, 100_000, 1000).default(1000),
  })
  .strict();

export type PoolingSpecInput = z.input<typeof poolingSchema>;
export type PoolingSpec = z.output<typeof poolingSchema>;

/** PostgreSQL's default superuser_reserved_connections. */
export const DEFAULT_SUPERUSER_RESERVED_CONNECTIONS = 3;

/**
 * Connections a PostgreSQL node keeps for the stack's own clients, besides the superuser slots:
 * Patroni (its loop and a rewind or clone: 2), postgres_exporter (2, a scrape overlapping a
 * reconnect), pgBackRest (a backup with process-max 2: 3), and the job scripts (2: role and
 * lookup upkeep, checks). Walsenders have slots of their own (max_wal_senders) since PostgreSQL 12,
 * so replication takes none of max_connections.
 */
export const INFRASTRUCTURE_CONNECTIONS = { patroni: 2, exporter: 2, backups: 3, jobs: 2 } as const;

export interface PoolFitInput {
  readonly pooling: PoolingSpec;
  readonly proxyCount: number;
  /** The cluster's max_connections. */
  readonly maxConnections: number;
  readonly superuserReservedConnections: number;
}

/**
 * Whether the pools fit the servers. The primary gets every proxy's read-write pools; a replica
 * can get every proxy's read-only pools (when it is the only replica left): so each server must
 * hold proxies x databases x the larger pool, beside the superuser and infrastructure slots.
 */
export function checkPoolFit(input: PoolFitInput): SpecProblem[] {
  const { pooling, proxyCount, maxConnections, superuserReservedConnections } = input;
  const databases = pooling.databases.length;
  const larger = Math.max(pooling.readWritePoolSize, pooling.readOnlyPoolSize);
  const pooled = proxyCount * databases * larger;
  const infrastructure = Object.values(INFRASTRUCTURE_CONNECTIONS).reduce((a, b) => a + b, 0);
  const available = maxConnections - superuserReservedConnections - infrastructure;
  if (pooled <= available) return [];
  const largest = Math.max(1, Math.floor(available / (proxyCount * databases)));
  return [
    {
      path: 'pooling',
      given: { proxies: proxyCount, databases: pooling.databases, readWritePoolSize: pooling.readWritePoolSize, readOnlyPoolSize: pooling.readOnlyPoolSize },
      expected:
        `pools that fit each server: ${proxyCount} prox${proxyCount === 1 ? 'y' : 'ies'} x ${databases} database${databases === 1 ? '' : 's'} x ${larger} server connections ` +
        `(the larger of readWritePoolSize ${pooling.readWritePoolSize} and readOnlyPoolSize ${pooling.readOnlyPoolSize}) = ${pooled}, but max_connections ${maxConnections} ` +
        `- ${superuserReservedConnections} superuser_reserved_connections - ${infrastructure} for Patroni, exporters, backups and jobs leaves ${available}`,
      fix:
        `lower the pool sizes to ${largest} or less, pool fewer databases, or raise the cluster's maxConnections to ${pooled + superuserReservedConnections + infrastructure} or more`,
    },
  ];
}
