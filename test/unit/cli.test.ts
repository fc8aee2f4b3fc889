import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'pgha-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function specFile(content: unknown): string {
  const file = join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('pgha', () => {
  test('validate prints a valid spec with its defaults', async () => {
    const result = await run(['validate', 'patroni-cluster', specFile({ clusterName: 'orders', failover: 'fast' })]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ clusterName: 'orders', nodeCount: 3, failover: { ttlSeconds: 20 } });
  });

  test('validate fails with every problem of an invalid spec, each naming its field', async () => {
    const result = await run(['validate', 'haproxy-frontends', specFile({ proxyCount: 1, readOnlyPort: 5000 })]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/proxyCount: got 1/);
    expect(result.err).toMatch(/readOnlyPort: got 5000/);
  });

  test.each([
    ['patroni-cluster', { clusterName: 'orders' }],
    ['primary-with-replicas', { clusterName: 'orders' }],
    ['haproxy-frontends', {}],
    ['wal-archive-bucket', { name: 'orders-archive' }],
    ['backup-job', {}],
    ['cluster-monitoring', {}],
    ['prometheus-server', {}],
    ['aws-platform', { vpcId: 'vpc-0123456789abcdef0', subnets: [{ subnetId: 'subnet-01111111111111111', availabilityZone: 'eu-west-1a', cidrBlock: '10.0.1.0/24' }] }],
    ['aws-vpc', { name: 'orders', availabilityZones: ['eu-west-1a'] }],
    ['local-platform', {}],
    ['docker-platform', {}],
  ])('validate knows %s: a valid file passes, a misspelt prop is refused with the nearest name', async (kind, valid) => {
    expect((await run(['validate', kind, specFile(valid)])).code).toBe(0);
    const key = Object.keys(valid)[0] ?? 'name';
    const misspelt = await run(['validate', kind, specFile({ ...valid, [`${key}x`]: 1 })]);
    expect(misspelt.code).toBe(1);
    expect(misspelt.err).toMatch(new RegExp(`${key}x: got 1; expected only documented fields`));
  });

  test('validate checks the machine and output props the constructs check outside their specs', async () => {
    const good = await run(['validate', 'patroni-cluster', specFile({ clusterName: 'orders', instanceType: 'r6i.xlarge', dataVolumeSizeGiB: 500, etcdInstanceType: 't3.small' })]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.out)).toMatchObject({ clusterName: 'orders', instanceType: 'r6i.xlarge', dataVolumeSizeGiB: 500 });
    expect((await run(['validate', 'haproxy-frontends', specFile({ instanceType: 'c6i.large', outputPrefix: 'orders_' })])).code).toBe(0);
    const bad = await run(['validate', 'primary-with-replicas', specFile({ clusterName: 'orders', instanceType: 'big', dataVolumeSizeGiB: 0 })]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/instanceType: got "big"; expected an EC2 instance type/);
    expect(bad.err).toMatch(/dataVolumeSizeGiB: got 0/);
  });

  test('validate sets construct references aside and says so', async () => {
    const result = await run(['validate', 'patroni-cluster', specFile({ clusterName: 'orders', platform: 'aws', restoreFrom: { archive: 'x', sourceCluster: 'main', latest: true } })]);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/not checked from a file: platform \(construct references/);
  });

  test('validate fails on an unknown kind or unreadable JSON', async () => {
    const unknown = await run(['validate', 'patroni-clusters', specFile({})]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown kind "patroni-clusters" \(did you mean patroni-cluster\?\)/);
    expect((await run(['validate', 'mysql', specFile({})])).code).toBe(2);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ nope');
    expect((await run(['validate', 'patroni-cluster', broken])).err).toMatch(/cannot read .* as JSON/);
  });

  test('nodes lists each node and its files from a synthesized app directory (--dir)', async () => {
    const stackDir = join(dir, 'out', 'stacks', 'aws-ha');
    mkdirSync(join(stackDir, 'nodes', 'main-pg-1', 'etc', 'patroni'), { recursive: true });
    writeFileSync(join(stackDir, 'nodes', 'main-pg-1', 'etc', 'patroni', 'patroni.yml'), 'scope: main\n');
    const listed = { path: '/etc/patroni/patroni.yml', mode: '0640', owner: 'postgres:postgres' };
    writeFileSync(join(stackDir, 'pgha.json'), JSON.stringify({ formatVersion: 1, clusters: [], frontends: [], platforms: [], nodes: [{ plan: { name: 'main-pg-1', files: [listed] }, files: [listed] }] }));
    // A leftover of an earlier synth, not in pgha.json: not listed.
    mkdirSync(join(stackDir, 'nodes', 'old-pg-9'), { recursive: true });
    writeFileSync(join(dir, 'out', 'manifest.json'), JSON.stringify({ stacks: { 'aws-ha': {} } }));
    const result = await run(['nodes', '--dir', join(dir, 'out')]);
    expect(result.code).toBe(0);
    expect(result.out).toBe('main-pg-1\n  /etc/patroni/patroni.yml\n');
    const missing = await run(['nodes', '--dir', join(dir, 'missing')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/missing holds no synthesized app \(no manifest\.json\)/);
  });

  test('the bin entry runs the compiled CLI (package.json "bin": pgha; npm test builds lib/ first)', async () => {
    // Outside any cdktf project: help prints the usage and says there is no project to list.
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'pgha.js'), 'help'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('pgha validate <kind> <spec.json>');
    expect(result.stdout).toContain(`No cdktf.json in ${dir} or above`);
  });

  test('fails when an option has no value, before running anything', async () => {
    const result = await run(['plan-report', '--stack', '--dir', 'x']);
    expect(result.code).toBe(2);
    expect(result.err).toBe('--stack: expected a value after it, e.g. --stack <value>\n');
  });
});
