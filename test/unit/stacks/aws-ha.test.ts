import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { App, Testing } from '../../../src/cdktf';
import { AwsHaStack } from '../../../stacks/aws-ha';
import { resourcesOf, synthesize, SynthesizedStack, UNUSED_OUTDIR, userDataOf } from '../../support/aws-stack';
import { findCycle, referenceGraph } from '../../support/reference-graph';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

const newApp = () => new App({ outdir: UNUSED_OUTDIR });

describe('stack aws-ha', () => {
  let stack: AwsHaStack;
  let synth: SynthesizedStack & { terraform: Record<string, unknown>; provider: Record<string, unknown> };
  beforeAll(() => {
    stack = new AwsHaStack(newApp(), 'aws-ha');
    synth = JSON.parse(Testing.synth(stack));
  });

  test('THEN it builds its own VPC: a private subnet in each of 3 zones, routed through one NAT gateway', () => {
    const subnets = resourcesOf(synth, 'aws_subnet');
    const privateSubnets = subnets.filter((s) => String((s.tags as Record<string, string>).Name).includes('private'));
    expect(privateSubnets.map((s) => [s.availability_zone, s.cidr_block])).toEqual([
      ['eu-west-1a', '10.40.1.0/24'],
      ['eu-west-1b', '10.40.2.0/24'],
      ['eu-west-1c', '10.40.3.0/24'],
    ]);
    for (const subnet of subnets) expect(subnet.map_public_ip_on_launch ?? false).toBe(false);
    expect(resourcesOf(synth, 'aws_nat_gateway')).toHaveLength(1);
  });

  test('THEN 3 PostgreSQL nodes and 2 proxies, none with a public address', () => {
    const instances = resourcesOf(synth, 'aws_instance');
    expect(instances.map((i) => (i.tags as Record<string, string>).Name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
    for (const instance of instances) expect(instance.associate_public_ip_address).toBe(false);
  });

  test('THEN the PostgreSQL nodes, which run Patroni, load the softdog watchdog at every boot; the proxies get none', () => {
    const bootcmd = (name: string) => {
      const instance = resourcesOf(synth, 'aws_instance').find((i) => (i.tags as Record<string, string>).Name === name)!;
      return parse(userDataOf(instance)).bootcmd;
    };
    for (const node of ['main-pg-1', 'main-pg-2', 'main-pg-3']) expect(JSON.stringify(bootcmd(node))).toContain('modprobe softdog');
    for (const proxy of ['main-proxy-1', 'main-proxy-2']) expect(bootcmd(proxy)).toBeUndefined();
  });

  test('THEN the Debian 13 AMI is looked up from Debian\'s own account', () => {
    const [ami] = Object.values(synth.data.aws_ami);
    expect(ami).toMatchObject({ most_recent: true, owners: ['136693071363'] });
    expect(JSON.stringify(ami.filter)).toContain('debian-13-amd64-*');
  });

  test('THEN the app uses a relative local state path and pins the AWS provider', () => {
    expect(synth.terraform).toMatchObject({
      backend: { local: { path: 'terraform.aws-ha.tfstate' } },
      required_providers: { aws: { source: 'aws', version: '6.25.0' } },
    });
  });

  test('THEN the outputs are the endpoints, the members and the archive bucket', () => {
    expect(Object.keys(synth.output ?? {}).sort()).toEqual(['archive_bucket_arn', 'archive_bucket_name', 'cluster_members', 'reader_endpoint', 'writer_endpoint']);
    expect(synth.output?.archive_bucket_arn.value).toMatch(/^\$\{aws_s3_bucket\.Archive_Repository_[A-F0-9]+\.arn\}$/);
    expect(synth.output?.cluster_members.value).toBe('main-pg-1=10.40.1.10,main-pg-2=10.40.2.10,main-pg-3=10.40.3.10');
  });

  test('THEN the reference graph has no cycle', () => {
    const graph = referenceGraph(synth);
    expect(graph.size).toBeGreaterThan(50);
    // The graph really holds the references: an instance needs its security group and profile.
    const instance = [...graph.entries()].find(([address]) => address.startsWith('aws_instance.'))!;
    expect([...instance[1]].some((edge) => edge.startsWith('aws_security_group.'))).toBe(true);
    expect(findCycle(graph)).toBeUndefined();
  });

  test('THEN the cycle finder does find a cycle when one is made', () => {
    const graph = referenceGraph(synth);
    const [first] = [...graph.entries()].find(([address]) => address.startsWith('aws_instance.'))!;
    const securityGroup = [...graph.get(first)!].find((edge) => edge.startsWith('aws_security_group.'))!;
    graph.get(securityGroup)!.add(first);
    expect(findCycle(graph)).toEqual(expect.arrayContaining([first, securityGroup]));
  });

  test('THEN user data stays under EC2\'s 16 KiB limit and holds no generated secret', () => {
    for (const instance of resourcesOf(synth, 'aws_instance')) {
      // EC2 limits user data to 16 KiB before base64 (here: the gzip bytes).
      expect(Buffer.from(String(instance.user_data_base64), 'base64').length).toBeLessThan(16 * 1024);
      const text = userDataOf(instance);
      expect(text).toMatch(/^#cloud-config/);
      // Static text: no Terraform reference, so no generated password can be interpolated into it.
      expect(text).not.toMatch(/random_password|\$\{(data\.)?aws_/);
    }
    const secretNames = resourcesOf(synth, 'aws_secretsmanager_secret').map((s) => s.name);
    expect(secretNames.sort()).toEqual(['pgha/aws-ha/main/archive', 'pgha/aws-ha/main/haproxy', 'pgha/aws-ha/main/monitoring', 'pgha/aws-ha/main/patroni']);
  });

  test('WHEN synthesized by the app THEN each node has its configs at their absolute paths beside cdk.tf.json', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'pgha-nodes-'));
    const app = new App({ outdir });
    const fresh = new AwsHaStack(app, 'aws-ha');
    app.synth();
    const dir = join(outdir, 'stacks', 'aws-ha');
    // Every node file, plus the monitoring artifacts (rules, scrape config, prometheus.yml, dashboard) and pgha.json.
    const files = (sub: string): string[] => readdirSync(join(dir, sub), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(sub, e.name)) : [join(sub, e.name)]));
    expect(files('nodes')).toHaveLength(collectRenderedNodes(fresh).reduce((sum, node) => sum + node.files.length, 0));
    expect(files('monitoring')).toHaveLength(4);
    expect(existsSync(join(dir, 'cdk.tf.json'))).toBe(true);
    expect(existsSync(join(dir, 'pgha.json'))).toBe(true);
    expect(existsSync(join(dir, 'monitoring/main/alert-rules.yml'))).toBe(true);
    const patroni = parse(readFileSync(join(dir, 'nodes/main-pg-1/etc/patroni/patroni.yml'), 'utf8'));
    expect(patroni.name).toBe('main-pg-1');
    expect(patroni.bootstrap.dcs.synchronous_mode).toBe(true);
    expect(readFileSync(join(dir, 'nodes/main-proxy-2/etc/haproxy/pgha.cfg'), 'utf8')).toContain('bind 10.40.2.11:5000');
    expect(existsSync(join(dir, 'nodes/main-pg-3/usr/local/sbin/pgha-boot'))).toBe(true);
    expect(existsSync(join(dir, 'nodes/main-pg-3/var/lib/cloud/instance/user-data.txt'))).toBe(true);
    rmSync(outdir, { recursive: true, force: true });
  });

  test('GIVEN archive: false WHEN synthesized THEN no bucket, no backup jobs and no archive output', () => {
    const bare = synthesize(new AwsHaStack(newApp(), 'aws-ha', { archive: false }));
    expect(resourcesOf(bare, 'aws_s3_bucket')).toEqual([]);
    expect(Object.keys(bare.output ?? {})).not.toContain('archive_bucket_arn');
    expect(userDataOf(resourcesOf(bare, 'aws_instance')[0])).not.toMatch(/pgbackrest|pgha-backup/);
  });

  test('GIVEN an existing VPC WHEN synthesized THEN no network is created and nodes use the given subnets', () => {
    const existing = new AwsHaStack(newApp(), 'aws-ha', {
      existingNetwork: {
        vpcId: 'vpc-0abc0abc0abc0abc0',
        subnets: [
          { subnetId: 'subnet-01111111111111111', availabilityZone: 'us-east-1a', cidrBlock: '172.20.0.0/24' },
          { subnetId: 'subnet-02222222222222222', availabilityZone: 'us-east-1b', cidrBlock: '172.20.1.0/24' },
          { subnetId: 'subnet-03333333333333333', availabilityZone: 'us-east-1c', cidrBlock: '172.20.2.0/24' },
        ],
      },
      clientCidrs: ['172.20.0.0/16'],
    });
    const result: SynthesizedStack = JSON.parse(Testing.synth(existing));
    expect(resourcesOf(result, 'aws_vpc')).toHaveLength(0);
    expect(resourcesOf(result, 'aws_instance').map((i) => i.private_ip)).toEqual([
      '172.20.0.10',
      '172.20.1.10',
      '172.20.2.10',
      '172.20.0.11',
      '172.20.1.11',
    ]);
  });
});
