import { parse } from 'yaml';
import { TerraformOutput } from '../../../src/cdktf';
import { HaproxyFrontends } from '../../../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { awsTestStack, logicalIdOf, resourcesOf, synthesize, userDataOf } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

function clusterWithProxies(props: Partial<ConstructorParameters<typeof HaproxyFrontends>[2]> = {}) {
  const { stack, platform } = awsTestStack();
  const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform });
  const frontends = new HaproxyFrontends(stack, 'Frontends', { platform, cluster, clientCidrs: ['10.50.0.0/16'], ...props });
  return { stack, cluster, frontends, synth: synthesize(stack) };
}

const proxyInstances = (synth: ReturnType<typeof synthesize>) =>
  resourcesOf(synth, 'aws_instance').filter((i) => String((i.tags as Record<string, string>).Name).includes('proxy'));

describe('HaproxyFrontends on AWS', () => {
  describe('GIVEN defaults in front of a three-node cluster', () => {
    let setup: ReturnType<typeof clusterWithProxies>;
    beforeEach(() => {
      setup = clusterWithProxies();
    });

    test('THEN two proxies in different zones', () => {
      const proxies = proxyInstances(setup.synth);
      expect(proxies.map((p) => p.subnet_id)).toEqual(['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2']);
      expect(proxies.map((p) => p.instance_type)).toEqual(['c6i.large', 'c6i.large']);
    });

    test('THEN one internal network load balancer across zones with read-write and read-only listeners', () => {
      const [lb] = resourcesOf(setup.synth, 'aws_lb');
      expect(lb).toMatchObject({ internal: true, load_balancer_type: 'network', enable_cross_zone_load_balancing: true });
      expect(resourcesOf(setup.synth, 'aws_lb_listener').map((l) => l.port).sort()).toEqual([5000, 5001]);
      for (const group of resourcesOf(setup.synth, 'aws_lb_target_group')) {
        expect(group.health_check).toMatchObject({ protocol: 'HTTP', port: '8404', path: '/healthz' });
      }
      expect(resourcesOf(setup.synth, 'aws_lb_target_group_attachment')).toHaveLength(4);
    });

    test('THEN outputs writer_endpoint and reader_endpoint name the balancer and ports', () => {
      expect(setup.synth.output?.writer_endpoint.value).toMatch(/^\$\{aws_lb\.Frontends_Endpoint_[A-Z0-9]+\.dns_name\}:5000$/);
      expect(setup.synth.output?.reader_endpoint.value).toMatch(/:5001$/);
      expect(setup.synth.output?.sync_reader_endpoint).toBeUndefined();
      expect(setup.frontends.writerEndpoint).toContain(':5000');
    });

    test('THEN clients reach only the balancer, and the proxies admit only the balancer', () => {
      const rules = resourcesOf(setup.synth, 'aws_vpc_security_group_ingress_rule');
      const clientRules = rules.filter((r) => r.cidr_ipv4 === '10.50.0.0/16');
      expect(clientRules.map((r) => r.from_port)).toEqual([5000, 5001]);
      const balancerGroup = logicalIdOf(clientRules[0].security_group_id);
      expect(balancerGroup).toMatch(/Frontends_Endpoint_SecurityGroup/);
      const proxyRules = rules.filter((r) => /Frontends_Nodes_SecurityGroup/.test(String(r.security_group_id)));
      expect(proxyRules.map((r) => r.from_port).sort()).toEqual([5000, 5001, 8404]);
      for (const rule of proxyRules) expect(logicalIdOf(rule.referenced_security_group_id)).toBe(balancerGroup);
    });

    test('THEN the cluster admits the proxies on 5432 and 8008, in its security group and its pg_hba', () => {
      const rules = resourcesOf(setup.synth, 'aws_vpc_security_group_ingress_rule').filter((r) =>
        /Frontends_Nodes_SecurityGroup/.test(String(r.referenced_security_group_id)),
      );
      expect(rules.map((r) => r.from_port).sort()).toEqual([5432, 8008]);
      for (const rule of rules) expect(String(rule.security_group_id)).toMatch(/Cluster_Nodes_SecurityGroup/);
      const pgNode = collectRenderedNodes(setup.stack).find((n) => n.plan.name === 'orders-pg-1')!;
      const hba: string[] = parse(pgNode.files.find((f) => f.path === '/etc/patroni/patroni.yml')!.content).postgresql.pg_hba;
      // The node plan reports the same rules, proxies included though they came after the cluster.
      expect(pgNode.plan.ports.find((p) => p.port === 5432)?.from).toEqual([{ group: 'orders-pg' }, { group: 'orders-proxy' }]);
      // The proxies' subnets (10.0.1.0/24, 10.0.2.0/24) are the cluster's own here: every line stays scoped to them.
      expect(hba.filter((line) => line.startsWith('host')).every((line) => /10\.0\.[123]\.0\/24|127\.0\.0\.1\/32/.test(line))).toBe(true);
    });

    test('THEN each proxy renders haproxy.cfg bound to its own address, routing to all three members', () => {
      const [proxy] = proxyInstances(setup.synth);
      const cloudConfig = parse(userDataOf(proxy));
      const cfg: string = cloudConfig.write_files.find((f: { path: string }) => f.path === '/etc/haproxy/pgha.cfg').content;
      expect(cfg).toContain('bind 10.0.1.11:5000');
      for (const address of ['10.0.1.10', '10.0.2.10', '10.0.3.10']) expect(cfg).toContain(`${address}:5432`);
      expect(cloudConfig.packages).toContain('haproxy');
    });
  });

  test('GIVEN an application security group WHEN allowed as a client THEN it reaches the balancer ports only', () => {
    const { stack, platform } = awsTestStack();
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform });
    const frontends = new HaproxyFrontends(stack, 'Frontends', { platform, cluster });
    frontends.allowClient({ securityGroupId: 'sg-0a0a0a0a0a0a0a0a0' });
    // The attributes, resolved the way a user would read them: as outputs.
    new TerraformOutput(stack, 'client_sg', { value: frontends.clientSecurityGroupId });
    new TerraformOutput(stack, 'proxy_sg', { value: frontends.securityGroupId });
    new TerraformOutput(stack, 'cluster_sg', { value: cluster.securityGroupId });
    const synth = synthesize(stack);
    const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.referenced_security_group_id === 'sg-0a0a0a0a0a0a0a0a0');
    expect(rules.map((r) => r.from_port).sort()).toEqual([5000, 5001]);
    for (const rule of rules) expect(rule.security_group_id).toBe(synth.output?.client_sg.value);
    expect(synth.output?.client_sg.value).toMatch(/aws_security_group\.Frontends_Endpoint_SecurityGroup/);
    expect(synth.output?.proxy_sg.value).toMatch(/aws_security_group\.Frontends_Nodes_SecurityGroup/);
    expect(synth.output?.cluster_sg.value).toMatch(/aws_security_group\.Cluster_Nodes_SecurityGroup/);
  });

  test('GIVEN a sync replica port WHEN synthesized THEN a third listener and output exist', () => {
    const { synth } = clusterWithProxies({ syncReplicaPort: 5002 });
    expect(resourcesOf(synth, 'aws_lb_listener').map((l) => l.port).sort()).toEqual([5000, 5001, 5002]);
    expect(synth.output?.sync_reader_endpoint.value).toMatch(/:5002$/);
  });

  test('GIVEN an output prefix WHEN synthesized THEN outputs carry it', () => {
    const { synth } = clusterWithProxies({ outputPrefix: 'orders_' });
    expect(Object.keys(synth.output ?? {}).sort()).toEqual(['orders_reader_endpoint', 'orders_writer_endpoint']);
  });

  test('fails when 0.0.0.0/0 is a client range without allowAnyClient', () => {
    expect(() => clusterWithProxies({ clientCidrs: ['0.0.0.0/0'] })).toThrow(/clientCidrs\.0: got "0\.0\.0\.0\/0".*allowAnyClient/);
  });

  test('GIVEN allowAnyClient WHEN 0.0.0.0/0 is a client range THEN it is accepted', () => {
    const { synth } = clusterWithProxies({ clientCidrs: ['0.0.0.0/0'], allowAnyClient: true });
    expect(resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.cidr_ipv4 === '0.0.0.0/0')).toHaveLength(2);
  });

  test('fails when a single proxy is asked for without allowSingleProxy', () => {
    expect(() => clusterWithProxies({ proxyCount: 1 })).toThrow(/proxyCount: got 1; expected at least 2 proxies/);
  });
});
