/**
 * PgBouncer 1.24.1 with the rendered pgbouncer.ini, start script and auth script, run for real: a
 * standalone PostgreSQL 17 primary (port 5691) and PgBouncer (ports 6691 and 6692) on 127.76.0.2,
 * in a temp dir. In production PgBouncer sits in front of HAProxy on the proxy's own address; the
 * renderer uses `address` both to listen and to reach the backend, so here PostgreSQL shares the
 * address and PgBouncer points at it directly.
 *
 * The fixed auth_file path (/run/postgresql/...) is rewritten into the temp dir in the rendered
 * texts, so nothing is written outside it. PostgreSQL, PgBouncer and the rendered scripts run from
 * the node runtime root (Debian 13), as the root's postgres user; shellcheck is this machine's.
 * Every process started here is stopped by its PID.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { renderPgbouncerAuthScript } from '../../src/render/pgbouncer-auth';
import {
  PGBOUNCER_AUTH_FILE,
  PGBOUNCER_AUTH_FUNCTION,
  PGBOUNCER_AUTH_ROLE,
  PGBOUNCER_PASSWORD_VARIABLE,
  PgbouncerConfigInput,
  renderPgbouncerConfig,
  renderPgbouncerStartScript,
} from '../../src/render/pgbouncer-config';
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
  userIds,
  waitForPort,
  waitUntil,
} from '../support/processes';
import * as standalone from '../support/standalone-postgres';
import { StandalonePostgres } from '../support/standalone-postgres';

const BIN = standalone.POSTGRES_BIN_DIR;
const PGBOUNCER = '/usr/sbin/pgbouncer';
const SHELLCHECK = '/usr/bin/shellcheck';
const POSTGRES = { user: 'postgres' } as const;

const ADDRESS = '127.76.0.2';
const PG_PORT = 5691;
const RW_PORT = 6691;
const RO_PORT = 6692;

/** The auth role's password: letters and digits, as the platforms generate it. */
const AUTH_PASSWORD = 'PgbAuth8c41f2e9Qz';
const SUPERUSER_PASSWORD = 'Super-pw_a17c3';
const APP_USER = 'app_user';
const APP_PASSWORD = 'App-pw_5d21e9';
const ROLES = {
  plain: { name: 'plain_user', password: 'Plain-pw_3b7f' },
  replication: { name: 'repl_user', password: 'Repl-pw_91aa' },
  expired: { name: 'expired_user', password: 'Expired-pw_c0de' },
  rewinder: { name: 'rewinder', password: 'Rewind-pw_77e1' },
} as const;
const ALL_PASSWORDS = [AUTH_PASSWORD, SUPERUSER_PASSWORD, APP_PASSWORD, ...Object.values(ROLES).map((r) => r.password)];

const POOL_SIZE = 2;
const RW_INPUT: PgbouncerConfigInput = {
  role: 'rw',
  address: ADDRESS,
  listenPort: RW_PORT,
  backendPort: PG_PORT,
  databases: ['app'],
  poolMode: 'transaction',
  serverConnectionsPerDatabase: POOL_SIZE,
  maxClientConnections: 50,
};
const RO_INPUT: PgbouncerConfigInput = { ...RW_INPUT, role: 'ro', listenPort: RO_PORT, poolMode: 'session', databases: ['app', 'reports'] };

/** The auth script for the test server (its socket, port and the missing database `reports`). */
const authScriptFor = (socketDir: string) => renderPgbouncerAuthScript({ databases: ['app', 'reports'], connectionLimit: 10, socketDir, port: PG_PORT, binDir: BIN });

// ---- the rendered scripts --------------------------------------------------------------------

describe('the rendered PgBouncer scripts pass shellcheck', () => {
  let dir: string;
  beforeAll(() => {
    requireBinaries([SHELLCHECK]);
    dir = makeTempDir('pgha-pgbouncer-shellcheck');
  });
  afterAll(() => removeTempDir(dir));

  const shellcheck = async (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return runCommand(SHELLCHECK, { args: ['-s', 'bash', '--severity=style', path] });
  };

  test.each([
    ['pgha-pgbouncer-start', () => renderPgbouncerStartScript()],
    ['pgha-pgbouncer-auth, one database', () => renderPgbouncerAuthScript({ databases: ['app'], connectionLimit: 10 })],
    ['pgha-pgbouncer-auth, two databases', () => renderPgbouncerAuthScript({ databases: ['app', 'reports'], connectionLimit: 10 })],
    ['pgha-pgbouncer-auth (test paths)', () => authScriptFor('/tmp/pgha test/socket')],
  ])('%s: nothing at style severity', async (name, render) => {
    const result = await shellcheck(name.replace(/\W+/g, '-'), render());
    expect({ out: result.stdout, code: result.code }).toEqual({ out: '', code: 0 });
  });

  test('negative control: a quote removed is found', async () => {
    const start = renderPgbouncerStartScript();
    expect(start).toContain('> "$tmp"');
    const startResult = await shellcheck('start-unquoted', start.replace('> "$tmp"', '> $tmp'));
    expect(startResult.code).not.toBe(0);
    expect(startResult.stdout).toContain('SC2086');

    const auth = renderPgbouncerAuthScript({ databases: ['app'], connectionLimit: 10 });
    expect(auth).toContain('"${psql[@]}" -d "$database"');
    const authResult = await shellcheck('auth-unquoted', auth.replace('"${psql[@]}" -d "$database"', '${psql[@]} -d "$database"'));
    expect(authResult.code).not.toBe(0);
    expect(authResult.stdout).toContain('SC2068');
  });
});

describe("the renderers' input checks", () => {
  test.each([["app'; DROP"], ['App'], ['1app'], ['app-db'], ['']])('database %j is rejected, naming the field', (database) => {
    expect(() => renderPgbouncerConfig({ ...RW_INPUT, databases: ['app', database] })).toThrow(/^renderPgbouncerConfig: databases: got /);
    expect(() => renderPgbouncerAuthScript({ databases: [database], connectionLimit: 10 })).toThrow(/^renderPgbouncerAuthScript: databases: got /);
  });

  test('no databases is rejected; lowercase identifiers are accepted', () => {
    expect(() => renderPgbouncerConfig({ ...RW_INPUT, databases: [] })).toThrow(/^renderPgbouncerConfig: databases: got none/);
    expect(renderPgbouncerConfig({ ...RW_INPUT, databases: ['app_2', '_x'] })).toContain('\napp_2 = host=');
  });
});

// ---- for real ------------------------------------------------------------------------------

/** The first answer of PgBouncer to a startup packet with these parameters: 'R' (authentication) or 'E' with its message. */
function startupAnswer(port: number, parameters: Record<string, string>): Promise<{ type: string; message: string }> {
  return new Promise((resolve, reject) => {
    const body = Buffer.concat([
      Buffer.from([0, 3, 0, 0]), // protocol 3.0
      ...Object.entries(parameters).map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'utf8')),
      Buffer.from([0]),
    ]);
    const length = Buffer.alloc(4);
    length.writeInt32BE(body.length + 4);
    const socket = net.connect({ host: ADDRESS, port });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to the startup packet on ${ADDRESS}:${port}`));
    }, 10_000);
    const finish = (answer: { type: string; message: string }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    socket.on('connect', () => socket.write(Buffer.concat([length, body])));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 5) return;
      const type = String.fromCharCode(data[0]);
      const size = data.readInt32BE(1);
      if (type !== 'E') return finish({ type, message: '' });
      if (data.length < size + 1) return;
      // ErrorResponse: fields of a type byte and a NUL-terminated string; M is the message.
      const fields = data.subarray(5, size + 1).toString('utf8').split('\0');
      finish({ type, message: (fields.find((f) => f.startsWith('M')) ?? '').slice(1) });
    });
    socket.on('end', () => finish({ type: 'closed', message: data.toString('utf8') }));
  });
}

describe('PgBouncer 1.24.1 with the rendered config and scripts, in front of a PostgreSQL 17 primary', () => {
  let root: string;
  let postgres: RunningProcess | undefined;
  const bouncers: RunningProcess[] = [];
  const timings = new StepTimings();

  const socketDir = () => `${root}/socket`;
  const dataDir = () => `${root}/data`;
  const authFile = () => `${root}/run/pgha-pgbouncer.users`;
  const authScript = () => `${root}/scripts/pgha-pgbouncer-auth`;
  const startScript = () => `${root}/scripts/pgha-pgbouncer-start`;
  const configFile = (role: 'rw' | 'ro') => `${root}/pgbouncer-${role}.ini`;
  const renderedFiles = () => [authScript(), startScript(), configFile('rw'), configFile('ro')];

  const pg = (): StandalonePostgres => ({ name: 'server', address: ADDRESS, port: PG_PORT, dataDir: dataDir(), socketDir: socketDir() });
  const query = (sql: string, database = 'postgres') => standalone.query(pg(), sql, database);
  const runAuthScript = (password: string | undefined) =>
    runCommand(authScript(), {
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      env: password === undefined ? {} : { [PGBOUNCER_PASSWORD_VARIABLE]: password },
      timeoutMs: 30_000,
    });

  /** A connected client (connect and every query bounded), or the error of the attempt. */
  const connect = async (options: {
    port: number;
    user: string;
    password: string;
    database: string;
    options?: string;
    queryTimeoutMs?: number;
    connectTimeoutMs?: number;
  }): Promise<Client> => {
    const client = new Client({
      host: ADDRESS,
      port: options.port,
      user: options.user,
      password: options.password,
      database: options.database,
      options: options.options,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 15_000,
      query_timeout: options.queryTimeoutMs ?? 40_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  };
  /** The rows of one query on a fresh connection. */
  const queryAs = async (options: Parameters<typeof connect>[0], sql: string, values: unknown[] = []) => {
    const client = await connect(options);
    try {
      return (await client.query(sql, values)).rows as Record<string, unknown>[];
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  /** The error message of a login that must fail. */
  const refusal = async (options: Parameters<typeof connect>[0]): Promise<string> => {
    try {
      const client = await connect(options);
      await client.end().catch(() => undefined);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error(`${options.user}@${options.database} on port ${options.port} logged in: it must be refused`);
  };
  const app = (port = RW_PORT) => ({ port, user: APP_USER, password: APP_PASSWORD, database: 'app' });

  function startBouncer(role: 'rw' | 'ro'): RunningProcess {
    const proc = startProcess(`pgbouncer-${role}`, startScript(), {
      args: [configFile(role)],
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      env: { [PGBOUNCER_PASSWORD_VARIABLE]: AUTH_PASSWORD },
    });
    bouncers.push(proc);
    return proc;
  }

  beforeAll(async () => {
    requireNodeBinaries([`${BIN}/postgres`, `${BIN}/initdb`, `${BIN}/psql`, PGBOUNCER]);
    for (const port of [PG_PORT, RW_PORT, RO_PORT]) {
      if (await canConnect(ADDRESS, port)) throw new Error(`${ADDRESS}:${port} is taken: something else runs there`);
    }
    root = makeTempDir('pgha-pgbouncer');
    chmodSync(root, 0o755);
    for (const sub of ['socket', 'scripts', 'run']) mkdirSync(join(root, sub), { mode: 0o755 });

    // The rendered texts, with the fixed auth_file path moved into the temp dir (one occurrence each).
    const moveAuthFile = (text: string) => {
      expect(text.split(PGBOUNCER_AUTH_FILE)).toHaveLength(2);
      return text.replaceAll(PGBOUNCER_AUTH_FILE, authFile());
    };
    writeFileSync(startScript(), moveAuthFile(renderPgbouncerStartScript()), { mode: 0o755 });
    writeFileSync(configFile('rw'), moveAuthFile(renderPgbouncerConfig(RW_INPUT)), { mode: 0o644 });
    writeFileSync(configFile('ro'), moveAuthFile(renderPgbouncerConfig(RO_INPUT)), { mode: 0o644 });
    writeFileSync(authScript(), authScriptFor(socketDir()), { mode: 0o755 });
    chownTo(root, 'postgres');

    await timings.timed('initdb', () =>
      standalone.initPostgres(pg(), {
        authHost: 'scram-sha-256',
        title: '# pgha pgbouncer test',
        settings: [
          'max_connections = 40',
          'shared_buffers = 16MB',
          "password_encryption = 'scram-sha-256'",
          // Every statement is logged: the auth script must keep its password out of the log all the same.
          "log_statement = 'all'",
        ],
        // PgBouncer and the test connect over TCP from the loopback range (initdb allows 127.0.0.1/32 only).
        hba: 'host all all 127.0.0.0/8 scram-sha-256',
      }),
    );

    const proc = (postgres = standalone.startPostgres(pg(), 'postgres'));
    await timings.timed('postgres start', () => standalone.waitAccepting(pg(), proc));
    await query('CREATE DATABASE app');
    await query(
      [
        `ALTER ROLE postgres PASSWORD '${SUPERUSER_PASSWORD}'`,
        `CREATE ROLE ${APP_USER} LOGIN PASSWORD '${APP_PASSWORD}'`,
        `CREATE ROLE ${ROLES.plain.name} LOGIN PASSWORD '${ROLES.plain.password}'`,
        `CREATE ROLE ${ROLES.replication.name} LOGIN REPLICATION PASSWORD '${ROLES.replication.password}'`,
        `CREATE ROLE ${ROLES.expired.name} LOGIN PASSWORD '${ROLES.expired.password}' VALID UNTIL '2001-01-01'`,
        `CREATE ROLE ${ROLES.rewinder.name} LOGIN PASSWORD '${ROLES.rewinder.password}'`,
      ].join('; '),
    );
    expect(await query(`SELECT count(*) FROM pg_authid WHERE rolname = '${APP_USER}' AND rolpassword LIKE 'SCRAM-SHA-256$%'`)).toBe('1');
  }, 120_000);

  afterAll(async () => {
    for (const proc of bouncers) await stopProcess(proc).catch(() => undefined);
    await standalone.stopPostgres(postgres);
    // A backend or a PgBouncer left behind by a failed test: ours, stopped by PID.
    await removeTempDirAndProcesses(root);
    timings.print('pgbouncer test timings');
  }, 90_000);

  test('the auth script without the password exits 2 with a message, and changes nothing', async () => {
    for (const password of [undefined, '']) {
      const result = await runAuthScript(password);
      expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({
        code: 2,
        stderr: `pgha-pgbouncer-auth: ${PGBOUNCER_PASSWORD_VARIABLE} is not set or empty: no password for ${PGBOUNCER_AUTH_ROLE}`,
      });
    }
    expect(await query(`SELECT count(*) FROM pg_roles WHERE rolname = '${PGBOUNCER_AUTH_ROLE}'`)).toBe('0');
  });

  test('the auth script on the primary: the role with LOGIN only, the lookup in each existing database, a missing one skipped; twice', async () => {
    for (const run of ['first', 'second']) {
      const result = await timings.timed(`auth script (${run})`, () => runAuthScript(AUTH_PASSWORD));
      // psql passes on the server's notice on later runs (CREATE SCHEMA IF NOT EXISTS): noise, not a problem.
      const stderr = result.stderr.trim().split('\n').filter((line) => !/NOTICE: {2}schema "pgha" already exists, skipping$/.test(line));
      expect({ run, code: result.code, stdout: result.stdout, stderr }).toEqual({
        run,
        code: 0,
        stdout: '',
        stderr: [
          'pgha-pgbouncer-auth: lookup in place in database app',
          'pgha-pgbouncer-auth: database reports does not exist yet: no lookup there (the next run adds it)',
        ],
      });
    }
    expect(
      await query(
        `SELECT rolcanlogin, rolsuper, rolreplication, rolcreatedb, rolcreaterole, rolbypassrls, rolinherit, rolconnlimit FROM pg_roles WHERE rolname = '${PGBOUNCER_AUTH_ROLE}'`,
      ),
    ).toBe('t|f|f|f|f|f|f|10');
    expect(await query(`SELECT count(*) FROM pg_auth_members WHERE member = '${PGBOUNCER_AUTH_ROLE}'::regrole`)).toBe('0');
    expect(await query(`SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '${PGBOUNCER_AUTH_ROLE}'`)).toBe('t');

    const lookup = `SELECT p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname || '.' || p.proname = '${PGBOUNCER_AUTH_FUNCTION}'`;
    expect(await query(lookup, 'app')).toBe('t|postgres|{"search_path=pg_catalog, pg_temp"}');
    expect(await query(lookup, 'postgres')).toBe('');
    expect(await query("SELECT count(*) FROM pg_database WHERE datname = 'reports'")).toBe('0');

    // The password never reached the server's log, although it logs every statement.
    const serverLog = postgres!.logTail(100_000);
    expect(serverLog).toContain('statement: SELECT pg_is_in_recovery()');
    expect(serverLog).not.toContain(AUTH_PASSWORD);
  }, 60_000);

  test('the lookup: denied to an ordinary role; as the auth role, the SCRAM verifier of an application role and nothing for the others', async () => {
    const direct = (user: string, password: string) => ({ port: PG_PORT, user, password, database: 'app' });
    const denied = direct(ROLES.plain.name, ROLES.plain.password);
    await expect(queryAs(denied, `SELECT * FROM ${PGBOUNCER_AUTH_FUNCTION}($1)`, [APP_USER])).rejects.toThrow(/permission denied for (schema pgha|function pgbouncer_get_auth)/);

    const auth = direct(PGBOUNCER_AUTH_ROLE, AUTH_PASSWORD);
    const lookupOf = async (user: string) => queryAs(auth, `SELECT usename, passwd FROM ${PGBOUNCER_AUTH_FUNCTION}($1)`, [user]);
    const verifier = await query(`SELECT rolpassword FROM pg_authid WHERE rolname = '${APP_USER}'`);
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(await lookupOf(APP_USER)).toEqual([{ usename: APP_USER, passwd: verifier }]);
    for (const user of ['postgres', ROLES.replication.name, ROLES.expired.name, PGBOUNCER_AUTH_ROLE, ROLES.rewinder.name, 'no_such_role']) {
      expect({ user, rows: await lookupOf(user) }).toEqual({ user, rows: [] });
    }
    // The auth role may do nothing else there: no table of the catalog's secrets, no other schema.
    await expect(queryAs(auth, 'SELECT passwd FROM pg_shadow')).rejects.toThrow(/permission denied/);
    await expect(queryAs(auth, 'CREATE TABLE public.t (x int)')).rejects.toThrow(/permission denied for schema public/);
    expect(await queryAs(auth, "SELECT current_setting('statement_timeout') AS t")).toEqual([{ t: '5s' }]);
  }, 60_000);

  describe('PgBouncer started through the start script', () => {
    let rw: RunningProcess;
    let ro: RunningProcess;

    test('with an empty or missing password (or no config), the start script exits 2 and PgBouncer does not start', async () => {
      const cases: [string, Record<string, string>, string[], RegExp][] = [
        ['empty password', { [PGBOUNCER_PASSWORD_VARIABLE]: '' }, [configFile('rw')], new RegExp(`^pgha-pgbouncer-start: ${PGBOUNCER_PASSWORD_VARIABLE} is not set, or not letters and digits: no password for ${PGBOUNCER_AUTH_ROLE}$`)],
        ['no password', {}, [configFile('rw')], new RegExp(`^pgha-pgbouncer-start: ${PGBOUNCER_PASSWORD_VARIABLE} is not set`)],
        ['a password with a quote', { [PGBOUNCER_PASSWORD_VARIABLE]: 'abc"def' }, [configFile('rw')], /not letters and digits/],
        ['no config', { [PGBOUNCER_PASSWORD_VARIABLE]: AUTH_PASSWORD }, [`${root}/missing.ini`], /^pgha-pgbouncer-start: usage: pgha-pgbouncer-start CONFIG/],
      ];
      for (const [what, env, args, message] of cases) {
        const result = await runCommand(startScript(), { args, runAs: POSTGRES, node: true, inheritEnv: false, env, timeoutMs: 10_000 });
        expect({ what, code: result.code, stdout: result.stdout }).toEqual({ what, code: 2, stdout: '' });
        expect(result.stderr.trim()).toMatch(message);
      }
      expect(await canConnect(ADDRESS, RW_PORT)).toBe(false);
      expect(existsSync(authFile())).toBe(false);
      expect(readdirSync(`${root}/run`)).toEqual([]);
    }, 60_000);

    test('pgbouncer accepts both rendered configs: the rw and ro instances start and listen on their ports only', async () => {
      rw = startBouncer('rw');
      ro = startBouncer('ro');
      await timings.timed('pgbouncer rw listening', () => waitForPort(ADDRESS, RW_PORT, { timeoutMs: 20_000, process: rw }));
      await timings.timed('pgbouncer ro listening', () => waitForPort(ADDRESS, RO_PORT, { timeoutMs: 20_000, process: ro }));
      // The start script execs PgBouncer: the PID is PgBouncer's, and the password is no longer in its environment.
      for (const proc of [rw, ro]) {
        expect(readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0')[0]).toBe(PGBOUNCER);
        const environ = readFileSync(`/proc/${proc.pid}/environ`, 'utf8');
        expect(environ).not.toContain(PGBOUNCER_PASSWORD_VARIABLE);
        expect(environ).not.toContain(AUTH_PASSWORD);
        // The node runtime root's postgres user (its uid there, not the host postgres's).
        expect(readFileSync(`/proc/${proc.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${userIds('postgres').uid}\\s`, 'm'));
      }
      expect(await canConnect('127.0.0.1', RW_PORT)).toBe(false);
      // No unix socket, no warnings or errors about the config.
      expect(readdirSync(socketDir()).filter((f) => f.includes(String(RW_PORT)) || f.includes(String(RO_PORT)))).toEqual([]);
      const problems = [rw, ro].flatMap((p) => p.logTail(500).split('\n')).filter((line) => /WARNING|ERROR|FATAL|unknown parameter|invalid/i.test(line));
      expect(problems).toEqual([]);
    }, 60_000);

    test('the auth file is 0600, owned by postgres, with exactly the auth role line; no password in any rendered file', () => {
      const stat = statSync(authFile());
      expect((stat.mode & 0o777).toString(8)).toBe('600');
      expect(stat.uid).toBe(userIds('postgres').uid);
      expect(readFileSync(authFile(), 'utf8')).toBe(`"${PGBOUNCER_AUTH_ROLE}" "${AUTH_PASSWORD}"\n`);
      // Two instances wrote it, each through a temp file renamed over it: nothing else is left.
      expect(readdirSync(`${root}/run`)).toEqual(['pgha-pgbouncer.users']);
      for (const file of renderedFiles()) {
        const text = readFileSync(file, 'utf8');
        for (const password of ALL_PASSWORDS) expect({ file, password, found: text.includes(password) }).toEqual({ file, password, found: false });
      }
    });

    test('an application role logs in with its password through PgBouncer (SCRAM, looked up with auth_query) and runs queries', async () => {
      const rows = await timings.timed('first login through pgbouncer', () =>
        queryAs(app(), 'SELECT current_user AS "user", current_database() AS db, inet_server_port() AS port, 6 * 7 AS answer'),
      );
      expect(rows).toEqual([{ user: APP_USER, db: 'app', port: PG_PORT, answer: 42 }]);
      // The ro instance (session pooling, a second database that does not exist) reaches the same server.
      expect(await queryAs(app(RO_PORT), 'SELECT current_user AS "user"')).toEqual([{ user: APP_USER }]);
      // PgBouncer logged in to PostgreSQL as the application role itself (SCRAM pass-through), not as the auth role.
      expect(await query(`SELECT count(*) FROM pg_stat_activity WHERE datname = 'app' AND usename = '${APP_USER}'`)).not.toBe('0');
    }, 60_000);

    test('refused: a wrong password; the superuser with its right password, replication and expired roles; a database not pooled', async () => {
      // PgBouncer's own messages (1.18 and 1.24.1 alike): a failed SCRAM exchange, or an empty lookup ("no such user", said before any exchange).
      const refusals = {
        wrongPassword: await refusal({ ...app(), password: `${APP_PASSWORD}x` }),
        superuser: await refusal({ port: RW_PORT, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'app' }),
        replication: await refusal({ port: RW_PORT, user: ROLES.replication.name, password: ROLES.replication.password, database: 'app' }),
        expired: await refusal({ port: RW_PORT, user: ROLES.expired.name, password: ROLES.expired.password, database: 'app' }),
        unknownRole: await refusal({ port: RW_PORT, user: 'no_such_role', password: APP_PASSWORD, database: 'app' }),
        // A database not in [databases]: a fake SCRAM exchange, so the client cannot tell it from a wrong password.
        notPooled: await refusal({ ...app(), database: 'postgres' }),
      };
      expect(refusals).toEqual({
        wrongPassword: 'SASL authentication failed',
        superuser: 'no such user',
        replication: 'no such user',
        expired: 'no such user',
        unknownRole: 'no such user',
        notPooled: 'SASL authentication failed',
      });
      expect(rw.logTail(200)).toContain('login attempt: db=postgres user=app_user');
      // The superuser's right password works directly against PostgreSQL: PgBouncer is what refused it.
      expect(await queryAs({ port: PG_PORT, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'app' }, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      // And the application still logs in after all that.
      expect(await queryAs(app(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      expect(rw.hasExited()).toBe(false);
    }, 90_000);

    test("a pooled database that does not exist yet: logins are refused at once with the server's error; once created and the auth script rerun, it is served", async () => {
      // The lookup itself cannot connect (FATAL database "reports" does not exist). PgBouncer 1.18 kept the client
      // waiting until query_wait_timeout (30 s); since 1.22 (pgbouncer#998, fail fast with an auth_user too) it
      // refuses the waiting client at once with the server's own error and SQLSTATE.
      const missing = await timings.timed('login to a pooled but missing database refused', async () => {
        try {
          await (await connect({ ...app(RO_PORT), database: 'reports', connectTimeoutMs: 90_000 })).end();
        } catch (error) {
          return { message: (error as Error).message, code: (error as { code?: string }).code };
        }
        throw new Error('the login to the missing database reports succeeded: it must be refused');
      });
      expect(missing).toEqual({ message: 'database "reports" does not exist', code: '3D000' });
      expect(ro.logTail(200)).toContain('server login failed: FATAL database "reports" does not exist');

      await query('CREATE DATABASE reports');
      const rerun = await runAuthScript(AUTH_PASSWORD);
      expect(rerun.code).toBe(0);
      expect(rerun.stderr).toContain('pgha-pgbouncer-auth: lookup in place in database reports');
      // Until the next server login retry (server_login_retry, 15 s) PgBouncer refuses at once with the cached
      // error ("server login has been failing, cached error: ...", the cached part new since 1.18); then it serves.
      let rows: Record<string, unknown>[] = [];
      const errors = new Set<string>();
      await timings.timed('login to the database once created', () =>
        waitUntil(
          'a login to reports through the ro instance',
          async () => {
            try {
              rows = await queryAs({ ...app(RO_PORT), database: 'reports', connectTimeoutMs: 60_000 }, 'SELECT current_database() AS db, current_user AS "user"');
              return true;
            } catch (error) {
              errors.add((error as Error).message);
              return false;
            }
          },
          { timeoutMs: 60_000, intervalMs: 500, process: ro },
        ),
      );
      expect(rows).toEqual([{ db: 'reports', user: APP_USER }]);
      expect([...errors].filter((e) => e !== 'server login has been failing, cached error: database "reports" does not exist (server_login_retry)')).toEqual([]);
    }, 150_000);

    test('startup parameters: extra_float_digits and options are ignored (options silently), others are refused', async () => {
      const login = { user: APP_USER, database: 'app' };
      expect(await startupAnswer(RW_PORT, { ...login, extra_float_digits: '2' })).toEqual({ type: 'R', message: '' });
      expect(await startupAnswer(RW_PORT, { ...login, options: '-c statement_timeout=1234' })).toEqual({ type: 'R', message: '' });
      expect(await startupAnswer(RW_PORT, { ...login, application_name: 'pgha-test' })).toEqual({ type: 'R', message: '' });
      // Negative control: a parameter neither tracked nor ignored.
      expect(await startupAnswer(RW_PORT, { ...login, statement_timeout: '1234' })).toEqual({ type: 'E', message: 'unsupported startup parameter: statement_timeout' });

      // `options` is dropped, not applied: the session keeps the server's setting.
      expect(await queryAs({ ...app(), options: '-c statement_timeout=1234' }, "SELECT current_setting('statement_timeout') AS t")).toEqual([{ t: '0' }]);
    }, 60_000);

    test(`20 concurrent clients all succeed through ${POOL_SIZE} server connections at most (transaction pooling)`, async () => {
      // Only the rw instance from here: the ro one's idle session-pool connections would count too.
      await stopProcess(ro);
      const pooled = `FROM pg_stat_activity WHERE datname = 'app' AND backend_type = 'client backend' AND usename IN ('${APP_USER}', '${PGBOUNCER_AUTH_ROLE}')`;
      await waitUntil('the ro instance\'s server connections to close', async () => Number(await query(`SELECT count(*) ${pooled}`)) <= POOL_SIZE, { timeoutMs: 20_000 });
      const sampler = await connect({ port: PG_PORT, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres', queryTimeoutMs: 10_000 });
      const seen = { app: 0, all: 0, samples: 0 };
      let running = true;
      const sampling = (async () => {
        while (running) {
          const { rows } = await sampler.query(
            `SELECT count(*) FILTER (WHERE usename = '${APP_USER}')::int AS app, count(*)::int AS "all" ${pooled}`,
          );
          seen.app = Math.max(seen.app, rows[0].app as number);
          seen.all = Math.max(seen.all, rows[0].all as number);
          seen.samples += 1;
          await sleep(20);
        }
      })();
      const clients = 20;
      const sleepSeconds = 0.3;
      const started = Date.now();
      try {
        const results = await timings.timed(`${clients} concurrent clients`, () =>
          Promise.allSettled(
            Array.from({ length: clients }, async (_, i) => {
              const rows = await queryAs(app(), `SELECT pg_sleep(${sleepSeconds}), ${i} AS i`);
              return rows[0];
            }),
          ),
        );
        const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`client ${i}: ${(r.reason as Error).message}`] : []));
        expect(failures).toEqual([]);
        const served = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
        expect(served.map((row) => row?.i)).toEqual(Array.from({ length: clients }, (_, i) => i));
        // Serialised over at most POOL_SIZE connections: at least clients * sleep / POOL_SIZE seconds (a lower bound).
        expect(Date.now() - started).toBeGreaterThanOrEqual((clients * sleepSeconds * 1000) / POOL_SIZE - 50);
      } finally {
        running = false;
        await sampling.catch(() => undefined);
        await sampler.end().catch(() => undefined);
      }
      console.log(`pgbouncer pool: at most ${seen.app} ${APP_USER} and ${seen.all} PgBouncer backends on app in ${seen.samples} samples`);
      expect(seen.samples).toBeGreaterThan(10);
      expect(seen.app).toBeGreaterThanOrEqual(1);
      expect(seen.app).toBeLessThanOrEqual(POOL_SIZE);
      // max_db_connections counts every user of the database, the auth role's lookups included.
      expect(seen.all).toBeLessThanOrEqual(POOL_SIZE);
      expect(rw.hasExited()).toBe(false);
    }, 120_000);
  });
});
