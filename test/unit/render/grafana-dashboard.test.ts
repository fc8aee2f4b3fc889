import { DASHBOARD_VARIABLES, GRAFANA_SCHEMA_VERSION, renderGrafanaDashboard, renderGrafanaDashboardJson } from '../../../src/render/grafana-dashboard';
import { JOB_STATUS_METRICS, PG_METRICS, SCRAPE_JOBS, TARGET_LABELS } from '../../../src/render/monitoring-metrics';

/** Names the dashboard may use besides the contract's: Prometheus' own and node_exporter's. */
const OTHER_METRICS = new Set(['up', 'node_filesystem_avail_bytes', 'node_filesystem_size_bytes']);
const CONTRACT_METRICS = new Set<string>([...Object.values(PG_METRICS), ...Object.values(JOB_STATUS_METRICS)]);

/** PromQL functions and aggregations an expression may call. */
const FUNCTIONS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'group',
  'rate', 'irate', 'increase', 'delta', 'deriv', 'time', 'clamp_min', 'clamp_max', 'abs', 'vector', 'scalar',
  'max_over_time', 'min_over_time', 'avg_over_time', 'histogram_quantile', 'label_replace', 'absent',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names a PromQL expression selects: identifiers outside strings, label matchers,
 * range selectors and grouping clauses, that are neither called (functions) nor keywords.
 * Throws on a call of an unknown function, so a typo there cannot pass as "no metric".
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, identifier, call] = match;
    if (identifier === undefined) continue; // a number
    if (call !== undefined) {
      if (!FUNCTIONS.has(identifier)) throw new Error(`unknown function ${identifier}( in ${expr}`);
      continue;
    }
    if (!KEYWORDS.has(identifier)) names.push(identifier);
  }
  return names;
}

const dashboard = renderGrafanaDashboard() as any;
const panels: any[] = dashboard.panels;
const targets = panels.flatMap((p) => p.targets.map((t: any) => ({ panel: p.title, expr: t.expr as string })));

describe('the metric name check (the harness)', () => {
  test('finds the selected metrics and nothing else', () => {
    expect(
      metricNames('sum by (cluster, node) (rate(foo_total{job=~"a|b", x="y z"}[$__rate_interval])) / on(node) group_left bar:rule + 1e9 - time() > bool 0.5'),
    ).toEqual(['foo_total', 'bar:rule']);
    expect(metricNames('topk(10, a{x="1"} / ((b + a) > 0))')).toEqual(['a', 'b', 'a']);
  });

  test('fails on an unknown function', () => {
    expect(() => metricNames('rat(pg_up[5m])')).toThrow(/unknown function rat\(/);
  });
});

describe('renderGrafanaDashboard: queries', () => {
  test('every expression selects only contract metrics or Prometheus/node_exporter names', () => {
    // WHEN
    const unknown = targets.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !CONTRACT_METRICS.has(name) && !OTHER_METRICS.has(name))
        .map((name) => `${panel}: ${name}`),
    );
    // THEN
    expect(targets.length).toBeGreaterThan(15);
    expect(unknown).toEqual([]);
  });

  test('the metrics the issue names all have a panel', () => {
    // WHEN
    const used = new Set(targets.flatMap(({ expr }) => metricNames(expr)));
    // THEN
    for (const name of [
      PG_METRICS.up,
      PG_METRICS.isReplica,
      PG_METRICS.lagSeconds,
      PG_METRICS.commits,
      PG_METRICS.rollbacks,
      PG_METRICS.connectionsUsed,
      PG_METRICS.connectionsMax,
      PG_METRICS.blocksHit,
      PG_METRICS.blocksRead,
      PG_METRICS.deadTuples,
      PG_METRICS.liveTuples,
      PG_METRICS.archiveFailing,
      PG_METRICS.lastArchivedAgeSeconds,
      PG_METRICS.slotRetainedBytes,
      JOB_STATUS_METRICS.lastSuccess,
      JOB_STATUS_METRICS.drillSuccess,
    ]) {
      expect([name, used.has(name)]).toEqual([name, true]);
    }
  });

  test('every selector filters by the cluster variable, and per-node metrics by the node variable', () => {
    // GIVEN every selector "name{...}" of every expression
    const selectors = targets.flatMap(({ expr }) => [...expr.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({ name: m[1], matchers: m[2] })));
    // THEN
    expect(selectors.length).toBeGreaterThan(20);
    for (const { name, matchers } of selectors) {
      expect([name, matchers]).toEqual([name, expect.stringContaining(`${TARGET_LABELS.cluster}=~"$${DASHBOARD_VARIABLES.cluster}"`)]);
      if ((Object.values(PG_METRICS) as string[]).includes(name)) {
        expect([name, matchers]).toEqual([name, expect.stringContaining(`${TARGET_LABELS.node}=~"$${DASHBOARD_VARIABLES.node}"`)]);
      }
    }
    // and no bare metric outside a selector (it would show every cluster)
    const bare = targets.flatMap(({ expr }) => metricNames(expr.replace(/[A-Za-z_:][A-Za-z0-9_:]*\{[^}]*\}/g, ' 0 ')));
    expect(bare).toEqual([]);
  });

  test('only defined variables and Grafana\'s $__rate_interval are referenced', () => {
    // WHEN
    const referenced = new Set(targets.flatMap(({ expr }) => [...expr.matchAll(/\$(\w+)/g)].map((m) => m[1])));
    // THEN
    expect([...referenced].sort()).toEqual(['__rate_interval', DASHBOARD_VARIABLES.cluster, DASHBOARD_VARIABLES.node].sort());
  });

  test('TPS adds commit and rollback rates; backup age is time() minus the last success of the backup jobs', () => {
    // WHEN
    const tps = panels.find((p) => p.title === 'Transactions per second').targets[0].expr;
    const backup = panels.find((p) => p.title === 'Backup age').targets[0].expr;
    // THEN
    expect(tps).toMatch(new RegExp(`rate\\(${PG_METRICS.commits}\\{.*\\}\\[\\$__rate_interval\\]\\).*\\+.*rate\\(${PG_METRICS.rollbacks}\\{`));
    expect(backup).toMatch(new RegExp(`^time\\(\\) - max by \\(cluster, job\\) \\(${JOB_STATUS_METRICS.lastSuccess}\\{cluster=~"\\$cluster", job=~"backup-\\.\\+"\\} > 0\\)$`));
  });
});

describe('renderGrafanaDashboard: variables', () => {
  const variables: any[] = dashboard.templating.list;
  const variable = (name: string) => variables.find((v) => v.name === name);

  test('a Prometheus data source variable, then cluster and node', () => {
    expect(variables.map((v) => v.name)).toEqual([DASHBOARD_VARIABLES.datasource, DASHBOARD_VARIABLES.cluster, DASHBOARD_VARIABLES.node]);
    expect(variable('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });

  test('cluster comes from label_values(pg_up, cluster); node from the up series of the pgha jobs in the chosen clusters', () => {
    expect(variable('cluster')).toMatchObject({ type: 'query', query: `label_values(${PG_METRICS.up}, ${TARGET_LABELS.cluster})`, includeAll: true, multi: true, allValue: '.*' });
    expect(variable('node').query).toBe(`label_values(up{job=~"${SCRAPE_JOBS.postgres}|${SCRAPE_JOBS.node}", cluster=~"$cluster"}, node)`);
    for (const name of ['cluster', 'node']) expect(variable(name).datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });
});

describe('renderGrafanaDashboard: panels', () => {
  test('ids are unique and stable, titles as listed', () => {
    expect(panels.map((p) => [p.id, p.title])).toEqual([
      [1, 'PostgreSQL up'],
      [2, 'Role'],
      [3, 'Exporters up'],
      [4, 'Replication lag'],
      [5, 'Transactions per second'],
      [6, 'Connections used vs max'],
      [7, 'Cache hit ratio'],
      [8, 'Dead tuple ratio, top 10 tables'],
      [9, 'Dead tuples, top 10 tables'],
      [10, 'WAL archiving'],
      [11, 'Last archived WAL age'],
      [12, 'WAL archive failures'],
      [13, 'Backup age'],
      [14, 'Restore drill'],
      [15, 'Restore drill duration'],
      [16, 'Last exit code of the jobs'],
      [17, 'Transaction ID age'],
      [18, 'Disk usage'],
      [19, 'WAL kept by replication slots'],
    ]);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  });

  test('panels fit the 24-unit grid without overlapping', () => {
    // GIVEN every occupied grid cell
    const cells = new Map<string, string>();
    for (const { title, gridPos: g } of panels) {
      expect([title, g.x >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24]).toEqual([title, true]);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          // THEN no cell holds two panels
          expect([`${x},${y}`, cells.get(`${x},${y}`)]).toEqual([`${x},${y}`, undefined]);
          cells.set(`${x},${y}`, title);
        }
      }
    }
  });

  test('timeseries and stat panels only, each query on the dashboard\'s data source with its own refId', () => {
    for (const panel of panels) {
      expect(['timeseries', 'stat']).toContain(panel.type);
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.map((t: any) => t.refId)).toEqual(['A', 'B'].slice(0, panel.targets.length));
      for (const target of panel.targets) expect(target.datasource).toEqual(panel.datasource);
    }
  });

  test('the slot panel shows the WAL each slot keeps, per node and slot, with lines at the default thresholds (1 GiB, 8 GiB)', () => {
    const slots = panels.find((p) => p.id === 19);
    expect(slots.targets.map((t: any) => [t.expr, t.legendFormat])).toEqual([
      [`max by (cluster, node, slot_name) (${PG_METRICS.slotRetainedBytes}{cluster=~"$cluster", node=~"$node"})`, '{{cluster}} {{node}} {{slot_name}}'],
    ]);
    expect(slots.fieldConfig.defaults.unit).toBe('bytes');
    expect(slots.fieldConfig.defaults.thresholds.steps.map((s: any) => s.value)).toEqual([null, 1024 ** 3, 8 * 1024 ** 3]);
  });

  test('state panels map their values to words: role 0 primary / 1 replica, up 1 UP / 0 DOWN', () => {
    const mapping = (title: string) => panels.find((p) => p.title === title).fieldConfig.defaults.mappings[0].options;
    expect(mapping('Role')).toMatchObject({ 0: { text: 'primary' }, 1: { text: 'replica' } });
    expect(mapping('PostgreSQL up')).toMatchObject({ 1: { text: 'UP' }, 0: { text: 'DOWN' } });
    expect(mapping('WAL archiving')).toMatchObject({ 0: { text: 'OK' }, 1: { text: 'FAILING' } });
  });
});

describe('renderGrafanaDashboard: the document', () => {
  test('schemaVersion 38, a title and uid that can be set, importable (id null)', () => {
    expect(dashboard).toMatchObject({ schemaVersion: GRAFANA_SCHEMA_VERSION, id: null, title: 'PostgreSQL HA clusters', uid: 'pgha-postgresql' });
    expect(GRAFANA_SCHEMA_VERSION).toBe(38);
    expect(renderGrafanaDashboard({ title: 'Orders', uid: 'orders-pg' })).toMatchObject({ title: 'Orders', uid: 'orders-pg' });
  });

  test('the JSON text is deterministic and parses back to the object', () => {
    const text = renderGrafanaDashboardJson();
    expect(renderGrafanaDashboardJson()).toBe(text);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(renderGrafanaDashboard())));
    expect(text.endsWith('}\n')).toBe(true);
  });
});
