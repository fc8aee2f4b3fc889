import { z } from 'zod';
import { port, wholeNumber } from './common';
import { SpecProblem } from './problems';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

/**
 * The monitoring of a cluster: alert thresholds (the seed's defaults, every one overridable) and
 * the exporters' ports. Ratios are written in PERCENT (0..100) and say so in their names; the rule
 * generator (render/alert-rules.ts) turns them into ratios so the PromQL stays simple.
 *
 * Each threshold is a pair { warning, critical }. For a metric that alerts when it goes ABOVE its
 * threshold (lag, usage, dead tuples, XID age, WAL kept by a slot) the warning is the smaller
 * number; for one that alerts BELOW it (cache hit ratio) the warning is the larger one: the warning
 * always comes first.
 */

/**
 * PostgreSQL stops assigning transaction IDs (the database refuses writes until a VACUUM in single
 * user mode) when the oldest unfrozen XID is 2^31 - 3 million transactions old: past that, XIDs
 * would wrap around and old rows would seem to be in the future. An XID age alert must fire well
 * before that, so thresholds are refused from this age on. (Anti-wraparound autovacuum starts at
 * autovacuum_freeze_max_age, 200 million by default: an age of 1 billion means it is far behind.)
 */
export const XID_WRAPAROUND_STOP_AGE = 2 ** 31 - 3_000_000;

/** 1 GiB in bytes: how the byte thresholds are written in messages and defaults. */
export const GIB = 1024 ** 3;

/**
 * A WAL segment (PostgreSQL's default 16 MiB): a logical slot's restart_lsn trails by a few
 * segments in normal operation, so a byte threshold below one segment would alert on healthy slots;
 * it is most likely a number of GiB written without the factor (8 for 8 GiB).
 */
export const WAL_SEGMENT_BYTES = 16 * 1024 ** 2;

/** Past this (1 PiB) a byte threshold is no disk any node has. */
const MAX_THRESHOLD_BYTES = 1024 ** 5;

/** Whether a metric alerts when it rises above its thresholds or falls below them. */
export type ThresholdDirection = 'above' | 'below';

interface ThresholdField {
  /** Field name in the spec. */
  readonly name: string;
  /** What the numbers measure, for messages. */
  readonly what: string;
  readonly unit: 'percent' | 'seconds' | 'transactions' | 'bytes';
  readonly direction: ThresholdDirection;
  readonly warning: number;
  readonly critical: number;
}

/** The threshold pairs, their units, directions and the seed's defaults. */
export const THRESHOLD_FIELDS = {
  cacheHitPercent: { name: 'cacheHitPercent', what: 'cache hit ratio', unit: 'percent', direction: 'below', warning: 99, critical: 95 },
  replicationLagSeconds: { name: 'replicationLagSeconds', what: 'replication lag', unit: 'seconds', direction: 'above', warning: 60, critical: 300 },
  connectionUsagePercent: { name: 'connectionUsagePercent', what: 'connection usage (of max_connections)', unit: 'percent', direction: 'above', warning: 80, critical: 95 },
  diskUsagePercent: { name: 'diskUsagePercent', what: 'data volume usage', unit: 'percent', direction: 'above', warning: 80, critical: 90 },
  deadTuplePercent: { name: 'deadTuplePercent', what: 'dead tuple ratio of a table', unit: 'percent', direction: 'above', warning: 10, critical: 20 },
  xidAge: { name: 'xidAge', what: 'transaction ID age (age(datfrozenxid))', unit: 'transactions', direction: 'above', warning: 1_000_000_000, critical: 1_500_000_000 },
  /**
   * A healthy consumer keeps its slot within a few segments of the current WAL. Warning at 1 GiB:
   * the wal_keep_size every node keeps anyway (1GB in patroni-config.ts, PrimaryWithReplicas'
   * default walKeepSize) and PostgreSQL's default max_wal_size: a slot holding that much more has a
   * consumer clearly behind or gone, while a standby restarting or a large transaction being decoded
   * stay below it. Critical at 8 GiB: 8 % of the default 100 GiB data volume, so it fires well before
   * the disk alerts (80 %, 90 %) and, at 2 MB/s of WAL, over an hour before: time to act before
   * PostgreSQL stops on a full disk. With max_slot_wal_keep_size set, keep critical below it (the
   * slot is lost there, and PostgresReplicationSlotLost fires instead).
   */
  slotRetainedWalBytes: { name: 'slotRetainedWalBytes', what: 'WAL retained by a replication slot', unit: 'bytes', direction: 'above', warning: 1 * GIB, critical: 8 * GIB },
} as const satisfies Record<string, ThresholdField>;

export type ThresholdName = keyof typeof THRESHOLD_FIELDS;

function thresholdValue(field: ThresholdField, level: 'warning' | 'critical') {
  const example = field[level];
  const base = `${field.name}.${level}`;
  switch (field.unit) {
    case 'percent':
      return z
        .number(expectation('a percent from 0 to 100', `write e.g. ${example} (percent, not a ratio)`))
        .min(0, expectation('a percent from 0 to 100, not negative', `set ${base} to a percent such as ${example}`))
        .max(100, expectation('a percent from 0 to 100', `set ${base} to a percent such as ${example} (write 95 for 95 %, not 0.95 or 950)`));
    case 'seconds':
      return z
        .number(expectation('a number of seconds', `write e.g. ${example}`))
        .gt(0, expectation('a number of seconds above 0', `set ${base} to a positive number of seconds such as ${example}`))
        .max(30 * 86400, expectation('at most 30 days (2592000 seconds)', `set ${base} to a number of seconds such as ${example}`));
    case 'transactions':
      return z
        .number(expectation('a whole number of transactions', `write e.g. ${example}`))
        .int(expectation('a whole number of transactions', `write e.g. ${example}`))
        .min(1, expectation('at least 1 transaction, not negative', `set ${base} to e.g. ${example}`))
        .max(
          XID_WRAPAROUND_STOP_AGE - 1,
          expectation(
            `an age below ${XID_WRAPAROUND_STOP_AGE} (2^31 - 3 million, where PostgreSQL stops accepting writes to prevent wraparound)`,
            `set ${base} well below that, e.g. ${example}`,
          ),
        );
    case 'bytes':
      return z
        .number(expectation('a whole number of bytes', `write e.g. ${example} (${example / GIB} GiB) as a number, without a unit`))
        .int(expectation('a whole number of bytes', `write e.g. ${example} (${example / GIB} GiB)`))
        .min(
          WAL_SEGMENT_BYTES,
          expectation(
            `at least one WAL segment (${WAL_SEGMENT_BYTES} bytes, 16 MiB): the threshold is in bytes`,
            `set ${base} in bytes, e.g. ${example} for ${example / GIB} GiB (not ${example / GIB})`,
          ),
        )
        .max(MAX_THRESHOLD_BYTES, expectation(`at most 1 PiB (${MAX_THRESHOLD_BYTES} bytes)`, `set ${base} in bytes, e.g. ${example} for ${example / GIB} GiB`));
  }
}

/** `{ warning?, critical? }`, each defaulting on its own: `{ warning: 98 }` keeps the default critical. */
function thresholdPair(field: ThresholdField) {
  return z
    .strictObject(
      {
        warning: thresholdValue(field, 'warning').default(field.warning),
        critical: thresholdValue(field, 'critical').default(field.critical),
      },
      expectation('an object { warning?, critical? }', `pass e.g. { warning: ${field.warning}, critical: ${field.critical} }, or leave ${field.name} unset`),
    )
    .prefault({});
}

export const monitoringSchema = z.object({
  /** Cache hit ratio per database, in percent; alerts BELOW. @default { warning: 99, critical: 95 } */
  cacheHitPercent: thresholdPair(THRESHOLD_FIELDS.cacheHitPercent),
  /**
   * A database reading fewer blocks than this per second (hits + reads, over the rule's window) is
   * not judged on its cache hit ratio: a nearly idle database's few cold reads say nothing about
   * the cache. 0 keeps only the guard against 0/0. @default 1
   */
  cacheHitMinBlocksPerSecond: z
    .number(expectation('a number of blocks per second', 'write e.g. 1'))
    .min(0, expectation('a number of blocks per second of at least 0, not negative', 'write e.g. 1, or 0 to judge every database that reads at all'))
    .default(1),
  /** Replay lag of a replica in seconds; alerts ABOVE. @default { warning: 60, critical: 300 } */
  replicationLagSeconds: thresholdPair(THRESHOLD_FIELDS.replicationLagSeconds),
  /** Connections in use as a percent of max_connections; alerts ABOVE. @default { warning: 80, critical: 95 } */
  connectionUsagePercent: thresholdPair(THRESHOLD_FIELDS.connectionUsagePercent),
  /** Used space of the data volume (LAYOUT.dataMount) in percent; alerts ABOVE. @default { warning: 80, critical: 90 } */
  diskUsagePercent: thresholdPair(THRESHOLD_FIELDS.diskUsagePercent),
  /** Dead tuples as a percent of a table's live + dead tuples; alerts ABOVE. @default { warning: 10, critical: 20 } */
  deadTuplePercent: thresholdPair(THRESHOLD_FIELDS.deadTuplePercent),
  /** Tables with fewer rows (live + dead) than this are not judged on their dead tuples. @default 10000 */
  deadTupleMinRows: wholeNumber('rows', 0, 1e12, 10_000).default(10_000),
  /**
   * age(datfrozenxid) of a database in transactions; alerts ABOVE. Must stay below
   * XID_WRAPAROUND_STOP_AGE (2^31 - 3 million). @default { warning: 1000000000, critical: 1500000000 }
   */
  xidAge: thresholdPair(THRESHOLD_FIELDS.xidAge),
  /**
   * WAL a replication slot keeps on a node, in bytes (a standby or subscriber that is down or far
   * behind); alerts ABOVE. @default { warning: 1073741824, critical: 8589934592 } (1 GiB, 8 GiB)
   */
  slotRetainedWalBytes: thresholdPair(THRESHOLD_FIELDS.slotRetainedWalBytes),
  /**
   * The newest successful backup (full, differential or incremental) of a cluster may be this old.
   * @default - derived from the BackupJob's schedules: the longest gap between two scheduled
   * backups plus 2 hours (daily: 26, weekly: 170); no rule without a BackupJob
   */
  backupMaxAgeHours: wholeNumber('hours', 1, 400 * 24, 26).optional(),
  /** postgres_exporter's port on every PostgreSQL node. @default 9187 */
  exporterPort: port(9187),
  /** prometheus-node-exporter's port on every node. @default 9100 */
  nodeExporterPort: port(9100),
});

export type MonitoringSpecInput = z.input<typeof monitoringSchema>;
export type MonitoringSpec = z.output<typeof monitoringSchema>;
type Spec = MonitoringSpec;

/** "warning" must come before "critical" in the metric's direction. */
function warningBeforeCritical(field: ThresholdField) {
  const name = field.name as ThresholdName;
  return {
    uses: [name],
    check: (s: Spec): SpecProblem[] => {
      const { warning, critical } = s[name];
      const unit = field.unit === 'percent' ? ' %' : field.unit === 'seconds' ? ' s' : field.unit === 'bytes' ? ' bytes' : '';
      if (field.direction === 'above' && !(warning < critical)) {
        return [
          {
            path: `${name}.warning`,
            given: { warning, critical },
            expected:
              `a warning threshold below the critical one: ${field.what} alerts when it rises above them, so the warning must ` +
              `come first, but warning ${warning}${unit} >= critical ${critical}${unit}`,
            fix: `lower ${name}.warning below ${critical}${unit} or raise ${name}.critical above ${warning}${unit}`,
          },
        ];
      }
      if (field.direction === 'below' && !(warning > critical)) {
        return [
          {
            path: `${name}.warning`,
            given: { warning, critical },
            expected:
              `a warning threshold above the critical one: ${field.what} alerts when it falls below them, so the warning must ` +
              `come first, but warning ${warning}${unit} <= critical ${critical}${unit}`,
            fix: `raise ${name}.warning above ${critical}${unit} or lower ${name}.critical below ${warning}${unit}`,
          },
        ];
      }
      return [];
    },
  } satisfies CrossFieldRule<Spec>;
}

/** Both levels of a percent pair at 1 or less: almost surely ratios (0.95) written where percents (95) belong. */
function percentNotRatio(field: ThresholdField) {
  const name = field.name as ThresholdName;
  return {
    uses: [name],
    check: (s: Spec): SpecProblem[] => {
      const { warning, critical } = s[name];
      if (field.unit !== 'percent' || warning > 1 || critical > 1 || (warning === 0 && critical === 0)) return [];
      return [
        {
          path: name,
          given: { warning, critical },
          expected: `percents from 0 to 100; warning ${warning} and critical ${critical} look like ratios (0..1), which would mean ${warning} % and ${critical} %`,
          fix: `write percents: e.g. { warning: ${asPercent(warning)}, critical: ${asPercent(critical)} } (write 99 for 99 %)`,
        },
      ];
    },
  } satisfies CrossFieldRule<Spec>;
}

const asPercent = (ratio: number) => Number((ratio * 100).toPrecision(12));

export const monitoringRules: readonly CrossFieldRule<Spec>[] = [
  ...Object.values(THRESHOLD_FIELDS).map(percentNotRatio),
  ...Object.values(THRESHOLD_FIELDS).map(warningBeforeCritical),
  {
    uses: ['exporterPort', 'nodeExporterPort'],
    check: (s) =>
      s.exporterPort === s.nodeExporterPort
        ? [
            {
              path: 'nodeExporterPort',
              given: s.nodeExporterPort,
              expected: `a port different from exporterPort (${s.exporterPort}): both exporters run on every PostgreSQL node`,
              fix: 'use the defaults (exporterPort 9187, nodeExporterPort 9100) or two different ports',
            },
          ]
        : [],
  },
];

export function validateMonitoringSpec(input: unknown, constructPath?: string, outside?: OutsideProps): MonitoringSpec {
  return validateSpec('ClusterMonitoring spec', monitoringSchema, monitoringRules, input, constructPath, outside);
}
