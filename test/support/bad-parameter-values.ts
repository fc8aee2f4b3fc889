/**
 * The parameter values the invalid-input corpus (test/unit/invalid-input.test.ts) gives a cluster,
 * which PostgreSQL 17 itself refuses: test/tools/postgresql-catalogue.test.ts shows the real
 * `postgres` refusing each one, so the corpus and the server agree. (The corpus's contradictions,
 * such as archive_mode "off" on a cluster with an archive, are values PostgreSQL accepts: they are
 * wrong for the cluster, not for PostgreSQL.)
 */
export const BAD_PARAMETER_VALUES: readonly (readonly [string, string | number | boolean])[] = [
  ['work_mem', '-1MB'],
  ['shared_buffers', 'lots'],
  ['superuser_reserved_connections', -100],
  ['work_mme', '16MB'],
  ['block_size', 16384],
  ['log_min_messages', 'verbose'],
  ['statement_timeout', '5 weeks'],
  ['jit', 'maybe'],
  ['checkpoint_completion_target', 1.5],
  ['maintenance_work_mem', '-64MB'],
  ['shared_bufers', '1GB'],
];
