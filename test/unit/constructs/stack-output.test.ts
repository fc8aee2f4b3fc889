import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootConstruct } from 'constructs';
import { App, TerraformStack, Testing } from '../../../src/cdktf';
import { BackupJob } from '../../../src/constructs/backup-job';
import { HaproxyFrontends } from '../../../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { PrimaryWithReplicas } from '../../../src/constructs/primary-with-replicas';
import { describeStack } from '../../../src/constructs/stack-description';
import { STACK_DESCRIPTION_FILE, readStackOutput } from '../../../src/constructs/stack-output';
import { WalArchiveBucket } from '../../../src/constructs/wal-archive-bucket';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { awsTestStack } from '../../support/aws-stack';

describe('the stack output (pgha.json and the node files) written at synth', () => {
  let outdir: string;
  let stackDir: string;
  let stack: TerraformStack;
  beforeAll(() => {
    const aws = awsTestStack();
    stack = aws.stack;
    const archive = new WalArchiveBucket(stack, 'Archive', { platform: aws.platform, name: 'orders' });
    const cluster = new PatroniCluster(stack, 'Cluster', { platform: aws.platform, clusterName: 'orders', archive });
    new BackupJob(stack, 'Backup', { cluster });
    new HaproxyFrontends(stack, 'Frontends', { platform: aws.platform, cluster, clientCidrs: ['10.0.0.0/16'], pooling: { databases: ['app'] } });
    new PrimaryWithReplicas(stack, 'Plain', { platform: aws.platform, clusterName: 'plain', replicateFrom: { 'plain-pg-3': 'plain-pg-2' } });
    // What `cdktf synth` runs: the stack's synthesizer, custom synthesis included.
    outdir = Testing.fullSynth(stack);
    stackDir = join(outdir, 'stacks', 'test');
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('THEN pgha.json describes each cluster, its backup and frontends, and the platform', () => {
    const description = JSON.parse(readFileSync(join(stackDir, STACK_DESCRIPTION_FILE), 'utf8'));
    expect(description.formatVersion).toBe(1);
    expect(description.platforms).toEqual([{ kind: 'aws' }]);
    const [orders, plain] = description.clusters;
    expect(orders).toMatchObject({
      kind: 'patroni',
      path: 'test/Cluster',
      clusterName: 'orders',
      secret: 'orders/patroni',
      archived: true,
      offsiteCopy: false,
      healthApis: ['10.0.1.10:8008', '10.0.2.10:8008', '10.0.3.10:8008'],
      etcdEndpoints: ['10.0.1.10:2379', '10.0.2.10:2379', '10.0.3.10:2379'],
      backup: { retentionFull: 14, backupStandby: false },
      spec: { replicationMode: 'sync', failover: { ttlSeconds: 30 } },
    });
    expect(plain).toMatchObject({
      kind: 'primary-with-replicas',
      primary: 'plain-pg-1',
      standbys: [
        { name: 'plain-pg-2', upstream: 'plain-pg-1', slot: 'plain_pg_2' },
        { name: 'plain-pg-3', upstream: 'plain-pg-2', slot: 'plain_pg_3' },
      ],
    });
    expect(description.frontends).toEqual([
      expect.objectContaining({ cluster: 'orders', readWritePort: 5000, readOnlyPort: 5001, statsPort: 7000, pooling: { readWritePort: 6432, readOnlyPort: 6433 } }),
    ]);
  });

  test('THEN the files are listed in pgha.json without their content, which is under nodes/', () => {
    const text = readFileSync(join(stackDir, STACK_DESCRIPTION_FILE), 'utf8');
    const description = JSON.parse(text);
    const node = description.nodes.find((n: { plan: { name: string } }) => n.plan.name === 'orders-pg-1');
    expect(node.files.find((f: { path: string }) => f.path === '/etc/patroni/patroni.yml')).toEqual({ path: '/etc/patroni/patroni.yml', mode: '0640', owner: 'postgres:postgres' });
    expect(text).not.toContain('"content"');
    expect(readFileSync(join(stackDir, 'nodes', 'orders-pg-1', 'etc', 'patroni', 'patroni.yml'), 'utf8')).toContain('name: orders-pg-1');
  });

  test('THEN reading it back gives the description the constructs give, file contents included', () => {
    expect(readStackOutput(stackDir)).toEqual(JSON.parse(JSON.stringify(describeStack(stack))));
  });

  test('fails to read a description of another format version, saying to synthesize again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-description-'));
    writeFileSync(join(dir, STACK_DESCRIPTION_FILE), JSON.stringify({ formatVersion: 99 }));
    expect(() => readStackOutput(dir)).toThrow(/pgha\.json: format version 99; this version of cdktf-postgres-ha reads 1\. Synthesize the stack again/);
    expect(() => readStackOutput(join(dir, 'missing'))).toThrow(/cannot read .*pgha\.json.*Synthesize the stack again/);
    writeFileSync(join(dir, STACK_DESCRIPTION_FILE), 'null');
    expect(() => readStackOutput(dir)).toThrow(/pgha\.json: format version undefined/);
    writeFileSync(join(dir, STACK_DESCRIPTION_FILE), JSON.stringify({ formatVersion: 1, clusters: [] }));
    expect(() => readStackOutput(dir)).toThrow(/pgha\.json: frontends, nodes, platforms: expected lists\. Synthesize the stack again/);
    rmSync(dir, { recursive: true, force: true });
  });

  test('fails to read a stack whose listed node file is gone, naming the file', () => {
    const copy = mkdtempSync(join(tmpdir(), 'pgha-description-'));
    cpSync(stackDir, copy, { recursive: true });
    rmSync(join(copy, 'nodes', 'orders-pg-2', 'etc', 'patroni', 'patroni.yml'));
    expect(() => readStackOutput(copy)).toThrow(/orders-pg-2\/etc\/patroni\/patroni\.yml, listed in pgha\.json, cannot be read \(ENOENT\)\. Synthesize the stack again/);
    rmSync(copy, { recursive: true, force: true });
  });

  test('GIVEN constructs outside a stack (the local runner\'s root) THEN nothing registers, and they still describe themselves', () => {
    const root = new RootConstruct('local');
    const platform = new LocalPlatform(root, 'Platform', { addressBlock: 90 });
    const cluster = new PatroniCluster(root, 'Cluster', { platform, clusterName: 'main' });
    new HaproxyFrontends(root, 'Frontends', { platform, cluster });
    expect(root.node.tryFindChild('PghaStackOutput')).toBeUndefined();
    const description = describeStack(root);
    expect(description.platforms).toEqual([expect.objectContaining({ kind: 'local', addressBlock: 90 })]);
    expect(description.nodes.map((n) => n.plan.name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
  });

  test('GIVEN a stack without clusters THEN it writes no pgha.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-empty-'));
    const app = new App({ outdir: dir });
    new TerraformStack(app, 'empty');
    app.synth();
    expect(existsSync(join(dir, 'stacks', 'empty', 'cdk.tf.json'))).toBe(true);
    expect(existsSync(join(dir, 'stacks', 'empty', STACK_DESCRIPTION_FILE))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
