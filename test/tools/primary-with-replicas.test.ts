/**
 * PrimaryWithReplicas' node files, run for real from the node runtime root (Debian 13): plain
 * PostgreSQL 17 streaming replication without Patroni. One primary (127.71.0.1:5891) and two hot standbys (127.71.0.2:5892, 127.71.0.3:5893),
 * each started through its rendered start script as postgres, in a temp dir. A standby starts
 * before the primary (the pg_basebackup retry loop), both stream through their own slots, and the
 * synchronous and asynchronous modes, a restart and a promotion by hand behave as documented. The
 * passwords never appear on a command line (every process on the machine is sampled while the
 * nodes start), in a rendered file, in postgresql.auto.conf or in the server's environment.
 * Every process started here is stopped by its PID in afterAll.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PostgresStartScriptInput,
  REPLICATION_PASSWORD_VARIABLE,
  REPLICATION_USER,
  SUPERUSER_PASSWORD_VARIABLE,
  renderPostgresStartScript,
  renderReplicationHba,
  renderReplicationPostgresqlConf,
  standbyPassfile,
} from '../../src/render/replication-node';
import { LAYOUT, POSTGRES_MAJOR } from '../../src/model/layout';
import {
  RunningProcess,
  StepTimings,
  canConnect,
  chownTo,
  makeTempDir,
  removeTempDir,
  removeTempDirAndProcesses,
  requireBinaries,
  requireNodeBinaries,
  runCommand,
  sleep,
  startProcess,
  stopProcess,
  waitUntil,
} from '../support/processes';

const BIN = LAYOUT.postgresBinDir;
const SHELLCHECK = '/usr/bin/shellcheck';
const POSTGRES = { user: 'postgres' } as const;
// As the deployment generates them: letters and digits only.
const SUPERUSER_PASSWORD = 'Sup3rPw7kQ2mZx9aL4';
const REPLICATION_PASSWORD = 'R3plPw8vN5tYc2wE6h';
const PASSWORDS = [SUPERUSER_PASSWORD, REPLICATION_PASSWORD];
const ENV = { [SUPERUSER_PASSWORD_VARIABLE]: SUPERUSER_PASSWORD, [REPLICATION_PASSWORD_VARIABLE]: REPLICATION_PASSWORD };
/**
 * The members' network. On loopback the kernel gives a connection to 127.71.0.1 the source address
 * 127.0.0.1 (libpq cannot bind another), so that is a member address here too.
 */
const MEMBER_NETWORKS = ['127.71.0.0/24', '127.0.0.1/32'];
const SYNC_NAMES = 'FIRST 1 (main_pg_2, main_pg_3)';

interface Node {
  readonly name: string;
  readonly role: 'primary' | 'standby';
  readonly address: string;
  readonly port: number;
}
const PRIMARY: Node = { name: 'main_pg_1', role: 'primary', address: '127.71.0.1', port: 5891 };
const STANDBY_2: Node = { name: 'main_pg_2', role: 'standby', address: '127.71.0.2', port: 5892 };
const STANDBY_3: Node = { name: 'main_pg_3', role: 'standby', address: '127.71.0.3', port: 5893 };
const NODES = [PRIMARY, STANDBY_2, STANDBY_3];
const STANDBYS = [STANDBY_2, STANDBY_3];

/** Paths of a node under a root: config files root-owned (as on a node), data and socket postgres-owned. */
const paths = (root: string, node: Node) => ({
  etc: `${root}/etc/${node.name}`,
  config: `${root}/etc/${node.name}/postgresql.conf`,
  hba: `${root}/etc/${node.name}/pg_hba.conf`,
  script: `${root}/etc/${node.name}/pgha-postgres-start`,
  home: `${root}/nodes/${node.name}`,
  data: `${root}/nodes/${node.name}/data`,
  socket: `${root}/nodes/${node.name}/socket`,
});

function confFor(root: string, node: Node, synchronousStandbyNames: string): string {
  const p = paths(root, node);
  return renderReplicationPostgresqlConf({
    address: node.address,
    port: node.port,
    socketDir: p.socket,
    hbaFile: p.hba,
    standbyCount: STANDBYS.length,
    synchronousStandbyNames,
    maxConnections: 40,
    walKeepSize: '64MB',
    parameters: { shared_buffers: '16MB', log_line_prefix: '%m [%p] app=%a ', log_replication_commands: true },
  });
}

function scriptInput(root: string, node: Node, overrides: Partial<PostgresStartScriptInput> = {}): PostgresStartScriptInput {
  const p = paths(root, node);
  const common = { dataDir: p.data, configFile: p.config, binDir: BIN, socketDir: p.socket, port: node.port };
  return node.role === 'primary'
    ? { role: 'primary', ...common, standbySlots: STANDBYS.map((s) => s.name), ...overrides }
    : { role: 'standby', ...common, primaryHost: PRIMARY.address, primaryPort: PRIMARY.port, slotName: node.name, basebackupTimeoutSeconds: 120, ...overrides };
}

// ---- every command line on the machine, sampled while the nodes run ----------------------------

class CommandLineSampler {
  private timer: NodeJS.Timeout | undefined;
  readonly leaks: string[] = [];
  readonly seen = new Set<string>();
  samples = 0;
  constructor(private readonly root: string) {}
  start(): void {
    this.timer = setInterval(() => this.sample(), 25);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
  sample(): void {
    this.samples++;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue; // gone
      }
      if (PASSWORDS.some((password) => cmdline.includes(password))) this.leaks.push(`${entry}: ${cmdline}`);
      if (cmdline.includes(this.root)) this.seen.add(cmdline.split(' ')[0].replace(/^.*\//, ''));
    }
  }
}

// ---- rendering ---------------------------------------------------------------------------------

describe('the rendered start scripts pass shellcheck', () => {
  let dir: string;
  beforeAll(() => {
    requireBinaries([SHELLCHECK]);
    dir = makeTempDir('pgha-replication-shellcheck');
  });
  afterAll(() => removeTempDir(dir));

  test.each(NODES.slice(0, 2).map((node) => [node.role, node] as const))('%s: nothing at style severity', async (_role, node) => {
    const path = join(dir, `start-${node.role}`);
    writeFileSync(path, renderPostgresStartScript(scriptInput('/var/lib/pgha', node, { socketDir: '/run/postgresql', binDir: LAYOUT.postgresBinDir })));
    const result = await runCommand(SHELLCHECK, { args: ['--severity=style', '--shell=bash', path] });
    expect({ out: result.stdout, code: result.code }).toEqual({ out: '', code: 0 });
  });
});

describe('bad inputs are refused, naming the field', () => {
  const conf = {
    address: '10.0.1.11',
    port: 5432,
    hbaFile: '/etc/pgha/pg_hba.conf',
    standbyCount: 2,
    synchronousStandbyNames: SYNC_NAMES,
  };
  const primary: PostgresStartScriptInput = { role: 'primary', dataDir: `/var/lib/pgha/postgresql/${POSTGRES_MAJOR}/main`, configFile: '/etc/pgha/postgresql.conf', port: 5432, standbySlots: ['main_pg_2'] };
  const standby: PostgresStartScriptInput = {
    role: 'standby',
    dataDir: `/var/lib/pgha/postgresql/${POSTGRES_MAJOR}/main`,
    configFile: '/etc/pgha/postgresql.conf',
    port: 5432,
    primaryHost: '10.0.1.11',
    primaryPort: 5432,
    slotName: 'main_pg_2',
    basebackupTimeoutSeconds: 600,
  };

  test('the good inputs render', () => {
    expect(renderReplicationPostgresqlConf(conf)).toContain(`synchronous_standby_names = '${SYNC_NAMES}'`);
    expect(renderReplicationHba({ memberNetworks: ['10.0.1.0/24'], clientNetworks: ['10.0.0.0/16'] })).toContain(`host replication ${REPLICATION_USER} 10.0.1.0/24 scram-sha-256`);
    expect(renderPostgresStartScript(primary)).toContain('pg_create_physical_replication_slot');
    expect(renderPostgresStartScript(standby)).toContain('pg_basebackup');
  });

  test.each([
    ['address', () => renderReplicationPostgresqlConf({ ...conf, address: '0.0.0.0' })],
    ['port', () => renderReplicationPostgresqlConf({ ...conf, port: 70000 })],
    ['hbaFile', () => renderReplicationPostgresqlConf({ ...conf, hbaFile: 'pg_hba.conf' })],
    ['standbyCount', () => renderReplicationPostgresqlConf({ ...conf, standbyCount: -1 })],
    ['maxReplicationSlots', () => renderReplicationPostgresqlConf({ ...conf, maxReplicationSlots: 3 })],
    ['maxWalSenders', () => renderReplicationPostgresqlConf({ ...conf, maxWalSenders: 3 })],
    ['maxConnections', () => renderReplicationPostgresqlConf({ ...conf, maxConnections: 0 })],
    ['walKeepSize', () => renderReplicationPostgresqlConf({ ...conf, walKeepSize: 'lots' })],
    ['synchronousStandbyNames', () => renderReplicationPostgresqlConf({ ...conf, synchronousStandbyNames: 'FIRST 1 (a)\nfsync = off' })],
    ['synchronousStandbyNames', () => renderReplicationPostgresqlConf({ ...conf, standbyCount: 0, maxReplicationSlots: 10 })],
    ['parameters.synchronous_commit', () => renderReplicationPostgresqlConf({ ...conf, parameters: { synchronous_commit: 'off' } })],
    ['parameters.primary_conninfo', () => renderReplicationPostgresqlConf({ ...conf, parameters: { primary_conninfo: 'host=x' } })],
    ['parameters.Work_Mem', () => renderReplicationPostgresqlConf({ ...conf, parameters: { Work_Mem: '4MB' } })],
    ['memberNetworks', () => renderReplicationHba({ memberNetworks: [], clientNetworks: [] })],
    ['memberNetworks.0', () => renderReplicationHba({ memberNetworks: ['0.0.0.0/0'], clientNetworks: [] })],
    ['clientNetworks.1', () => renderReplicationHba({ memberNetworks: ['10.0.1.0/24'], clientNetworks: ['10.0.0.0/16', '10.0.0.0'] })],
    ['clientNetworks.0', () => renderReplicationHba({ memberNetworks: ['10.0.1.0/24'], clientNetworks: ['0.0.0.0/0'] })],
    ['replicationUser', () => renderReplicationHba({ replicationUser: 'Repl User', memberNetworks: ['10.0.1.0/24'], clientNetworks: [] })],
    ['role', () => renderPostgresStartScript({ ...primary, role: 'leader' as 'primary' })],
    ['dataDir', () => renderPostgresStartScript({ ...primary, dataDir: 'relative/data' })],
    ['dataDir', () => renderPostgresStartScript({ ...primary, dataDir: "/var/lib/it's" })],
    ['configFile', () => renderPostgresStartScript({ ...primary, configFile: '/etc/my conf' })],
    ['port', () => renderPostgresStartScript({ ...primary, port: 0 })],
    ['standbySlots', () => renderPostgresStartScript({ ...primary, standbySlots: undefined })],
    ['standbySlots.1', () => renderPostgresStartScript({ ...primary, standbySlots: ['main_pg_2', 'Main-PG-3'] })],
    ['standbySlots', () => renderPostgresStartScript({ ...primary, standbySlots: ['main_pg_2', 'main_pg_2'] })],
    ['replicationPasswordVariable', () => renderPostgresStartScript({ ...primary, replicationPasswordVariable: 'PG PASSWORD' })],
    ['superuserPasswordVariable', () => renderPostgresStartScript({ ...primary, superuserPasswordVariable: REPLICATION_PASSWORD_VARIABLE })],
    ['primaryHost', () => renderPostgresStartScript({ ...standby, primaryHost: undefined })],
    ['primaryPort', () => renderPostgresStartScript({ ...standby, primaryPort: 123456 })],
    ['slotName', () => renderPostgresStartScript({ ...standby, slotName: 'pg-2' })],
    ['basebackupTimeoutSeconds', () => renderPostgresStartScript({ ...standby, basebackupTimeoutSeconds: 0 })],
  ] as const)('%s', (field, render) => {
    expect(render).toThrow(new RegExp(`\\n  - ${field.replace(/\./g, '\\.')}: `));
  });
});

// ---- the scripts' refusals and failures, before any cluster ------------------------------------

describe('the start scripts refuse what they cannot do safely, and a failed first boot leaves no data directory', () => {
  let root: string;
  const write = (node: Node, overrides: Partial<PostgresStartScriptInput> = {}, synchronousStandbyNames = '') => {
    const p = paths(root, node);
    writeFileSync(p.config, confFor(root, node, synchronousStandbyNames), { mode: 0o644 });
    writeFileSync(p.hba, renderReplicationHba({ memberNetworks: MEMBER_NETWORKS, clientNetworks: [] }), { mode: 0o644 });
    writeFileSync(p.script, renderPostgresStartScript(scriptInput(root, node, overrides)), { mode: 0o755 });
  };
  const run = (node: Node, env: Record<string, string>, asRoot = false) =>
    runCommand(paths(root, node).script, { runAs: asRoot ? undefined : POSTGRES, inheritEnv: false, env, node: true, timeoutMs: 60_000 });
  const leftovers = (node: Node) => readdirSync(paths(root, node).home).filter((entry) => entry !== 'socket');

  beforeAll(() => {
    requireNodeBinaries([`${BIN}/postgres`, `${BIN}/initdb`, `${BIN}/pg_basebackup`, `${BIN}/pg_receivewal`]);
    root = makeTempDir('pgha-replication-refusals');
    chmodSync(root, 0o755);
    for (const node of NODES) {
      mkdirSync(paths(root, node).etc, { recursive: true, mode: 0o755 });
      mkdirSync(paths(root, node).socket, { recursive: true, mode: 0o755 });
      chownTo(paths(root, node).home, 'postgres');
    }
  });
  afterAll(() => removeTempDir(root));

  test('as root: refused', async () => {
    write(PRIMARY);
    const result = await run(PRIMARY, ENV, true);
    expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({
      code: 2,
      stderr: 'pgha-postgres-start: refusing to run as root: run it as the postgres user (the service\'s User=postgres)',
    });
    expect(leftovers(PRIMARY)).toEqual([]);
  });

  test('a missing password, or a replication password that is not letters and digits: refused before initdb', async () => {
    write(PRIMARY);
    const missing = await run(PRIMARY, { [REPLICATION_PASSWORD_VARIABLE]: REPLICATION_PASSWORD });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${SUPERUSER_PASSWORD_VARIABLE} is not set or empty`);
    const quoted = await run(PRIMARY, { ...ENV, [REPLICATION_PASSWORD_VARIABLE]: "x'; DROP ROLE postgres; --" });
    expect(quoted.code).toBe(2);
    expect(quoted.stderr).toContain(`${REPLICATION_PASSWORD_VARIABLE} holds characters other than letters and digits: refused`);
    expect(leftovers(PRIMARY)).toEqual([]);
    write(STANDBY_2);
    const standby = await run(STANDBY_2, {});
    expect(standby.code).toBe(2);
    expect(standby.stderr).toContain(`${REPLICATION_PASSWORD_VARIABLE} is not set or empty`);
    expect(leftovers(STANDBY_2)).toEqual([]);
  });

  test('initdb done but single-user setup failing (no config file): no data directory, no copy left', async () => {
    write(PRIMARY, { configFile: `${root}/etc/missing.conf` });
    const result = await run(PRIMARY, ENV);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('single-user PostgreSQL failed');
    expect(result.stderr).toContain('missing.conf');
    expect(leftovers(PRIMARY)).toEqual([]);
    for (const password of PASSWORDS) expect(result.stdout + result.stderr).not.toContain(password);
  });

  test('a standby whose primary never comes: retries every 5 s, gives up at the timeout, leaves nothing', async () => {
    // Nothing listens on 127.71.0.1:5899.
    write(STANDBY_3, { primaryPort: 5899, basebackupTimeoutSeconds: 4 });
    const result = await run(STANDBY_3, ENV);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('pg_basebackup attempt 1 failed: retrying in 5 s');
    expect(result.stderr).toContain('pg_basebackup from 127.71.0.1:5899 failed 2 time(s) in 4 s: giving up');
    expect(result.durationMs).toBeGreaterThanOrEqual(4_500);
    expect(leftovers(STANDBY_3)).toEqual([]);
  });
});

// ---- the cluster -------------------------------------------------------------------------------

describe('a primary and two hot standbys started by their rendered scripts (PostgreSQL 17, no Patroni)', () => {
  let root: string;
  let sampler: CommandLineSampler;
  const running: Partial<Record<string, RunningProcess>> = {};
  const timings = new StepTimings();

  const psql = (node: Node, sql: string, env: Record<string, string> = {}, timeoutMs = 30_000) =>
    runCommand(`${BIN}/psql`, {
      args: ['-h', paths(root, node).socket, '-p', String(node.port), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      runAs: POSTGRES,
      inheritEnv: false,
      env,
      node: true,
      timeoutMs,
    });
  const query = async (node: Node, sql: string) => {
    const result = await psql(node, sql);
    if (result.code !== 0) throw new Error(`psql on ${node.name} failed (${result.code}) for ${sql}:\n${result.stderr}`);
    return result.stdout.trim();
  };
  const answers = async (node: Node) => (await psql(node, 'SELECT 1', {}, 5_000)).stdout.trim() === '1';

  function start(node: Node): RunningProcess {
    const proc = startProcess(node.name, paths(root, node).script, { runAs: POSTGRES, inheritEnv: false, env: ENV, node: true });
    running[node.name] = proc;
    return proc;
  }
  async function stop(node: Node): Promise<void> {
    const proc = running[node.name];
    if (!proc || proc.hasExited()) return;
    process.kill(proc.pid, 'SIGINT'); // fast shutdown
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([proc.exited.then(() => true), new Promise<boolean>((done) => (timer = setTimeout(() => done(false), 20_000)))]);
    clearTimeout(timer);
    if (!stopped) await stopProcess(proc);
  }
  const waitAnswers = (node: Node, timeoutMs = 60_000) =>
    waitUntil(`${node.name} to accept connections`, () => answers(node), { timeoutMs, process: running[node.name] });
  const replication = () =>
    query(PRIMARY, 'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name').then((out) => out.split('\n').filter(Boolean));
  const waitStreaming = (expected: string[], timeoutMs = 60_000) =>
    waitUntil(
      `pg_stat_replication on the primary to be ${expected.join('; ')}`,
      async () => JSON.stringify(await replication()) === JSON.stringify(expected),
      { timeoutMs, process: running[PRIMARY.name] },
    );
  const writeConf = (node: Node, synchronousStandbyNames: string) =>
    writeFileSync(paths(root, node).config, confFor(root, node, synchronousStandbyNames), { mode: 0o644 });

  beforeAll(async () => {
    requireNodeBinaries([`${BIN}/postgres`, `${BIN}/initdb`, `${BIN}/psql`, `${BIN}/pg_basebackup`, `${BIN}/pg_receivewal`]);
    for (const node of NODES) {
      if (await canConnect(node.address, node.port)) throw new Error(`${node.address}:${node.port} is taken: something else runs there`);
    }
    root = makeTempDir('pgha-replication');
    chmodSync(root, 0o755);
    for (const node of NODES) {
      const p = paths(root, node);
      mkdirSync(p.etc, { recursive: true, mode: 0o755 });
      mkdirSync(p.socket, { recursive: true, mode: 0o755 });
      chownTo(p.home, 'postgres');
      writeConf(node, '');
      writeFileSync(p.hba, renderReplicationHba({ memberNetworks: MEMBER_NETWORKS, clientNetworks: ['127.0.0.1/32'] }), { mode: 0o644 });
      writeFileSync(p.script, renderPostgresStartScript(scriptInput(root, node)), { mode: 0o755 });
    }
    sampler = new CommandLineSampler(root);
    sampler.start();
  }, 30_000);

  afterAll(async () => {
    sampler?.stop();
    for (const node of [STANDBY_3, STANDBY_2, PRIMARY]) await stop(node).catch(() => undefined);
    // A pg_basebackup or a backend left behind by a failed test: ours, stopped by PID.
    await removeTempDirAndProcesses(root);
    timings.print('primary-with-replicas timings');
  }, 90_000);

  test('a standby started before the primary retries; both standbys stream through their slots, named by application_name', async () => {
    const early = start(STANDBY_2);
    await timings.timed('standby 2 first failed attempt', () =>
      waitUntil('standby 2 to fail its first pg_basebackup', () => early.logTail(200).includes('pg_basebackup attempt 1 failed: retrying in 5 s'), {
        timeoutMs: 30_000,
        process: early,
      }),
    );
    const primary = start(PRIMARY);
    await timings.timed('primary first boot (initdb, role, slots, start)', () => waitAnswers(PRIMARY, 90_000));
    expect(primary.logTail(500)).toContain('creating the replication role replicator and 2 slot(s): main_pg_2, main_pg_3');
    // The node runtime root's PostgreSQL.
    expect(await query(PRIMARY, 'SHOW server_version_num')).toMatch(new RegExp(`^${POSTGRES_MAJOR}\\d{4}$`));
    start(STANDBY_3);
    await timings.timed('both standbys streaming', () =>
      waitStreaming(['main_pg_2|streaming|async', 'main_pg_3|streaming|async'], 120_000),
    );
    for (const node of STANDBYS) {
      await waitAnswers(node);
      expect(await query(node, 'SELECT pg_is_in_recovery()')).toBe('t');
      expect(running[node.name]!.logTail(500)).toContain('standby copied from the primary: starting PostgreSQL');
    }
    // The early standby really waited for the primary (at least one failed attempt, then success).
    expect(running[STANDBY_2.name]!.logTail(1_000)).toMatch(/pg_basebackup attempt \d+ failed: retrying in 5 s/);
    expect(await query(PRIMARY, 'SELECT slot_name, slot_type, active FROM pg_replication_slots ORDER BY slot_name')).toBe(
      'main_pg_2|physical|t\nmain_pg_3|physical|t',
    );
    expect(await query(PRIMARY, `SELECT rolreplication, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = '${REPLICATION_USER}'`)).toBe('t|f|t');
    expect(await query(PRIMARY, `SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname IN ('${REPLICATION_USER}', 'postgres')`)).toBe('t\nt');
    expect(await query(PRIMARY, 'SHOW data_checksums')).toBe('on');

    // primary_conninfo: the standby's name as application_name, a password file, never the password.
    for (const node of STANDBYS) {
      const auto = readFileSync(join(paths(root, node).data, 'postgresql.auto.conf'), 'utf8');
      expect(auto).toContain(`application_name=${node.name}`);
      expect(auto).toContain(`passfile=''${standbyPassfile(paths(root, node).socket, node.port)}''`);
      expect(auto).toContain(`primary_slot_name = '${node.name}'`);
      expect(auto).not.toContain('password=');
      for (const password of PASSWORDS) expect(auto).not.toContain(password);
      const passfile = standbyPassfile(paths(root, node).socket, node.port);
      expect((statSync(passfile).mode & 0o777).toString(8)).toBe('600');
      expect(readFileSync(passfile, 'utf8')).toBe(`*:*:replication:${REPLICATION_USER}:${REPLICATION_PASSWORD}\n`);
      expect(existsSync(`${paths(root, node).data}.pgha-new`)).toBe(false);
    }
    // The password files of initdb are gone, and no copy is left beside a data directory.
    for (const node of NODES) expect(readdirSync(paths(root, node).home).sort()).toEqual(['data', 'socket']);

    // Login with the passwords over TCP: the superuser from a client network, the replication role.
    const login = await runCommand(`${BIN}/psql`, {
      args: ['-h', PRIMARY.address, '-p', String(PRIMARY.port), '-U', 'postgres', '-d', 'postgres', '-XAtc', 'SELECT current_user'],
      inheritEnv: false,
      node: true,
      env: { PGPASSWORD: SUPERUSER_PASSWORD, PGCONNECT_TIMEOUT: '5' },
    });
    expect({ code: login.code, out: login.stdout.trim(), err: login.stderr }).toEqual({ code: 0, out: 'postgres', err: '' });

    // The server and its children do not have the password variables in their environment.
    for (const node of NODES) {
      const pid = running[node.name]!.pid;
      const pids = [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
      expect(pids.length).toBeGreaterThan(3);
      for (const each of pids) {
        let environ = '';
        try {
          environ = readFileSync(`/proc/${each}/environ`, 'utf8');
        } catch {
          continue; // a backend that just exited
        }
        for (const password of PASSWORDS) expect({ pid: each, leaks: environ.includes(password) }).toEqual({ pid: each, leaks: false });
        expect(environ).not.toContain(`${REPLICATION_PASSWORD_VARIABLE}=`);
      }
    }
  }, 240_000);

  test('a row written on the primary appears on both standbys', async () => {
    await query(PRIMARY, "CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t VALUES (1, 'first')");
    await timings.timed('row replicated', async () => {
      for (const node of STANDBYS) {
        await waitUntil(`the row on ${node.name}`, async () => (await psql(node, 'SELECT note FROM t WHERE id = 1')).stdout.trim() === 'first', { timeoutMs: 30_000 });
      }
    });
    const readOnly = await psql(STANDBY_2, "INSERT INTO t VALUES (99, 'on a standby')");
    expect(readOnly.code).not.toBe(0);
    expect(readOnly.stderr).toContain('read-only transaction');
  }, 60_000);

  test(`synchronous (${SYNC_NAMES}): with both standbys down a commit waits (SyncRep); a standby back releases it`, async () => {
    writeConf(PRIMARY, SYNC_NAMES);
    expect(await query(PRIMARY, 'SELECT pg_reload_conf()')).toBe('t');
    await timings.timed('sync mode in effect', () => waitStreaming(['main_pg_2|streaming|sync', 'main_pg_3|streaming|potential'], 30_000));
    await query(PRIMARY, "INSERT INTO t VALUES (2, 'sync, both up')");

    await timings.timed('stop both standbys', async () => {
      await stop(STANDBY_2);
      await stop(STANDBY_3);
    });
    await waitStreaming([], 30_000);
    const started = Date.now();
    const commit = psql(PRIMARY, "INSERT INTO t VALUES (3, 'waited for a standby')", { PGAPPNAME: 'pgha_sync_probe' }, 180_000);
    let settled = false;
    void commit.then(() => (settled = true));
    await sleep(3_000);
    expect(settled).toBe(false);
    expect(await query(PRIMARY, "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE application_name = 'pgha_sync_probe'")).toBe('IPC|SyncRep');

    // Restart: the data directory exists, so the script goes straight to postgres (no pg_basebackup).
    const restarted = start(STANDBY_3);
    const result = await timings.timed('commit released by a standby back', () => commit);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - started).toBeGreaterThan(3_000);
    await waitAnswers(STANDBY_3);
    // synchronous_commit on: the row is flushed on the standby when the commit returns; replay may trail.
    await waitUntil('row 3 replayed on the standby', async () => (await query(STANDBY_3, 'SELECT count(*) FROM t WHERE id = 3')) === '1', { timeoutMs: 30_000 });
    expect(await query(STANDBY_3, 'SELECT note FROM t WHERE id = 3')).toBe('waited for a standby');
    const log = restarted.logTail(500);
    expect(log).toContain(`${paths(root, STANDBY_3).data} is a data directory: starting PostgreSQL`);
    expect(log).not.toContain('copying the primary');
    expect(log).not.toContain('pg_basebackup');
    await waitStreaming(['main_pg_3|streaming|sync'], 30_000);
  }, 240_000);

  test('asynchronous (empty synchronous_standby_names): commits go on with the standbys down, which catch up when back', async () => {
    writeConf(PRIMARY, '');
    expect(await query(PRIMARY, 'SELECT pg_reload_conf()')).toBe('t');
    await waitStreaming(['main_pg_3|streaming|async'], 30_000);
    await stop(STANDBY_3);
    await waitStreaming([], 30_000);
    const result = await timings.timed('async commit with standbys down', () => psql(PRIMARY, "INSERT INTO t VALUES (4, 'async, both down')", {}, 10_000));
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.durationMs).toBeLessThan(3_000);

    for (const node of STANDBYS) start(node);
    await timings.timed('both standbys back and streaming', () => waitStreaming(['main_pg_2|streaming|async', 'main_pg_3|streaming|async'], 60_000));
    const identifier = await query(PRIMARY, 'SELECT system_identifier FROM pg_control_system()');
    for (const node of STANDBYS) {
      await waitUntil(`row 4 on ${node.name}`, async () => (await psql(node, 'SELECT count(*) FROM t')).stdout.trim() === '4', { timeoutMs: 30_000 });
      expect(await query(node, 'SELECT system_identifier FROM pg_control_system()')).toBe(identifier);
      expect(running[node.name]!.logTail(500)).not.toContain('copying the primary');
    }
  }, 180_000);

  test('restarting the primary goes straight to postgres: no second initdb, data and slots kept, standbys reconnect', async () => {
    const identifier = await query(PRIMARY, 'SELECT system_identifier FROM pg_control_system()');
    await stop(PRIMARY);
    const primary = start(PRIMARY);
    await timings.timed('primary restart', () => waitAnswers(PRIMARY));
    const log = primary.logTail(500);
    expect(log).toContain(`${paths(root, PRIMARY).data} is a data directory: starting PostgreSQL`);
    expect(log).not.toContain('initialising the primary');
    expect(log).not.toContain('initdb');
    expect(await query(PRIMARY, 'SELECT system_identifier FROM pg_control_system()')).toBe(identifier);
    expect(await query(PRIMARY, 'SELECT count(*) FROM t')).toBe('4');
    await timings.timed('standbys reconnected', () => waitStreaming(['main_pg_2|streaming|async', 'main_pg_3|streaming|async'], 60_000));
    expect(await query(PRIMARY, 'SELECT count(*) FROM pg_replication_slots WHERE active')).toBe('2');
  }, 120_000);

  test('pg_promote() on a standby makes it a primary that takes writes; its start script then starts it as it is', async () => {
    expect(await query(STANDBY_3, 'SELECT pg_promote(true, 60)')).toBe('t');
    expect(await query(STANDBY_3, 'SELECT pg_is_in_recovery()')).toBe('f');
    await query(STANDBY_3, "INSERT INTO t VALUES (5, 'on the promoted standby')");
    expect(await query(STANDBY_3, 'SELECT count(*) FROM t')).toBe('5');
    expect(existsSync(join(paths(root, STANDBY_3).data, 'standby.signal'))).toBe(false);

    await stop(STANDBY_3);
    const restarted = start(STANDBY_3);
    await waitAnswers(STANDBY_3);
    expect(restarted.logTail(500)).toContain('is a data directory: starting PostgreSQL');
    expect(await query(STANDBY_3, 'SELECT pg_is_in_recovery()')).toBe('f');
    expect(await query(STANDBY_3, "SELECT note FROM t WHERE id = 5")).toBe('on the promoted standby');
  }, 120_000);

  test('the passwords are on no command line, in no rendered file and in no server log', () => {
    sampler.stop();
    sampler.sample();
    expect(sampler.leaks).toEqual([]);
    // The sampler did see the processes of the first boots.
    expect(sampler.samples).toBeGreaterThan(100);
    for (const program of ['initdb', 'pg_basebackup', 'postgres']) expect({ program, seen: sampler.seen.has(program) }).toEqual({ program, seen: true });
    for (const node of NODES) {
      const p = paths(root, node);
      for (const file of [p.config, p.hba, p.script]) {
        const text = readFileSync(file, 'utf8');
        for (const password of PASSWORDS) expect({ file, leaks: text.includes(password) }).toEqual({ file, leaks: false });
      }
      const log = running[node.name]!.logTail(100_000);
      for (const password of PASSWORDS) expect({ node: node.name, logLeaks: log.includes(password) }).toEqual({ node: node.name, logLeaks: false });
    }
  });
});
