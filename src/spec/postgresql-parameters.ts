import { logicalWorkerParameters } from './logical-replication';
import { POSTGRESQL_CATALOGUE } from './postgresql-catalogue.data';
import { baseUnit, parseGucInt } from './postgresql-guc-values';
import { ParameterValue, checkPostgresqlCombinations, checkPostgresqlSetting, definitionOf, settingText } from './postgresql-settings';
import { SpecProblem } from './problems';

export type { ParameterValue } from './postgresql-settings';

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
  archive_timeout: 'use the archiveTimeoutSeconds prop (it applies with an archive)',
  log_min_duration_statement: 'use the slowQueryThresholdMs prop (-1 turns slow-query logging off)',
  data_directory: 'the data directory is fixed by the node layout; remove it',
  config_file: 'Patroni writes postgresql.conf; remove it',
  hba_file: 'Patroni writes pg_hba.conf; remove it',
  ident_file: 'Patroni writes pg_ident.conf; remove it',
  unix_socket_directories: 'fixed by the node layout; remove it',
  max_connections: 'use the maxConnections prop',
  wal_log_hints: 'pg_rewind needs it on; Patroni keeps it on; remove it',
};

/**
 * Patroni 4.0.7 passes these on postgres' command line and replaces a value below its own minimum
 * with its default, logging only a warning (patroni/postgresql/config.py CMDLINE_OPTIONS):
 * a setting PostgreSQL itself would take is silently lost. In the parameter's unit.
 */
const PATRONI_MINIMUMS: Record<string, { readonly minimum: number; readonly becomes: string }> = {
  max_locks_per_transaction: { minimum: 32, becomes: '64' },
  max_worker_processes: { minimum: 2, becomes: '8' },
  wal_keep_size: { minimum: 16, becomes: '128MB' },
};

const WAL_LEVELS = ['replica', 'logical'];
export const PARAMETER_NAME = /^[a-z_][a-z0-9_.]*$/;

/** PostgreSQL 17's default of superuser_reserved_connections and reserved_connections. */
const DEFAULT_RESERVED = { superuser_reserved_connections: 3, reserved_connections: 0 };

/** What a PatroniCluster spec's parameter rules read. */
export interface PatroniParameterContext {
  readonly postgresqlParameters: Readonly<Record<string, ParameterValue>>;
  readonly nodeCount: number;
  readonly maxConnections: number;
  /** Set when the cluster archives WAL. */
  readonly archiveId?: string;
  readonly subscriptions: readonly unknown[];
}

/** The rules of a PatroniCluster's `postgresqlParameters`: names, values, and what the library sets. */
export function checkPostgresqlParameters(spec: PatroniParameterContext): SpecProblem[] {
  const parameters = spec.postgresqlParameters;
  const problems: SpecProblem[] = [];
  for (const [name, value] of Object.entries(parameters)) {
    const path = `postgresqlParameters.${name}`;
    if (!PARAMETER_NAME.test(name)) {
      problems.push(badName(name));
    } else if (name in OWNED) {
      problems.push({ path, given: value, expected: `no "${name}" (Patroni or this library owns it)`, fix: OWNED[name] });
    } else if (name === 'archive_mode' && !(spec.archiveId !== undefined && /^(on|true|yes|1)$/i.test(settingText(value).trim()))) {
      // "on" with an archive only says what the archive prop sets; "always" would archive from replicas too.
      problems.push(
        spec.archiveId === undefined
          ? { path, given: value, expected: 'no archive_mode: without an archive there is no archive_command, and WAL would pile up unarchived until the disk fills', fix: 'give the cluster an archive (the archive prop) and remove archive_mode' }
          : {
              path,
              given: value,
              expected: `"on" or no archive_mode: the cluster has an archive, so it is "on"${/^(off|false|no|0)$/i.test(settingText(value).trim()) ? ', and "off" would silently stop WAL archiving and break point-in-time recovery' : ' (the replicas do not archive)'}`,
              fix: 'remove archive_mode (archiving follows the archive prop)',
            },
      );
    } else if (name === 'password_encryption' && settingText(value).toLowerCase() !== 'scram-sha-256') {
      problems.push(passwordEncryption(value));
    } else if (name === 'wal_level' && !WAL_LEVELS.includes(String(value))) {
      problems.push({
        path,
        given: value,
        expected: 'wal_level "replica" or "logical": streaming replication needs at least "replica"',
        fix: 'remove wal_level (it defaults to "replica") or set "logical"',
      });
    } else {
      const problem = checkPostgresqlSetting(name, value) ?? belowPatroniMinimum(name, value);
      if (problem) problems.push(problem);
    }
  }
  for (const name of ['max_wal_senders', 'max_replication_slots']) {
    const value = parameters[name];
    const count = value === undefined ? undefined : settingNumber(name, value);
    if (value !== undefined && count !== undefined && count < spec.nodeCount + 2) {
      problems.push({
        path: `postgresqlParameters.${name}`,
        given: value,
        expected: `at least nodeCount + 2 (${spec.nodeCount + 2}): one per standby plus room for a rebuild and a backup`,
        fix: `remove it (the default is 10) or set ${spec.nodeCount + 2} or more`,
      });
    }
  }
  return [
    ...problems,
    ...checkPostgresqlCombinations(parameters),
    ...checkLogicalWorkers(parameters, spec.subscriptions.length),
    ...checkReservedConnections(parameters, spec.maxConnections),
  ];
}

/** A value PostgreSQL reads as a number (in the parameter's unit), or undefined when it would not. */
export function settingNumber(name: string, value: ParameterValue): number | undefined {
  const definition = definitionOf(POSTGRESQL_CATALOGUE, name);
  if (definition?.vartype !== 'integer' || checkPostgresqlSetting(name, value)) return undefined;
  const parsed = parseGucInt(settingText(value), baseUnit(definition.unit));
  return parsed.ok ? parsed.value : undefined;
}

export function badName(name: string): SpecProblem {
  return { path: `postgresqlParameters.${name}`, given: name, expected: 'a PostgreSQL parameter name (lower case)', fix: `check the spelling of "${name}"` };
}

export function passwordEncryption(value: ParameterValue): SpecProblem {
  return {
    path: 'postgresqlParameters.password_encryption',
    given: value,
    expected: '"scram-sha-256" or nothing: every pg_hba line the library writes requires scram-sha-256, so a password stored another way could never log in',
    fix: 'remove password_encryption (scram-sha-256 is set)',
  };
}

function belowPatroniMinimum(name: string, value: ParameterValue): SpecProblem | undefined {
  const rule = PATRONI_MINIMUMS[name];
  const number = rule && settingNumber(name, value);
  if (!rule || number === undefined || number >= rule.minimum) return undefined;
  const unit = definitionOf(POSTGRESQL_CATALOGUE, name)?.unit ?? '';
  return {
    path: `postgresqlParameters.${name}`,
    given: value,
    expected: `at least ${rule.minimum}${unit}: Patroni replaces a lower ${name} with its default (${rule.becomes}), with only a warning in its log`,
    fix: `set ${rule.minimum}${unit} or more, or remove it`,
  };
}

/**
 * A subscriber needs the logical workers the library sizes for its subscriptions; a lower value
 * set here would win over them and leave subscriptions without an apply worker.
 */
export function checkLogicalWorkers(parameters: Readonly<Record<string, ParameterValue>>, subscriptions: number): SpecProblem[] {
  return Object.entries(logicalWorkerParameters(subscriptions)).flatMap(([name, needed]) => {
    const value = parameters[name];
    const number = value === undefined ? undefined : settingNumber(name, value);
    if (number === undefined || number >= needed) return [];
    return [
      {
        path: `postgresqlParameters.${name}`,
        given: value,
        expected: `at least ${needed} for ${subscriptions} subscription(s): an apply worker and up to 2 table-sync workers each, plus the launcher`,
        fix: `remove it (the library sets ${needed}) or set ${needed} or more`,
      },
    ];
  });
}

/** PostgreSQL refuses to start when the reserved connections take all of max_connections. */
export function checkReservedConnections(parameters: Readonly<Record<string, ParameterValue>>, maxConnections: number): SpecProblem[] {
  const reserved = (name: keyof typeof DEFAULT_RESERVED) => {
    const value = parameters[name];
    return value === undefined ? DEFAULT_RESERVED[name] : settingNumber(name, value);
  };
  const superuser = reserved('superuser_reserved_connections');
  const other = reserved('reserved_connections');
  if (superuser === undefined || other === undefined || superuser + other < maxConnections) return [];
  const name = parameters.superuser_reserved_connections !== undefined ? 'superuser_reserved_connections' : 'reserved_connections';
  return [
    {
      path: `postgresqlParameters.${name}`,
      given: parameters[name],
      expected: `superuser_reserved_connections + reserved_connections (${superuser} + ${other}) below maxConnections (${maxConnections}): PostgreSQL refuses to start otherwise`,
      fix: `lower them to at most ${maxConnections - 1} together, or raise maxConnections`,
    },
  ];
}
