import { THRESHOLD_FIELDS } from '../spec/monitoring';
import { JOB_STATUS_METRICS, PG_METRICS, SCRAPE_JOBS, TARGET_LABELS } from './monitoring-metrics';

export interface GrafanaDashboardInput {
  /** @default "PostgreSQL HA clusters" */
  readonly title?: string;
  /** @default "pgha-postgresql" */
  readonly uid?: string;
}

/** Grafana's dashboard JSON model version this is written for (Grafana 9.4 - 10.x). */
export const GRAFANA_SCHEMA_VERSION = 38;

/** The dashboard's template variables, as its expressions reference them. */
export const DASHBOARD_VARIABLES = { datasource: 'datasource', cluster: 'cluster', node: 'node' } as const;

/**
 * Values of the job status metrics' `job` label (what the BackupJob's scripts write as PGHA_JOB in
 * src/render/backup-scripts.ts): "backup-full", "backup-diff", "backup-incr", "restore-drill", ...
 */
const BACKUP_JOB_REGEX = 'backup-.+';

const DATASOURCE = { type: 'prometheus', uid: `\${${DASHBOARD_VARIABLES.datasource}}` } as const;
const RATE = '$__rate_interval';
const BY_NODE = `by (${TARGET_LABELS.cluster}, ${TARGET_LABELS.node})`;
const NODE_LEGEND = `{{${TARGET_LABELS.cluster}}} {{${TARGET_LABELS.node}}}`;

/** `metric{cluster=~"$cluster", node=~"$node"[, extra]}`. */
function perNode(metric: string, extra: string[] = []): string {
  return `${metric}{${[`${TARGET_LABELS.cluster}=~"$${DASHBOARD_VARIABLES.cluster}"`, `${TARGET_LABELS.node}=~"$${DASHBOARD_VARIABLES.node}"`, ...extra].join(', ')}}`;
}

/** `metric{cluster=~"$cluster"[, extra]}`: for the job metrics, written on whichever node ran the job. */
function perCluster(metric: string, extra: string[] = []): string {
  return `${metric}{${[`${TARGET_LABELS.cluster}=~"$${DASHBOARD_VARIABLES.cluster}"`, ...extra].join(', ')}}`;
}

function sumRate(metric: string): string {
  return `sum ${BY_NODE} (rate(${perNode(metric)}[${RATE}]))`;
}

interface Target {
  readonly expr: string;
  readonly legend: string;
}

interface Mapping {
  readonly value: number;
  readonly text: string;
  readonly color: string;
}

interface PanelSpec {
  readonly id: number;
  readonly type: 'timeseries' | 'stat';
  readonly title: string;
  readonly description: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets: readonly Target[];
  readonly unit: string;
  readonly min?: number;
  readonly max?: number;
  /** [value, color] steps above the base (green). */
  readonly thresholds?: readonly (readonly [number, string])[];
  readonly mappings?: readonly Mapping[];
}

const TABLE = `{{datname}}.{{schemaname}}.{{relname}}`;

/**
 * The panels, by id. Ids and positions are a contract with users' saved links and edits: append new
 * panels with new ids, never renumber. Rows are 24 units wide.
 */
const PANELS: readonly PanelSpec[] = [
  {
    id: 1,
    type: 'stat',
    title: 'PostgreSQL up',
    description: 'postgres_exporter reaches PostgreSQL on the node (pg_up).',
    gridPos: { x: 0, y: 0, w: 8, h: 4 },
    targets: [{ expr: `max ${BY_NODE} (${perNode(PG_METRICS.up)})`, legend: NODE_LEGEND }],
    unit: 'none',
    mappings: [
      { value: 1, text: 'UP', color: 'green' },
      { value: 0, text: 'DOWN', color: 'red' },
    ],
  },
  {
    id: 2,
    type: 'stat',
    title: 'Role',
    description: 'Primary or replica (in recovery), per node. More or fewer than one primary per cluster needs attention.',
    gridPos: { x: 8, y: 0, w: 8, h: 4 },
    targets: [{ expr: `max ${BY_NODE} (${perNode(PG_METRICS.isReplica)})`, legend: NODE_LEGEND }],
    unit: 'none',
    mappings: [
      { value: 0, text: 'primary', color: 'blue' },
      { value: 1, text: 'replica', color: 'green' },
    ],
  },
  {
    id: 3,
    type: 'stat',
    title: 'Exporters up',
    description: 'Prometheus scrapes every exporter of the node (postgres_exporter and node_exporter).',
    gridPos: { x: 16, y: 0, w: 8, h: 4 },
    targets: [{ expr: `min ${BY_NODE} (${perNode('up', [`job=~"${SCRAPE_JOBS.postgres}|${SCRAPE_JOBS.node}"`])})`, legend: NODE_LEGEND }],
    unit: 'none',
    mappings: [
      { value: 1, text: 'UP', color: 'green' },
      { value: 0, text: 'DOWN', color: 'red' },
    ],
  },
  {
    id: 4,
    type: 'timeseries',
    title: 'Replication lag',
    description: 'Seconds the replica replays behind its upstream; 0 on the primary and on an idle caught-up replica.',
    gridPos: { x: 0, y: 4, w: 12, h: 8 },
    targets: [{ expr: `max ${BY_NODE} (${perNode(PG_METRICS.lagSeconds)})`, legend: NODE_LEGEND }],
    unit: 's',
    min: 0,
    thresholds: [
      [60, 'orange'],
      [300, 'red'],
    ],
  },
  {
    id: 5,
    type: 'timeseries',
    title: 'Transactions per second',
    description: 'Commits plus rollbacks per second, all databases of the node.',
    gridPos: { x: 12, y: 4, w: 12, h: 8 },
    targets: [{ expr: `${sumRate(PG_METRICS.commits)} + ${sumRate(PG_METRICS.rollbacks)}`, legend: NODE_LEGEND }],
    unit: 'ops',
    min: 0,
  },
  {
    id: 6,
    type: 'timeseries',
    title: 'Connections used vs max',
    description: 'Client connections in use against max_connections.',
    gridPos: { x: 0, y: 12, w: 12, h: 8 },
    targets: [
      { expr: `max ${BY_NODE} (${perNode(PG_METRICS.connectionsUsed)})`, legend: `${NODE_LEGEND} used` },
      { expr: `max ${BY_NODE} (${perNode(PG_METRICS.connectionsMax)})`, legend: `${NODE_LEGEND} max` },
    ],
    unit: 'short',
    min: 0,
  },
  {
    id: 7,
    type: 'timeseries',
    title: 'Cache hit ratio',
    description: 'Share of block reads served from shared buffers, all databases of the node (no value while idle).',
    gridPos: { x: 12, y: 12, w: 12, h: 8 },
    targets: [
      {
        expr: `${sumRate(PG_METRICS.blocksHit)} / (${sumRate(PG_METRICS.blocksHit)} + ${sumRate(PG_METRICS.blocksRead)})`,
        legend: NODE_LEGEND,
      },
    ],
    unit: 'percentunit',
    min: 0,
    max: 1,
  },
  {
    id: 8,
    type: 'timeseries',
    title: 'Dead tuple ratio, top 10 tables',
    description: 'Dead tuples over live plus dead, for the 10 tables with the highest ratio.',
    gridPos: { x: 0, y: 20, w: 12, h: 8 },
    targets: [
      {
        expr: `topk(10, ${perNode(PG_METRICS.deadTuples)} / ((${perNode(PG_METRICS.liveTuples)} + ${perNode(PG_METRICS.deadTuples)}) > 0))`,
        legend: `{{${TARGET_LABELS.node}}} ${TABLE}`,
      },
    ],
    unit: 'percentunit',
    min: 0,
    max: 1,
    thresholds: [
      [0.1, 'orange'],
      [0.2, 'red'],
    ],
  },
  {
    id: 9,
    type: 'timeseries',
    title: 'Dead tuples, top 10 tables',
    description: 'Dead tuples of the 10 tables with the most.',
    gridPos: { x: 12, y: 20, w: 12, h: 8 },
    targets: [{ expr: `topk(10, ${perNode(PG_METRICS.deadTuples)})`, legend: `{{${TARGET_LABELS.node}}} ${TABLE}` }],
    unit: 'short',
    min: 0,
  },
  {
    id: 10,
    type: 'stat',
    title: 'WAL archiving',
    description: 'FAILING when the last archiving attempt failed (pg_stat_archiver: last failure newer than last success).',
    gridPos: { x: 0, y: 28, w: 8, h: 8 },
    targets: [{ expr: `max ${BY_NODE} (${perNode(PG_METRICS.archiveFailing)})`, legend: NODE_LEGEND }],
    unit: 'none',
    mappings: [
      { value: 0, text: 'OK', color: 'green' },
      { value: 1, text: 'FAILING', color: 'red' },
    ],
  },
  {
    id: 11,
    type: 'timeseries',
    title: 'Last archived WAL age',
    description: 'Seconds since the last segment was archived (nodes that never archived are left out).',
    gridPos: { x: 8, y: 28, w: 8, h: 8 },
    targets: [{ expr: `max ${BY_NODE} (${perNode(PG_METRICS.lastArchivedAgeSeconds)}) >= 0`, legend: NODE_LEGEND }],
    unit: 's',
    min: 0,
  },
  {
    id: 12,
    type: 'timeseries',
    title: 'WAL archive failures',
    description: 'Failed archiving attempts per second (pg_stat_archiver.failed_count).',
    gridPos: { x: 16, y: 28, w: 8, h: 8 },
    targets: [{ expr: sumRate(PG_METRICS.archiveFailedCount), legend: NODE_LEGEND }],
    unit: 'ops',
    min: 0,
  },
  {
    id: 13,
    type: 'timeseries',
    title: 'Backup age',
    description: 'Seconds since the last successful backup, per backup type (jobs that never succeeded are left out).',
    gridPos: { x: 0, y: 36, w: 12, h: 8 },
    targets: [
      {
        expr: `time() - max by (${TARGET_LABELS.cluster}, job) (${perCluster(JOB_STATUS_METRICS.lastSuccess, [`job=~"${BACKUP_JOB_REGEX}"`])} > 0)`,
        legend: `{{${TARGET_LABELS.cluster}}} {{job}}`,
      },
    ],
    unit: 's',
    min: 0,
  },
  {
    id: 14,
    type: 'stat',
    title: 'Restore drill',
    description: 'Result of the last restore drill on each node that ran one.',
    gridPos: { x: 12, y: 36, w: 6, h: 8 },
    targets: [{ expr: `max ${BY_NODE} (${perCluster(JOB_STATUS_METRICS.drillSuccess)})`, legend: NODE_LEGEND }],
    unit: 'none',
    mappings: [
      { value: 1, text: 'PASSED', color: 'green' },
      { value: 0, text: 'FAILED', color: 'red' },
    ],
  },
  {
    id: 15,
    type: 'stat',
    title: 'Restore drill duration',
    description: 'Duration of the last restore drill (restore, recovery and checks).',
    gridPos: { x: 18, y: 36, w: 6, h: 8 },
    targets: [{ expr: `max ${BY_NODE} (${perCluster(JOB_STATUS_METRICS.drillDuration)})`, legend: NODE_LEGEND }],
    unit: 's',
  },
  {
    id: 16,
    type: 'stat',
    title: 'Last exit code of the jobs',
    description: 'Exit code of the last run of each backup, check, verify, restore drill and dump job on each node that ran it (0 = success).',
    gridPos: { x: 0, y: 44, w: 12, h: 8 },
    // Per node: a job moves with the role, and the node that ran it last holds the current result.
    targets: [{ expr: `max ${BY_NODE.replace(')', ', job)')} (${perCluster(JOB_STATUS_METRICS.lastExitCode)})`, legend: `${NODE_LEGEND} {{job}}` }],
    unit: 'none',
    thresholds: [[1, 'red']],
  },
  {
    id: 17,
    type: 'timeseries',
    title: 'Transaction ID age',
    description: 'Oldest unfrozen transaction ID age of any database; wraparound protection starts near 2^31.',
    gridPos: { x: 12, y: 44, w: 12, h: 8 },
    targets: [{ expr: `max ${BY_NODE} (${perNode(PG_METRICS.xidAge)})`, legend: NODE_LEGEND }],
    unit: 'short',
    min: 0,
    thresholds: [
      [1_000_000_000, 'orange'],
      [1_500_000_000, 'red'],
    ],
  },
  {
    id: 18,
    type: 'timeseries',
    title: 'Disk usage',
    description: 'Used share of each real filesystem of the node (node_exporter).',
    gridPos: { x: 0, y: 52, w: 24, h: 8 },
    targets: [
      {
        expr: `1 - ${perNode('node_filesystem_avail_bytes', ['fstype!~"tmpfs|overlay|squashfs|ramfs"'])} / ${perNode('node_filesystem_size_bytes', ['fstype!~"tmpfs|overlay|squashfs|ramfs"'])}`,
        legend: `${NODE_LEGEND} {{mountpoint}}`,
      },
    ],
    unit: 'percentunit',
    min: 0,
    max: 1,
    thresholds: [
      [0.8, 'orange'],
      [0.9, 'red'],
    ],
  },
  {
    id: 19,
    type: 'timeseries',
    title: 'WAL kept by replication slots',
    description:
      "WAL each replication slot keeps on the node's disk: a standby's (named after it) or a subscription's (sub_<cluster>_<subscription>). " +
      'A slot whose consumer is gone keeps WAL until the disk is full. Lines at the default alert thresholds.',
    gridPos: { x: 0, y: 60, w: 24, h: 8 },
    targets: [{ expr: `max ${BY_NODE.replace(')', ', slot_name)')} (${perNode(PG_METRICS.slotRetainedBytes)})`, legend: `${NODE_LEGEND} {{slot_name}}` }],
    unit: 'bytes',
    min: 0,
    thresholds: [
      [THRESHOLD_FIELDS.slotRetainedWalBytes.warning, 'orange'],
      [THRESHOLD_FIELDS.slotRetainedWalBytes.critical, 'red'],
    ],
  },
];

function panel(spec: PanelSpec): object {
  const steps = [{ color: 'green', value: null }, ...(spec.thresholds ?? []).map(([value, color]) => ({ color, value }))];
  const mappings = (spec.mappings ?? []).length > 0
    ? [
        {
          type: 'value',
          options: Object.fromEntries((spec.mappings ?? []).map((m, index) => [String(m.value), { text: m.text, color: m.color, index }])),
        },
      ]
    : [];
  const defaults: Record<string, unknown> = {
    unit: spec.unit,
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.max !== undefined ? { max: spec.max } : {}),
    thresholds: { mode: 'absolute', steps },
    mappings,
    color: spec.type === 'stat' && mappings.length === 0 && spec.thresholds === undefined ? { mode: 'fixed', fixedColor: 'text' } : { mode: spec.type === 'stat' ? 'thresholds' : 'palette-classic' },
  };
  if (spec.type === 'timeseries') {
    defaults.custom = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: 0,
      showPoints: 'never',
      spanNulls: false,
      thresholdsStyle: { mode: spec.thresholds ? 'line' : 'off' },
    };
  }
  const options =
    spec.type === 'timeseries'
      ? {
          legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        }
      : {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: mappings.length > 0 || spec.thresholds ? 'background' : 'none',
          graphMode: 'none',
          justifyMode: 'auto',
          orientation: 'auto',
          textMode: 'value_and_name',
        };
  return {
    id: spec.id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: spec.gridPos,
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: spec.targets.map((t, index) => ({
      refId: String.fromCharCode(65 + index),
      datasource: DATASOURCE,
      expr: t.expr,
      legendFormat: t.legend,
      range: true,
      instant: false,
      editorMode: 'code',
    })),
  };
}

function queryVariable(name: string, label: string, query: string): object {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    query,
    definition: query,
    refresh: 2,
    sort: 1,
    multi: true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    regex: '',
    hide: 0,
  };
}

/**
 * A Grafana dashboard (JSON model, schemaVersion 38) for the clusters one Prometheus scrapes: a
 * Prometheus data source variable, cluster and node variables, and panels for replication lag,
 * TPS, connections, cache hit ratio, dead tuples, WAL archiving, backup age, restore drills,
 * up/role per node, disk usage and the WAL kept by replication slots. Every metric name comes from
 * monitoring-metrics.ts.
 */
export function renderGrafanaDashboard(input: GrafanaDashboardInput = {}): object {
  const clusterQuery = `label_values(${PG_METRICS.up}, ${TARGET_LABELS.cluster})`;
  const nodeQuery = `label_values(up{job=~"${SCRAPE_JOBS.postgres}|${SCRAPE_JOBS.node}", ${TARGET_LABELS.cluster}=~"$${DASHBOARD_VARIABLES.cluster}"}, ${TARGET_LABELS.node})`;
  return {
    id: null,
    uid: input.uid ?? 'pgha-postgresql',
    title: input.title ?? 'PostgreSQL HA clusters',
    description: 'Generated by cdktf-postgres-ha from the metric names the exporter queries produce.',
    tags: ['postgresql', 'pgha', 'patroni'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: GRAFANA_SCHEMA_VERSION,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: {
      list: [
        {
          name: DASHBOARD_VARIABLES.datasource,
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          options: [],
          refresh: 1,
          regex: '',
          hide: 0,
          includeAll: false,
          multi: false,
        },
        queryVariable(DASHBOARD_VARIABLES.cluster, 'Cluster', clusterQuery),
        queryVariable(DASHBOARD_VARIABLES.node, 'Node', nodeQuery),
      ],
    },
    panels: PANELS.map(panel),
  };
}

/** The dashboard as JSON text (2-space indent, trailing newline), ready for Grafana's import. */
export function renderGrafanaDashboardJson(input: GrafanaDashboardInput = {}): string {
  return `${JSON.stringify(renderGrafanaDashboard(input), null, 2)}\n`;
}
