import { parse } from 'yaml';
import { BUILT_IN_OVERRIDES, EXPORTER_METRIC_NAMES, EXPORTER_QUERIES, TABLE_METRICS_LIMIT, renderExporterQueries } from '../../../src/render/exporter-queries';
import { PG_METRICS, SLOT_WAL_STATUS } from '../../../src/render/monitoring-metrics';
import {
  MONITORING_PASSWORD_VARIABLE,
  MONITORING_ROLE,
  MONITORING_ROLE_SCRIPT,
  monitoringRoleScriptFile,
  renderMonitoringRoleScript,
  renderMonitoringRoleSql,
} from '../../../src/render/monitoring-role';

type Column = { usage: string; description: string };
type Query = { query: string; master: boolean; cache_seconds?: number; metrics: Record<string, Column>[] };

/** postgres_exporter 0.17.1 reads the file with go-yaml v2, a YAML 1.1 parser (as 0.11 did). */
const rendered = (): Record<string, Query> => parse(renderExporterQueries(), { version: '1.1' });

/** column -> usage of one query, in the file's order. */
const usages = (query: Query) => query.metrics.map((entry) => {
  const [[column, spec]] = Object.entries(entry);
  return [column, spec.usage];
});

describe('renderExporterQueries', () => {
  test('is YAML with one entry per query, each in the custom queries format (0.11 to 0.17)', () => {
    const file = rendered();
    expect(Object.keys(file)).toEqual(['pgha_replication', 'pgha_wal_receiver', 'pgha_database', 'pgha_connections', 'pgha_table', 'pgha_archiver', 'pgha_replication_slot', 'pg_replication_slots']);
    for (const [name, query] of Object.entries(file)) {
      expect(Object.keys(query).filter((key) => !['query', 'master', 'cache_seconds', 'metrics'].includes(key))).toEqual([]);
      expect(typeof query.query).toBe('string');
      expect(query.query).toMatch(/^SELECT\b/);
      expect(typeof query.master).toBe('boolean');
      expect(Array.isArray(query.metrics)).toBe(true);
      for (const entry of query.metrics) {
        // A list of one-key maps: column -> { usage, description }.
        expect(Object.keys(entry)).toHaveLength(1);
        const [spec] = Object.values(entry);
        expect(Object.keys(spec).sort()).toEqual(['description', 'usage']);
        expect(['LABEL', 'GAUGE', 'COUNTER']).toContain(spec.usage);
        expect(typeof spec.description).toBe('string');
        expect(spec.description.length).toBeGreaterThan(5);
      }
      // Every column the query selects is declared (an undeclared one would be exported untyped).
      for (const [column] of usages(query)) expect({ name, column, found: new RegExp(`\\b${column}\\b`).test(query.query) }).toEqual({ name, column, found: true });
    }
  });

  test('gives each query the columns and usages of the contract', () => {
    const file = rendered();
    expect(usages(file.pgha_replication)).toEqual([['is_replica', 'GAUGE'], ['lag_seconds', 'GAUGE']]);
    expect(usages(file.pgha_wal_receiver)).toEqual([['streaming', 'GAUGE']]);
    expect(usages(file.pgha_database)).toEqual([
      ['datname', 'LABEL'],
      ['blks_hit', 'COUNTER'],
      ['blks_read', 'COUNTER'],
      ['xact_commit', 'COUNTER'],
      ['xact_rollback', 'COUNTER'],
      ['numbackends', 'GAUGE'],
      ['size_bytes', 'GAUGE'],
      ['xid_age', 'GAUGE'],
    ]);
    expect(usages(file.pgha_connections)).toEqual([['used', 'GAUGE'], ['max', 'GAUGE']]);
    expect(usages(file.pgha_table)).toEqual([
      ['datname', 'LABEL'],
      ['schemaname', 'LABEL'],
      ['relname', 'LABEL'],
      ['n_live_tup', 'GAUGE'],
      ['n_dead_tup', 'GAUGE'],
      ['size_bytes', 'GAUGE'],
    ]);
    expect(usages(file.pgha_archiver)).toEqual([
      ['archived_count', 'COUNTER'],
      ['failed_count', 'COUNTER'],
      ['last_archived_age_seconds', 'GAUGE'],
      ['failing', 'GAUGE'],
    ]);
    expect(usages(file.pgha_replication_slot)).toEqual([
      ['slot_name', 'LABEL'],
      ['slot_type', 'LABEL'],
      ['database', 'LABEL'],
      ['active', 'GAUGE'],
      ['retained_bytes', 'GAUGE'],
      ['wal_status', 'GAUGE'],
    ]);
  });

  test('runs instance-wide queries once per server and the table query per database', () => {
    const file = rendered();
    const masters = Object.entries(file).filter(([, query]) => query.master).map(([name]) => name);
    expect(masters).toEqual(['pgha_replication', 'pgha_wal_receiver', 'pgha_database', 'pgha_connections', 'pgha_archiver', 'pgha_replication_slot', 'pg_replication_slots']);
    expect(file.pgha_table.cache_seconds).toBe(30);
    expect(Object.entries(file).filter(([, query]) => query.cache_seconds !== undefined).map(([name]) => name)).toEqual(['pgha_table']);
  });

  test('the produced metric names are exactly the contract (PG_METRICS without the built-in pg_up)', () => {
    const contract = Object.values(PG_METRICS).filter((name) => name !== PG_METRICS.up);
    expect([...EXPORTER_METRIC_NAMES].sort()).toEqual([...contract].sort());
    expect(new Set(EXPORTER_METRIC_NAMES).size).toBe(EXPORTER_METRIC_NAMES.length);
    // The file itself: postgres_exporter names a metric <query>_<column>, LABEL columns are labels.
    const overrides = BUILT_IN_OVERRIDES.map((q) => q.name);
    const fromFile = Object.entries(rendered()).filter(([name]) => !overrides.includes(name)).flatMap(([name, query]) =>
      usages(query).filter(([, usage]) => usage !== 'LABEL').map(([column]) => `${name}_${column}`),
    );
    expect(fromFile.sort()).toEqual([...contract].sort());
    expect(EXPORTER_METRIC_NAMES).not.toContain(PG_METRICS.up);
  });

  test("keeps pg_stat_database's row of shared objects (NULL datname) out: databases come from pg_database", () => {
    const query = rendered().pgha_database.query;
    expect(query).toMatch(/FROM pg_database d\s+JOIN pg_stat_database s ON s\.datid = d\.oid/);
    expect(query).toContain('pg_database_size(d.oid) AS size_bytes');
    expect(query).toContain('age(d.datfrozenxid) AS xid_age');
  });

  test('bounds the table series to the largest tables', () => {
    expect(TABLE_METRICS_LIMIT).toBe(100);
    const query = rendered().pgha_table.query;
    expect(query).toContain('FROM pg_stat_user_tables s');
    expect(query).toMatch(/ORDER BY size_bytes DESC, s\.schemaname, s\.relname\s+LIMIT 100\s*$/);
    expect(query).toContain('pg_total_relation_size(s.relid)');
  });

  test('reports lag 0 on a primary and on a replica that replayed all it received', () => {
    const query = rendered().pgha_replication.query;
    expect(query).toContain('WHEN NOT pg_is_in_recovery() THEN 0');
    expect(query).toContain('WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0');
    // Else the age of the last replayed commit, or the time since the start when none was replayed yet.
    expect(query).toContain('GREATEST(0, EXTRACT(EPOCH FROM now() - COALESCE(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())))');
    // Nothing that fails on a standby (pg_current_wal_lsn() only behind pg_is_in_recovery(): the slot query below).
    for (const q of EXPORTER_QUERIES) expect(q.query).not.toMatch(/pg_switch_wal|txid_current\(\)/);
    expect(EXPORTER_QUERIES.filter((q) => q.query.includes('pg_current_wal_lsn')).map((q) => q.name)).toEqual(['pgha_replication_slot']);
  });

  test("replaces the exporter's built-in pg_replication_slots, measuring a standby against the replayed WAL, keeping its metric names", () => {
    const file = rendered();
    expect(BUILT_IN_OVERRIDES.map((q) => q.name)).toEqual(['pg_replication_slots']);
    // The built-in's columns and types (postgres_exporter 0.17.1 queries.go, as in 0.11.1): slot_name, database, active, pg_wal_lsn_diff.
    expect(usages(file.pg_replication_slots)).toEqual([
      ['slot_name', 'LABEL'],
      ['database', 'LABEL'],
      ['active', 'GAUGE'],
      ['pg_wal_lsn_diff', 'GAUGE'],
    ]);
    expect(file.pg_replication_slots.master).toBe(true);
    expect(file.pg_replication_slots.query).toMatch(
      /CASE WHEN pg_is_in_recovery\(\) THEN pg_wal_lsn_diff\(pg_last_wal_replay_lsn\(\), restart_lsn\)\n\s+ELSE pg_wal_lsn_diff\(pg_current_wal_lsn\(\), restart_lsn\) END AS pg_wal_lsn_diff\n/,
    );
    // None of the contract's names comes from it.
    for (const name of EXPORTER_METRIC_NAMES) expect(name.startsWith('pg_replication_slots')).toBe(false);
  });

  test('slots: WAL kept from restart_lsn to the written WAL on a primary, to the replayed WAL on a standby; wal_status as a number', () => {
    const query = rendered().pgha_replication_slot.query;
    expect(query).toContain('FROM pg_replication_slots');
    // The standby branch comes first: pg_current_wal_lsn() fails during recovery, and CASE evaluates only the branch it takes.
    expect(query).toMatch(
      /WHEN restart_lsn IS NULL THEN 0\n\s+WHEN pg_is_in_recovery\(\) THEN GREATEST\(0, COALESCE\(pg_wal_lsn_diff\(pg_last_wal_replay_lsn\(\), restart_lsn\), 0\)\)\n\s+ELSE GREATEST\(0, pg_wal_lsn_diff\(pg_current_wal_lsn\(\), restart_lsn\)\)\n\s+END::bigint AS retained_bytes/,
    );
    expect(query.match(/pg_current_wal_lsn/g)).toHaveLength(1);
    expect(query.indexOf('pg_is_in_recovery()')).toBeLessThan(query.indexOf('pg_current_wal_lsn()'));
    expect(query).toContain("COALESCE(database, '') AS database");
    expect(query).toContain('CASE WHEN active THEN 1 ELSE 0 END AS active');
    // Every wal_status of PostgreSQL 17 has its number; NULL (no WAL reserved) is -1.
    expect(SLOT_WAL_STATUS).toEqual({ none: -1, reserved: 0, extended: 1, unreserved: 2, lost: 3 });
    for (const status of ['reserved', 'extended', 'unreserved', 'lost'] as const) expect(query).toContain(`WHEN '${status}' THEN ${SLOT_WAL_STATUS[status]}\n`);
    expect(query).toMatch(/ELSE -1\n\s+END AS wal_status\n/);
  });

  test('counts client backends against max_connections, and archiver failures against successes', () => {
    const file = rendered();
    expect(file.pgha_connections.query).toContain("backend_type = 'client backend'");
    expect(file.pgha_connections.query).toContain("current_setting('max_connections')::int AS max");
    expect(file.pgha_archiver.query).toContain('CASE WHEN last_archived_time IS NULL THEN -1');
    expect(file.pgha_archiver.query).toContain('last_failed_time > last_archived_time');
  });

  test('is the same on every render', () => {
    expect(renderExporterQueries()).toBe(renderExporterQueries());
    expect(renderExporterQueries().startsWith('# Generated by cdktf-postgres-ha')).toBe(true);
  });
});

describe('renderMonitoringRoleSql', () => {
  test('creates or updates a login role with pg_monitor only, the password read by psql from the environment', () => {
    const sql = renderMonitoringRoleSql();
    expect(MONITORING_ROLE).toBe('pgha_monitor');
    expect(sql).toContain(`\\getenv pgha_monitor_password ${MONITORING_PASSWORD_VARIABLE}`);
    expect(sql).toContain("IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgha_monitor') THEN");
    expect(sql).toContain('CREATE ROLE pgha_monitor LOGIN;');
    expect(sql).toContain('GRANT pg_monitor TO pgha_monitor;');
    expect(sql).toContain(
      "ALTER ROLE pgha_monitor WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 5 PASSWORD :'pgha_monitor_password';",
    );
    // The only PASSWORD is the psql variable, and no other role is granted.
    expect(sql.match(/ PASSWORD /g)).toHaveLength(1);
    expect(sql.match(/GRANT /g)).toHaveLength(1);
    // Fails (ON_ERROR_STOP) when the variable is missing, instead of setting a literal ":'...'" password.
    expect(sql).toContain('\\set ON_ERROR_STOP on');
    expect(sql).toMatch(/\\if :\{\?pgha_monitor_password\}\n\\else\nDO \$pgha\$ BEGIN RAISE EXCEPTION/);
    // The statement with the password stays out of the server log.
    expect(sql).toContain("SET log_statement = 'none';");
    expect(sql).toContain("SET log_min_error_statement = 'panic';");
    expect(sql).toContain("ALTER ROLE pgha_monitor SET lock_timeout = '2s';");
  });

  test('takes another variable name, and refuses what is not one', () => {
    expect(renderMonitoringRoleSql('MONITOR_PW')).toContain('\\getenv pgha_monitor_password MONITOR_PW');
    expect(() => renderMonitoringRoleSql('PW; rm -rf /')).toThrow(/expected an environment variable name/);
    expect(() => renderMonitoringRoleSql('')).toThrow(/expected an environment variable name/);
  });
});

describe('renderMonitoringRoleScript', () => {
  test('feeds the SQL to psql on stdin over the node socket, skipping replicas', () => {
    const script = renderMonitoringRoleScript({ socketDir: '/run/postgresql', port: 5433 });
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain("psql=('/usr/lib/postgresql/17/bin/psql' -X -q -v ON_ERROR_STOP=1 -h '/run/postgresql' -p 5433 -U postgres -d postgres)");
    expect(script).toContain('if [[ -z "${PGHA_MONITOR_PASSWORD:-}" ]]; then');
    expect(script).toContain('if [[ "$in_recovery" == "t" ]]; then');
    // A quoted here-document: the shell expands nothing in the SQL, the password never passes through it.
    expect(script).toContain(`"\${psql[@]}" -f - <<'PGHA_SQL'\n${renderMonitoringRoleSql()}PGHA_SQL\n`);
    expect(script).not.toMatch(/PGPASSWORD|password=/);
  });

  test('is the node file /usr/local/lib/pgha/pgha-monitoring-role', () => {
    const file = monitoringRoleScriptFile();
    expect(MONITORING_ROLE_SCRIPT).toBe('/usr/local/lib/pgha/pgha-monitoring-role');
    expect(file).toEqual({ path: MONITORING_ROLE_SCRIPT, content: renderMonitoringRoleScript(), mode: '0755', owner: 'root:root' });
    expect(file.content).toContain("-h '/run/postgresql' -p 5432");
  });

  test('refuses a port out of range', () => {
    expect(() => renderMonitoringRoleScript({ port: 0 })).toThrow(/expected an integer from 1 to 65535/);
  });
});
