import { parse } from 'yaml';
import { ClusterMonitoring } from '../../../src/constructs/cluster-monitoring';
import { HaproxyFrontends } from '../../../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { SpecError } from '../../../src/spec/problems';
import { awsTestStack, resourcesOf, synthesize, userDataOf } from '../../support/aws-stack';
import { collectArtifacts, collectRenderedNodes } from '../../../src/platform/rendered-node';

function monitoredStack() {
  const { stack, platform } = awsTestStack();
  const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform });
  const frontends = new HaproxyFrontends(stack, 'Frontends', { platform, cluster });
  const monitoring = new ClusterMonitoring(stack, 'Monitoring', {
    cluster,
    frontends,
    scrapers: [{ securityGroupId: 'sg-0e0e0e0e0e0e0e0e0' }],
    replicationLagSeconds: { warning: 30, critical: 120 },
    slotRetainedWalBytes: { warning: 512 * 1024 ** 2, critical: 4 * 1024 ** 3 },
  });
  return { stack, monitoring, synth: synthesize(stack) };
}

describe('ClusterMonitoring on AWS', () => {
  test('9187 and 9100 are open to the scrapers only: postgres_exporter on the PostgreSQL nodes, node_exporter on every node', () => {
    const { synth } = monitoredStack();
    const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 9187 || r.from_port === 9100);
    expect(rules.map((r) => [r.from_port, r.referenced_security_group_id]).sort()).toEqual([
      [9100, 'sg-0e0e0e0e0e0e0e0e0'],
      [9100, 'sg-0e0e0e0e0e0e0e0e0'],
      [9187, 'sg-0e0e0e0e0e0e0e0e0'],
    ]);
    for (const rule of rules) expect(rule.cidr_ipv4).toBeUndefined();
  });

  test('the exporters listen on the node address only, with the queries file and the pg_monitor role', () => {
    const { stack } = monitoredStack();
    const nodes = collectRenderedNodes(stack);
    const pg = nodes.find((n) => n.plan.name === 'orders-pg-2')!;
    const exporter = pg.plan.services.find((s) => s.name === 'pgha-postgres-exporter')!;
    expect(exporter.command).toEqual(['/usr/bin/prometheus-postgres-exporter', '--web.listen-address=10.0.2.10:9187', '--extend.query-path=/etc/pgha/monitoring/queries.yaml']);
    expect(exporter.environment).toEqual({ DATA_SOURCE_URI: '10.0.2.10:5432/postgres?sslmode=disable', DATA_SOURCE_USER: 'pgha_monitor' });
    expect(exporter.user).toBe('prometheus');
    const proxy = nodes.find((n) => n.plan.name === 'orders-proxy-1')!;
    expect(proxy.plan.services.find((s) => s.name === 'pgha-node-exporter')?.command).toContain('--web.listen-address=10.0.1.11:9100');
    expect(proxy.plan.services.some((s) => s.name === 'pgha-postgres-exporter')).toBe(false);
    expect(pg.plan.jobs?.map((j) => j.name)).toContain('pgha-monitoring-role');
    expect(pg.plan.packages).toEqual(expect.arrayContaining(['prometheus-postgres-exporter', 'prometheus-node-exporter']));
  });

  test('the monitoring password is in no rendered file and no user data: nodes read it at boot', () => {
    const { stack, synth } = monitoredStack();
    const version = resourcesOf(synth, 'aws_secretsmanager_secret_version').find((v) => String(v.secret_string_wo).includes('monitor_password'));
    expect(version).toBeDefined();
    // Only the mapping "variable = key of the secret" appears, never a value.
    const valueAssigned = /DATA_SOURCE_PASS=(?!monitor_password')\S|PGHA_MONITOR_PASSWORD=(?!monitor_password')\S/;
    for (const instance of resourcesOf(synth, 'aws_instance')) expect(userDataOf(instance)).not.toMatch(/random_password|\$\{(data\.)?aws_/);
    const files = collectRenderedNodes(stack).flatMap((n) => n.files.map((f) => f.content));
    expect(files.join('\n')).not.toMatch(valueAssigned);
    const boot = collectRenderedNodes(stack).find((n) => n.plan.name === 'orders-pg-1')!.files.find((f) => f.path === '/usr/local/sbin/pgha-boot')!.content;
    expect(boot).toContain("fetch_secret 'pgha/test/orders/monitoring' '/etc/pgha/monitoring/postgres-exporter.env' prometheus:prometheus 'DATA_SOURCE_PASS=monitor_password'");
  });

  test('artifacts: alert rules with the overridden thresholds, EC2 discovery in the region, a dashboard', () => {
    const { stack } = monitoredStack();
    const artifacts = Object.fromEntries(collectArtifacts(stack).map((a) => [a.path, a.content]));
    expect(Object.keys(artifacts).sort()).toEqual([
      'monitoring/orders/alert-rules.yml',
      'monitoring/orders/grafana-dashboard.json',
      'monitoring/orders/prometheus.yml',
      'monitoring/orders/scrape-config.yml',
    ]);
    const rules = parse(artifacts['monitoring/orders/alert-rules.yml']).groups.flatMap((g: { rules: { expr: string }[] }) => g.rules);
    expect(rules.map((r: { expr: string }) => r.expr).join('\n')).toMatch(/pgha_replication_lag_seconds[^\n]*> 30\b/);
    // The slot thresholds as given (512 MiB, 4 GiB).
    expect(rules.map((r: { expr: string }) => r.expr).filter((e: string) => e.includes('pgha_replication_slot_retained_bytes'))).toEqual([
      'max by (cluster, node, slot_name, slot_type) (pgha_replication_slot_retained_bytes) > 536870912',
      'max by (cluster, node, slot_name, slot_type) (pgha_replication_slot_retained_bytes) > 4294967296',
    ]);
    const scrape = parse(artifacts['monitoring/orders/scrape-config.yml']);
    expect(JSON.stringify(scrape)).toContain('"region":"eu-west-1"');
    expect(JSON.parse(artifacts['monitoring/orders/grafana-dashboard.json']).panels.length).toBeGreaterThan(5);
  });

  test('bad thresholds are refused before anything is synthesized', () => {
    const { stack, platform } = awsTestStack();
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform });
    expect(() => new ClusterMonitoring(stack, 'Monitoring', { cluster, connectionUsagePercent: { warning: 96, critical: 95 } })).toThrow(SpecError);
    expect(() => new ClusterMonitoring(stack, 'Monitoring2', { cluster, diskUsagePercent: { warning: 80, critical: 120 } })).toThrow(/diskUsagePercent\.critical/);
    // GiB written where bytes belong.
    expect(() => new ClusterMonitoring(stack, 'Monitoring3', { cluster, slotRetainedWalBytes: { warning: 1, critical: 8 } })).toThrow(/slotRetainedWalBytes\.critical: got 8; expected at least one WAL segment/);
  });
});
