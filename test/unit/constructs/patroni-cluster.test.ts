import { parse } from 'yaml';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { SpecError } from '../../../src/spec/problems';
import { THREE_ZONE_SUBNETS, awsTestStack, logicalIdOf, resourcesOf, synthesize, userDataOf } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

describe('PatroniCluster on AWS', () => {
  describe('GIVEN the default cluster in three zones', () => {
    let synth: ReturnType<typeof synthesize>;
    let cluster: PatroniCluster;
    beforeEach(() => {
      const { stack, platform } = awsTestStack();
      cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform });
      synth = synthesize(stack);
    });

    test('THEN one instance per zone, at fixed private addresses, without public IPs and with IMDSv2 required', () => {
      const instances = resourcesOf(synth, 'aws_instance');
      expect(instances.map((i) => [i.subnet_id, i.private_ip])).toEqual([
        ['subnet-0aaaaaaaaaaaaaaa1', '10.0.1.10'],
        ['subnet-0bbbbbbbbbbbbbbb2', '10.0.2.10'],
        ['subnet-0ccccccccccccccc3', '10.0.3.10'],
      ]);
      for (const instance of instances) {
        expect(instance.associate_public_ip_address).toBe(false);
        expect(instance.metadata_options).toEqual({ http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 });
        expect(instance.root_block_device).toMatchObject({ encrypted: true });
        expect(instance.lifecycle).toEqual({ ignore_changes: ['ami', 'user_data_base64'] });
      }
    });

    test('THEN each node has an encrypted gp3 data volume in its own zone, attached to it', () => {
      const volumes = resourcesOf(synth, 'aws_ebs_volume');
      expect(volumes.map((v) => v.availability_zone)).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
      for (const volume of volumes) expect(volume).toMatchObject({ encrypted: true, type: 'gp3', size: 100 });
      const attachments = resourcesOf(synth, 'aws_volume_attachment');
      expect(attachments).toHaveLength(3);
      expect(new Set(attachments.map((a) => a.instance_id)).size).toBe(3);
    });

    test('THEN user data installs the packages and writes patroni.yml naming all three etcd members, with no password', () => {
      const instance = resourcesOf(synth, 'aws_instance')[0];
      const cloudConfig = parse(userDataOf(instance));
      expect(cloudConfig.packages).toEqual(expect.arrayContaining(['postgresql-17', 'patroni', 'etcd-server', 'awscli']));
      const patroniFile = cloudConfig.write_files.find((f: { path: string }) => f.path === '/etc/patroni/patroni.yml');
      const patroni = parse(patroniFile.content);
      expect(patroni.etcd3.hosts).toEqual(['10.0.1.10:2379', '10.0.2.10:2379', '10.0.3.10:2379']);
      expect(patroni.postgresql.connect_address).toBe('10.0.1.10:5432');
      expect(JSON.stringify(patroni)).not.toMatch(/password"\s*:\s*"[^"]/i);
      expect(cloudConfig.runcmd).toEqual([['/usr/local/sbin/pgha-boot']]);
    });

    test('THEN Patroni runs with the watchdog required: softdog loaded and given to postgres at every boot, reset 5 s before the leader key expires', () => {
      const instance = resourcesOf(synth, 'aws_instance')[0];
      const cloudConfig = parse(userDataOf(instance));
      const patroniFile = cloudConfig.write_files.find((f: { path: string }) => f.path === '/etc/patroni/patroni.yml');
      expect(parse(patroniFile.content).watchdog).toEqual({ mode: 'required', device: '/dev/watchdog', safety_margin: 5 });
      // bootcmd runs at every boot (runcmd, the boot script, only at the first).
      expect(cloudConfig.bootcmd).toEqual([['sh', '-c', 'modprobe softdog && udevadm settle; chown postgres:postgres /dev/watchdog && chmod 0600 /dev/watchdog']]);
    });

    test('THEN the secret is generated write-only and only the node role may read it', () => {
      const versions = resourcesOf(synth, 'aws_secretsmanager_secret_version');
      expect(versions).toHaveLength(1);
      expect(versions[0]).toMatchObject({ secret_string_wo_version: 1 });
      expect(versions[0].secret_string).toBeUndefined();
      expect(String(versions[0].secret_string_wo)).toContain('superuser_password');
      const policies = Object.values(synth.data.aws_iam_policy_document).map((d) => JSON.stringify(d.statement));
      const readSecret = policies.find((p) => p.includes('secretsmanager:GetSecretValue'));
      expect(readSecret).toContain('aws_secretsmanager_secret.Cluster_Secret');
      expect(readSecret).not.toContain('"*"');
    });

    test('THEN 5432, 8008, 2379 and 2380 are open only to the cluster itself', () => {
      const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule');
      const clusterGroup = logicalIdOf(rules[0].security_group_id);
      expect(rules.map((r) => r.from_port).sort()).toEqual([2379, 2380, 5432, 8008]);
      for (const rule of rules) {
        expect(logicalIdOf(rule.referenced_security_group_id)).toBe(clusterGroup);
        expect(rule.cidr_ipv4).toBeUndefined();
      }
    });

    test('THEN the construct exposes its members for proxies', () => {
      expect(cluster.backendMembers).toEqual([
        { name: 'orders-pg-1', address: '10.0.1.10', postgresPort: 5432, restApiPort: 8008 },
        { name: 'orders-pg-2', address: '10.0.2.10', postgresPort: 5432, restApiPort: 8008 },
        { name: 'orders-pg-3', address: '10.0.3.10', postgresPort: 5432, restApiPort: 8008 },
      ]);
    });
  });

  test('GIVEN dedicated etcd WHEN synthesized THEN 3 etcd nodes exist and only they hold 2380, reachable from each other', () => {
    const { stack, platform } = awsTestStack();
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, etcdPlacement: 'dedicated' });
    const synth = synthesize(stack);
    expect(resourcesOf(synth, 'aws_instance')).toHaveLength(6);
    const nodes = collectRenderedNodes(stack);
    const pgNode = nodes.find((n) => n.plan.name === 'orders-pg-1')!;
    expect(pgNode.plan.services.map((s) => s.name)).toEqual(['pgha-patroni']);
    expect(parse(pgNode.files.find((f) => f.path === '/etc/patroni/patroni.yml')!.content).etcd3.hosts).toEqual(
      cluster.etcdMembers.map((m) => `${m.address}:2379`),
    );
    const peerRules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 2380);
    expect(peerRules).toHaveLength(1);
    expect(logicalIdOf(peerRules[0].security_group_id)).toBe(logicalIdOf(peerRules[0].referenced_security_group_id));
    expect(logicalIdOf(peerRules[0].security_group_id)).toMatch(/EtcdNodes/);
  });

  test('GIVEN direct client networks WHEN synthesized THEN 5432 opens to them and pg_hba admits them', () => {
    const { stack, platform } = awsTestStack();
    new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, clientCidrs: ['10.9.0.0/16'] });
    const rules = resourcesOf(synthesize(stack), 'aws_vpc_security_group_ingress_rule');
    expect(rules.filter((r) => r.cidr_ipv4 === '10.9.0.0/16').map((r) => r.from_port)).toEqual([5432]);
    const patroni = parse(collectRenderedNodes(stack)[0].files.find((f) => f.path === '/etc/patroni/patroni.yml')!.content);
    expect(patroni.postgresql.pg_hba.join('\n')).toContain('10.9.0.0/16');
  });

  test('fails when the spec is invalid, listing every problem, and synthesizes nothing', () => {
    const { stack, platform } = awsTestStack();
    let error: unknown;
    try {
      new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, nodeCount: 2, replicationMode: 'quorum' as never });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).problems.map((p) => p.path)).toEqual(['replicationMode', 'nodeCount']);
    // The message names the construct, as a stack with several clusters needs.
    expect((error as SpecError).constructPath).toBe('test/Cluster');
    expect((error as SpecError).message).toMatch(/^Invalid PatroniCluster spec of test\/Cluster \(2 problems\):\n  - replicationMode: got "quorum"/);
    expect(resourcesOf(synthesize(stack), 'aws_instance')).toHaveLength(0);
  });

  test('GIVEN replicateFrom WHEN synthesized THEN only the cascading node carries replicatefrom, and its user data holds the same file', () => {
    const { stack, platform } = awsTestStack();
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, replicationMode: 'async', replicateFrom: { 'orders-pg-3': 'orders-pg-2' } });
    expect(cluster.spec.replicateFrom).toEqual({ 'orders-pg-3': 'orders-pg-2' });
    const patroniFiles = collectRenderedNodes(stack).map((node) => [node.plan.name, node.files.find((f) => f.path === '/etc/patroni/patroni.yml')!.content] as const);
    expect(patroniFiles.map(([name, content]) => [name, parse(content).tags])).toEqual([
      ['orders-pg-1', { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false }],
      ['orders-pg-2', { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false }],
      ['orders-pg-3', { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, replicatefrom: 'orders-pg-2' }],
    ]);
    const thirdInstance = resourcesOf(synthesize(stack), 'aws_instance')[2];
    const written = parse(userDataOf(thirdInstance)).write_files.find((f: { path: string }) => f.path === '/etc/patroni/patroni.yml');
    expect(written.content).toBe(patroniFiles[2][1]);
  });

  test('fails on a cascade loop and a sync count cascading leaves no room for, before anything is synthesized', () => {
    const { stack, platform } = awsTestStack();
    let error: unknown;
    try {
      new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, nodeCount: 5, synchronousNodeCount: 3, replicateFrom: { 'orders-pg-2': 'orders-pg-3', 'orders-pg-3': 'orders-pg-2' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).message).toContain('orders-pg-2 -> orders-pg-3 -> orders-pg-2');
    expect((error as SpecError).message).toContain('5 - 1 - 2 = 2 synchronous standby(s)');
    expect(resourcesOf(synthesize(stack), 'aws_instance')).toHaveLength(0);
  });

  test('fails when every subnet is in one zone', () => {
    const { stack, platform } = awsTestStack(THREE_ZONE_SUBNETS.map((s) => ({ ...s, availabilityZone: 'eu-west-1a' })));
    expect(() => new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform })).toThrow(
      /subnets: got \["eu-west-1a"\]; expected nodes spread over at least 2 availability zones/,
    );
  });

  test('fails when two clusters share a name in one stack', () => {
    const { stack, platform } = awsTestStack();
    new PatroniCluster(stack, 'A', { clusterName: 'orders', platform });
    expect(() => new PatroniCluster(stack, 'B', { clusterName: 'orders', platform })).toThrow(/Invalid PatroniCluster spec of test\/B .*\n.*clusterName: got "orders"; expected a cluster name no other construct of the stack uses: test\/A has "orders" already/);
  });
});
