/**
 * The Docker containers' entrypoint, run for real as root (no container, no mocks) from the node
 * runtime root (Debian 13, the image's release: its bash, coreutils install, util-linux setpriv and
 * its users), as a container of the image runs it: it is written with a layout into a temp dir
 * (bound into the root at its own path) and run with PGHA_CONTAINER_LAYOUT pointing there, against
 * the users Debian 13's postgresql-17 package creates (postgres) and nobody:nogroup. Checked: the owners
 * and modes it leaves, who the command runs as (user, groups, HOME, capabilities), argv and exit
 * status passed through, idempotence and concurrent runs, its refusals, and shellcheck.
 */
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONTAINER_LAYOUT_PATH,
  CONTAINER_START_PATH,
  LayoutEntry,
  containerStartCommand,
  renderContainerLayout,
  renderContainerStart,
} from '../../src/platform/docker/container-start';
import { POSTGRES_MAJOR } from '../../src/model/layout';
import { CommandResult, makeTempDir, removeTempDir, requireBinaries, requireNodeBinaries, runCommand, userIds } from '../support/processes';

const SHELLCHECK = '/usr/bin/shellcheck';
const TIMEOUT_MS = 15_000;
const ZERO_CAPS = '0000000000000000';
/** Prints what the service would see: user, primary group, groups, HOME, capability sets. */
const PROBE = ['/bin/sh', '-c', 'id -un; id -gn; id -Gn; echo "$HOME"; grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'];

let root: string;
let script: string;
let postgres: { uid: number; gid: number };
let nogroupGid: number;

beforeAll(async () => {
  requireBinaries([SHELLCHECK]);
  requireNodeBinaries(['/bin/bash', '/usr/bin/setpriv', '/usr/bin/install', '/usr/bin/getent', '/usr/bin/id']);
  expect({ uid: process.getuid?.() }).toEqual({ uid: 0 }); // the entrypoint starts as root; so must these tests
  const id = await runCommand('id', { args: ['postgres'], timeoutMs: TIMEOUT_MS, node: true });
  if (id.code !== 0) throw new Error(`No postgres user in the node runtime root (${id.stderr.trim()}): its postgresql-${POSTGRES_MAJOR} package creates it.`);
  postgres = userIds('postgres');
  nogroupGid = Number((await runCommand('getent', { args: ['group', 'nogroup'], timeoutMs: TIMEOUT_MS, node: true })).stdout.split(':')[2]);
  root = makeTempDir('pgha-container-start');
  script = join(root, 'container-start');
  writeFileSync(script, renderContainerStart(), { mode: 0o755 });
});
afterAll(() => removeTempDir(root));

/** A fresh scene under the temp dir: one entry of each kind the platform plans. */
function scene(name: string) {
  const dir = join(root, name);
  mkdirSync(dir, { mode: 0o755 });
  const paths = {
    /** Does not exist yet, nor its parent: a fresh named volume's data directory. */
    dataDir: join(dir, 'volume', 'pgha', 'postgresql'),
    /** Exists root 0755, as a mount point or an upload's directory does. */
    configDir: join(dir, 'etc-patroni'),
    /** An uploaded secret: root 0644 from Docker, must be postgres's 0600. */
    secret: join(dir, 'etc-patroni', 'patroni.env'),
    /** Read by postgres, written only by root. */
    shared: join(dir, 'pgbackrest.conf'),
    /** Another service's directory. */
    other: join(dir, 'nobody-dir'),
  };
  mkdirSync(paths.configDir, { mode: 0o755 });
  writeFileSync(paths.secret, 'PATRONI_SUPERUSER_PASSWORD=x\n', { mode: 0o644 });
  writeFileSync(paths.shared, '[global]\n', { mode: 0o644 });
  for (const path of [paths.configDir, paths.secret, paths.shared]) chownSync(path, 0, 0);
  const entries: LayoutEntry[] = [
    { kind: 'file', path: paths.secret, mode: '0600', owner: 'postgres:postgres' },
    { kind: 'directory', path: paths.dataDir, mode: '0700', owner: 'postgres:postgres' },
    { kind: 'file', path: paths.shared, mode: '0640', owner: 'root:postgres' },
    { kind: 'directory', path: paths.configDir, mode: '0700', owner: 'postgres:postgres' },
    { kind: 'directory', path: paths.other, mode: '750', owner: 'nobody:nogroup' },
  ];
  const layout = join(dir, 'layout');
  writeFileSync(layout, renderContainerLayout(entries));
  return { dir, paths, entries, layout };
}

/** The entrypoint as a container of the image runs it: as root, from the node runtime root. */
function start(layout: string, args: readonly string[]): Promise<CommandResult> {
  return runCommand(script, { args, env: { PGHA_CONTAINER_LAYOUT: layout }, cwd: '/', timeoutMs: TIMEOUT_MS, node: true });
}

/** Mode (permission bits) and owner of a path, for comparing whole states at once. */
function state(path: string) {
  const s = statSync(path);
  return { path, mode: (s.mode & 0o7777).toString(8).padStart(4, '0'), uid: s.uid, gid: s.gid, directory: s.isDirectory() };
}

describe('renderContainerLayout', () => {
  const ok: LayoutEntry = { kind: 'file', path: '/etc/x', mode: '0640', owner: 'root:postgres' };

  test('directories first, in the given order, then files: one line each', () => {
    expect(
      renderContainerLayout([
        ok,
        { kind: 'directory', path: '/var/lib/pgha/postgresql', mode: '0700', owner: 'postgres:postgres' },
        { kind: 'file', path: '/etc/y', mode: '600', owner: 'postgres:postgres' },
        { kind: 'directory', path: '/var/lib/pgha', mode: '0755', owner: 'root:root' },
      ]),
    ).toBe(['d 0700 postgres:postgres /var/lib/pgha/postgresql', 'd 0755 root:root /var/lib/pgha', 'f 0640 root:postgres /etc/x', 'f 600 postgres:postgres /etc/y', ''].join('\n'));
    expect(renderContainerLayout([])).toBe('');
  });

  test.each<[string, Partial<LayoutEntry>, RegExp]>([
    ['a relative path', { path: 'etc/x' }, /"etc\/x": path: got "etc\/x"; expected an absolute path.*Fix:/],
    ['a path with a space', { path: '/etc/my x' }, /path: got "\/etc\/my x"; expected an absolute path without spaces/],
    ['a path with a newline', { path: '/etc/x\nd 0777 root:root /etc' }, /path: got "\/etc\/x\\nd 0777 root:root \/etc"; expected/],
    ['a symbolic mode', { mode: 'u=rw' }, /"\/etc\/x": mode: got "u=rw"; expected 3 or 4 octal digits.*Fix:/],
    ['a non-octal mode', { mode: '0680' }, /mode: got "0680"/],
    ['a 5-digit mode', { mode: '00640' }, /mode: got "00640"/],
    ['an owner without group', { owner: 'postgres' }, /"\/etc\/x": owner: got "postgres"; expected "user:group".*Fix:/],
    ['an owner with an empty group', { owner: 'postgres:' }, /owner: got "postgres:"/],
    ['an uppercase user', { owner: 'Postgres:postgres' }, /owner: got "Postgres:postgres"/],
    ['a numeric owner', { owner: '101:104' }, /owner: got "101:104"/],
    ['three fields', { owner: 'a:b:c' }, /owner: got "a:b:c"/],
  ])('throws on %s, naming the path and the field', (_what, change, message) => {
    expect(() => renderContainerLayout([{ kind: 'directory', path: '/ok', mode: '0755', owner: 'root:root' }, { ...ok, ...change }])).toThrow(message);
  });
});

describe('containerStartCommand', () => {
  test('the entrypoint, the user and group, --, then the exact argv', () => {
    expect(CONTAINER_START_PATH).toBe('/usr/local/lib/pgha/container-start');
    expect(CONTAINER_LAYOUT_PATH).toBe('/usr/local/lib/pgha/container-layout');
    expect(containerStartCommand('postgres', 'postgres', ['/usr/bin/patroni', '/etc/patroni/patroni.yml'])).toEqual([
      '/usr/local/lib/pgha/container-start',
      'postgres',
      'postgres',
      '--',
      '/usr/bin/patroni',
      '/etc/patroni/patroni.yml',
    ]);
    expect(() => containerStartCommand('postgres', 'postgres', [])).toThrow(/empty command/);
    expect(() => containerStartCommand('post gres', 'postgres', ['x'])).toThrow(/user "post gres"/);
  });
});

describe('the entrypoint script', () => {
  test('shellcheck finds nothing in it', async () => {
    const result = await runCommand(SHELLCHECK, { args: ['--severity=style', '-s', 'bash', script], timeoutMs: TIMEOUT_MS });
    expect({ out: result.stdout, err: result.stderr, code: result.code }).toEqual({ out: '', err: '', code: 0 });
  });

  test('gives every planned path its owner and mode, then runs the command as the user, without capabilities', async () => {
    const { paths, layout } = scene('apply');
    const result = await start(layout, ['postgres', 'postgres', '--', ...PROBE]);
    expect({ code: result.code, err: result.stderr }).toEqual({ code: 0, err: '' });

    expect([paths.dataDir, paths.configDir, paths.secret, paths.shared, paths.other].map(state)).toEqual([
      { path: paths.dataDir, mode: '0700', ...postgres, directory: true },
      { path: paths.configDir, mode: '0700', ...postgres, directory: true },
      { path: paths.secret, mode: '0600', ...postgres, directory: false },
      { path: paths.shared, mode: '0640', uid: 0, gid: postgres.gid, directory: false },
      { path: paths.other, mode: '0750', uid: 65534, gid: nogroupGid, directory: true },
    ]);
    // The missing parents of the data directory: root 0755, as install -d makes them.
    expect([join(paths.dataDir, '..'), join(paths.dataDir, '../..')].map(state).map(({ mode, uid, gid }) => ({ mode, uid, gid }))).toEqual([
      { mode: '0755', uid: 0, gid: 0 },
      { mode: '0755', uid: 0, gid: 0 },
    ]);

    // The root's own account: its groups and home, not this machine's.
    const groups = (await runCommand('id', { args: ['-Gn', 'postgres'], timeoutMs: TIMEOUT_MS, node: true })).stdout.trim();
    const home = (await runCommand('getent', { args: ['passwd', 'postgres'], timeoutMs: TIMEOUT_MS, node: true })).stdout.trim().split(':')[5];
    expect(groups.split(' ')).toContain('postgres');
    const [user, group, allGroups, shownHome, ...caps] = result.stdout.trim().split('\n');
    expect({ user, group, allGroups, shownHome }).toEqual({ user: 'postgres', group: 'postgres', allGroups: groups, shownHome: home });
    const capabilities = Object.fromEntries(caps.map((line) => line.split(/:\s+/)));
    expect(capabilities).toEqual({ CapInh: ZERO_CAPS, CapPrm: ZERO_CAPS, CapEff: ZERO_CAPS, CapAmb: ZERO_CAPS, CapBnd: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  test('sets HOME, USER and LOGNAME for the user, whatever the container had', async () => {
    const { layout } = scene('environment');
    const result = await runCommand(script, {
      args: ['nobody', 'nogroup', '--', '/bin/sh', '-c', 'echo "$HOME $USER $LOGNAME $(id -un):$(id -gn)"'],
      env: { PGHA_CONTAINER_LAYOUT: layout, HOME: '/root', USER: 'root', LOGNAME: 'root' },
      cwd: '/',
      timeoutMs: TIMEOUT_MS,
      node: true,
    });
    expect({ code: result.code, out: result.stdout, err: result.stderr }).toEqual({ code: 0, out: '/nonexistent nobody nobody nobody:nogroup\n', err: '' });
  });

  test('passes argv through exactly: spaces, quotes, globs, dollars, empty and leading-dash arguments', async () => {
    const { layout } = scene('argv');
    const args = ['a b', `it's`, '"quoted"', '*', '$HOME', '', '--', '-n', 'tab\there', 'new\nline', '\\'];
    const result = await start(layout, ['postgres', 'postgres', '--', '/bin/sh', '-c', 'for a in "$@"; do printf "<%s>\\n" "$a"; done', 'sh', ...args]);
    expect({ code: result.code, err: result.stderr }).toEqual({ code: 0, err: '' });
    expect(result.stdout).toBe(args.map((a) => `<${a}>\n`).join(''));
  });

  test("passes the command's exit status through (it is exec'd)", async () => {
    const { layout } = scene('status');
    const result = await start(layout, ['postgres', 'postgres', '--', '/bin/sh', '-c', 'exit 7']);
    expect({ code: result.code, err: result.stderr }).toEqual({ code: 7, err: '' });
    const missing = await start(layout, ['postgres', 'postgres', '--', '/nonexistent/program']);
    expect({ code: missing.code, err: missing.stderr }).toEqual({ code: 127, err: expect.stringContaining('/nonexistent/program') });
  });

  test('is idempotent: a second run (the next start) leaves the same state', async () => {
    const { paths, layout } = scene('twice');
    const planned = [paths.dataDir, paths.configDir, paths.secret, paths.shared, paths.other];
    const first = await start(layout, ['postgres', 'postgres', '--', '/bin/true']);
    const after = planned.map(state);
    writeFileSync(join(paths.dataDir, 'PG_VERSION'), `${POSTGRES_MAJOR}\n`); // the service's data, made meanwhile
    const second = await start(layout, ['postgres', 'postgres', '--', '/bin/true']);
    expect([first.code, second.code, first.stderr + second.stderr]).toEqual([0, 0, '']);
    expect(planned.map(state)).toEqual(after);
    expect(readFileSync(join(paths.dataDir, 'PG_VERSION'), 'utf8')).toBe(`${POSTGRES_MAJOR}\n`);
  });

  test('containers of one node starting at once all succeed and agree', async () => {
    const { paths, layout } = scene('concurrent');
    const results = await Promise.all(Array.from({ length: 8 }, () => start(layout, ['postgres', 'postgres', '--', '/bin/true'])));
    expect(results.map((r) => [r.code, r.stderr])).toEqual(results.map(() => [0, '']));
    expect(state(paths.dataDir)).toEqual({ path: paths.dataDir, mode: '0700', ...postgres, directory: true });
    expect(state(paths.secret)).toEqual({ path: paths.secret, mode: '0600', ...postgres, directory: false });
  });

  test('resets a mode and owner the service (or an operator) changed', async () => {
    const { paths, layout } = scene('drift');
    expect((await start(layout, ['postgres', 'postgres', '--', '/bin/true'])).code).toBe(0);
    chmodSync(paths.dataDir, 0o777);
    chownSync(paths.secret, 65534, nogroupGid);
    chmodSync(paths.secret, 0o666);
    expect((await start(layout, ['postgres', 'postgres', '--', '/bin/true'])).code).toBe(0);
    expect(state(paths.dataDir).mode).toBe('0700');
    expect(state(paths.secret)).toEqual({ path: paths.secret, mode: '0600', ...postgres, directory: false });
  });

  test('a missing planned file: exits 125 naming it, and the command does not run', async () => {
    const { dir, layout } = scene('missing');
    const absent = join(dir, 'etc-pgbackrest', 'never-uploaded.conf');
    writeFileSync(layout, readFileSync(layout, 'utf8') + `f 0640 root:postgres ${absent}\n`);
    const result = await start(layout, ['postgres', 'postgres', '--', '/bin/sh', '-c', 'echo ran']);
    expect({ code: result.code, out: result.stdout }).toEqual({ code: 125, out: '' });
    expect(result.stderr).toMatch(new RegExp(`^container-start: .*line 6: planned file ${absent} is missing`));
  });

  test('refuses a planned path that is a symbolic link, leaving its target alone', async () => {
    const { dir, layout } = scene('symlink');
    const target = join(dir, 'target');
    mkdirSync(target, { mode: 0o755 });
    const link = join(dir, 'link');
    symlinkSync(target, link);
    writeFileSync(layout, `d 0700 postgres:postgres ${link}\n`);
    const result = await start(layout, ['postgres', 'postgres', '--', '/bin/true']);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`${link} is a symbolic link; refused`);
    expect(state(target)).toEqual({ path: target, mode: '0755', uid: 0, gid: 0, directory: true });
  });

  test('refuses a layout line it cannot read, naming the line', async () => {
    const { dir } = scene('bad-layout');
    const layout = join(dir, 'bad');
    for (const [line, message] of [
      ['d 0700 postgres:postgres relative/dir', 'line 1: expected an absolute path'],
      ['d u+rwx postgres:postgres /x', "mode of /x: expected 3 or 4 octal digits, got 'u+rwx'"],
      ['f 0600 postgres /x', "owner of /x: expected USER:GROUP, got 'postgres'"],
      ['x 0600 root:root /x', "expected kind d (directory) or f (file), got 'x'"],
      ['d 0700 root:root /x extra', "expected 'd|f MODE USER:GROUP PATH'"],
    ]) {
      writeFileSync(layout, `${line}\n`);
      const result = await start(layout, ['postgres', 'postgres', '--', '/bin/true']);
      expect({ line, code: result.code, err: result.stderr }).toEqual({ line, code: 125, err: expect.stringContaining(message) });
    }
  });

  test.each<[string, string[], string]>([
    ['no --', ['postgres', 'postgres', '/bin/true'], 'usage: container-start USER GROUP -- COMMAND'],
    ['-- in the wrong place', ['postgres', '--', 'postgres', '/bin/true'], "expected -- as the third argument, got 'postgres'"],
    ['no command', ['postgres', 'postgres', '--'], 'got 3 argument(s)'],
    ['an unknown user', ['pgha-no-such-user', 'postgres', '--', '/bin/true'], "unknown user 'pgha-no-such-user'"],
    ['an unknown group', ['postgres', 'pgha-no-such-group', '--', '/bin/true'], "unknown group 'pgha-no-such-group'"],
  ])('usage errors: %s exits 125 with a message on stderr', async (_what, args, message) => {
    const { layout } = scene(`usage-${Math.random().toString(36).slice(2)}`);
    const result = await start(layout, args);
    expect({ code: result.code, out: result.stdout, err: result.stderr }).toEqual({ code: 125, out: '', err: expect.stringMatching(/^container-start: /) });
    expect(result.stderr).toContain(message);
  });

  test('a missing layout file is an error naming it', async () => {
    const absent = join(root, 'no-such-layout');
    const result = await start(absent, ['postgres', 'postgres', '--', '/bin/true']);
    expect({ code: result.code, err: result.stderr }).toEqual({ code: 125, err: expect.stringContaining(`cannot read the layout file ${absent}`) });
  });

  test('refuses to run when not root, saying why, and changes nothing', async () => {
    const { paths, layout } = scene('not-root');
    chmodSync(root, 0o755); // so that nobody can reach the script and the layout
    const result = await runCommand(script, {
      args: ['nobody', 'nogroup', '--', '/bin/true'],
      runAs: { user: 'nobody', group: 'nogroup' },
      env: { PGHA_CONTAINER_LAYOUT: layout },
      cwd: '/',
      timeoutMs: TIMEOUT_MS,
      node: true,
    });
    chmodSync(root, 0o700);
    expect({ code: result.code, err: result.stderr }).toEqual({ code: 125, err: expect.stringContaining('must start as root (running as uid 65534)') });
    expect(state(paths.secret)).toEqual({ path: paths.secret, mode: '0644', uid: 0, gid: 0, directory: false });
  });
});
