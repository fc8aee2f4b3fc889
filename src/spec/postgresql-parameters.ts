import { SpecProblem } from './problems';

export type ParameterValue = string | number | boolean;

/**
 * Parameters Patroni sets itself, or that this library sets from a dedicated prop. Setting them
 * in `postgresqlParameters` would fight Patroni (or silently lose), so they are refused with the
 * way to get what the user wanted.
 */
const OWNED: Record<string, string> = {
  listen_addresses: 'Patroni sets it from the node address; nothing to set',
  port: 'use the postgresPort prop',
  cluster_name: 'Patroni sets it to the cluster name; use clusterName',
  hot_standby: 'Patroni keeps it on so replicas serve reads; remove it',
  synchronous_standby_names: 'Patroni manages it; use replicationMode and synchronousNodeCount',
  synchronous_commit: 'use replicationMode ("sync" or "sync-strict") instead',
  primary_conninfo: 'Patroni writes it for each replica; remove it',
  primary_slot_name: 'Patroni manages replication slots; remove it',
  restore_command: 'set by the archive configuration; remove it',
  archive_command: 'set by the archive configuration; remove it',
  data_directory: 'the data directory is fixed by the node layout; remove it',
  config_file: 'Patroni writes postgresql.conf; remove it',
  hba_file: 'Patroni writes pg_hba.conf; remove it',
  ident_file: 'Patroni writes pg_ident.conf; remove it',
  unix_socket_directories: 'fixed by the node layout; remove it',
  max_connections: 'use the maxConnections prop',
  wal_log_hints: 'pg_rewind needs it on; Patroni keeps it on; remove it',
};

const WAL_LEVELS = ['replica', 'logical'];

export function checkPostgresqlParameters(parameters: Record<string, ParameterValue>): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const [name, value] of Object.entries(parameters)) {
    const path = `postgresqlParameters.${name}`;
    if (!/^[a-z_][a-z0-9_.]*$/.test(name)) {
      problems.push({ path, given: name, expected: 'a PostgreSQL parameter name (lower case)', fix: `check the spelling of "${name}"` });
    } else if (name in OWNED) {
      problems.push({ path, given: value, expected: `no "${name}" (Patroni or this library owns it)`, fix: OWNED[name] });
    } else if (name === 'wal_level' && !WAL_LEVELS.includes(String(value))) {
      problems.push({
        path,
        given: value,
        expected: 'wal_level "replica" or "logical": streaming replication needs at least "replica"',
        fix: 'remove wal_level (it defaults to "replica") or set "logical"',
      });
    }
  }
  return problems;
}
