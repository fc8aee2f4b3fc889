/**
 * The rendered haproxy.cfg against the real haproxy of the node runtime root (Debian 13's 3.0.11):
 * `haproxy -c` accepts every shape we render, refuses a broken one, and a running haproxy routes
 * the read-write, read-only and sync ports by what a stand-in Patroni REST API answers.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { HaproxyBackendMember, HaproxyConfigInput, renderHaproxyConfig } from '../../src/render/haproxy-config';
import { HaproxyFrontendsSpecInput, validateHaproxyFrontendsSpec } from '../../src/spec/haproxy-frontends';
import { RunningProcess, requireNodeBinaries, runCommand, startProcess, stopProcess } from '../support/processes';

const PASSWORD_VARIABLE = 'HAPROXY_STATS_PASSWORD';
/** Spaces, quotes, "#", "$NAME" and a backslash: haproxy must take the expanded value verbatim. */
const PASSWORD = 'pa ss"w#rd$HOME\\x';

/** The node's haproxy, run from the node runtime root (node: true). */
const HAPROXY = '/usr/sbin/haproxy';

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-haproxy-'));
});
afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

function members(count: number, firstOctet = 21): HaproxyBackendMember[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `node${i + 1}`,
    address: `127.0.0.${firstOctet + i}`,
    postgresPort: 5432,
    restApiPort: 8008,
  }));
}

function render(spec: HaproxyFrontendsSpecInput, count: number): string {
  return renderHaproxyConfig({
    spec: validateHaproxyFrontendsSpec(spec),
    bindAddress: '127.0.0.11',
    members: members(count),
    statsUser: 'admin',
    statsPasswordVariable: PASSWORD_VARIABLE,
  });
}

let fileCount = 0;
function writeConfig(text: string): string {
  const file = path.join(workDir, `haproxy-${++fileCount}.cfg`);
  fs.writeFileSync(file, text);
  return file;
}

/**
 * `haproxy -dW -c -f FILE`: -dW turns every warning into a failure. Only a system PATH and `env` in
 * the environment. Since HAProxy 2.9 `-c` prints nothing for a valid file (2.6 printed
 * "Configuration file is valid"; 3.0 does only with -V), so any output is a notice worth reading.
 */
async function check(text: string, env: Record<string, string> = { [PASSWORD_VARIABLE]: PASSWORD }) {
  const result = await runCommand(HAPROXY, { args: ['-dW', '-c', '-f', writeConfig(text)], inheritEnv: false, env, node: true, timeoutMs: 15_000 });
  return { status: result.code, output: `${result.stdout}${result.stderr}` };
}

describe('haproxy -c', () => {
  test('haproxy 3.0 is in the node runtime root', async () => {
    // THEN (fails with the fix when it is not)
    requireNodeBinaries([HAPROXY]);
    const version = await runCommand(HAPROXY, { args: ['-v'], inheritEnv: false, node: true });
    expect(version.stdout).toMatch(/^HAProxy version 3\.0\.\d+/);
  });

  test.each<[string, HaproxyFrontendsSpecInput, number]>([
    ['the default spec, 3 members', {}, 3],
    ['a sync port, 3 members', { syncReplicaPort: 5002 }, 3],
    ['5 members', {}, 5],
    ['1 member', {}, 1],
    [
      'custom ports, lag and maxconn, 5 members',
      { readWritePort: 6432, readOnlyPort: 6433, syncReplicaPort: 6434, statsPort: 9000, healthPort: 9001, maxReplicaLagBytes: 0, maxConnections: 100_000 },
      5,
    ],
  ])('accepts the config for %s, without warnings', async (_name, spec, count) => {
    // GIVEN
    const config = render(spec, count);
    // WHEN
    const result = await check(config);
    // THEN valid, and silent: no notice, warning or alert
    expect(result).toEqual({ status: 0, output: '' });
  });

  test('fails when the config has an unknown keyword (the harness can fail)', async () => {
    // GIVEN
    const broken = render({}, 3) + '    frobnicate-sessions on\n';
    // WHEN
    const result = await check(broken);
    // THEN
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/frobnicate-sessions/);
  });

  test('fails when the stats password variable is unset', async () => {
    // WHEN
    const result = await check(render({}, 3), {});
    // THEN
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(new RegExp(`${PASSWORD_VARIABLE} is not set`));
  });
});

// ---------------------------------------------------------------------------------------------
// A running haproxy against stand-ins: Node HTTP servers play Patroni's REST API, TCP servers
// play postgres and answer every connection with their node's name.

type Role = 'primary' | 'replica';

interface FakeNode {
  readonly name: string;
  readonly address: string;
  role: Role;
  /** "METHOD /path?query" of every request the fake REST API received. */
  readonly checks: string[];
  readonly rest: http.Server;
  readonly postgres: net.Server;
  readonly sessions: Set<net.Socket>;
  restPort: number;
  postgresPort: number;
}

const PROXY_ADDRESS = '127.0.0.171';
const LAG = 1048576;

function listen(server: net.Server | http.Server, address: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function closeServer(server: net.Server | http.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Patroni 4.0.7's answers for the paths we check, by role (the replica is the sync standby). */
function statusFor(role: Role, url: string): number {
  const pathname = url.split('?')[0];
  if (pathname === '/primary') return role === 'primary' ? 200 : 503;
  if (pathname === '/replica' || pathname === '/sync') return role === 'replica' ? 200 : 503;
  return 404;
}

async function startFakeNode(name: string, address: string, role: Role): Promise<FakeNode> {
  const checks: string[] = [];
  const sessions = new Set<net.Socket>();
  const node = {
    name,
    address,
    role,
    checks,
    sessions,
    rest: http.createServer((req, res) => {
      checks.push(`${req.method} ${req.url}`);
      res.writeHead(statusFor(node.role, req.url ?? '/'));
      res.end();
    }),
    postgres: net.createServer((socket) => {
      sessions.add(socket);
      socket.on('close', () => sessions.delete(socket));
      socket.on('error', () => undefined);
      socket.write(`${name}\n`);
    }),
    restPort: 0,
    postgresPort: 0,
  };
  node.restPort = await listen(node.rest, address);
  node.postgresPort = await listen(node.postgres, address);
  return node;
}

async function stopFakeNode(node: FakeNode): Promise<void> {
  for (const s of node.sessions) s.destroy();
  node.rest.closeAllConnections();
  await Promise.all([closeServer(node.rest), closeServer(node.postgres)]);
}

/** Ports free on `address` right now: held open together so that they differ, then released. */
async function freePorts(address: string, count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => net.createServer());
  const ports = await Promise.all(servers.map((s) => listen(s, address)));
  await Promise.all(servers.map(closeServer));
  return ports;
}

interface Session {
  /** The first line the backend sent ("" when the proxy closed without a backend). */
  readonly firstLine: Promise<string>;
  readonly closed: Promise<void>;
  readonly socket: net.Socket;
}

function openSession(port: number): Session {
  const socket = net.connect({ host: PROXY_ADDRESS, port });
  let buffer = '';
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const firstLine = new Promise<string>((resolve) => {
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('\n')) resolve(buffer.split('\n')[0]);
    });
    socket.once('close', () => resolve(buffer.split('\n')[0]));
    socket.once('error', () => resolve(''));
  });
  socket.setTimeout(5_000, () => socket.destroy());
  return { firstLine, closed, socket };
}

/** Which node a fresh connection to `port` reaches. */
async function reach(port: number): Promise<string> {
  const session = openSession(port);
  const line = await session.firstLine;
  session.socket.destroy();
  return line;
}

function httpGet(port: number, urlPath: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time (agent: false): a kept-alive socket haproxy already closed would fail the request.
    const req = http.get({ host: PROXY_ADDRESS, port, path: urlPath, auth, timeout: 5_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** unref'd, so a sleep that lost a Promise.race does not hold jest's worker open. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Proxy/server -> "status check_status" from the stats CSV. */
function parseStatsCsv(csv: string): Map<string, string> {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = header.replace(/^# /, '').split(',');
  const status = columns.indexOf('status');
  const checkStatus = columns.indexOf('check_status');
  const result = new Map<string, string>();
  for (const row of rows) {
    const cells = row.split(',');
    result.set(`${cells[0]}/${cells[1]}`, `${cells[status]} ${cells[checkStatus]}`);
  }
  return result;
}

describe('a running haproxy with the rendered config', () => {
  let nodeA: FakeNode;
  let nodeB: FakeNode;
  let proxy: RunningProcess | undefined;
  let ports: { rw: number; ro: number; sync: number; stats: number; health: number };
  let lastStats = new Map<string, string>();

  async function waitForStats(expected: Record<string, string>, deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      try {
        const { status, body } = await httpGet(ports.stats, '/;csv', `admin:${PASSWORD}`);
        if (status === 200) {
          lastStats = parseStatsCsv(body);
          if (Object.entries(expected).every(([key, value]) => lastStats.get(key) === value)) return;
        }
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(
      `stats never showed ${JSON.stringify(expected)}; last: ${JSON.stringify([...lastStats])}\nhaproxy output:\n${proxy?.logTail(50)}`,
    );
  }

  beforeAll(async () => {
    // GIVEN two fake Patroni nodes, A the primary and B the (sync) replica
    nodeA = await startFakeNode('node-a', '127.0.0.172', 'primary');
    nodeB = await startFakeNode('node-b', '127.0.0.173', 'replica');
    const [rw, ro, sync, stats, health] = await freePorts(PROXY_ADDRESS, 5);
    ports = { rw, ro, sync, stats, health };
    const input: HaproxyConfigInput = {
      spec: validateHaproxyFrontendsSpec({
        readWritePort: rw,
        readOnlyPort: ro,
        syncReplicaPort: sync,
        statsPort: stats,
        healthPort: health,
        maxReplicaLagBytes: LAG,
      }),
      bindAddress: PROXY_ADDRESS,
      members: [nodeA, nodeB].map((n) => ({
        name: n.name,
        address: n.address,
        postgresPort: n.postgresPort,
        restApiPort: n.restPort,
      })),
      statsUser: 'admin',
      statsPasswordVariable: PASSWORD_VARIABLE,
    };
    const file = writeConfig(renderHaproxyConfig(input));

    // WHEN haproxy runs it in the foreground, as the systemd unit does
    requireNodeBinaries([HAPROXY]);
    proxy = startProcess('haproxy', HAPROXY, { args: ['-Ws', '-f', file], inheritEnv: false, env: { [PASSWORD_VARIABLE]: PASSWORD }, node: true });

    // For ~1 s after start every server counts as up: wait for real check results.
    await waitForStats(
      {
        'postgres-rw/node-a': 'UP L7OK',
        'postgres-rw/node-b': 'DOWN L7STS',
        'postgres-ro/node-a': 'DOWN L7STS',
        'postgres-ro/node-b': 'UP L7OK',
        'postgres-sync/node-a': 'DOWN L7STS',
        'postgres-sync/node-b': 'UP L7OK',
      },
      20_000,
    );
  }, 30_000);

  afterAll(async () => {
    if (proxy) await stopProcess(proxy, 5_000);
    await Promise.all([nodeA, nodeB].filter((n) => n !== undefined).map(stopFakeNode));
  }, 30_000);

  test('health checks ask the REST API with OPTIONS on /primary, /replica?lag= and /sync, never GET', () => {
    // THEN
    for (const node of [nodeA, nodeB]) {
      expect(node.checks).toEqual(expect.arrayContaining(['OPTIONS /primary', `OPTIONS /replica?lag=${LAG}`, 'OPTIONS /sync']));
      expect(node.checks.filter((c) => !c.startsWith('OPTIONS '))).toEqual([]);
    }
  });

  test('the read-write port reaches the primary, every time', async () => {
    // WHEN
    const reached = [await reach(ports.rw), await reach(ports.rw), await reach(ports.rw), await reach(ports.rw)];
    // THEN
    expect(reached).toEqual(['node-a', 'node-a', 'node-a', 'node-a']);
  });

  test('the read-only and sync ports reach the replica', async () => {
    expect([await reach(ports.ro), await reach(ports.ro), await reach(ports.ro)]).toEqual(['node-b', 'node-b', 'node-b']);
    expect([await reach(ports.sync), await reach(ports.sync)]).toEqual(['node-b', 'node-b']);
  });

  test('the stats page needs the password from the environment', async () => {
    expect((await httpGet(ports.stats, '/;csv')).status).toBe(401);
    expect((await httpGet(ports.stats, '/;csv', 'admin:wrong')).status).toBe(401);
    expect((await httpGet(ports.stats, '/;csv', `admin:${PASSWORD}`)).status).toBe(200);
  });

  test('the health endpoint answers 200 on /healthz only', async () => {
    expect((await httpGet(ports.health, '/healthz')).status).toBe(200);
    expect((await httpGet(ports.health, '/other')).status).not.toBe(200);
  });

  test('after a failover, writes reach the new primary within 3 s and old sessions are closed', async () => {
    // GIVEN a client session on the primary
    const held = openSession(ports.rw);
    expect(await held.firstLine).toBe('node-a');

    // WHEN Patroni promotes B and demotes A
    const start = Date.now();
    nodeA.role = 'replica';
    nodeB.role = 'primary';
    let reached = '';
    while (Date.now() - start < 10_000) {
      reached = await reach(ports.rw);
      if (reached === 'node-b') break;
      await sleep(100);
    }
    const elapsedMs = Date.now() - start;

    // THEN the rw port follows within the ~2 s the check timings promise (plus slack for a busy machine)
    expect(reached).toBe('node-b');
    expect(elapsedMs).toBeLessThan(3_000);
    // and the session on the demoted primary was shut down by haproxy, not left writing
    await Promise.race([held.closed, sleep(3_000)]);
    expect(held.socket.destroyed).toBe(true);
    // and the read-only port now reaches A
    await waitForStats({ 'postgres-ro/node-a': 'UP L7OK', 'postgres-ro/node-b': 'DOWN L7STS' }, 5_000);
    expect(await reach(ports.ro)).toBe('node-a');
  }, 30_000);
});
