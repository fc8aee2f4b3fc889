/**
 * pgha in a user's project: it finds cdktf.json above the working directory, runs its "app" as
 * `cdktf synth` does, and works on the stacks the app wrote. The app here is a small script that
 * writes a synthesized app's layout and records the environment it was run with.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { findProject } from '../../src/cli/user-app';
import { validatePatroniClusterSpec } from '../../src/spec/patroni-cluster';
import { LOCAL_PLATFORM_REQUEST_VARIABLE, localPlatformRequest } from '../../src/platform/stack-platform';

const LISTED = { path: '/etc/x.conf', mode: '0644', owner: 'root:root' };
/** One Patroni cluster as pgha.json describes it, with the spec the construct would give. */
const ORDERS = {
  kind: 'patroni',
  path: 'orders/Cluster',
  clusterName: 'orders',
  members: [],
  secret: 'orders/patroni',
  archived: true,
  offsiteCopy: false,
  healthApis: [],
  etcdEndpoints: [],
  spec: validatePatroniClusterSpec({ clusterName: 'orders', failover: 'fast' }),
};
const DESCRIPTION = { formatVersion: 1, clusters: [ORDERS], frontends: [], nodes: [{ plan: { name: 'orders-pg-1', files: [LISTED] }, files: [LISTED] }], platforms: [{ kind: 'aws' }] };

const FAKE_APP = `
const fs = require('fs');
const path = require('path');
const out = process.env.CDKTF_OUTDIR;
if (process.env.FAIL_APP) { console.error('TypeError: boom in main.ts'); process.exit(3); }
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({ stacks: { orders: {}, network: {} } }));
const stack = path.join(out, 'stacks', 'orders');
fs.mkdirSync(path.join(stack, 'nodes', 'orders-pg-1', 'etc'), { recursive: true });
fs.writeFileSync(path.join(stack, 'nodes', 'orders-pg-1', 'etc', 'x.conf'), 'x');
fs.writeFileSync(path.join(stack, 'pgha.json'), ${JSON.stringify(JSON.stringify(DESCRIPTION))});
fs.mkdirSync(path.join(out, 'stacks', 'network'), { recursive: true });
fs.appendFileSync(path.join(process.cwd(), 'runs.log'), JSON.stringify({ cwd: process.cwd(), context: process.env.CDKTF_CONTEXT_JSON, request: process.env.${LOCAL_PLATFORM_REQUEST_VARIABLE} ?? null }) + '\\n');
`;

async function run(args: string[], cwd: string) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) }, cwd);
  return { code, out, err };
}

describe('pgha in a user\'s project', () => {
  let project: string;
  let nested: string;
  const runs = () => readFileSync(join(project, 'runs.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  beforeEach(() => {
    project = mkdtempSync(join(tmpdir(), 'pgha-user-app-'));
    nested = join(project, 'src', 'deep');
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(project, 'app.js'), FAKE_APP);
    writeFileSync(join(project, 'cdktf.json'), JSON.stringify({ language: 'typescript', app: 'node app.js', context: { orders: { nodeCount: 5 } } }));
    writeFileSync(join(project, 'runs.log'), '');
  });
  afterEach(() => rmSync(project, { recursive: true, force: true }));

  test('GIVEN a subdirectory THEN the nearest cdktf.json above is the project', () => {
    expect(findProject(nested)).toMatchObject({ dir: project, app: 'node app.js', context: { orders: { nodeCount: 5 } } });
    expect(findProject('/')).toBeUndefined();
  });

  test('nodes runs the app in the project directory with its context, and lists the only stack with clusters', async () => {
    const result = await run(['nodes'], nested);
    expect(result.err).toBe('');
    expect(result.out).toBe('orders-pg-1\n  /etc/x.conf\n');
    expect(runs()).toEqual([{ cwd: project, context: JSON.stringify({ orders: { nodeCount: 5 } }), request: null }]);
  });

  test('plan-report --stack names the user\'s stack and reports its cluster from pgha.json', async () => {
    const result = await run(['plan-report', '--stack', 'orders', '--restore-seconds', '300'], project);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^## Recovery objectives of stack orders\n\n### orders \(orders\/Cluster\)\n/);
    // The fast profile: ttl 20 + loop_wait 2 + 3 s for HAProxy.
    expect(result.out).toMatch(/\| primary node or its zone lost \| 0 .* \| at most 25 s \|/);
    // No BackupJob in this description: nothing to restore from yet, whatever the measured time.
    expect(result.out).toMatch(/\| whole cluster lost \| up to 60 s .* \| none until a backup exists \| .*measured restore 5 min/);
  });

  test('fails when the stack is unknown, or has no cluster of this library, naming the ones that have', async () => {
    const unknown = await run(['plan-report', '--stack', 'billing'], project);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/no stack "billing" in the app of .*cdktf\.json; expected one of: orders/);
    const network = await run(['nodes', '--stack', 'network'], project);
    expect(network.err).toMatch(/no stack "network" \(it has none of this library's clusters\)/);
  });

  test('fails when the app fails, quoting its output', async () => {
    writeFileSync(join(project, 'cdktf.json'), JSON.stringify({ app: 'FAIL_APP=1 node app.js' }));
    const result = await run(['nodes'], project);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/the app of .*cdktf\.json failed \(`FAIL_APP=1 node app\.js`: exit 3\):\nTypeError: boom in main\.ts/);
  });

  test('fails outside a project, saying where it looked', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'pgha-no-project-'));
    const result = await run(['plan-report'], outside);
    expect(result.err).toMatch(new RegExp(`no cdktf.json in ${outside} or above: run pgha in your cdktf project`));
    rmSync(outside, { recursive: true, force: true });
  });

  test('help lists the stacks with clusters and their platform', async () => {
    const result = await run(['help'], nested);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`Stacks of ${join(project, 'cdktf.json')} with clusters:\n  orders (aws)\n`);
  });

  test('local up asks the app for the stack on the local platform, and refuses a stack that ignores it', async () => {
    const result = await run(['local', 'up', '--stack', 'orders', '--dir', join(project, 'local'), '--profile', 'fast', '--address-block', '77', '--archive-dir', 'shared'], project);
    const [request] = runs().map((r) => r.request);
    expect(localPlatformRequest({ [LOCAL_PLATFORM_REQUEST_VARIABLE]: request })).toEqual({
      stack: 'orders',
      platform: { addressBlock: 77, nodesDir: join(project, 'local', 'nodes'), archiveStore: { type: 'posix', dir: join(project, 'shared') }, failover: 'fast' },
    });
    // This app builds its stack on AWS whatever it is asked: up says how to fix that.
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/the stack is built on the aws platform; expected the local platform alone\. Fix: create its platform with stackPlatform/);
  });

  test.each([
    [['--profile', 'slow'], /--profile: got "slow"; expected default or fast/],
    [['--address-block', '300'], /--address-block: got "300"; expected 1-254/],
    [['--archive-s3-port', '9000'], /--archive-s3-port: expected --archive-dir too/],
    [['--archive-dir', 'a', '--archive-s3-port', 'x'], /--archive-s3-port: got "x"; expected a port number 1024-65535/],
    [['--archive-dir'], /--archive-dir: expected a value after it/],
  ])('local up fails on %j before running the app', async (extra, message) => {
    const result = await run(['local', 'up', '--dir', join(project, 'local'), ...extra], project);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(readFileSync(join(project, 'runs.log'), 'utf8')).toBe('');
  });
});

describe('the local platform request', () => {
  test.each([
    ['not JSON', '{', /not JSON/],
    ['no stack', '{"platform":{}}', /expected \{ "stack": <name>, "platform": \{\.\.\.\} \}/],
    ['a bad store', '{"stack":"a","platform":{"archiveStore":{"type":"ftp","dir":"/x"}}}', /archiveStore: expected/],
    ['a bad profile', '{"stack":"a","platform":{"failover":"slow"}}', /failover: expected default or fast/],
  ])('fails on %s, saying pgha set it', (_name, text, message) => {
    expect(() => localPlatformRequest({ [LOCAL_PLATFORM_REQUEST_VARIABLE]: text })).toThrow(message);
    expect(() => localPlatformRequest({ [LOCAL_PLATFORM_REQUEST_VARIABLE]: text })).toThrow(/set by `pgha local up`: unset it/);
  });

  test('is absent for a plain synth', () => {
    expect(localPlatformRequest({})).toBeUndefined();
  });
});
