/**
 * `pgha local up / status / down`, run as a user runs them: through the bin entry, as separate
 * processes, in this repository's project (its cdktf.json app, built by `npm run build:app`), on
 * addresses 127.64.x.y (and 127.65.x.y for the failure case).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../src/runner/processes';
import { runPgha } from '../support/pgha-command';

const pgha = (...args: string[]) => runPgha(args, { timeoutMs: 240_000 });

/** Every PID a local cluster directory knows of: its services and the postmasters Patroni started. */
function pidsOf(dir: string): number[] {
  if (!existsSync(join(dir, 'state.json'))) return [];
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { processes: { pid: number; detachedPidFile?: string }[] };
  return state.processes.flatMap((p) => {
    const postmaster = p.detachedPidFile && existsSync(p.detachedPidFile) ? Number(readFileSync(p.detachedPidFile, 'utf8').split('\n')[0]) : 0;
    return [p.pid, postmaster].filter((pid) => pid > 0);
  });
}

describe('pgha local', () => {
  let dir: string;
  let up: ReturnType<typeof pgha>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-command-'));
    up = pgha('local', 'up', '--stack', 'aws-ha', '--dir', dir, '--address-block', '64', '--profile', 'fast');
  }, 240_000);
  afterAll(() => {
    pgha('local', 'down', '--dir', dir);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('up returns once healthy, showing each step as it is reached', () => {
    expect(up.err).toBe('');
    expect(up.code).toBe(0);
    const steps = up.out.split('\n').map((line) => line.replace(/^\[\s*[\d.]+ s\] /, '').split(':')[0]);
    // The app builds the stack on the local platform first. The reference stack archives (its
    // repository is prepared next) and is monitored (the exporters start before Patroni, the
    // monitoring role is made once the cluster is healthy).
    expect(steps.slice(0, 8)).toEqual(['stack aws-ha built on the local platform', 'archive', 'etcd up', 'started', 'leader elected', 'replicas streaming', 'ran after start', 'proxies routing']);
    expect(up.out).toMatch(/stack aws-ha built on the local platform: 5 nodes/);
    expect(up.out).toMatch(/healthy: writer 127\.64\.1\.11:5000, reader 127\.64\.1\.11:5001/);
  });

  test('up writes endpoints.json with writer, reader, members, etcd, superuser and live pids', () => {
    const endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8'));
    expect(endpoints.writer).toEqual({ host: '127.64.1.11', port: 5000 });
    expect(endpoints.reader).toEqual({ host: '127.64.1.11', port: 5001 });
    expect(endpoints.members).toEqual([
      { name: 'main-pg-1', host: '127.64.1.10', port: 5432, restApi: '127.64.1.10:8008' },
      { name: 'main-pg-2', host: '127.64.2.10', port: 5432, restApi: '127.64.2.10:8008' },
      { name: 'main-pg-3', host: '127.64.3.10', port: 5432, restApi: '127.64.3.10:8008' },
    ]);
    expect(endpoints.etcd).toEqual(['127.64.1.10:2379', '127.64.2.10:2379', '127.64.3.10:2379']);
    expect(endpoints.superuser.user).toBe('postgres');
    expect(endpoints.superuser.password).toMatch(/^[A-Za-z0-9]{32}$/);
    // 3 etcd, 3 Patroni, 2 HAProxy, and the exporters: postgres_exporter on 3 nodes, node_exporter on 5.
    expect(Object.keys(endpoints.pids)).toHaveLength(16);
    for (const pid of Object.values(endpoints.pids) as number[]) expect(isAlive(pid)).toBe(true);
  });

  test('status shows one leader, a synchronous standby and a replica on timeline 1', () => {
    const status = pgha('local', 'status', '--dir', dir);
    expect(status.code).toBe(0);
    const roles = status.out.split('\n').filter((line) => line.startsWith('main-pg-')).map((line) => line.split(/\s+/).slice(2, 5));
    expect(roles.map(([role]) => role).sort()).toEqual(['leader', 'replica', 'sync_standby']);
    for (const [, state, timeline] of roles) {
      expect(state).toMatch(/running|streaming/);
      expect(timeline).toBe('1');
    }
  });

  test('down stops every process up started, postgres included, and leaves none behind', () => {
    const pids = pidsOf(dir);
    expect(pids.length).toBeGreaterThanOrEqual(8 + 3);
    const down = pgha('local', 'down', '--dir', dir);
    expect(down.code).toBe(0);
    expect(down.out).toMatch(/^stopped 16 process\(es\)/);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 120_000);
});

describe('pgha local up, when a step fails', () => {
  let dir: string;
  let squatter: Server;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-command-fail-'));
    // Something else holds the first etcd member's client port.
    squatter = createServer();
    await new Promise<void>((done) => squatter.listen(2379, '127.65.1.10', done));
  });
  afterAll(async () => {
    pgha('local', 'down', '--dir', dir);
    rmSync(dir, { recursive: true, force: true });
    await new Promise((done) => squatter.close(done));
  }, 120_000);

  test('it says which step failed and why, with the log, and stops what it started', () => {
    const up = pgha('local', 'up', '--stack', 'aws-ha', '--dir', dir, '--address-block', '65', '--profile', 'fast');
    expect(up.code).toBe(1);
    expect(up.err).toMatch(/pgha local up failed at "etcd up": main-pg-1\/pgha-etcd exited/);
    expect(up.err).toMatch(/--- last lines of .*main-pg-1\.pgha-etcd\.log ---/);
    expect(up.err).toMatch(/address already in use/);
    const pids = pidsOf(dir);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 240_000);
});
