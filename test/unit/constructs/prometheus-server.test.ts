import { RootConstruct } from 'constructs';
import { parse } from 'yaml';
import { ClusterMonitoring } from '../../../src/constructs/cluster-monitoring';
import { HaproxyFrontends } from '../../../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { PrometheusServer, PrometheusServerProps } from '../../../src/constructs/prometheus-server';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { Platform } from '../../../src/platform/platform';
import { specErrorOf } from '../../support/spec-error';
import { haTopology } from '../../../stacks/ha-topology';
import { SynthesizedStack, awsTestStack, logicalIdOf, resourcesOf, synthesize, userDataOf } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

type Construct = ConstructorParameters<typeof PatroniCluster>[0];

function monitoredCluster(scope: Construct, platform: Platform, clusterName: string, proxies = true) {
  const cluster = new PatroniCluster(scope, `Cluster-${clusterName}`, { clusterName, platform });
  const frontends = proxies ? new HaproxyFrontends(scope, `Frontends-${clusterName}`, { platform, cluster, outputPrefix: `${clusterName}_` }) : undefined;
  return new ClusterMonitoring(scope, `Monitoring-${clusterName}`, { cluster, frontends });
}

function awsServer(props: Partial<Omit<PrometheusServerProps, 'platform' | 'monitoring'>> = { clientCidrs: ['10.20.0.0/16'] }) {
  const { stack, platform } = awsTestStack();
  const monitoring = monitoredCluster(stack, platform, 'orders');
  const server = new PrometheusServer(stack, 'Prometheus', { platform, monitoring: [monitoring], ...props });
  return { stack, monitoring, server, synth: synthesize(stack) };
}

/** The logical id of the security group tagged with this group name. */
function securityGroupOf(synth: SynthesizedStack, groupName: string): string {
  const [id] = Object.entries(synth.resource.aws_security_group).find(([, sg]) => (sg.tags as Record<string, string>).Name === groupName)!;
  return id;
}

/** The statements of every inline policy of the role whose name starts with `<group>-`. */
function roleStatements(synth: SynthesizedStack, groupName: string): unknown[] {
  const [roleId] = Object.entries(synth.resource.aws_iam_role).find(([, role]) => role.name_prefix === `${groupName}-`)!;
  return resourcesOf(synth, 'aws_iam_role_policy')
    .filter((policy) => logicalIdOf(policy.role) === roleId)
    .flatMap((policy) => {
      const document = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(String(policy.policy))![1];
      return synth.data.aws_iam_policy_document[document].statement as unknown[];
    });
}


describe('PrometheusServer on AWS', () => {
  test('one instance of its own (t3.medium, 50 GiB data volume), installing Debian prometheus, at the URL it reports', () => {
    const { synth, server } = awsServer();
    const instances = resourcesOf(synth, 'aws_instance').filter((i) => (i.tags as Record<string, string>)['pgha:group'] === 'monitoring');
    expect(instances).toHaveLength(1);
    expect(instances[0]).toMatchObject({ instance_type: 't3.medium', private_ip: '10.0.3.11', associate_public_ip_address: false, tags: { Name: 'monitoring-1' } });
    expect(resourcesOf(synth, 'aws_ebs_volume').filter((v) => (v.tags as Record<string, string>).Name === 'monitoring-1-data').map((v) => v.size)).toEqual([50]);
    expect(server.url).toBe('http://10.0.3.11:9090');
    expect(server.nodes.groupName).toBe('monitoring');
    const userData = parse(userDataOf(instances[0]).replace(/^#cloud-config\n/, ''));
    expect(userData.packages).toContain('prometheus');
  });

  test('its security group is the one the exporters (9187 on PostgreSQL nodes, 9100 on every node) are open to, and only it', () => {
    const { synth } = awsServer();
    const monitoringSg = securityGroupOf(synth, 'monitoring');
    const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 9187 || r.from_port === 9100);
    expect(rules.map((r) => [r.from_port, logicalIdOf(r.security_group_id), logicalIdOf(r.referenced_security_group_id)]).sort()).toEqual(
      [
        [9100, securityGroupOf(synth, 'orders-pg'), monitoringSg],
        [9100, securityGroupOf(synth, 'orders-proxy'), monitoringSg],
        [9187, securityGroupOf(synth, 'orders-pg'), monitoringSg],
      ].sort(),
    );
    for (const rule of rules) expect(rule.cidr_ipv4).toBeUndefined();
  });

  test("the node's role may only describe instances and zones (EC2 discovery), on \"*\": no secret, no other action", () => {
    const { synth } = awsServer();
    expect(roleStatements(synth, 'monitoring')).toEqual([{ actions: ['ec2:DescribeInstances', 'ec2:DescribeAvailabilityZones'], resources: ['*'] }]);
    // No other role of the stack got the discovery actions.
    for (const group of ['orders-pg', 'orders-proxy']) expect(JSON.stringify(roleStatements(synth, group))).not.toContain('ec2:');
  });

  test('the UI and API port is open to clientCidrs only, and to nobody by default', () => {
    const { synth } = awsServer({ clientCidrs: ['10.20.0.0/16', '192.168.7.0/24'] });
    const ui = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 9090);
    expect(ui.map((r) => [r.cidr_ipv4, r.referenced_security_group_id, r.to_port, logicalIdOf(r.security_group_id)])).toEqual([
      ['10.20.0.0/16', undefined, 9090, securityGroupOf(synth, 'monitoring')],
      ['192.168.7.0/24', undefined, 9090, securityGroupOf(synth, 'monitoring')],
    ]);
    const closed = awsServer({});
    expect(resourcesOf(closed.synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 9090)).toEqual([]);
    // Nothing else is open on the Prometheus node.
    const monitoringSg = securityGroupOf(closed.synth, 'monitoring');
    expect(resourcesOf(closed.synth, 'aws_vpc_security_group_ingress_rule').filter((r) => logicalIdOf(r.security_group_id) === monitoringSg)).toEqual([]);
  });

  test('prometheus.yml finds the cluster by EC2 discovery in its region and loads its rule file; the service runs as prometheus on the node address', () => {
    const { stack, monitoring } = awsServer();
    const node = collectRenderedNodes(stack).find((n) => n.plan.name === 'monitoring-1')!;
    const file = (path: string) => node.files.find((f) => f.path === path)?.content;
    const config = parse(file('/etc/pgha/prometheus/prometheus.yml')!);
    expect(config.rule_files).toEqual(['/etc/pgha/prometheus/rules/pgha.yml']);
    expect(file('/etc/pgha/prometheus/rules/pgha.yml')).toBe(monitoring.alertRules());
    const jobs = Object.fromEntries(config.scrape_configs.map((j: { job_name: string }) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(['pgha-node', 'pgha-postgres', 'prometheus']);
    for (const name of ['pgha-postgres', 'pgha-node']) {
      expect(jobs[name].static_configs).toBeUndefined();
      const [sd] = jobs[name].ec2_sd_configs;
      expect(sd.region).toBe('eu-west-1');
      expect(sd.filters.find((f: { name: string }) => f.name === 'tag:pgha:group').values).toContain('orders-pg');
    }
    expect(jobs['pgha-node'].ec2_sd_configs[0].filters.find((f: { name: string }) => f.name === 'tag:pgha:group').values).toEqual(['orders-pg', 'orders-proxy']);
    expect(jobs.prometheus.static_configs).toEqual([{ targets: ['10.0.3.11:9090'] }]);

    const service = node.plan.services.find((s) => s.name === 'pgha-prometheus')!;
    expect(service).toMatchObject({ user: 'prometheus', group: 'prometheus' });
    expect(service.command).toEqual([
      '/usr/bin/prometheus',
      '--config.file=/etc/pgha/prometheus/prometheus.yml',
      '--storage.tsdb.path=/var/lib/pgha/prometheus',
      '--storage.tsdb.retention.time=15d',
      '--web.listen-address=10.0.3.11:9090',
    ]);
    expect(node.plan.dataVolume).toEqual({ mountPath: '/var/lib/pgha', sizeGiB: 50 });
    expect(node.plan.directories).toContainEqual({ path: '/var/lib/pgha/prometheus', mode: '0750', owner: 'prometheus:prometheus' });
    expect(node.plan.replacesServices).toEqual(['prometheus', 'prometheus-node-exporter']);
    const boot = file('/usr/local/sbin/pgha-boot')!;
    expect(boot).toContain('systemctl disable --now prometheus.service || true');
    expect(boot).toContain("prepare_data_volume '/var/lib/pgha' 53687091200");
  });

  test('port, retention, size, instance type and group name are settings', () => {
    const { stack, synth, server } = awsServer({ port: 9091, retentionDays: 30, dataVolumeSizeGiB: 200, instanceType: 'm6i.large', name: 'prom' });
    expect(server.url).toBe('http://10.0.3.11:9091');
    const instance = resourcesOf(synth, 'aws_instance').find((i) => (i.tags as Record<string, string>).Name === 'prom-1')!;
    expect(instance.instance_type).toBe('m6i.large');
    expect(resourcesOf(synth, 'aws_ebs_volume').find((v) => (v.tags as Record<string, string>).Name === 'prom-1-data')?.size).toBe(200);
    const command = collectRenderedNodes(stack).find((n) => n.plan.name === 'prom-1')!.plan.services[0].command;
    expect(command).toContain('--storage.tsdb.retention.time=30d');
    expect(command).toContain('--web.listen-address=10.0.3.11:9091');
    // The exporters are open to the renamed group's security group.
    const exporterRules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 9187);
    expect(exporterRules.map((r) => logicalIdOf(r.referenced_security_group_id))).toEqual([securityGroupOf(synth, 'prom')]);
  });

  test('several clusters: one rule file for all (the rules aggregate by cluster), every cluster in the discovery, every cluster open to the server', () => {
    const { stack, platform } = awsTestStack();
    const orders = monitoredCluster(stack, platform, 'orders');
    const billing = monitoredCluster(stack, platform, 'billing', false);
    new PrometheusServer(stack, 'Prometheus', { platform, monitoring: [orders, billing] });
    const synth = synthesize(stack);
    const node = collectRenderedNodes(stack).find((n) => n.plan.name === 'monitoring-1')!;
    const config = parse(node.files.find((f) => f.path === '/etc/pgha/prometheus/prometheus.yml')!.content);
    expect(config.rule_files).toEqual(['/etc/pgha/prometheus/rules/pgha.yml']);
    expect(node.files.find((f) => f.path === '/etc/pgha/prometheus/rules/pgha.yml')?.content).toBe(billing.alertRules());
    expect(orders.alertRules()).toBe(billing.alertRules());
    const postgresJob = config.scrape_configs.find((j: { job_name: string }) => j.job_name === 'pgha-postgres');
    expect(JSON.stringify(postgresJob.ec2_sd_configs)).toContain('billing-pg');
    expect(JSON.stringify(postgresJob.ec2_sd_configs)).toContain('orders-pg');
    const monitoringSg = securityGroupOf(synth, 'monitoring');
    const exporterRules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 9187);
    expect(exporterRules.map((r) => [logicalIdOf(r.security_group_id), logicalIdOf(r.referenced_security_group_id)]).sort()).toEqual(
      [
        [securityGroupOf(synth, 'billing-pg'), monitoringSg],
        [securityGroupOf(synth, 'orders-pg'), monitoringSg],
      ].sort(),
    );
  });
});

describe('PrometheusServer props are checked before anything is built', () => {
  const build = (props: Record<string, unknown>) => () => {
    const { stack, platform } = awsTestStack();
    const monitoring = monitoredCluster(stack, platform, 'orders', false);
    return new PrometheusServer(stack, 'Prometheus', { platform, monitoring: [monitoring], ...props } as PrometheusServerProps);
  };

  test('the UI is never opened to the whole internet', () => {
    const error = specErrorOf(build({ clientCidrs: ['10.0.0.0/16', '0.0.0.0/0'] }));
    expect(error.problems.map((p) => p.path)).toEqual(['clientCidrs.1']);
    expect(error.message).toMatch(/clientCidrs\.1: got "0\.0\.0\.0\/0"; expected .*no authentication.*Fix: /);
    expect(specErrorOf(build({ clientCidrs: ['10.0.0.0/33'] })).problems.map((p) => p.path)).toEqual(['clientCidrs.0']);
  });

  test('numbers out of range and bad names are refused, every problem at once, naming the field', () => {
    const error = specErrorOf(build({ port: 80, retentionDays: 0, dataVolumeSizeGiB: 2.5, instanceType: 'large', name: 'Prometheus Server' }));
    expect(error.problems.map((p) => p.path).sort()).toEqual(['dataVolumeSizeGiB', 'instanceType', 'name', 'port', 'retentionDays']);
    expect(error.message).toMatch(/port: got 80; expected a port from 1024 to 65535/);
    expect(error.message).toMatch(/retentionDays: got 0; expected at least 1 days/);
    expect(specErrorOf(build({ retension: 3 })).message).toMatch(/retension/);
  });

  test('it needs one or more clusters, each once', () => {
    const { stack, platform } = awsTestStack();
    expect(specErrorOf(() => new PrometheusServer(stack, 'Empty', { platform, monitoring: [] })).message).toMatch(/monitoring: got \[\]; expected a list of at least 1: a ClusterMonitoring/);
    const orders = monitoredCluster(stack, platform, 'orders', false);
    expect(specErrorOf(() => new PrometheusServer(stack, 'Twice', { platform, monitoring: [orders, orders] })).message).toMatch(/cluster "orders" appears twice/);
  });

  test('haTopology: prometheusServer needs monitoring', () => {
    const { stack, platform } = awsTestStack();
    expect(() => haTopology(stack, platform, { prometheusServer: {} })).toThrow(/prometheusServer: .*expected monitoring too.*Fix: add monitoring: \{\}/);
  });
});

describe('PrometheusServer on the local platform', () => {
  test('haTopology builds it after the monitoring: static targets at the node addresses, listening on its own loopback address', () => {
    const root = new RootConstruct('local');
    const platform = new LocalPlatform(root, 'Platform', { addressBlock: 77 });
    const topology = haTopology(root, platform, { monitoring: {}, prometheusServer: {} });
    expect(topology.prometheusServer?.url).toBe('http://127.77.3.11:9090');
    const node = collectRenderedNodes(root).find((n) => n.plan.group === 'monitoring')!;
    const config = parse(node.files.find((f) => f.path === '/etc/pgha/prometheus/prometheus.yml')!.content);
    const postgresJob = config.scrape_configs.find((j: { job_name: string }) => j.job_name === 'pgha-postgres');
    expect(postgresJob.ec2_sd_configs).toBeUndefined();
    expect(postgresJob.static_configs.map((c: { targets: string[] }) => c.targets[0]).sort()).toEqual(topology.cluster.members.map((m) => `${m.address}:9187`).sort());
    expect(node.plan.services[0].command).toContain('--web.listen-address=127.77.3.11:9090');
  });

  test('clusters with different thresholds on one server are refused, with the fix', () => {
    const { stack, platform } = awsTestStack();
    const orders = monitoredCluster(stack, platform, 'orders');
    const cluster = new PatroniCluster(stack, 'Cluster-billing', { clusterName: 'billing', platform });
    const billing = new ClusterMonitoring(stack, 'Monitoring-billing', { cluster, replicationLagSeconds: { warning: 10, critical: 30 } });
    new PrometheusServer(stack, 'Prometheus', { platform, monitoring: [orders, billing] });
    expect(() => collectRenderedNodes(stack)).toThrow(/monitoring: got \["orders","billing"\]; expected clusters with the same alert thresholds .* give their ClusterMonitoring the same thresholds .* or give each cluster a PrometheusServer of its own/);
  });
});
