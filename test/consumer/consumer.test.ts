/**
 * The package as a user gets it: `npm pack`, a fresh project that installs the tarball and the
 * peers (at the versions this repository tests against), the README's stack "orders" (test/consumer/app),
 * synthesized with tsc under a strict tsconfig, with ts-node and through jest with ts-jest; then
 * `pgha` in that project: help, plan-report, and local up / down of the user's own stack.
 */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { isAlive } from '../../src/runner/processes';

const ROOT = join(__dirname, '..', '..');
const APP = join(__dirname, 'app');
const ADDRESS_BLOCK = 91;
const ours = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
/** The peers and the user's own tools, at the versions this repository runs its tests with. */
const INSTALLED = [...Object.keys(ours.peerDependencies), 'typescript', 'ts-node', '@types/node', 'jest', 'ts-jest', '@types/jest'].map((name) => `${name}@${ours.devDependencies[name]}`);

function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 300_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return result;
}

function must(result: SpawnSyncReturns<string>, what: string): string {
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

describe('the packed library in a fresh cdktf project', () => {
  let work: string;
  let project: string;
  let packed: Packed;
  const localDir = () => join(work, 'local');
  const pgha = (...args: string[]) => sh('npx', ['--no-install', 'pgha', ...args], project, {}, 400_000);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'pgha-consumer-'));
    // The local cluster's services run as postgres, etcd and haproxy: they must reach its directory.
    chmodSync(work, 0o755);
    // Packed from a copy of the sources: prepack builds lib/ from clean, as before a publish, and
    // must not pull lib/ from under the tests running beside this one.
    const source = join(work, 'source');
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'API.md', 'src', 'bin', 'assets']) cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'));
    [packed] = JSON.parse(must(sh('npm', ['pack', '--json', '--pack-destination', work], source), 'npm pack')) as Packed[];
    project = join(work, 'orders-app');
    cpSync(APP, project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'orders-app', version: '1.0.0', private: true }, null, 2));
    must(sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename), ...INSTALLED], project), 'npm install');
  }, 600_000);

  afterAll(() => {
    if (!work) return;
    if (existsSync(join(localDir(), 'state.json'))) pgha('local', 'down', '--dir', localDir());
    if (!process.env.PGHA_KEEP_DIR) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('the tarball holds the compiled library, its declarations and maps, the CLI and the docs: no test, source or CI file', () => {
    const paths = packed.files.map((f) => f.path);
    // The node runtime root's package list and scripts: `pgha local` builds and enters the root with them.
    const runtime = ['assets/runtime/build-node-root.sh', 'assets/runtime/in-root.sh', 'assets/runtime/node-root.packages'];
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'API.md', 'bin/pgha.js', 'lib/index.js', 'lib/index.d.ts', 'lib/index.js.map', 'lib/cli/main.js', ...runtime]));
    const unexpected = paths.filter((p) => !/^lib\/.+\.(js|d\.ts|js\.map)$/.test(p) && !['package.json', 'README.md', 'API.md', 'bin/pgha.js', ...runtime].includes(p));
    expect(unexpected).toEqual([]);
    expect(paths.filter((p) => /(^|\/)(test|tests|__tests__)\/|\.test\.|(^|\/)\.ci\/|(^|\/)scripts\/|(^|\/)stacks\//.test(p))).toEqual([]);
    // Every compiled module ships with its declarations.
    const modules = paths.filter((p) => p.endsWith('.js') && p.startsWith('lib/'));
    expect(modules.filter((p) => !paths.includes(p.replace(/\.js$/, '.d.ts')))).toEqual([]);
    // Source maps carry their sources (inlineSources), so stack traces point into TypeScript; that is most of the size.
    expect(packed.size).toBeLessThan(1_500_000);
    expect(packed.unpackedSize).toBeLessThan(5_000_000);
  });

  test('the README\'s example is this app, word for word', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const file of ['stack.ts', 'main.ts']) expect(readme).toContain(`\`\`\`ts\n// ${file}\n${readFileSync(join(APP, file), 'utf8')}\`\`\``);
  });

  test('the package declares cdktf, constructs and the providers as peers, and ships no build tool', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', ours.name, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };
    expect(Object.keys(installed.peerDependencies).sort()).toEqual(['@cdktf/provider-aws', '@cdktf/provider-docker', '@cdktf/provider-random', '@cdktf/provider-tls', 'cdktf', 'constructs']);
    expect(Object.keys(installed.dependencies).sort()).toEqual(['fastest-levenshtein', 'ipaddr.js', 'pg', 's3rver', 'yaml', 'zod']);
  });

  test('tsc under a strict tsconfig (strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck off) gives no error, and node runs the app', () => {
    const compiled = sh('npx', ['--no-install', 'tsc', '-p', '.'], project);
    expect(`${compiled.stdout}${compiled.stderr}`).toBe('');
    expect(compiled.status).toBe(0);
    const outdir = join(work, 'out-node');
    must(sh('node', ['dist/main.js'], project, { CDKTF_OUTDIR: outdir }), 'node dist/main.js');
    const terraform = JSON.parse(readFileSync(join(outdir, 'stacks', 'orders', 'cdk.tf.json'), 'utf8'));
    expect(Object.keys(terraform.resource.aws_instance)).toHaveLength(5);
    expect(readdirSync(join(outdir, 'stacks', 'orders', 'nodes')).sort()).toEqual(['orders-pg-1', 'orders-pg-2', 'orders-pg-3', 'orders-proxy-1', 'orders-proxy-2']);
  });

  test('ts-node (cdktf\'s own app command) synthesizes the stack', () => {
    const outdir = join(work, 'out-ts-node');
    must(sh('npx', ['--no-install', 'ts-node', 'main.ts'], project, { CDKTF_OUTDIR: outdir }), 'ts-node main.ts');
    const description = JSON.parse(readFileSync(join(outdir, 'stacks', 'orders', 'pgha.json'), 'utf8'));
    expect(description.clusters.map((c: { clusterName: string; archived: boolean }) => [c.clusterName, c.archived])).toEqual([['orders', true]]);
  });

  test('jest with ts-jest runs the user\'s own test of the stack', () => {
    const result = sh('npx', ['--no-install', 'jest', '--ci'], project);
    expect(`${result.stdout}${result.stderr}`).toMatch(/Tests:\s+1 passed, 1 total/);
    expect(result.status).toBe(0);
  });

  test('pgha help lists the user\'s stack, and plan-report --stack orders reports its cluster', () => {
    expect(must(pgha('help'), 'pgha help')).toContain(`Stacks of ${join(project, 'cdktf.json')} with clusters:\n  orders (aws)\n`);
    const report = must(pgha('plan-report', '--stack', 'orders'), 'pgha plan-report');
    expect(report).toContain('## Recovery objectives of stack orders');
    expect(report).toContain('### orders (orders/Cluster)');
    expect(report).toMatch(/\| whole cluster lost \| up to 60 s/);
  });

  test('pgha local up --stack orders runs the user\'s stack healthy; a row written through the writer reads back through the reader; down stops it all', async () => {
    const up = pgha('local', 'up', '--stack', 'orders', '--dir', localDir(), '--address-block', String(ADDRESS_BLOCK), '--profile', 'fast');
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`healthy: writer 127\\.${ADDRESS_BLOCK}\\.1\\.11:5000, reader 127\\.${ADDRESS_BLOCK}\\.1\\.11:5001`));
    const endpoints = JSON.parse(readFileSync(join(localDir(), 'endpoints.json'), 'utf8'));
    const connect = async (port: number) => {
      const client = new Client({ host: endpoints.writer.host, port, user: endpoints.superuser.user, password: endpoints.superuser.password, database: 'postgres' });
      await client.connect();
      return client;
    };
    const writer = await connect(endpoints.writer.port);
    await writer.query('CREATE TABLE orders (id int PRIMARY KEY, item text)');
    await writer.query(`INSERT INTO orders VALUES (1, 'from the user''s stack')`);
    await writer.end();
    const reader = await connect(endpoints.reader.port);
    let row: unknown;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && row === undefined; await new Promise((done) => setTimeout(done, 200))) {
      row = (await reader.query('SELECT item, pg_is_in_recovery() AS replica FROM orders WHERE id = 1').catch(() => ({ rows: [] }))).rows[0];
    }
    await reader.end();
    expect(row).toEqual({ item: "from the user's stack", replica: true });

    const pids = Object.values(endpoints.pids) as number[];
    const down = pgha('local', 'down', '--dir', localDir());
    expect(down.status).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 600_000);
});
