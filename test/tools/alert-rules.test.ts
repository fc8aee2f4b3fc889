/**
 * The alert rules against the real Prometheus 2.53.3 `promtool` (Debian 13's package, run from the
 * node runtime root):
 * - `promtool check rules` accepts the rendered file (defaults and overrides) and refuses a broken copy;
 * - `promtool test rules` with a test file generated here from the same threshold numbers the rules
 *   were rendered from: for every alert, series just inside its warning and critical thresholds
 *   (no alert) and just beyond them (the alert, with its labels and its expanded annotations).
 * The edges are also asserted as literal numbers for the defaults, so a wrong default cannot hide
 * behind a test generated from it. And the backup schedule gaps the allowed backup age derives from
 * agree with systemd's own calendar (`systemd-analyze calendar --iterations`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { JOB_METRICS } from '../../src/render/backup-scripts';
import { ALERT_NAMES, AlertRule, AlertRulesInput, Severity, alertRules, backupMaxAgeHours, calendarMaxGapSeconds, renderAlertRules } from '../../src/render/alert-rules';
import { PG_METRICS, SCRAPE_JOBS, SLOT_WAL_STATUS } from '../../src/render/monitoring-metrics';
import { LAYOUT } from '../../src/model/layout';
import { BackupJobSpecInput, validateBackupJobSpec } from '../../src/spec/backup-job';
import { MonitoringSpec, MonitoringSpecInput, validateMonitoringSpec } from '../../src/spec/monitoring';
import { CommandResult, makeTempDir, removeTempDir, requireNodeBinaries, runCommand } from '../support/processes';

const PROMTOOL = '/usr/bin/promtool';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

// ---- Go template functions of Prometheus 2.53.3 (template/template.go, the same as in 2.42), for the expected annotations

/** Go's fmt %.4g. Test values avoid exact decimal ties, where Go and JavaScript round differently. */
function goG4(value: number): string {
  if (value === 0) return '0';
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  const exponent = Number(value.toExponential(3).split('e')[1]);
  if (exponent < -4 || exponent >= 4) {
    const [mantissa, exp] = value.toExponential(3).split('e');
    const digits = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const sign = exp.startsWith('-') ? '-' : '+';
    return `${digits}e${sign}${exp.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  const fixed = value.toFixed(3 - exponent);
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

function humanize(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return goG4(value);
  let v = value;
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return `${goG4(v)}${prefix}`;
  }
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${goG4(v)}${prefix}`;
}

/** Prometheus 2.53.3's humanize1024: powers of 1024 with ki, Mi, Gi, ... */
function humanize1024(value: number): string {
  if (Math.abs(value) <= 1 || !Number.isFinite(value)) return goG4(value);
  let v = value;
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return `${goG4(v)}${prefix}`;
}

function humanizeDuration(value: number): string {
  if (!Number.isFinite(value)) return goG4(value);
  if (value === 0) return '0s';
  if (Math.abs(value) >= 1) {
    const sign = value < 0 ? '-' : '';
    const total = Math.trunc(Math.abs(value));
    const [days, hours, minutes, seconds] = [Math.floor(total / 86400), Math.floor(total / 3600) % 24, Math.floor(total / 60) % 60, total % 60];
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${goG4(Math.abs(value))}s`;
  }
  throw new Error(`humanizeDuration below 1 s is not emulated: ${value}`);
}

/** Expands the template constructs the rules use; refuses any other, so the emulation cannot silently drift. */
function expandTemplate(template: string, labels: Record<string, string>, value: number): string {
  return template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_match, inner: string) => {
    const label = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(inner);
    if (label) {
      if (labels[label[1]] === undefined) throw new Error(`template reads $labels.${label[1]}, which the alert does not have: ${template}`);
      return labels[label[1]];
    }
    const call = /^\$value \| (humanize|humanize1024|humanizePercentage|humanizeDuration)$/.exec(inner);
    if (!call) throw new Error(`template construct not emulated by this test: {{ ${inner} }}`);
    if (call[1] === 'humanize') return humanize(value);
    if (call[1] === 'humanize1024') return humanize1024(value);
    if (call[1] === 'humanizePercentage') return `${goG4(value * 100)}%`;
    return humanizeDuration(value);
  });
}

// ---- the generated promtool unit tests --------------------------------------------------------------

interface Series {
  readonly metric: string;
  readonly labels: Record<string, string>;
  /** promtool's expanding notation, e.g. "5x70" or "0+100x70". */
  readonly values: string;
}

interface Expected {
  readonly severity: Severity;
  /** The alert's labels apart from alertname and severity. */
  readonly labels: Record<string, string>;
  /** The alert's value at eval time ($value in the annotations). */
  readonly value: number;
}

interface AlertCase {
  readonly alert: string;
  readonly series: readonly Series[];
  /** Minutes; the series run a little beyond it. */
  readonly evalMinutes: number;
  readonly expected: readonly Expected[];
}

/** Every series runs 70 minutes; each case is evaluated 5 minutes after its rules' longest `for:`. */
const SAMPLES = 'x70';
const constant = (value: number) => `${value}${SAMPLES}`;

/** The target labels the scrape config gives: one address per node, the same for all its series. */
const addresses = new Map<string, string>();
function target(job: string, cluster: string, node: string, port: number): Record<string, string> {
  const key = `${cluster}/${node}`;
  if (!addresses.has(key)) addresses.set(key, `10.0.${Math.floor(addresses.size / 200)}.${(addresses.size % 200) + 10}`);
  return { job, instance: `${addresses.get(key)}:${port}`, cluster, node };
}
/** A postgres_exporter series with the scrape config's target labels. */
const pg = (metric: string, cluster: string, node: string, value: number | string, extra: Record<string, string> = {}): Series => ({
  metric,
  labels: { ...target(SCRAPE_JOBS.postgres, cluster, node, 9187), ...extra },
  values: typeof value === 'number' ? constant(value) : value,
});
/** A node_exporter series. */
const nodeSeries = (metric: string, cluster: string, node: string, value: number | string, extra: Record<string, string> = {}): Series => ({
  metric,
  labels: { ...target(SCRAPE_JOBS.node, cluster, node, 9100), ...extra },
  values: typeof value === 'number' ? constant(value) : value,
});
/** A job status textfile series: its own job label as `job` (the node scrape job's metric relabeling). */
const jobSeries = (metric: string, cluster: string, node: string, job: string, value: number): Series => ({
  metric,
  labels: { ...target(SCRAPE_JOBS.node, cluster, node, 9100), job },
  values: constant(value),
});

/** The edges of a threshold pair: the values just inside and just beyond warning and critical. */
interface Edges {
  readonly warningInside: number;
  readonly warningBeyond: number;
  readonly criticalInside: number;
  readonly criticalBeyond: number;
}
const aboveEdges = (t: { warning: number; critical: number }, step: number): Edges => ({
  warningInside: t.warning,
  warningBeyond: t.warning + step,
  criticalInside: t.critical,
  criticalBeyond: t.critical + step,
});

/**
 * The four edges of a threshold pair as four series sets (one per edge, labelled by the edge's
 * name); an edge value fires each severity whose threshold (in the edges' unit) it is beyond.
 */
function pairCase(
  alert: string,
  t: { warning: number; critical: number },
  edges: Edges,
  seriesAt: (name: string, edgeValue: number) => Series[],
  labelsOf: (name: string) => Record<string, string>,
  valueOf: (edgeValue: number) => number,
  direction: 'above' | 'below' = 'above',
): AlertCase {
  const beyond = (value: number, threshold: number) => (direction === 'above' ? value > threshold : value < threshold);
  const points = Object.entries(edges) as [keyof Edges, number][];
  const expected: Expected[] = [];
  for (const [name, value] of points) {
    for (const severity of ['warning', 'critical'] as const) {
      if (beyond(value, t[severity])) expected.push({ severity, labels: labelsOf(name), value: valueOf(value) });
    }
  }
  return { alert, evalMinutes: 0, series: points.flatMap(([name, value]) => seriesAt(name, value)), expected };
}

function forMinutes(rules: readonly AlertRule[], alert: string): number {
  const durations = rules.filter((r) => r.alert === alert).map((r) => /^(\d+)m$/.exec(r.for));
  if (durations.length === 0 || durations.some((d) => d === null)) throw new Error(`${alert}: expected rules with for: in whole minutes`);
  return Math.max(...durations.map((d) => Number(d![1])));
}

function cases(spec: MonitoringSpec, backupAgeHours: number | undefined, rules: readonly AlertRule[]): AlertCase[] {
  const c = 'main';
  const list: AlertCase[] = [];
  const evalAt = (alert: string) => forMinutes(rules, alert) + 5;

  // Down: up 0 fires, up 1 does not; a target down for less than `for` (one sample) is pending only.
  list.push({
    alert: ALERT_NAMES.exporterDown,
    evalMinutes: 0,
    series: [
      pg('up', c, 'n-up', 1),
      pg('up', c, 'n-down', 0),
      pg('up', c, 'n-just-down', `1x${evalAt(ALERT_NAMES.exporterDown) - 1} 0x70`),
      nodeSeries('up', c, 'n-up', 0),
    ],
    expected: [{ severity: 'critical', labels: { cluster: c, node: 'n-down' }, value: 0 }],
  });
  list.push({
    alert: ALERT_NAMES.postgresDown,
    evalMinutes: 0,
    series: [pg(PG_METRICS.up, c, 'n-up', 1), pg(PG_METRICS.up, c, 'n-down', 0)],
    expected: [{ severity: 'critical', labels: { cluster: c, node: 'n-down' }, value: 0 }],
  });
  list.push({
    alert: ALERT_NAMES.nodeExporterDown,
    evalMinutes: 0,
    series: [nodeSeries('up', c, 'n-up', 1), nodeSeries('up', c, 'n-down', 0), pg('up', c, 'n-up', 0)],
    expected: [{ severity: 'warning', labels: { cluster: c, node: 'n-down' }, value: 0 }],
  });

  // Primaries: one (fine), none (all replicas), none (the primary's series gone, its exporter down), two.
  const primariesSeries: Series[] = [];
  const clusterOf = (name: string, roles: (0 | 1 | undefined)[]) =>
    roles.forEach((role, i) => {
      primariesSeries.push(pg('up', name, `${name}-${i + 1}`, role === undefined ? 0 : 1));
      if (role !== undefined) primariesSeries.push(pg(PG_METRICS.isReplica, name, `${name}-${i + 1}`, role));
    });
  clusterOf('one-primary', [0, 1, 1]);
  clusterOf('all-replicas', [1, 1, 1]);
  clusterOf('primary-gone', [undefined, 1, 1]);
  clusterOf('two-primaries', [0, 0, 1]);
  list.push({
    alert: ALERT_NAMES.noPrimary,
    evalMinutes: 0,
    series: primariesSeries,
    expected: [
      { severity: 'critical', labels: { cluster: 'all-replicas' }, value: 3 },
      { severity: 'critical', labels: { cluster: 'primary-gone' }, value: 3 },
    ],
  });
  list.push({
    alert: ALERT_NAMES.multiplePrimaries,
    evalMinutes: 0,
    series: primariesSeries,
    expected: [{ severity: 'critical', labels: { cluster: 'two-primaries' }, value: 2 }],
  });

  list.push({
    alert: ALERT_NAMES.replicaNotStreaming,
    evalMinutes: 0,
    series: [
      pg(PG_METRICS.isReplica, c, 'primary', 0),
      pg(PG_METRICS.walReceiverStreaming, c, 'primary', 0),
      pg(PG_METRICS.isReplica, c, 'streaming', 1),
      pg(PG_METRICS.walReceiverStreaming, c, 'streaming', 1),
      pg(PG_METRICS.isReplica, c, 'stopped', 1),
      pg(PG_METRICS.walReceiverStreaming, c, 'stopped', 0),
    ],
    expected: [{ severity: 'warning', labels: { cluster: c, node: 'stopped' }, value: 0 }],
  });

  list.push(
    pairCase(
      ALERT_NAMES.replicationLag,
      spec.replicationLagSeconds,
      aboveEdges(spec.replicationLagSeconds, 1),
      (name, value) => [pg(PG_METRICS.lagSeconds, c, name, value)],
      (name) => ({ cluster: c, node: name }),
      (value) => value,
    ),
  );

  // Slots: WAL kept at the thresholds and one byte more (a standby's physical slot on n1); a
  // subscription's logical slot beyond critical on the primary n1 and on its copy on the replica n2
  // (both disks keep the WAL: one alert per node). The critical rule's for: beyond critical for
  // exactly that long fires (critical only: the warning waits longer), a minute less does not.
  const slotAlert = ALERT_NAMES.replicationSlotRetainingWal;
  const slotLabels = (node: string, slotName: string, slotType: 'physical' | 'logical') => ({ cluster: c, node, slot_name: slotName, slot_type: slotType });
  const slotSeries = (metric: string, node: string, slotName: string, slotType: 'physical' | 'logical', value: number | string) =>
    pg(metric, c, node, value, { slot_name: slotName, slot_type: slotType, ...(slotType === 'logical' ? { database: 'app' } : {}) });
  const slotBytes = spec.slotRetainedWalBytes;
  const retainedCase = pairCase(
    slotAlert,
    slotBytes,
    aboveEdges(slotBytes, 1),
    (name, bytes) => [slotSeries(PG_METRICS.slotRetainedBytes, 'n1', name, 'physical', bytes)],
    (name) => slotLabels('n1', name, 'physical'),
    (bytes) => bytes,
  );
  const over = slotBytes.critical + 1;
  const criticalFor = Number(/^(\d+)m$/.exec(ruleFor(rules, slotAlert, 'critical').for)![1]);
  const slotEval = evalAt(slotAlert);
  const subscription = 'sub_reports_app_sub';
  list.push({
    ...retainedCase,
    series: [
      ...retainedCase.series,
      slotSeries(PG_METRICS.slotRetainedBytes, 'n1', subscription, 'logical', over),
      slotSeries(PG_METRICS.slotRetainedBytes, 'n2', subscription, 'logical', over),
      slotSeries(PG_METRICS.slotRetainedBytes, 'n1', 'critical-held', 'physical', `0x${slotEval - criticalFor - 1} ${over}${SAMPLES}`),
      slotSeries(PG_METRICS.slotRetainedBytes, 'n1', 'critical-pending', 'physical', `0x${slotEval - criticalFor} ${over}${SAMPLES}`),
    ],
    expected: [
      ...retainedCase.expected,
      ...(['n1', 'n2'] as const).flatMap((node) =>
        (['warning', 'critical'] as const).map((severity) => ({ severity, labels: slotLabels(node, subscription, 'logical'), value: over })),
      ),
      { severity: 'critical', labels: slotLabels('n1', 'critical-held', 'physical'), value: over },
    ],
  });
  // Lost: wal_status 3 only (reserved, extended, unreserved and no WAL reserved do not fire), after 1 minute of it.
  const lostAlert = ALERT_NAMES.replicationSlotLost;
  const lostEval = evalAt(lostAlert);
  const lostFor = forMinutes(rules, lostAlert);
  const status = (node: string, slotName: string, slotType: 'physical' | 'logical', value: number | string) => slotSeries(PG_METRICS.slotWalStatus, node, slotName, slotType, value);
  list.push({
    alert: lostAlert,
    evalMinutes: 0,
    series: [
      ...(['none', 'reserved', 'extended', 'unreserved'] as const).map((name) => status('n1', name, 'physical', SLOT_WAL_STATUS[name])),
      status('n1', 'lost', 'physical', SLOT_WAL_STATUS.lost),
      status('n2', subscription, 'logical', SLOT_WAL_STATUS.lost),
      status('n1', 'lost-held', 'physical', `${SLOT_WAL_STATUS.unreserved}x${lostEval - lostFor - 1} ${SLOT_WAL_STATUS.lost}${SAMPLES}`),
      status('n1', 'lost-pending', 'physical', `${SLOT_WAL_STATUS.unreserved}x${lostEval - lostFor} ${SLOT_WAL_STATUS.lost}${SAMPLES}`),
    ],
    expected: [
      { severity: 'critical', labels: slotLabels('n1', 'lost', 'physical'), value: SLOT_WAL_STATUS.lost },
      { severity: 'critical', labels: slotLabels('n2', subscription, 'logical'), value: SLOT_WAL_STATUS.lost },
      { severity: 'critical', labels: slotLabels('n1', 'lost-held', 'physical'), value: SLOT_WAL_STATUS.lost },
    ],
  });

  // Cache hit: 1,000,000 blocks a minute per database, hits at the threshold +/- 0.01 percentage point.
  const perMinute = 1_000_000;
  const hitsAt = (percent: number) => Math.round((percent / 100) * perMinute);
  const cache = spec.cacheHitPercent;
  const cacheEdges: Edges = {
    warningInside: cache.warning + 0.01,
    warningBeyond: cache.warning - 0.01,
    criticalInside: cache.critical + 0.01,
    criticalBeyond: cache.critical - 0.01,
  };
  const database = (node: string, datname: string, hitsPerMinute: number, readsPerMinute: number) => [
    pg(PG_METRICS.blocksHit, c, node, `0+${hitsPerMinute}${SAMPLES}`, { datname }),
    pg(PG_METRICS.blocksRead, c, node, `0+${readsPerMinute}${SAMPLES}`, { datname }),
  ];
  const cacheCase = pairCase(
    ALERT_NAMES.cacheHitRatioLow,
    cache,
    cacheEdges,
    (name, percent) => database('n1', name, hitsAt(percent), perMinute - hitsAt(percent)),
    (name) => ({ cluster: c, node: 'n1', datname: name }),
    (percent) => hitsAt(percent) / perMinute,
    'below',
  );
  // Idle (0/0) and barely used (just under cacheHitMinBlocksPerSecond, every block a read): no alert.
  const idle = database('n1', 'idle', 0, 0);
  const quiet = spec.cacheHitMinBlocksPerSecond > 0 ? database('n1', 'quiet', 0, Math.ceil(spec.cacheHitMinBlocksPerSecond * 60) - 1) : [];
  list.push({ ...cacheCase, series: [...cacheCase.series, ...idle, ...quiet] });

  // Connections: max_connections 10000, used at the threshold and one more (thresholds as counts).
  const maxConnections = 10_000;
  const usedAt = (percent: number) => Math.round((percent / 100) * maxConnections);
  const usedThresholds = { warning: usedAt(spec.connectionUsagePercent.warning), critical: usedAt(spec.connectionUsagePercent.critical) };
  list.push(
    pairCase(
      ALERT_NAMES.connectionUsageHigh,
      usedThresholds,
      aboveEdges(usedThresholds, 1),
      (name, used) => [pg(PG_METRICS.connectionsUsed, c, name, used), pg(PG_METRICS.connectionsMax, c, name, maxConnections)],
      (name) => ({ cluster: c, node: name }),
      (used) => used / maxConnections,
    ),
  );

  // Disk: a 1,000,000-byte data volume, used at the threshold and one byte more; "/" full never counts.
  const size = 1_000_000;
  const usedBytes = (percent: number) => Math.round((percent / 100) * size);
  const fs = (node: string, used: number, mountpoint: string) => [
    nodeSeries('node_filesystem_size_bytes', c, node, size, { mountpoint, device: '/dev/nvme1n1', fstype: 'ext4' }),
    nodeSeries('node_filesystem_avail_bytes', c, node, size - used, { mountpoint, device: '/dev/nvme1n1', fstype: 'ext4' }),
  ];
  const diskThresholds = { warning: usedBytes(spec.diskUsagePercent.warning), critical: usedBytes(spec.diskUsagePercent.critical) };
  const diskCase = pairCase(
    ALERT_NAMES.dataDiskUsageHigh,
    diskThresholds,
    aboveEdges(diskThresholds, 1),
    (name, used) => fs(name, used, LAYOUT.dataMount),
    (name) => ({ cluster: c, node: name }),
    (used) => used / size,
  );
  list.push({ ...diskCase, series: [...diskCase.series, ...fs('root-full', size - 1, '/')] });

  // Dead tuples: tables of `rows` rows (at least deadTupleMinRows), dead at the threshold and one more;
  // a table just under deadTupleMinRows with only dead tuples does not count, one at it does.
  const rows = 10_000 * Math.max(1, Math.ceil(spec.deadTupleMinRows / 10_000));
  const deadAt = (percent: number) => Math.round((percent / 100) * rows);
  const table = (relname: string, dead: number, total: number) => [
    pg(PG_METRICS.deadTuples, c, 'n1', dead, { datname: 'app', schemaname: 'public', relname }),
    pg(PG_METRICS.liveTuples, c, 'n1', total - dead, { datname: 'app', schemaname: 'public', relname }),
  ];
  const tableLabels = (relname: string) => ({ cluster: c, node: 'n1', datname: 'app', schemaname: 'public', relname });
  const deadThresholds = { warning: deadAt(spec.deadTuplePercent.warning), critical: deadAt(spec.deadTuplePercent.critical) };
  const deadCase = pairCase(
    ALERT_NAMES.deadTuplesHigh,
    deadThresholds,
    aboveEdges(deadThresholds, 1),
    (name, dead) => table(name, dead, rows),
    tableLabels,
    (dead) => dead / rows,
  );
  const minRows = spec.deadTupleMinRows;
  list.push({
    ...deadCase,
    series: [...deadCase.series, ...(minRows >= 2 ? [...table('small', minRows - 1, minRows - 1), ...table('at-min', minRows, minRows)] : [])],
    expected: [
      ...deadCase.expected,
      ...(minRows >= 2
        ? (['warning', 'critical'] as const).map((severity) => ({ severity, labels: tableLabels('at-min'), value: 1 }))
        : []),
    ],
  });

  // XID age: per database and cluster, the same value on both nodes (pg_database is replicated).
  list.push(
    pairCase(
      ALERT_NAMES.xidWraparound,
      spec.xidAge,
      aboveEdges(spec.xidAge, 1),
      (name, age) => [pg(PG_METRICS.xidAge, c, 'n1', age, { datname: name }), pg(PG_METRICS.xidAge, c, 'n2', age, { datname: name })],
      (name) => ({ cluster: c, datname: name }),
      (age) => age,
    ),
  );

  list.push({
    alert: ALERT_NAMES.walArchivingFailing,
    evalMinutes: 0,
    series: [pg(PG_METRICS.archiveFailing, c, 'archiving', 0), pg(PG_METRICS.archiveFailing, c, 'failing', 1)],
    expected: [{ severity: 'critical', labels: { cluster: c, node: 'failing' }, value: 1 }],
  });

  if (backupAgeHours !== undefined) {
    // time() is the eval time in seconds since 0, so the success timestamps are negative: only
    // time() - timestamp matters, and the test stays minutes long whatever the allowed age.
    // With for: 10m the alert fires at eval time E once the age was above the limit at E - 10m:
    // "at-limit" is exactly limit + 10 min old at E (the latest age that does not fire), "stale"
    // one second older. "mixed": an old full backup and an incremental one at the limit on another
    // node: the newest counts. A check job's success is no backup.
    const maxAge = backupAgeHours * 3600;
    const evalSeconds = evalAt(ALERT_NAMES.backupTooOld) * 60;
    const forSeconds = forMinutes(rules, ALERT_NAMES.backupTooOld) * 60;
    const lastSuccess = JOB_METRICS.lastSuccess;
    list.push({
      alert: ALERT_NAMES.backupTooOld,
      evalMinutes: 0,
      series: [
        jobSeries(lastSuccess, 'at-limit', 'n1', 'backup-full', evalSeconds - maxAge - forSeconds),
        jobSeries(lastSuccess, 'stale', 'n1', 'backup-diff', evalSeconds - maxAge - forSeconds - 1),
        jobSeries(lastSuccess, 'mixed', 'n1', 'backup-full', evalSeconds - maxAge - 86_400),
        jobSeries(lastSuccess, 'mixed', 'n2', 'backup-incr', evalSeconds - maxAge - forSeconds),
        jobSeries(lastSuccess, 'only-check', 'n1', 'check', evalSeconds),
      ],
      expected: [{ severity: 'critical', labels: { cluster: 'stale' }, value: maxAge + forSeconds + 1 }],
    });
    // Job runs: a failure superseded by a later success elsewhere is over; the latest failure alerts.
    list.push({
      alert: ALERT_NAMES.backupJobFailed,
      evalMinutes: 0,
      series: [
        jobSeries(JOB_METRICS.lastExitCode, 'c1', 'n1', 'backup-full', 1),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n1', 'backup-full', 100),
        jobSeries(JOB_METRICS.lastExitCode, 'c1', 'n2', 'backup-full', 0),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n2', 'backup-full', 200),
        jobSeries(JOB_METRICS.lastExitCode, 'c1', 'n1', 'check', 2),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n1', 'check', 300),
        jobSeries(JOB_METRICS.lastExitCode, 'c1', 'n2', 'check', 0),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n2', 'check', 100),
        jobSeries(JOB_METRICS.lastExitCode, 'c1', 'n2', 'verify', 0),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n2', 'verify', 100),
        jobSeries(JOB_METRICS.lastExitCode, 'c2', 'n1', 'dump', 1),
        jobSeries(JOB_METRICS.lastRun, 'c2', 'n1', 'dump', 100),
        jobSeries(JOB_METRICS.lastExitCode, 'c2', 'n1', 'restore-drill', 1),
        jobSeries(JOB_METRICS.lastRun, 'c2', 'n1', 'restore-drill', 100),
      ],
      expected: [
        { severity: 'warning', labels: { cluster: 'c1', node: 'n1', job: 'check' }, value: 2 },
        { severity: 'warning', labels: { cluster: 'c2', node: 'n1', job: 'dump' }, value: 1 },
      ],
    });
    list.push({
      alert: ALERT_NAMES.restoreDrillFailed,
      evalMinutes: 0,
      series: [
        jobSeries(JOB_METRICS.drillSuccess, 'c1', 'n1', 'restore-drill', 0),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n1', 'restore-drill', 100),
        jobSeries(JOB_METRICS.drillSuccess, 'c1', 'n2', 'restore-drill', 1),
        jobSeries(JOB_METRICS.lastRun, 'c1', 'n2', 'restore-drill', 200),
        jobSeries(JOB_METRICS.drillSuccess, 'c2', 'n1', 'restore-drill', 1),
        jobSeries(JOB_METRICS.lastRun, 'c2', 'n1', 'restore-drill', 100),
        jobSeries(JOB_METRICS.drillSuccess, 'c2', 'n2', 'restore-drill', 0),
        jobSeries(JOB_METRICS.lastRun, 'c2', 'n2', 'restore-drill', 200),
      ],
      expected: [{ severity: 'warning', labels: { cluster: 'c2', node: 'n2', job: 'restore-drill' }, value: 0 }],
    });
  }
  return list.map((alertCase) => ({ ...alertCase, evalMinutes: evalAt(alertCase.alert) }));
}

function seriesText(series: Series): string {
  const labels = Object.entries(series.labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${series.metric}{${labels}}`;
}

function ruleFor(rules: readonly AlertRule[], alert: string, severity: Severity): AlertRule {
  const found = rules.find((r) => r.alert === alert && r.labels.severity === severity);
  if (!found) throw new Error(`no ${severity} rule ${alert} in the rendered rules`);
  return found;
}

/** The promtool unit test file for `rulesFile`. */
function testFile(rulesFile: string, rules: readonly AlertRule[], alertCases: readonly AlertCase[]): string {
  return stringify(
    {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: alertCases.map((alertCase) => ({
        interval: '1m',
        input_series: alertCase.series.map((s) => ({ series: seriesText(s), values: s.values })),
        alert_rule_test: [
          {
            eval_time: `${alertCase.evalMinutes}m`,
            alertname: alertCase.alert,
            exp_alerts: alertCase.expected.map((e) => {
              const rule = ruleFor(rules, alertCase.alert, e.severity);
              const labels = { ...e.labels, severity: e.severity };
              return {
                exp_labels: labels,
                exp_annotations: {
                  summary: expandTemplate(rule.annotations.summary, labels, e.value),
                  description: expandTemplate(rule.annotations.description, labels, e.value),
                },
              };
            }),
          },
        ],
      })),
    },
    { lineWidth: 0 },
  );
}

// ---- the tests --------------------------------------------------------------------------------------

const OVERRIDES: MonitoringSpecInput = {
  cacheHitPercent: { warning: 97.5, critical: 90 },
  cacheHitMinBlocksPerSecond: 5,
  replicationLagSeconds: { warning: 30, critical: 120 },
  connectionUsagePercent: { warning: 70, critical: 85.5 },
  diskUsagePercent: { warning: 75, critical: 85.25 },
  deadTuplePercent: { warning: 5, critical: 15 },
  deadTupleMinRows: 500,
  xidAge: { warning: 500_000_000, critical: 900_000_000 },
  slotRetainedWalBytes: { warning: 512 * 1024 ** 2, critical: 1.5 * 1024 ** 3 },
  backupMaxAgeHours: 30,
};
const DRILL_AND_DUMPS: BackupJobSpecInput = { logicalDump: {} };

interface Scenario {
  readonly name: string;
  readonly input: AlertRulesInput;
}
const scenarios = (): Scenario[] => [
  { name: 'defaults', input: { spec: validateMonitoringSpec({}), backup: validateBackupJobSpec(DRILL_AND_DUMPS) } },
  { name: 'overridden', input: { spec: validateMonitoringSpec(OVERRIDES), backup: validateBackupJobSpec(DRILL_AND_DUMPS) } },
  // Weekly full backups only: the allowed age derives to 7 days + 2 hours.
  { name: 'weekly-only', input: { spec: validateMonitoringSpec({}), backup: validateBackupJobSpec({ differentialSchedule: false }) } },
];

function failureText(what: string, result: CommandResult): string {
  return `${what}: exit ${result.code}${result.signal ? ` (${result.signal})` : ''} after ${result.durationMs} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

async function promtool(args: string[]): Promise<CommandResult> {
  return runCommand(PROMTOOL, { args, node: true, timeoutMs: 30_000 });
}

let dir: string;
beforeAll(() => {
  requireNodeBinaries([PROMTOOL]);
  requireNodeBinaries([SYSTEMD_ANALYZE]);
  dir = makeTempDir('pgha-alert-rules');
});
afterAll(() => removeTempDir(dir));

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('promtool check rules', () => {
  test('is the node runtime\'s promtool 2.53.3', async () => {
    const result = await promtool(['--version']);
    expect(result.code).toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/^promtool, version 2\.53\.3\b/);
  });

  test.each(scenarios().map((s) => [s.name, s] as const))('accepts the rendered rules (%s)', async (_name, scenario) => {
    const path = write(`${scenario.name}.rules.yml`, renderAlertRules(scenario.input));
    const result = await promtool(['check', 'rules', path]);
    if (result.code !== 0) throw new Error(failureText(`promtool check rules ${path}`, result));
    expect(result.stdout).toContain(`SUCCESS: ${alertRules(scenario.input).length} rules found`);
  });

  test('fails on a broken copy (negative control): a PromQL syntax error and a bad for: duration', async () => {
    const rendered = renderAlertRules(scenarios()[0].input);
    const syntax = rendered.replace(`max by (cluster, node) (${PG_METRICS.up}) == 0`, `max by (cluster, node (${PG_METRICS.up}) == 0`);
    const duration = rendered.replace('for: 5m', 'for: 5 minutes');
    expect(syntax).not.toEqual(rendered);
    expect(duration).not.toEqual(rendered);
    for (const [name, text, message] of [
      ['syntax', syntax, /parse error/],
      ['duration', duration, /not a valid duration string|5 minutes/],
    ] as const) {
      const result = await promtool(['check', 'rules', write(`broken-${name}.rules.yml`, text)]);
      expect(result.code).not.toBe(0);
      expect(`${result.stdout}${result.stderr}`).toMatch(message);
    }
  });
});

describe('promtool test rules: every alert fires just beyond its thresholds and not just inside', () => {
  test('the defaults give these literal edges (so the generated tests cannot follow a wrong default)', () => {
    const spec = validateMonitoringSpec({});
    const list = cases(spec, backupMaxAgeHours(spec, validateBackupJobSpec(DRILL_AND_DUMPS)), alertRules({ spec, backup: validateBackupJobSpec(DRILL_AND_DUMPS) }));
    const valuesOf = (alert: string, metric: string) =>
      list
        .find((c) => c.alert === alert)!
        .series.filter((s) => s.metric === metric)
        .map((s) => `${s.labels.node ?? ''}${s.labels.datname ?? ''}${s.labels.relname ?? ''}=${s.values.replace(SAMPLES, '')}`);
    expect(valuesOf(ALERT_NAMES.replicationLag, PG_METRICS.lagSeconds)).toEqual(['warningInside=60', 'warningBeyond=61', 'criticalInside=300', 'criticalBeyond=301']);
    expect(valuesOf(ALERT_NAMES.connectionUsageHigh, PG_METRICS.connectionsUsed)).toEqual(['warningInside=8000', 'warningBeyond=8001', 'criticalInside=9500', 'criticalBeyond=9501']);
    expect(valuesOf(ALERT_NAMES.dataDiskUsageHigh, 'node_filesystem_avail_bytes')).toEqual([
      'warningInside=200000',
      'warningBeyond=199999',
      'criticalInside=100000',
      'criticalBeyond=99999',
      'root-full=1',
    ]);
    expect(valuesOf(ALERT_NAMES.deadTuplesHigh, PG_METRICS.deadTuples)).toEqual([
      'n1appwarningInside=1000',
      'n1appwarningBeyond=1001',
      'n1appcriticalInside=2000',
      'n1appcriticalBeyond=2001',
      'n1appsmall=9999',
      'n1appat-min=10000',
    ]);
    expect(valuesOf(ALERT_NAMES.xidWraparound, PG_METRICS.xidAge)).toEqual([
      'n1warningInside=1000000000',
      'n2warningInside=1000000000',
      'n1warningBeyond=1000000001',
      'n2warningBeyond=1000000001',
      'n1criticalInside=1500000000',
      'n2criticalInside=1500000000',
      'n1criticalBeyond=1500000001',
      'n2criticalBeyond=1500000001',
    ]);
    const slotValues = (alert: string, metric: string) =>
      list
        .find((c) => c.alert === alert)!
        .series.filter((s) => s.metric === metric)
        .map((s) => `${s.labels.node}/${s.labels.slot_name}=${s.values}`);
    expect(slotValues(ALERT_NAMES.replicationSlotRetainingWal, PG_METRICS.slotRetainedBytes)).toEqual([
      'n1/warningInside=1073741824x70',
      'n1/warningBeyond=1073741825x70',
      'n1/criticalInside=8589934592x70',
      'n1/criticalBeyond=8589934593x70',
      'n1/sub_reports_app_sub=8589934593x70',
      'n2/sub_reports_app_sub=8589934593x70',
      // Evaluated at 15 min (for: 10m + 5): beyond critical from minute 10 (5 min, the critical for:) and from minute 11.
      'n1/critical-held=0x9 8589934593x70',
      'n1/critical-pending=0x10 8589934593x70',
    ]);
    // Evaluated at 6 min (for: 1m + 5): lost from minute 5 (held 1 min) and from minute 6 (just now).
    expect(slotValues(ALERT_NAMES.replicationSlotLost, PG_METRICS.slotWalStatus)).toEqual([
      'n1/none=-1x70',
      'n1/reserved=0x70',
      'n1/extended=1x70',
      'n1/unreserved=2x70',
      'n1/lost=3x70',
      'n2/sub_reports_app_sub=3x70',
      'n1/lost-held=2x4 3x70',
      'n1/lost-pending=2x5 3x70',
    ]);
    expect(valuesOf(ALERT_NAMES.cacheHitRatioLow, PG_METRICS.blocksHit)).toEqual([
      'n1warningInside=0+990100',
      'n1warningBeyond=0+989900',
      'n1criticalInside=0+950100',
      'n1criticalBeyond=0+949900',
      'n1idle=0+0',
      'n1quiet=0+0',
    ]);
    // 26 hours (daily backups + 2 h) = 93600 s; evaluated at 15 min = 900 s; for: 10m = 600 s.
    const backup = list.find((c) => c.alert === ALERT_NAMES.backupTooOld)!;
    expect(backup.series.map((s) => s.values)).toEqual([`${900 - 93_600 - 600}${SAMPLES}`, `${900 - 93_600 - 601}${SAMPLES}`, `${900 - 93_600 - 86_400}${SAMPLES}`, `${900 - 93_600 - 600}${SAMPLES}`, `900${SAMPLES}`]);
    expect(backup.expected).toEqual([{ severity: 'critical', labels: { cluster: 'stale' }, value: 94_201 }]);
    // Which alerts fire, with which severities, for the default edges.
    const firing = Object.fromEntries(list.map((c) => [c.alert, c.expected.map((e) => `${Object.values(e.labels).join('/')}:${e.severity}`)]));
    expect(firing).toEqual({
      [ALERT_NAMES.exporterDown]: ['main/n-down:critical'],
      [ALERT_NAMES.postgresDown]: ['main/n-down:critical'],
      [ALERT_NAMES.nodeExporterDown]: ['main/n-down:warning'],
      [ALERT_NAMES.noPrimary]: ['all-replicas:critical', 'primary-gone:critical'],
      [ALERT_NAMES.multiplePrimaries]: ['two-primaries:critical'],
      [ALERT_NAMES.replicaNotStreaming]: ['main/stopped:warning'],
      [ALERT_NAMES.replicationLag]: ['main/warningBeyond:warning', 'main/criticalInside:warning', 'main/criticalBeyond:warning', 'main/criticalBeyond:critical'],
      [ALERT_NAMES.replicationSlotRetainingWal]: [
        'main/n1/warningBeyond/physical:warning',
        'main/n1/criticalInside/physical:warning',
        'main/n1/criticalBeyond/physical:warning',
        'main/n1/criticalBeyond/physical:critical',
        'main/n1/sub_reports_app_sub/logical:warning',
        'main/n1/sub_reports_app_sub/logical:critical',
        'main/n2/sub_reports_app_sub/logical:warning',
        'main/n2/sub_reports_app_sub/logical:critical',
        'main/n1/critical-held/physical:critical',
      ],
      [ALERT_NAMES.replicationSlotLost]: ['main/n1/lost/physical:critical', 'main/n2/sub_reports_app_sub/logical:critical', 'main/n1/lost-held/physical:critical'],
      [ALERT_NAMES.cacheHitRatioLow]: ['main/n1/warningBeyond:warning', 'main/n1/criticalInside:warning', 'main/n1/criticalBeyond:warning', 'main/n1/criticalBeyond:critical'],
      [ALERT_NAMES.connectionUsageHigh]: ['main/warningBeyond:warning', 'main/criticalInside:warning', 'main/criticalBeyond:warning', 'main/criticalBeyond:critical'],
      [ALERT_NAMES.dataDiskUsageHigh]: ['main/warningBeyond:warning', 'main/criticalInside:warning', 'main/criticalBeyond:warning', 'main/criticalBeyond:critical'],
      [ALERT_NAMES.deadTuplesHigh]: [
        'main/n1/app/public/warningBeyond:warning',
        'main/n1/app/public/criticalInside:warning',
        'main/n1/app/public/criticalBeyond:warning',
        'main/n1/app/public/criticalBeyond:critical',
        'main/n1/app/public/at-min:warning',
        'main/n1/app/public/at-min:critical',
      ],
      [ALERT_NAMES.xidWraparound]: ['main/warningBeyond:warning', 'main/criticalInside:warning', 'main/criticalBeyond:warning', 'main/criticalBeyond:critical'],
      [ALERT_NAMES.walArchivingFailing]: ['main/failing:critical'],
      [ALERT_NAMES.backupTooOld]: ['stale:critical'],
      [ALERT_NAMES.backupJobFailed]: ['c1/n1/check:warning', 'c2/n1/dump:warning'],
      [ALERT_NAMES.restoreDrillFailed]: ['c2/n2/restore-drill:warning'],
    });
    // Every alert of the rendered file has a case.
    const rendered = new Set(alertRules({ spec, backup: validateBackupJobSpec(DRILL_AND_DUMPS) }).map((r) => r.alert));
    expect(new Set(list.map((c) => c.alert))).toEqual(rendered);
  });

  test.each(scenarios().map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const rules = alertRules(scenario.input);
    const rulesPath = write(`${scenario.name}.rules.yml`, renderAlertRules(scenario.input));
    const alertCases = cases(scenario.input.spec, backupMaxAgeHours(scenario.input.spec, scenario.input.backup), rules);
    const testPath = write(`${scenario.name}.test.yml`, testFile(rulesPath, rules, alertCases));
    const result = await promtool(['test', 'rules', testPath]);
    if (result.code !== 0) throw new Error(failureText(`promtool test rules ${testPath}`, result));
    expect(result.stdout).toMatch(/SUCCESS/);
    // The rendered file and the test agree on what they parse: a sanity check of the generator.
    expect(parse(readFileSync(testPath, 'utf8')).tests).toHaveLength(alertCases.length);
  });

  test('fails (negative control) when the rules do not match the thresholds the test was generated from', async () => {
    const spec = validateMonitoringSpec({});
    const backup = validateBackupJobSpec(DRILL_AND_DUMPS);
    // Rules rendered with a lag warning of 61 s, a disk critical of 91 % and a slot warning one byte
    // higher, tested against the defaults' edges.
    const shifted: AlertRulesInput = {
      spec: validateMonitoringSpec({ replicationLagSeconds: { warning: 61 }, diskUsagePercent: { critical: 91 }, slotRetainedWalBytes: { warning: 1024 ** 3 + 1 } }),
      backup,
    };
    const rulesPath = write('shifted.rules.yml', renderAlertRules(shifted));
    const testPath = write('shifted.test.yml', testFile(rulesPath, alertRules({ spec, backup }), cases(spec, backupMaxAgeHours(spec, backup), alertRules({ spec, backup }))));
    const result = await promtool(['test', 'rules', testPath]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(`alertname: ${ALERT_NAMES.replicationLag}`);
    expect(result.stdout + result.stderr).toContain(`alertname: ${ALERT_NAMES.dataDiskUsageHigh}`);
    expect(result.stdout + result.stderr).toContain(`alertname: ${ALERT_NAMES.replicationSlotRetainingWal}`);
    expect(result.stdout + result.stderr).not.toContain(`alertname: ${ALERT_NAMES.connectionUsageHigh}`);
    expect(result.stdout + result.stderr).not.toContain(`alertname: ${ALERT_NAMES.replicationSlotLost}`);
  });
});

describe('the backup schedule gaps agree with systemd-analyze calendar', () => {
  /** systemd's next `iterations` firings from 2024-01-01 UTC, in seconds. */
  async function firings(expression: string, iterations: number): Promise<number[]> {
    const result = await runCommand(SYSTEMD_ANALYZE, {
      node: true,
      args: ['calendar', `--iterations=${iterations}`, '--base-time=2023-12-31 23:59:59 UTC', expression],
      env: { TZ: 'UTC' },
      timeoutMs: 10_000,
    });
    if (result.code !== 0) throw new Error(failureText(`systemd-analyze calendar ${expression}`, result));
    const times = [...result.stdout.matchAll(/(?:Next elapse|Iteration #\d+): \w+ (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC/g)].map((m) => Date.parse(`${m[1]}T${m[2]}Z`) / 1000);
    expect(times).toHaveLength(iterations);
    return times;
  }

  // [expressions (one backup schedule set), firings per expression: enough to span the longest gap]
  test.each<[string[], number]>([
    [['daily'], 10],
    [['weekly'], 10],
    [['Sun *-*-* 01:00:00', 'Mon..Sat *-*-* 01:00:00'], 20],
    [['Mon..Sat *-*-* 01:00:00'], 30],
    [['Mon..Fri 02:00'], 30],
    [['Sat,Sun 03:30'], 20],
    [['Sun 01:00', '*-*-* 07..23/6:00:00'], 40],
    [['*:0/15'], 200],
    [['*-*-01 04:00'], 30],
    [['quarterly'], 12],
    [['*-02~01'], 9],
    [['Fri *-*-13 12:00'], 60],
    [['Mon *-*-01 00:00'], 60],
  ])('%j', async (expressions, iterations) => {
    const lists = await Promise.all(expressions.map((e) => firings(e, iterations)));
    // Up to the earliest last firing of any list, all firings of the union are known.
    const until = Math.min(...lists.map((l) => l[l.length - 1]));
    const union = [...new Set(lists.flat())].filter((t) => t <= until).sort((a, b) => a - b);
    const gaps = union.slice(1).map((t, i) => t - union[i]);
    expect(calendarMaxGapSeconds(expressions)).toBe(Math.max(...gaps));
  });
});
