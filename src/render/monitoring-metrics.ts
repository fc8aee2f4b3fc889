/**
 * The metric names the monitoring pieces agree on: the exporter's custom queries produce them
 * (postgres_exporter names a metric `<query>_<column>`), the alert rules and the dashboard read them.
 */
export const PG_METRICS = {
  /** postgres_exporter built-ins. */
  up: 'pg_up',
  /** 1 on a replica (in recovery), 0 on a primary. */
  isReplica: 'pgha_replication_is_replica',
  /** Seconds the replica's replay is behind; 0 on a primary and on a caught-up idle replica. */
  lagSeconds: 'pgha_replication_lag_seconds',
  /** 1 while this replica's WAL receiver streams from its upstream. */
  walReceiverStreaming: 'pgha_wal_receiver_streaming',
  /** Per database (label datname), pg_stat_database's row of shared objects (NULL datname) excluded. */
  blocksHit: 'pgha_database_blks_hit',
  blocksRead: 'pgha_database_blks_read',
  commits: 'pgha_database_xact_commit',
  rollbacks: 'pgha_database_xact_rollback',
  backends: 'pgha_database_numbackends',
  databaseSizeBytes: 'pgha_database_size_bytes',
  /** age(datfrozenxid): transactions until wraparound protection starts at 2^31 - 3 million. */
  xidAge: 'pgha_database_xid_age',
  /** Connections in use (pg_stat_activity backends of clients) and max_connections. */
  connectionsUsed: 'pgha_connections_used',
  connectionsMax: 'pgha_connections_max',
  /** Per table (labels datname, schemaname, relname), the largest tables only. */
  liveTuples: 'pgha_table_n_live_tup',
  deadTuples: 'pgha_table_n_dead_tup',
  tableSizeBytes: 'pgha_table_size_bytes',
  /** pg_stat_archiver. */
  archivedCount: 'pgha_archiver_archived_count',
  archiveFailedCount: 'pgha_archiver_failed_count',
  /** Seconds since the last successfully archived segment (-1 when none yet). */
  lastArchivedAgeSeconds: 'pgha_archiver_last_archived_age_seconds',
  /** 1 when the last archiving attempt failed (last failure newer than the last success). */
  archiveFailing: 'pgha_archiver_failing',
  // Per replication slot of the node (labels slot_name, slot_type, database: '' for a physical
  // slot). Series exist only where slots do: on a primary with standbys or subscribers, on a
  // standby that others cascade from, on a replica holding Patroni's copies of logical slots.
  /** Bytes of WAL the slot keeps on this node's disk (0 when it holds none). */
  slotRetainedBytes: 'pgha_replication_slot_retained_bytes',
  /** 1 while a consumer (walsender) uses the slot. */
  slotActive: 'pgha_replication_slot_active',
  /** pg_replication_slots.wal_status as a number: SLOT_WAL_STATUS (3 = lost). */
  slotWalStatus: 'pgha_replication_slot_wal_status',
} as const;

/**
 * The values of PG_METRICS.slotWalStatus, one per wal_status of PostgreSQL 17 (worse as it grows);
 * none: the slot has reserved no WAL (restart_lsn NULL, e.g. made without immediately_reserve).
 */
export const SLOT_WAL_STATUS = { none: -1, reserved: 0, extended: 1, unreserved: 2, lost: 3 } as const;

/** Written by the BackupJob's scripts as textfiles, read by node_exporter (labels cluster, node, job). */
export const JOB_STATUS_METRICS = {
  lastSuccess: 'pgha_job_last_success_timestamp_seconds',
  lastExitCode: 'pgha_job_last_exit_code',
  drillSuccess: 'pgha_restore_drill_success',
  drillDuration: 'pgha_restore_drill_duration_seconds',
} as const;

/** Labels every scraped series gets from the scrape config: the cluster and the node's name. */
export const TARGET_LABELS = { cluster: 'cluster', node: 'node', role: 'pgha_role' } as const;

/** Scrape job names. */
export const SCRAPE_JOBS = { postgres: 'pgha-postgres', node: 'pgha-node' } as const;
