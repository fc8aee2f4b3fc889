import { stringify } from 'yaml';
import { LAYOUT } from '../model/layout';
import { BackupJobSpec } from '../spec/backup-job';
import { parseCalendar } from '../spec/calendar';
import { civilFromDays, daysFromCivil } from '../spec/calendar-dates';
import { calendarDayMatches, calendarTimesOfDay } from '../spec/calendar-match';
import { GIB, MonitoringSpec } from '../spec/monitoring';
import { JOB_METRICS } from './backup-scripts';
import { PG_METRICS, SCRAPE_JOBS, SLOT_WAL_STATUS, TARGET_LABELS } from './monitoring-metrics';

/**
 * The Prometheus alert rules of a cluster, from its MonitoringSpec (and BackupJobSpec), as a rule
 * file that `promtool check rules` accepts and `promtool test rules` exercises
 * (test/tools/alert-rules.test.ts fires and holds every alert at the edges of its thresholds).
 *
 * Every rule aggregates by the target labels the scrape config attaches to every series
 * (TARGET_LABELS: cluster, node), plus the series' own labels where the alert is per database or
 * table; instance and job are dropped, the node names the machine.
 *
 * The job status metrics (JOB_METRICS, written by the BackupJob's scripts as textfiles read by
 * node_exporter) carry their own `job` label (backup-full, check, ...), and the rules read it as
 * `job`. Prometheus renames a clashing scraped label to `exported_job`; the scrape job
 * SCRAPE_JOBS.node gives it back as `job` (render/scrape-config.ts, metric_relabel_configs). A
 * hand-written scrape config must do the same (or set honor_labels), or the backup rules see nothing.
 */

export type Severity = 'warning' | 'critical';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface AlertRulesInput {
  readonly spec: MonitoringSpec;
  /** The cluster's backup schedule: the job rules, and the allowed backup age when spec.backupMaxAgeHours is unset. @default - no backup rules unless spec.backupMaxAgeHours is set */
  readonly backup?: BackupJobSpec;
  /** Mount point of the data volume as node_exporter reports it. @default LAYOUT.dataMount */
  readonly dataMountpoint?: string;
}

/** The alert names: a pair of rules (warning and critical) shares its name and differs by severity. */
export const ALERT_NAMES = {
  exporterDown: 'PostgresExporterDown',
  postgresDown: 'PostgresDown',
  nodeExporterDown: 'NodeExporterDown',
  noPrimary: 'PostgresNoPrimary',
  multiplePrimaries: 'PostgresMultiplePrimaries',
  replicaNotStreaming: 'PostgresReplicaNotStreaming',
  replicationLag: 'PostgresReplicationLag',
  replicationSlotRetainingWal: 'PostgresReplicationSlotRetainingWal',
  replicationSlotLost: 'PostgresReplicationSlotLost',
  cacheHitRatioLow: 'PostgresCacheHitRatioLow',
  connectionUsageHigh: 'PostgresConnectionUsageHigh',
  dataDiskUsageHigh: 'PostgresDataDiskUsageHigh',
  deadTuplesHigh: 'PostgresDeadTuplesHigh',
  xidWraparound: 'PostgresXidWraparoundApproaching',
  walArchivingFailing: 'PostgresWalArchivingFailing',
  backupTooOld: 'PostgresBackupTooOld',
  backupJobFailed: 'PostgresBackupJobFailed',
  restoreDrillFailed: 'PostgresRestoreDrillFailed',
} as const;

/** The rule group's name in the file. */
export const ALERT_GROUP = 'pgha';

/**
 * node_exporter's filesystem metrics (prometheus-node-exporter 1.9.0, the same names as 1.5). Since
 * 1.7 they carry a device_error label too: empty (no label) while statfs() works; a filesystem it
 * fails on exports node_filesystem_device_error 1 and no size or avail.
 */
export const NODE_FILESYSTEM_METRICS = { sizeBytes: 'node_filesystem_size_bytes', availBytes: 'node_filesystem_avail_bytes' } as const;

/** The `job` label values the BackupJob's scripts write into their textfiles. */
export const BACKUP_JOB_LABELS = {
  backupTypes: ['backup-full', 'backup-diff', 'backup-incr'],
  check: 'check',
  verify: 'verify',
  restoreDrill: 'restore-drill',
  dump: 'dump',
} as const;

/** The window of rate() in the cache hit ratio. */
export const CACHE_HIT_RATE_WINDOW = '10m';

/**
 * Added to the longest gap between scheduled backups: the timers' RandomizedDelaySec (5 min), a
 * backup that runs longer than the previous one (success is recorded when it ends), a DST shift
 * of a schedule written in local time (1 h).
 */
export const BACKUP_AGE_SLACK_SECONDS = 2 * 3600;

// ---- the allowed backup age, from the BackupJob's systemd calendar expressions -------------------

/** The calendar repeats every 28 years (7 weekdays x 4-year leap cycle) from 1901 to 2099. */
const CYCLE_START_DAY = daysFromCivil(2024, 1, 1);
const CYCLE_DAYS = 28 * 365 + 7;
const MICROS = 1_000_000;

/**
 * The longest time in seconds between two consecutive firings of any of `expressions` together
 * (the union of their schedules), over a whole 28-year calendar cycle, in each expression's own
 * clock time; undefined when they never fire. E.g. ["Sun *-*-* 01:00:00", "Mon..Sat *-*-* 01:00:00"]
 * gives 86400, ["Mon..Fri 02:00"] 259200 (Friday to Monday). A time zone is ignored
 * (BACKUP_AGE_SLACK_SECONDS covers DST). The days and times are spec/calendar-elapse.ts's.
 */
export function calendarMaxGapSeconds(expressions: readonly string[]): number | undefined {
  const calendars = expressions.map(parseCalendar);
  const times = calendars.map((c) => calendarTimesOfDay(c));
  const merged = new Map<number, { first: number; last: number; innerGap: number }>();
  const timesFor = (mask: number) => {
    let entry = merged.get(mask);
    if (!entry) {
      const union = [...new Set(times.filter((_t, i) => mask & (1 << i)).flat())].sort((a, b) => a - b);
      let innerGap = 0;
      for (let i = 1; i < union.length; i++) innerGap = Math.max(innerGap, union[i] - union[i - 1]);
      entry = { first: union[0], last: union[union.length - 1], innerGap };
      merged.set(mask, entry);
    }
    return entry;
  };
  let firstFiring: number | undefined;
  let lastFiring: number | undefined;
  let maxGap = 0;
  for (let dayIndex = 0; dayIndex < CYCLE_DAYS; dayIndex++) {
    const date = civilFromDays(CYCLE_START_DAY + dayIndex);
    let mask = 0;
    calendars.forEach((c, i) => {
      if (times[i].length > 0 && calendarDayMatches(c, date)) mask |= 1 << i;
    });
    if (mask === 0) continue;
    const { first, last, innerGap } = timesFor(mask);
    const dayStart = dayIndex * 86_400 * MICROS;
    if (lastFiring !== undefined) maxGap = Math.max(maxGap, dayStart + first - lastFiring);
    firstFiring ??= dayStart + first;
    maxGap = Math.max(maxGap, innerGap);
    lastFiring = dayStart + last;
  }
  if (firstFiring === undefined || lastFiring === undefined) return undefined;
  // Around the end of the cycle into the next one.
  return Math.max(maxGap, firstFiring + CYCLE_DAYS * 86_400 * MICROS - lastFiring) / MICROS;
}

/** The backup schedules of a BackupJob (full, and differential and incremental where set). */
export function backupSchedules(backup: BackupJobSpec): string[] {
  return [backup.fullSchedule, backup.differentialSchedule, backup.incrementalSchedule].filter((s): s is string => typeof s === 'string');
}

/** Past this gap a schedule is no regular backup schedule (it names years, or fires once). */
const MAX_DERIVABLE_GAP_SECONDS = 367 * 86400;

/**
 * The age in whole hours the newest backup may reach: the longest gap between two scheduled
 * backups of any type (each type's success counts) plus BACKUP_AGE_SLACK_SECONDS, rounded up.
 * Daily backups give 26, the default weekly full + Mon..Sat differential 26, weekly only 170.
 */
export function deriveBackupMaxAgeHours(backup: BackupJobSpec): number {
  const schedules = backupSchedules(backup);
  let gap: number | undefined;
  let why: string | undefined;
  try {
    gap = calendarMaxGapSeconds(schedules);
    if (gap === undefined) why = 'they never fire';
    else if (gap > MAX_DERIVABLE_GAP_SECONDS) why = 'they do not repeat at least once a year';
  } catch (error) {
    // A schedule with more elapses a day than are worth listing (sub-second repetitions).
    why = (error as Error).message;
  }
  if (why !== undefined || gap === undefined) {
    throw new Error(
      `alert rules: cannot derive the allowed backup age from the backup schedules ${JSON.stringify(schedules)}: ` +
        `${why}. ` +
        'Fix: set backupMaxAgeHours in the monitoring spec, or give the BackupJob a repeating schedule such as "Sun *-*-* 01:00:00"',
    );
  }
  return Math.ceil((gap + BACKUP_AGE_SLACK_SECONDS) / 3600);
}

/** spec.backupMaxAgeHours, else derived from the BackupJob; undefined (no rule) without either. */
export function backupMaxAgeHours(spec: MonitoringSpec, backup?: BackupJobSpec): number | undefined {
  if (spec.backupMaxAgeHours !== undefined) return spec.backupMaxAgeHours;
  return backup ? deriveBackupMaxAgeHours(backup) : undefined;
}

// ---- the rules -----------------------------------------------------------------------------------

/** A threshold as PromQL reads it: no float noise (80/100 is 0.8, not 0.8000000000000002). */
export function promNumber(value: number): string {
  return String(Number(value.toPrecision(12)));
}

const ratio = (percent: number) => promNumber(percent / 100);

/** A byte threshold for people: "1 GiB (1073741824 bytes)", "512 MiB (536870912 bytes)". */
export function bytesText(bytes: number): string {
  const [size, unit] = bytes >= GIB ? [GIB, 'GiB'] : [1024 ** 2, 'MiB'];
  return `${Number((bytes / size).toFixed(2))} ${unit} (${bytes} bytes)`;
}

const CLUSTER = TARGET_LABELS.cluster;
const NODE = TARGET_LABELS.node;
const ON_NODE = `${CLUSTER}, ${NODE}`;
const ON_DATABASE = `${CLUSTER}, ${NODE}, datname`;
const ON_TABLE = `${CLUSTER}, ${NODE}, datname, schemaname, relname`;
/** slot_type is a property of the slot: kept for the description, which differs by type. */
const ON_SLOT = `${CLUSTER}, ${NODE}, slot_name, slot_type`;

const at = `{{ $labels.${NODE} }} (cluster {{ $labels.${CLUSTER} }})`;
const ofCluster = `{{ $labels.${NODE} }} of cluster {{ $labels.${CLUSTER} }}`;

function rule(alert: string, severity: Severity, forDuration: string, expr: string, summary: string, description: string): AlertRule {
  return { alert, expr, for: forDuration, labels: { severity }, annotations: { summary, description } };
}

function selector(metric: string, matchers: Record<string, string>, regex: Record<string, string> = {}): string {
  const parts = [
    ...Object.entries(matchers).map(([label, value]) => `${label}="${value}"`),
    ...Object.entries(regex).map(([label, value]) => `${label}=~"${value}"`),
  ];
  return `${metric}{${parts.join(', ')}}`;
}

function availabilityRules(): AlertRule[] {
  const upPostgres = selector('up', { job: SCRAPE_JOBS.postgres });
  const upNode = selector('up', { job: SCRAPE_JOBS.node });
  const primaries = `count by (${CLUSTER}) (${PG_METRICS.isReplica} == 0)`;
  return [
    rule(
      ALERT_NAMES.exporterDown,
      'critical',
      '1m',
      `max by (${ON_NODE}) (${upPostgres}) == 0`,
      `postgres_exporter down on ${at}`,
      `Prometheus cannot scrape postgres_exporter (job ${SCRAPE_JOBS.postgres}) on node ${ofCluster} for 1 minute (up = 0): ` +
        'the node may be down, or the exporter stopped; nothing else about its PostgreSQL can alert meanwhile.',
    ),
    rule(
      ALERT_NAMES.postgresDown,
      'critical',
      '1m',
      `max by (${ON_NODE}) (${PG_METRICS.up}) == 0`,
      `PostgreSQL down on ${at}`,
      `postgres_exporter on node ${ofCluster} cannot connect to PostgreSQL for 1 minute (${PG_METRICS.up} = 0): the node is out of the cluster until it is back.`,
    ),
    rule(
      ALERT_NAMES.nodeExporterDown,
      'warning',
      '2m',
      `max by (${ON_NODE}) (${upNode}) == 0`,
      `node_exporter down on ${at}`,
      `Prometheus cannot scrape node_exporter (job ${SCRAPE_JOBS.node}) on node ${ofCluster} for 2 minutes (up = 0): ` +
        'no disk usage and no backup job status from this node.',
    ),
    rule(
      ALERT_NAMES.noPrimary,
      'critical',
      '1m',
      // Every node scraped (up, whatever its value) counts; a cluster without a single node reporting
      // is_replica 0 has no primary: all report 1, or the primary's series are gone (it is down).
      [`count by (${CLUSTER}) (${upPostgres})`, 'unless', primaries].join('\n'),
      'No PostgreSQL primary in cluster {{ $labels.cluster }}',
      'None of the {{ $value | humanize }} PostgreSQL nodes of cluster {{ $labels.cluster }} reports being a primary for 1 minute ' +
        `(all report ${PG_METRICS.isReplica} 1, or the primary's metrics are missing): writes fail. Check Patroni (patronictl list) and etcd.`,
    ),
    rule(
      ALERT_NAMES.multiplePrimaries,
      'critical',
      '1m',
      `${primaries} > 1`,
      'More than one PostgreSQL primary in cluster {{ $labels.cluster }}',
      '{{ $value | humanize }} nodes of cluster {{ $labels.cluster }} report being a primary (not in recovery) for 1 minute: ' +
        'a split brain, writes may go to both. Fence the one Patroni does not hold as leader.',
    ),
  ];
}

function replicationRules(spec: MonitoringSpec): AlertRule[] {
  const lag = `max by (${ON_NODE}) (${PG_METRICS.lagSeconds})`;
  const { warning, critical } = spec.replicationLagSeconds;
  const lagRule = (severity: Severity, threshold: number, forDuration: string) =>
    rule(
      ALERT_NAMES.replicationLag,
      severity,
      forDuration,
      `${lag} > ${promNumber(threshold)}`,
      `Replica ${at} lags {{ $value | humanizeDuration }} behind`,
      `Replica ${at} replays WAL {{ $value | humanizeDuration }} behind its primary, above the ${severity} threshold of ${promNumber(threshold)} s ` +
        `for ${forDuration}: reads from it are stale and a failover to it may lose that much.`,
    );
  return [
    rule(
      ALERT_NAMES.replicaNotStreaming,
      'warning',
      '2m',
      [`max by (${ON_NODE}) (${PG_METRICS.walReceiverStreaming}) == 0`, `and on (${ON_NODE})`, `max by (${ON_NODE}) (${PG_METRICS.isReplica}) == 1`].join('\n'),
      `Replica ${at} is not streaming`,
      `Replica ${at} has no streaming WAL receiver for 2 minutes (${PG_METRICS.walReceiverStreaming} = {{ $value | humanize }}): ` +
        'it falls behind, or replays from the archive only. Check its PostgreSQL log and the connection to the primary.',
    ),
    lagRule('warning', warning, '5m'),
    lagRule('critical', critical, '2m'),
    ...slotRules(spec),
  ];
}

/**
 * Whose a slot is, by the names the project gives them: a standby's physical slot is named after
 * the standby (its node name, "-" as "_"); a subscription's logical slot
 * sub_<subscriber cluster>_<subscription> (spec/logical-replication.ts, subscriptionSlotName).
 */
const SLOT_OWNERS =
  'A physical slot is the standby\'s of that name ("-" written "_"; pg_basebackup_<pid>: a base backup in progress); ' +
  'a logical slot sub_<cluster>_<subscription> is subscription <subscription>\'s of cluster <cluster>.';
/** How to drop a slot for good, on the node that alerted. */
const DROP_SLOT =
  "SELECT pg_drop_replication_slot('{{ $labels.slot_name }}'); on node {{ $labels.node }} (a subscription's slot: first DROP SUBSCRIPTION on the subscriber " +
  'and remove it from its subscriptions, and on a Patroni cluster the slot from slots: with patronictl edit-config, or it is made again)';

function slotRules(spec: MonitoringSpec): AlertRule[] {
  // Retention, not inactivity: Patroni's copies of logical slots on replicas are never active, and
  // a subscription's table-copy slots idle between phases; WAL kept on the disk is what harms.
  const retained = `max by (${ON_SLOT}) (${PG_METRICS.slotRetainedBytes})`;
  const retainedRule = (severity: Severity, threshold: number, forDuration: string) =>
    rule(
      ALERT_NAMES.replicationSlotRetainingWal,
      severity,
      forDuration,
      `${retained} > ${promNumber(threshold)}`,
      `Replication slot {{ $labels.slot_name }} keeps {{ $value | humanize1024 }}B of WAL on ${at}`,
      `Replication slot {{ $labels.slot_name }} ({{ $labels.slot_type }}) keeps {{ $value | humanize1024 }}B of WAL on node ${ofCluster}, above the ` +
        `${severity} threshold of ${bytesText(threshold)} for ${forDuration}: its consumer is down or far behind, and the WAL stays on the disk ` +
        `until PostgreSQL stops when it is full. ${SLOT_OWNERS} A standby: check it (is it running? its PostgreSQL log; pg_stat_replication ` +
        'on its upstream; patronictl list on a Patroni cluster) and rebuild it if it cannot catch up. A subscription: cluster <cluster> is down, ' +
        'or the subscription is disabled (on its primary: SELECT subname, subenabled FROM pg_subscription; then ALTER SUBSCRIPTION <subscription> ENABLE). ' +
        `If the consumer is gone for good, drop the slot: ${DROP_SLOT}.`,
    );
  const { warning, critical } = spec.slotRetainedWalBytes;
  return [
    retainedRule('warning', warning, '10m'),
    retainedRule('critical', critical, '5m'),
    rule(
      ALERT_NAMES.replicationSlotLost,
      'critical',
      '1m',
      `max by (${ON_SLOT}) (${PG_METRICS.slotWalStatus}) == ${SLOT_WAL_STATUS.lost}`,
      `Replication slot {{ $labels.slot_name }} is lost on ${at}`,
      `Replication slot {{ $labels.slot_name }} ({{ $labels.slot_type }}) on node ${ofCluster} has wal_status lost for 1 minute: WAL its consumer ` +
        'still needed was removed (max_slot_wal_keep_size), and the consumer can never resume from it. ' +
        `${SLOT_OWNERS} Drop the lost slot: ${DROP_SLOT}; then rebuild the standby (a new base backup; its slot is made again), or ` +
        'resynchronise the subscription (README, Logical replication between clusters: drop it, empty its tables, let the jobs make it again).',
    ),
  ];
}

function usageRules(spec: MonitoringSpec, dataMountpoint: string): AlertRule[] {
  const rate = (metric: string) => `sum by (${ON_DATABASE}) (rate(${metric}[${CACHE_HIT_RATE_WINDOW}]))`;
  const blocks = `(${rate(PG_METRICS.blocksHit)} + ${rate(PG_METRICS.blocksRead)})`;
  // A database that read nothing gives 0/0 (NaN, never below the threshold); one that barely read
  // anything is not judged (cacheHitMinBlocksPerSecond): its few cold reads say nothing of the cache.
  const activity = spec.cacheHitMinBlocksPerSecond > 0 ? `>= ${promNumber(spec.cacheHitMinBlocksPerSecond)}` : '> 0';
  const cacheRule = (severity: Severity, percent: number) =>
    rule(
      ALERT_NAMES.cacheHitRatioLow,
      severity,
      '10m',
      [`${rate(PG_METRICS.blocksHit)}`, '/', blocks, `< ${ratio(percent)}`, `and on (${ON_DATABASE})`, `${blocks} ${activity}`].join('\n'),
      `Cache hit ratio of database {{ $labels.datname }} on ${at} is {{ $value | humanizePercentage }}`,
      `Database {{ $labels.datname }} on ${at} found only {{ $value | humanizePercentage }} of the blocks it read in shared buffers ` +
        `over ${CACHE_HIT_RATE_WINDOW}, below the ${severity} threshold of ${promNumber(percent)} % for 10 minutes: ` +
        'shared_buffers may be too small for the working set, or a query scans far more than it should.',
    );
  const connections = `max by (${ON_NODE}) (${PG_METRICS.connectionsUsed})\n/\nmax by (${ON_NODE}) (${PG_METRICS.connectionsMax})`;
  const connectionRule = (severity: Severity, percent: number, forDuration: string) =>
    rule(
      ALERT_NAMES.connectionUsageHigh,
      severity,
      forDuration,
      `${connections}\n> ${ratio(percent)}`,
      `Connections on ${at} at {{ $value | humanizePercentage }} of max_connections`,
      `PostgreSQL on ${at} uses {{ $value | humanizePercentage }} of max_connections, above the ${severity} threshold of ` +
        `${promNumber(percent)} % for ${forDuration}: new clients will be refused when it is full.`,
    );
  const fs = (metric: string) => selector(metric, { job: SCRAPE_JOBS.node, mountpoint: dataMountpoint });
  // Used = size - avail: the blocks reserved for root count as used, since PostgreSQL cannot use them.
  const disk = [
    `max by (${ON_NODE}) (`,
    `  (${fs(NODE_FILESYSTEM_METRICS.sizeBytes)} - ${fs(NODE_FILESYSTEM_METRICS.availBytes)})`,
    `  / ${fs(NODE_FILESYSTEM_METRICS.sizeBytes)}`,
    ')',
  ].join('\n');
  const diskRule = (severity: Severity, percent: number, forDuration: string) =>
    rule(
      ALERT_NAMES.dataDiskUsageHigh,
      severity,
      forDuration,
      `${disk}\n> ${ratio(percent)}`,
      `Data volume of ${at} is {{ $value | humanizePercentage }} full`,
      `The data volume (${dataMountpoint}) of node ${at} is {{ $value | humanizePercentage }} full, above the ${severity} threshold of ` +
        `${promNumber(percent)} % for ${forDuration}: PostgreSQL stops when it cannot write WAL. Grow the volume or find what fills it ` +
        '(WAL kept for a slot or a failing archive, bloat, the restore drill, dumps).',
    );
  const tableRows = `(max by (${ON_TABLE}) (${PG_METRICS.liveTuples}) + max by (${ON_TABLE}) (${PG_METRICS.deadTuples}))`;
  const deadRule = (severity: Severity, percent: number) =>
    rule(
      ALERT_NAMES.deadTuplesHigh,
      severity,
      '30m',
      [
        `max by (${ON_TABLE}) (${PG_METRICS.deadTuples})`,
        '/',
        tableRows,
        `> ${ratio(percent)}`,
        ...(spec.deadTupleMinRows > 0 ? [`and on (${ON_TABLE})`, `${tableRows} >= ${promNumber(spec.deadTupleMinRows)}`] : []),
      ].join('\n'),
      `Table {{ $labels.datname }}.{{ $labels.schemaname }}.{{ $labels.relname }} on ${at} is {{ $value | humanizePercentage }} dead tuples`,
      `Table {{ $labels.schemaname }}.{{ $labels.relname }} of database {{ $labels.datname }} on ${at} holds {{ $value | humanizePercentage }} ` +
        `dead tuples, above the ${severity} threshold of ${promNumber(percent)} % for 30 minutes (tables of ${promNumber(spec.deadTupleMinRows)} rows or more): ` +
        'autovacuum does not keep up, or a long transaction or a replication slot holds the horizon back.',
    );
  return [
    cacheRule('warning', spec.cacheHitPercent.warning),
    cacheRule('critical', spec.cacheHitPercent.critical),
    connectionRule('warning', spec.connectionUsagePercent.warning, '5m'),
    connectionRule('critical', spec.connectionUsagePercent.critical, '2m'),
    diskRule('warning', spec.diskUsagePercent.warning, '10m'),
    diskRule('critical', spec.diskUsagePercent.critical, '5m'),
    deadRule('warning', spec.deadTuplePercent.warning),
    deadRule('critical', spec.deadTuplePercent.critical),
  ];
}

function wraparoundAndArchiveRules(spec: MonitoringSpec): AlertRule[] {
  // age(datfrozenxid) lives in pg_database, the same on every node of a cluster: one alert per database.
  const xidRule = (severity: Severity, threshold: number) =>
    rule(
      ALERT_NAMES.xidWraparound,
      severity,
      '5m',
      `max by (${CLUSTER}, datname) (${PG_METRICS.xidAge}) > ${promNumber(threshold)}`,
      'Transaction ID wraparound approaching in database {{ $labels.datname }} (cluster {{ $labels.cluster }})',
      'The oldest unfrozen transaction ID of database {{ $labels.datname }} in cluster {{ $labels.cluster }} is {{ $value | humanize }} transactions old, ' +
        `above the ${severity} threshold of ${promNumber(threshold)}; at 2^31 - 3 million PostgreSQL stops accepting writes. ` +
        'Find what blocks freezing (long transactions, prepared transactions, stale replication slots) and VACUUM (FREEZE) the oldest tables.',
    );
  return [
    xidRule('warning', spec.xidAge.warning),
    xidRule('critical', spec.xidAge.critical),
    rule(
      ALERT_NAMES.walArchivingFailing,
      'critical',
      '5m',
      `max by (${ON_NODE}) (${PG_METRICS.archiveFailing}) == 1`,
      `WAL archiving failing on ${at}`,
      `The last WAL archiving attempt of ${at} failed, and no later one succeeded, for 5 minutes (pg_stat_archiver): ` +
        'point-in-time recovery stops at the last archived segment and pg_wal grows until the disk is full. Check the pgBackRest log.',
    ),
  ];
}

function backupRules(spec: MonitoringSpec, backup: BackupJobSpec | undefined): AlertRule[] {
  const rules: AlertRule[] = [];
  const maxAgeHours = backupMaxAgeHours(spec, backup);
  const backupJobs = `backup-(${BACKUP_JOB_LABELS.backupTypes.map((t) => t.replace('backup-', '')).join('|')})`;
  if (maxAgeHours !== undefined) {
    rules.push(
      rule(
        ALERT_NAMES.backupTooOld,
        'critical',
        '10m',
        `time() - max by (${CLUSTER}) (${selector(JOB_METRICS.lastSuccess, {}, { job: backupJobs })}) > ${promNumber(maxAgeHours * 3600)}`,
        'Newest backup of cluster {{ $labels.cluster }} is {{ $value | humanizeDuration }} old',
        'The newest successful pgBackRest backup (full, differential or incremental) of cluster {{ $labels.cluster }} finished ' +
          `{{ $value | humanizeDuration }} ago, more than the ${maxAgeHours} hours its schedule allows: a restore would need more WAL ` +
          'than planned, or backups stopped. Check the pgha-backup-* units and the pgBackRest log on the node that runs them.',
      ),
    );
  }
  if (!backup) return rules;
  /** An `and` clause keeping only the node that ran `jobs` last in its cluster (a job moves with the role; older status files stay behind). */
  const latestRun = (jobs: string, groupBy: string) => {
    const lastRun = (by: string) => `max by (${by}) (${selector(JOB_METRICS.lastRun, {}, { job: jobs })})`;
    return [
      `and on (${CLUSTER}, ${NODE}, job)`,
      '(',
      `  ${lastRun(`${CLUSTER}, ${NODE}, job`)}`,
      `  == on (${groupBy}) group_left`,
      `  ${lastRun(groupBy)}`,
      ')',
    ];
  };
  const failingJobs = [...BACKUP_JOB_LABELS.backupTypes, BACKUP_JOB_LABELS.check, BACKUP_JOB_LABELS.verify, BACKUP_JOB_LABELS.dump].join('|');
  rules.push(
    rule(
      ALERT_NAMES.backupJobFailed,
      'warning',
      '1m',
      [`max by (${CLUSTER}, ${NODE}, job) (${selector(JOB_METRICS.lastExitCode, {}, { job: failingJobs })}) != 0`, ...latestRun(failingJobs, `${CLUSTER}, job`)].join('\n'),
      `Job {{ $labels.job }} failed on ${at}`,
      `The last run of the scheduled job {{ $labels.job }} in cluster {{ $labels.cluster }}, on node {{ $labels.node }}, exited with code {{ $value | humanize }}. ` +
        'Read its log: journalctl -u pgha-{{ $labels.job }}.service on that node.',
    ),
  );
  if (backup.restoreDrillSchedule !== false) {
    const drill = BACKUP_JOB_LABELS.restoreDrill;
    rules.push(
      rule(
        ALERT_NAMES.restoreDrillFailed,
        'warning',
        '1m',
        [`min by (${CLUSTER}, ${NODE}, job) (${selector(JOB_METRICS.drillSuccess, { job: drill })}) == 0`, ...latestRun(drill, CLUSTER)].join('\n'),
        'Restore drill failed in cluster {{ $labels.cluster }} (on {{ $labels.node }})',
        `The last restore drill of cluster {{ $labels.cluster }}, run on node {{ $labels.node }}, failed (${JOB_METRICS.drillSuccess} = {{ $value | humanize }}): ` +
          'the latest backup could not be restored, started or queried. Read journalctl -u pgha-restore-drill.service on that node.',
      ),
    );
  }
  return rules;
}

/** The rules, as data (the dashboard and CloudWatch alarms can read the same list). */
export function alertRules(input: AlertRulesInput): AlertRule[] {
  const { spec, backup } = input;
  return [
    ...availabilityRules(),
    ...replicationRules(spec),
    ...usageRules(spec, input.dataMountpoint ?? LAYOUT.dataMount),
    ...wraparoundAndArchiveRules(spec),
    ...backupRules(spec, backup),
  ];
}

/** The Prometheus rule file (YAML) of a cluster. */
export function renderAlertRules(input: AlertRulesInput): string {
  const body = stringify({ groups: [{ name: ALERT_GROUP, rules: alertRules(input) }] }, { lineWidth: 0 });
  return [
    '# Prometheus alert rules, generated by cdktf-postgres-ha. Changes are overwritten on the next deploy.',
    '# Check with: promtool check rules <this file>',
    body,
  ].join('\n');
}
