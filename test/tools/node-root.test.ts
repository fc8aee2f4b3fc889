/**
 * The node runtime root and the way node programs enter it (src/runner/node-root.ts,
 * assets/runtime/in-root.sh): what it holds, and the properties the runner relies on: the PID the
 * spawner holds is the program's (signals, SIGSTOP in the fault suite, kill -9 reach it), bound
 * directories are there at their own paths, the root's own users own the files, and a root that
 * is not whole is refused.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LAYOUT, POSTGRES_PACKAGE } from '../../src/model/layout';
import { inRootCommand, nodeRootDir, nodeRootPackages, nodeRootVersions, rootOwnerIds } from '../../src/runner/node-root';
import { App } from 'cdktf';
import { collectRenderedNodes } from '../../src/platform/rendered-node';
import { dockerImagePackages } from '../../src/platform/docker/dockerfile';
import { AwsHaStack } from '../../stacks/aws-ha';
import { LogicalReplicationStack, PrimaryWithReplicasStack } from '../../stacks/examples';
import { LocalDockerStack } from '../../stacks/local-docker';
import { UNUSED_OUTDIR } from '../support/aws-stack';
import { removeTempDir, requireBinaries, runCommand, testNodeRoot } from '../support/processes';

let root: string;
let dir: string | undefined;

beforeAll(() => {
  root = testNodeRoot();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-node-root-'));
});
afterAll(() => removeTempDir(dir));

const run = (argv: string[], binds: string[] = []) => {
  const [command, ...args] = inRootCommand({ root, binds }, argv);
  return spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
};

describe('the node runtime root', () => {
  test('is Debian 13 with every listed package installed, the node programs at the versions the README states', () => {
    expect(root).toBe(nodeRootDir());
    expect(fs.readFileSync(path.join(root, 'etc/debian_version'), 'utf8')).toMatch(/^13\./);
    const versions = nodeRootVersions(root)!;
    for (const name of nodeRootPackages()) expect({ name, installed: versions[name] !== undefined }).toEqual({ name, installed: true });
    expect(versions[POSTGRES_PACKAGE]).toMatch(/^17\./);
    expect(versions.patroni).toMatch(/^4\.0\./);
    expect(versions['etcd-server']).toMatch(/^3\.5\./);
    expect(versions.haproxy).toMatch(/^3\.0\./);
    expect(fs.existsSync(path.join(root, LAYOUT.postgresBinDir, 'postgres'))).toBe(true);
  });

  test('holds every package a node of the reference stacks installs (every construct on), and what the Docker image adds: the local nodes run what the others get', () => {
    const app = new App({ outdir: UNUSED_OUTDIR });
    const everything = { frontends: { pooling: { databases: ['app'] } }, prometheusServer: {} };
    const stacks = [
      new AwsHaStack(app, 'aws-ha', everything),
      new LocalDockerStack(app, 'local-docker', {}),
      new PrimaryWithReplicasStack(app, 'pwr'),
      new LogicalReplicationStack(app, 'logical'),
    ];
    const plans = stacks.flatMap((stack) => collectRenderedNodes(stack).map((node) => node.plan));
    const wanted = [...new Set([...plans.flatMap((plan) => plan.packages), ...dockerImagePackages(plans)])].sort();
    expect(wanted).toEqual(expect.arrayContaining(['patroni', 'python3-etcd', POSTGRES_PACKAGE, 'etcd-server', 'haproxy', 'pgbackrest', 'pgbouncer', 'prometheus']));
    expect(wanted.filter((name) => !nodeRootPackages().includes(name))).toEqual([]);
  });

  test('its scripts pass shellcheck', async () => {
    requireBinaries(['/usr/bin/shellcheck']);
    const scripts = ['build-node-root.sh', 'in-root.sh'].map((name) => path.join(__dirname, '../../assets/runtime', name));
    const result = await runCommand('/usr/bin/shellcheck', { args: ['--severity=style', '--shell=sh', ...scripts] });
    expect({ code: result.code, out: result.stdout }).toEqual({ code: 0, out: '' });
  });

  test('a program started through it keeps the PID its spawner holds', async () => {
    const [command, ...args] = inRootCommand({ root, binds: [] }, ['/bin/sh', '-c', 'echo $$; exec sleep 30']);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const printed = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
    expect(Number(printed)).toBe(child.pid);
    // ...and it runs in the root: its /proc/PID/root is the root's directory.
    expect(fs.readlinkSync(`/proc/${child.pid}/root`)).toBe(root);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  });

  test("binds the given directories at their own paths, and runs the root's own programs", () => {
    fs.writeFileSync(path.join(dir!, 'hello'), 'from the host\n');
    const read = run(['/usr/bin/cat', path.join(dir!, 'hello')], [dir!]);
    expect({ status: read.status, stdout: read.stdout }).toEqual({ status: 0, stdout: 'from the host\n' });
    const version = run(['/usr/bin/patroni', '--version']);
    expect(version.stdout).toMatch(/^patroni 4\.0\./);
  });

  test("gives files to the root's users, which are not this machine's", () => {
    const ids = rootOwnerIds(root, 'postgres:postgres');
    const inside = run(['/usr/bin/id', '-u', 'postgres']);
    expect(Number(inside.stdout.trim())).toBe(ids.uid);
    expect(() => rootOwnerIds(root, 'no-such-user:no-such-group')).toThrow(/does not exist in the node runtime root .*add the package that creates it/);
  });

  test('refuses a directory that is not a whole root, and a relative bind', () => {
    const notARoot = fs.mkdtempSync(path.join(dir!, 'partial-'));
    expect(run(['/bin/true']).status).toBe(0); // the control: the whole root runs it
    const [command, ...args] = inRootCommand({ root: notARoot, binds: [] }, ['/bin/true']);
    const partial = spawnSync(command, args, { encoding: 'utf8' });
    expect(partial.status).toBe(70);
    expect(partial.stderr).toMatch(/is not a whole node runtime root \(no \.pgha-node-root\): build it with `pgha local runtime`/);
    const relative = run(['/bin/true'], ['relative/dir']);
    expect(relative.status).toBe(70);
    expect(relative.stderr).toMatch(/bind directory "relative\/dir" is not absolute/);
  });
});
