import { stringify } from 'yaml';
import { SLOT_WAL_STATUS } from './monitoring-metrics';

/**
 * postgres_exporter 0.17's custom queries file (`--extend.query-path`): what the built-in
 * collectors lack on PostgreSQL 17, under the metric names of PG_METRICS (monitoring-metrics.ts).
 * 0.17.1 marks the flag DEPRECATED (it logs a warning at start) but reads the file as 0.11 did.
 *
 * The format (unchanged since 0.11, read with go-yaml v2): one top-level key per query (the
 * metric namespace), with `query`, `master` (run once per server, not once per auto-discovered
 * database; without --auto-discover-databases every DSN counts as the master), optional
 * `cache_seconds`, and `metrics`, a list of one-key maps
 * `column: { usage: LABEL | GAUGE | COUNTER, description }`. The exporter names each non-LABEL
 * column's metric `<namespace>_<column>`, labelled by the LABEL columns; a column missing from
 * `metrics` would still be exported (untyped), so every query lists all of its columns.
 *
 * Every query runs on a primary and on a hot standby (nothing that needs a writable server:
 * pg_current_wal_lsn(), which fails during recovery, only in the branch of a CASE that
 * pg_is_in_recovery() keeps for a primary) as a role that has only pg_monitor (monitoring-role.ts),
 * and never returns NULL where a number is expected (the exporter would export NaN).
 */

export type ColumnUsage = 'LABEL' | 'GAUGE' | 'COUNTER';

export interface ExporterColumn {
  readonly name: string;
  readonly usage: ColumnUsage;
  readonly description: string;
}

export interface ExporterQuery {
  /** The metric namespace: metrics are named `<name>_<column>`. */
  readonly name: string;
  /** Instance-wide (true) or about the database the exporter connects to (false). */
  readonly master: boolean;
  /** Reuse the last result for this long (`cache_seconds`); absent: run on every scrape. */
  readonly cacheSeconds?: number;
  readonly query: string;
  readonly columns: readonly ExporterColumn[];
}

/** At most this many tables (the largest, with their indexes and TOAST) get per-table series. */
export const TABLE_METRICS_LIMIT = 100;

const label = (name: string, description: string): ExporterColumn => ({ name, usage: 'LABEL', description });
const gauge = (name: string, description: string): ExporterColumn => ({ name, usage: 'GAUGE', description });
const counter = (name: string, description: string): ExporterColumn => ({ name, usage: 'COUNTER', description });

const sql = (lines: string[]) => `${lines.join('\n')}\n`;

export const EXPORTER_QUERIES: readonly ExporterQuery[] = [
  {
    name: 'pgha_replication',
    master: true,
    // A replica whose received WAL is all replayed is as current as its upstream lets it be: 0,
    // not the age of the last replayed commit (which grows forever while the primary is idle).
    // Otherwise the age of the last replayed commit, never negative (clock skew between nodes).
    // A replica that has replayed no commit since it started has no such timestamp: the time since
    // it started stands in, so that a replica stuck right after a restart still shows a growing lag.
    query: sql([
      'SELECT',
      '  CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica,',
      '  CASE',
      '    WHEN NOT pg_is_in_recovery() THEN 0',
      '    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0',
      '    ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - COALESCE(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())))',
      '  END AS lag_seconds',
    ]),
    columns: [
      gauge('is_replica', '1 when this server is a replica (in recovery), 0 on a primary'),
      gauge(
        'lag_seconds',
        'Seconds since the last replayed commit (or since the start, when none was replayed yet) while received WAL waits for replay; 0 on a primary and on a replica that has replayed all it received',
      ),
    ],
  },
  {
    name: 'pgha_wal_receiver',
    master: true,
    // pg_stat_wal_receiver has no row on a primary (or a replica without a receiver): count() keeps one row.
    query: sql(["SELECT count(*) FILTER (WHERE status = 'streaming') AS streaming", 'FROM pg_stat_wal_receiver']),
    columns: [gauge('streaming', '1 while the WAL receiver streams from its upstream, else 0 (always 0 on a primary)')],
  },
  {
    name: 'pgha_database',
    master: true,
    // Driven by pg_database: pg_stat_database's row for shared objects (datid 0, NULL datname,
    // still there in PG17) never appears. template0 stays: its datfrozenxid counts for wraparound too.
    // datconnlimit -2 marks a database whose DROP was interrupted (PG 15.4+): skipped.
    query: sql([
      'SELECT',
      '  d.datname,',
      '  s.blks_hit,',
      '  s.blks_read,',
      '  s.xact_commit,',
      '  s.xact_rollback,',
      '  s.numbackends,',
      '  pg_database_size(d.oid) AS size_bytes,',
      '  age(d.datfrozenxid) AS xid_age',
      'FROM pg_database d',
      'JOIN pg_stat_database s ON s.datid = d.oid',
      'WHERE d.datconnlimit <> -2',
    ]),
    columns: [
      label('datname', 'Name of the database'),
      counter('blks_hit', 'Disk blocks found in shared buffers'),
      counter('blks_read', 'Disk blocks read (not in shared buffers)'),
      counter('xact_commit', 'Transactions committed'),
      counter('xact_rollback', 'Transactions rolled back'),
      gauge('numbackends', 'Backends connected to this database'),
      gauge('size_bytes', 'Disk space used by the database (pg_database_size)'),
      gauge('xid_age', 'age(datfrozenxid): transactions since the oldest unfrozen XID; wraparound protection stops writes near 2^31'),
    ],
  },
  {
    name: 'pgha_connections',
    master: true,
    // max_connections limits client backends only (WAL senders, autovacuum and background workers
    // have their own limits), so `used` counts exactly those. Of max_connections,
    // superuser_reserved_connections (3 by default) are kept for superusers: ordinary roles are
    // refused at max - reserved. It is not exported: the contract compares used with max.
    query: sql([
      'SELECT',
      "  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS used,",
      "  current_setting('max_connections')::int AS max",
    ]),
    columns: [
      gauge('used', 'Client backends connected (pg_stat_activity, backend_type client backend)'),
      gauge('max', 'max_connections'),
    ],
  },
  {
    name: 'pgha_table',
    master: false,
    // Bounded cardinality: the largest user tables only. Dead tuples move slowly: a cached result
    // spares the size calculation of every table on each scrape.
    cacheSeconds: 30,
    query: sql([
      'SELECT',
      '  current_database() AS datname,',
      '  s.schemaname,',
      '  s.relname,',
      '  s.n_live_tup,',
      '  s.n_dead_tup,',
      '  COALESCE(pg_total_relation_size(s.relid), 0) AS size_bytes',
      'FROM pg_stat_user_tables s',
      'ORDER BY size_bytes DESC, s.schemaname, s.relname',
      `LIMIT ${TABLE_METRICS_LIMIT}`,
    ]),
    columns: [
      label('datname', 'Name of the database'),
      label('schemaname', 'Schema of the table'),
      label('relname', 'Name of the table'),
      gauge('n_live_tup', 'Estimated live rows'),
      gauge('n_dead_tup', 'Estimated dead rows (removed by the next vacuum)'),
      gauge('size_bytes', 'Disk space of the table with its indexes and TOAST (pg_total_relation_size)'),
    ],
  },
  {
    name: 'pgha_archiver',
    master: true,
    query: sql([
      'SELECT',
      '  archived_count,',
      '  failed_count,',
      '  CASE WHEN last_archived_time IS NULL THEN -1',
      '    ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - last_archived_time)) END AS last_archived_age_seconds,',
      '  CASE WHEN last_failed_time IS NOT NULL',
      '    AND (last_archived_time IS NULL OR last_failed_time > last_archived_time) THEN 1 ELSE 0 END AS failing',
      'FROM pg_stat_archiver',
    ]),
    columns: [
      counter('archived_count', 'WAL files archived successfully'),
      counter('failed_count', 'Failed attempts to archive a WAL file'),
      gauge('last_archived_age_seconds', 'Seconds since the last WAL file was archived; -1 when none was since the statistics were reset'),
      gauge('failing', '1 when the last archiving attempt failed (last failure newer than the last success)'),
    ],
  },
  {
    name: 'pgha_replication_slot',
    master: true,
    // One row per slot: physical ones (a standby's, named after it; pg_basebackup's temporary
    // pg_basebackup_<pid>), logical ones (a subscription's sub_<cluster>_<subscription>, its
    // table-copy slots pg_<oid>_sync_...). No row, no series: a node without slots reports none.
    // `database` is '' for a physical slot; for a logical one it names the database the
    // subscription reads (the slot name says which subscription, not which database).
    // retained_bytes is the WAL this node keeps for the slot: from restart_lsn to the WAL written
    // (pg_current_wal_lsn()) on a primary; on a standby to the WAL replayed (pg_last_wal_replay_lsn()),
    // since a standby's restartpoints remove WAL up to its replay position and no further back than
    // its slots' restart_lsn. A standby's slots are real: a cascading standby's slot on its upstream
    // standby, Patroni's copies of the logical slots on replicas (advanced by Patroni as the
    // subscriber confirms; a stuck subscriber holds WAL back on every replica too). Never negative:
    // a copied slot can be ahead of a lagging replica's replay. 0 when restart_lsn is NULL: a slot
    // made without reserving WAL, or a lost one (PG17 clears restart_lsn when it invalidates a slot).
    // wal_status (PG13+) as SLOT_WAL_STATUS: reserved (within max_wal_size), extended (beyond it,
    // still kept), unreserved (beyond max_slot_wal_keep_size: removed at the next checkpoint), lost
    // (removed: the consumer can never resume from this slot). The last two happen only when
    // max_slot_wal_keep_size is set (>= 0); with its default -1 a slot keeps WAL until the disk is full.
    query: sql([
      'SELECT',
      '  slot_name,',
      '  slot_type,',
      "  COALESCE(database, '') AS database,",
      '  CASE WHEN active THEN 1 ELSE 0 END AS active,',
      '  CASE',
      '    WHEN restart_lsn IS NULL THEN 0',
      '    WHEN pg_is_in_recovery() THEN GREATEST(0, COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), restart_lsn), 0))',
      '    ELSE GREATEST(0, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn))',
      '  END::bigint AS retained_bytes,',
      '  CASE wal_status',
      ...Object.entries(SLOT_WAL_STATUS)
        .filter(([status]) => status !== 'none')
        .map(([status, code]) => `    WHEN '${status}' THEN ${code}`),
      `    ELSE ${SLOT_WAL_STATUS.none}`,
      '  END AS wal_status',
      'FROM pg_replication_slots',
    ]),
    columns: [
      label('slot_name', 'Name of the replication slot'),
      label('slot_type', 'physical or logical'),
      label('database', "Database of a logical slot; '' for a physical slot"),
      gauge('active', '1 while a consumer (walsender) uses the slot, else 0'),
      gauge(
        'retained_bytes',
        'Bytes of WAL kept on this node for the slot: from its restart_lsn to the current WAL position on a primary, to the replayed position on a standby; 0 when it reserves none (or was lost)',
      ),
      gauge('wal_status', 'wal_status of the slot: 0 reserved, 1 extended, 2 unreserved, 3 lost (its WAL was removed), -1 no WAL reserved'),
    ],
  },
];

/**
 * Built-in queries of postgres_exporter 0.17.1 replaced by a query of the same name (the exporter
 * lets a user query override a built-in one: its metric names, labels and types stay). Not part of
 * the PG_METRICS contract; kept for whoever reads the built-in names.
 */
export const BUILT_IN_OVERRIDES: readonly ExporterQuery[] = [
  {
    name: 'pg_replication_slots',
    master: true,
    // 0.11's built-in computed pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) on every node and
    // failed on a standby that has slots (prometheus-community/postgres_exporter #547, #962). Since
    // 0.16.0 (#1048) the built-in measures a standby against the WAL it received
    // (pg_last_wal_receive_lsn()) and no longer fails. This one measures a standby against the
    // replayed WAL, as pgha_replication_slot does, so the two names agree; unchanged on a primary
    // (including NaN for a slot without restart_lsn, as the built-in exports it).
    query: sql([
      'SELECT',
      '  slot_name,',
      '  database,',
      '  active,',
      '  CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), restart_lsn)',
      '    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END AS pg_wal_lsn_diff',
      'FROM pg_replication_slots',
    ]),
    columns: [
      label('slot_name', 'Name of the replication slot'),
      label('database', 'Name of the database'),
      gauge('active', 'Flag indicating if the slot is active'),
      gauge('pg_wal_lsn_diff', 'Replication lag in bytes'),
    ],
  },
];

/** Every metric name the queries produce (`<query>_<column>` of each non-LABEL column). */
export const EXPORTER_METRIC_NAMES: readonly string[] = EXPORTER_QUERIES.flatMap((query) =>
  query.columns.filter((column) => column.usage !== 'LABEL').map((column) => `${query.name}_${column.name}`),
);

/** The custom queries file for postgres_exporter 0.17.1 (`--extend.query-path`). */
export function renderExporterQueries(): string {
  const document: Record<string, unknown> = {};
  for (const query of [...EXPORTER_QUERIES, ...BUILT_IN_OVERRIDES]) {
    document[query.name] = {
      query: query.query,
      master: query.master,
      ...(query.cacheSeconds !== undefined ? { cache_seconds: query.cacheSeconds } : {}),
      metrics: query.columns.map((column) => ({ [column.name]: { usage: column.usage, description: column.description } })),
    };
  }
  const header = '# Generated by cdktf-postgres-ha: postgres_exporter 0.17 custom queries. Changes are overwritten on the next deploy.\n';
  return header + stringify(document, { blockQuote: 'literal', lineWidth: 0 });
}
