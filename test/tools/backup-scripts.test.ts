/**
 * The backup jobs, checked by the real tools and run for real:
 * - shellcheck on every rendered script, systemd-analyze on every schedule and unit;
 * - end to end against a standalone PostgreSQL 17 (no Patroni) archiving into an encrypted
 *   pgBackRest 2.55.1 posix repository, all in a temp dir, on a unix socket only: backups, check,
 *   verify (and a corrupted repository), restore drills (and a failing one), logical dumps.
 * The node programs (PostgreSQL, pgBackRest, etcd, patronictl) and the rendered scripts run from
 * the node runtime root (Debian 13); shellcheck and systemd-analyze are this machine's.
 * Every process started here is stopped by its PID in afterAll.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { BackupScriptsInput, planBackupJobs, renderBackupScripts } from '../../src/render/backup-scripts';
import { renderPatroniConfig } from '../../src/render/patroni-config';
import { LAYOUT } from '../../src/model/layout';
import { BackupJobSpecInput, validateBackupJobSpec } from '../../src/spec/backup-job';
import { calendarProblem } from '../../src/spec/calendar';
import { validatePatroniClusterSpec } from '../../src/spec/patroni-cluster';
import {
  RunningProcess,
  StepTimings,
  chownTo,
  makeTempDir,
  processesUnder,
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

const BIN = LAYOUT.postgresBinDir;
const SHELLCHECK = '/usr/bin/shellcheck';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const PGBACKREST = '/usr/bin/pgbackrest';
const POSTGRES = { user: 'postgres' } as const;
const STANZA = 'jobs';
const NODE = 'node-1';
const PORT = 5491;
const CIPHER_PASS = 'drill-test-passphrase-7f3a';

/** incremental + dump + drill (with an extra query): every branch of every script. */
const FULL_FEATURED: BackupJobSpecInput = {
  incrementalSchedule: '*-*-* 07..23/6:00:00',
  restoreDrillQuery: "SELECT 1 / count(*) FROM pg_database WHERE datname = 'app'",
  restoreDrillTimeoutSeconds: 120,
  logicalDump: { retentionDays: 7 },
};

function scriptsInput(root: string, specInput: BackupJobSpecInput, overrides: Partial<BackupScriptsInput> = {}): BackupScriptsInput {
  return {
    spec: validateBackupJobSpec(specInput),
    stanza: STANZA,
    pgbackrestConfig: `${root}/pgbackrest.conf`,
    dataDir: `${root}/data`,
    binDir: BIN,
    socketDir: `${root}/socket`,
    postgresPort: PORT,
    patroniConfig: `${root}/patroni.yml`,
    nodeName: NODE,
    scriptDir: `${root}/scripts`,
    jobStatusDir: `${root}/status`,
    restoreDrillDir: `${root}/drill`,
    dumpDir: `${root}/dumps`,
    ...overrides,
  };
}

/** Writes the rendered scripts (0755) and returns their directory. */
function writeScripts(input: BackupScriptsInput): string {
  mkdirSync(input.scriptDir!, { recursive: true, mode: 0o755 });
  for (const file of renderBackupScripts(input)) {
    writeFileSync(file.path, file.content);
    chmodSync(file.path, 0o755);
  }
  return input.scriptDir!;
}

describe('shellcheck', () => {
  let dir: string;
  beforeAll(() => {
    requireBinaries([SHELLCHECK]);
    dir = makeTempDir('pgha-backup-shellcheck');
  });
  afterAll(() => removeTempDir(dir));

  test.each<[string, BackupJobSpecInput]>([
    ['full-featured (incremental, dump of all databases, drill with a query)', FULL_FEATURED],
    ['backup from a standby, dump of listed databases', { ...FULL_FEATURED, backupStandby: true, logicalDump: { databases: ['app', 'billing.v2'] } }],
    ['defaults', {}],
  ])('finds nothing in any script: %s', async (_what, spec) => {
    const scripts = renderBackupScripts(scriptsInput(dir, spec, { scriptDir: join(dir, `s-${Math.random().toString(36).slice(2)}`) }));
    expect(scripts.length).toBeGreaterThanOrEqual(4);
    mkdirSync(dirOf(scripts[0].path), { recursive: true });
    for (const file of scripts) {
      writeFileSync(file.path, file.content);
      const result = await runCommand(SHELLCHECK, { args: ['--severity=style', '--shell=bash', file.path] });
      expect({ script: file.path, out: result.stdout, code: result.code }).toEqual({ script: file.path, out: '', code: 0 });
    }
  });

  test('negative control: shellcheck flags a rendered script with a quote removed', async () => {
    const check = renderBackupScripts(scriptsInput(dir, {})).find((f) => f.path.endsWith('/pgha-check'))!;
    const broken = join(dir, 'broken-check');
    writeFileSync(broken, check.content.replace('mv -f "$tmp" "$file"', 'mv -f $tmp $file'));
    const result = await runCommand(SHELLCHECK, { args: ['--severity=style', broken] });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('SC2086');
  });
});

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/'));

describe('systemd-analyze', () => {
  let dir: string;
  beforeAll(() => {
    requireNodeBinaries([SYSTEMD_ANALYZE]);
    dir = makeTempDir('pgha-backup-systemd');
  });
  afterAll(() => removeTempDir(dir));

  const calendarAccepts = async (expression: string) => (await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['calendar', expression] })).code === 0;

  test('accepts every default schedule', async () => {
    const spec = validateBackupJobSpec({ logicalDump: {} });
    const defaults = [spec.fullSchedule, spec.differentialSchedule, spec.checkSchedule, spec.verifySchedule, spec.restoreDrillSchedule, spec.logicalDump!.schedule];
    expect(defaults).toEqual(['Sun *-*-* 01:00:00', 'Mon..Sat *-*-* 01:00:00', 'hourly', 'Sat *-*-* 05:00:00', 'Wed *-*-* 03:00:00', '*-*-* 02:30:00']);
    for (const expression of defaults) {
      const result = await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['calendar', String(expression)] });
      expect({ expression, code: result.code, err: result.stderr }).toEqual({ expression, code: 0, err: '' });
      expect(result.stdout).toContain('Next elapse:');
    }
  });

  // The spec's grammar and systemd agree: what the spec accepts systemd parses, what it rejects systemd rejects.
  const ACCEPTED = [
    'minutely', 'hourly', 'Daily', 'weekly', 'monthly', 'yearly', 'annually', 'quarterly', 'semiannually',
    'Mon-Fri 02:30', 'Mon..Fri,Sun 01:00', 'Saturday 05:00', 'Sat,Sun', '*-*-01 04:00 UTC', '*-*-* 01:00 Europe/Berlin',
    '2030-01-01', '*-02~01', '*:0/15', '*-*-* 00..06/2:00', '*-*-* 01:00:00.25', '*-1,4,7,10-1 03:00', '*-*-* 07..23/6:00:00',
  ];
  const REJECTED = [
    'Funday 01:00', 'Fri..Mon 01:00', '*-*-* 25:00', '*-*-* 23:60', '*-13-01', '*-*-32', '01:00:60', '1:00 Mon',
    '*-*-* 0:0/0', 'every day', 'now', '*-*-* 01:00 Mars/Olympus', '', 'Wed 3pm',
  ];

  test.each(ACCEPTED)('agrees with the spec on %p (accepted)', async (expression) => {
    expect(calendarProblem(expression)).toBeUndefined();
    expect(await calendarAccepts(expression)).toBe(true);
  });

  test.each(REJECTED)('agrees with the spec on %p (rejected)', async (expression) => {
    expect(calendarProblem(expression)).toBeDefined();
    expect(await calendarAccepts(expression)).toBe(false);
  });

  test('verify accepts every rendered service and timer without a warning', async () => {
    // ExecStart must name an existing executable: the scripts are written to a temp script dir.
    const input = scriptsInput(dir, FULL_FEATURED, { scriptDir: join(dir, 'scripts') });
    writeScripts(input);
    const plan = planBackupJobs(input);
    expect(plan.jobs.map((j) => j.name)).toEqual([
      'pgha-backup-full', 'pgha-backup-diff', 'pgha-backup-incr', 'pgha-check', 'pgha-verify', 'pgha-restore-drill', 'pgha-dump',
    ]);
    const unitDir = join(dir, 'units');
    mkdirSync(unitDir);
    const units = plan.files.filter((f) => f.path.startsWith('/etc/systemd/system/'));
    for (const unit of units) writeFileSync(join(unitDir, unit.path.split('/').pop()!), unit.content);
    for (const job of plan.jobs) {
      const paths = [join(unitDir, `${job.name}.service`), join(unitDir, `${job.name}.timer`)];
      const result = await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['verify', ...paths] });
      expect({ job: job.name, code: result.code, err: result.stderr }).toEqual({ job: job.name, code: 0, err: '' });
    }
  });

  test('negative control: verify refuses a timer with a bad OnCalendar', async () => {
    const path = join(dir, 'bad.timer');
    writeFileSync(path, '[Timer]\nOnCalendar=Funday 01:00\n[Install]\nWantedBy=timers.target\n');
    const result = await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['verify', path] });
    expect(result.stderr).toMatch(/Failed to parse calendar specification|Timer unit lacks value setting/);
  });
});

/** Ports free on 127.0.0.1 right now (the OS picks them). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((done) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => done(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

// ---- end to end --------------------------------------------------------------------------------

type Metrics = Record<string, { value: number; labels: string }>;

function readStatus(statusDir: string, job: string): Metrics {
  const text = readFileSync(join(statusDir, `${job}.prom`), 'utf8');
  const metrics: Metrics = {};
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) metrics[match[1]] = { labels: match[2], value: Number(match[3]) };
  }
  return metrics;
}


describe('end to end on a standalone PostgreSQL 17 with a pgBackRest 2.55.1 repository', () => {
  let root: string;
  let postgres: RunningProcess | undefined;
  let scripts: string;
  const timings = new StepTimings();

  const run = async (name: string, options: { args?: string[]; env?: Record<string, string>; dir?: string } = {}) => {
    const result = await runCommand(join(options.dir ?? scripts, name), {
      args: options.args,
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      env: { PGBACKREST_REPO1_CIPHER_PASS: CIPHER_PASS, PGHA_FORCE: '1', ...options.env },
      timeoutMs: 240_000,
    });
    timings.add(`${name} ${(options.args ?? []).join(' ')}`.trim(), result.durationMs);
    return result;
  };
  const psql = (sql: string, database = 'postgres') =>
    runCommand(`${BIN}/psql`, { args: ['-h', `${root}/socket`, '-p', String(PORT), '-U', 'postgres', '-d', database, '-XAtqc', sql], runAs: POSTGRES, node: true, inheritEnv: false });
  const statusDir = () => `${root}/status`;
  const expectSucceeded = (result: { code: number | null; stderr: string }) => expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

  beforeAll(async () => {
    requireNodeBinaries([`${BIN}/postgres`, `${BIN}/initdb`, `${BIN}/pg_ctl`, `${BIN}/psql`, `${BIN}/pg_dump`, `${BIN}/pg_restore`, PGBACKREST, '/usr/bin/python3']);
    root = makeTempDir('pgha-backup-e2e');
    chmodSync(root, 0o755);
    for (const sub of ['socket', 'repo', 'log', 'lock', 'spool', 'status', 'dumps']) mkdirSync(join(root, sub), { mode: 0o750 });
    writeFileSync(
      join(root, 'pgbackrest.conf'),
      [
        '[global]',
        `repo1-path=${root}/repo`,
        'repo1-type=posix',
        'repo1-cipher-type=aes-256-cbc',
        'repo1-retention-full=2',
        'archive-async=y',
        `spool-path=${root}/spool`,
        'process-max=2',
        'compress-type=zst',
        'start-fast=y',
        'delta=y',
        `log-path=${root}/log`,
        `lock-path=${root}/lock`,
        'log-level-file=info',
        'log-level-console=warn',
        '',
        `[${STANZA}]`,
        `pg1-path=${root}/data`,
        `pg1-port=${PORT}`,
        `pg1-socket-path=${root}/socket`,
        'pg1-user=postgres',
        '',
      ].join('\n'),
    );
    chownTo(root, 'postgres');

    const initdb = await runCommand(`${BIN}/initdb`, {
      args: ['-D', `${root}/data`, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256', '-N'],
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      timeoutMs: 60_000,
    });
    if (initdb.code !== 0) throw new Error(`initdb failed:\n${initdb.stdout}\n${initdb.stderr}`);
    // The live settings a restored copy carries along, which the drill must override.
    writeFileSync(
      join(root, 'data', 'postgresql.conf'),
      [
        '',
        '# pgha backup job test',
        `port = ${PORT}`,
        "listen_addresses = ''",
        `unix_socket_directories = '${root}/socket'`,
        'archive_mode = on',
        `archive_command = '${PGBACKREST} --config=${root}/pgbackrest.conf --stanza=${STANZA} archive-push %p'`,
        'wal_level = replica',
        "cluster_name = 'jobs-live'",
        '',
      ].join('\n'),
      { flag: 'a' },
    );
    postgres = startProcess('postgres', `${BIN}/postgres`, {
      args: ['-D', `${root}/data`],
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      env: { PGBACKREST_REPO1_CIPHER_PASS: CIPHER_PASS },
    });
    await waitUntil('the test PostgreSQL to accept connections', async () => (await psql('SELECT 1')).stdout.trim() === '1', {
      timeoutMs: 30_000,
      process: postgres,
    });
    expect((await psql('CREATE DATABASE app')).code).toBe(0);
    expect((await psql('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 5000) g', 'app')).code).toBe(0);
    scripts = writeScripts(scriptsInput(root, FULL_FEATURED));
  }, 90_000);

  afterAll(async () => {
    if (postgres && !postgres.hasExited()) {
      process.kill(postgres.pid, 'SIGINT'); // fast shutdown
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([postgres.exited.then(() => true), new Promise<boolean>((done) => (timer = setTimeout(() => done(false), 20_000)))]);
      clearTimeout(timer);
      if (!stopped) await stopProcess(postgres);
    }
    // pgBackRest's async archiver or a drill postgres a failed test left behind: ours, stopped by PID.
    await removeTempDirAndProcesses(root);
    timings.print('backup job timings');
  }, 60_000);

  test('a full backup, then a differential one, record exit code 0 and a success time', async () => {
    const before = Math.floor(Date.now() / 1000);
    const full = await run('pgha-backup', { args: ['full'] });
    expect(full.stderr).toContain(`pgha-backup-full: stanza ${STANZA} is ready; starting the full backup`);
    expectSucceeded(full);
    const diff = await run('pgha-backup', { args: ['diff'] });
    expectSucceeded(diff);

    for (const job of ['backup-full', 'backup-diff']) {
      const status = readStatus(statusDir(), job);
      expect(status.pgha_job_last_exit_code.value).toBe(0);
      expect(status.pgha_job_last_success_timestamp_seconds.value).toBeGreaterThanOrEqual(before);
      expect(status.pgha_job_last_success_timestamp_seconds.value).toBe(status.pgha_job_last_run_timestamp_seconds.value);
      expect(status.pgha_job_last_duration_seconds.value).toBeGreaterThan(0);
      expect(status.pgha_job_last_exit_code.labels).toBe(`cluster="${STANZA}",node="${NODE}",job="${job}"`);
    }
    expect(statSync(join(statusDir(), 'backup-full.prom')).mode & 0o777).toBe(0o644);
    // No temporary files left beside the metrics.
    expect(readdirSync(statusDir()).sort()).toEqual(['backup-diff.prom', 'backup-full.prom']);

    const info = await runCommand(PGBACKREST, {
      args: [`--config=${root}/pgbackrest.conf`, `--stanza=${STANZA}`, 'info', '--output=json'],
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      env: { PGBACKREST_REPO1_CIPHER_PASS: CIPHER_PASS },
    });
    const backups = JSON.parse(info.stdout)[0].backup.map((b: { type: string }) => b.type);
    expect(backups).toEqual(['full', 'diff']);
  }, 180_000);

  test('with backupStandby, a leader standing in for a missing replica backs up without --backup-standby', async () => {
    const standby = writeScripts(scriptsInput(root, { ...FULL_FEATURED, backupStandby: true }, { scriptDir: `${root}/scripts-standby` }));
    const result = await run('pgha-backup', { args: ['incr'], dir: standby });
    expectSucceeded(result);
    expect(result.stderr).toContain('pgha-backup-incr: this node is the leader (no replica runs): backing up without --backup-standby');
    expect(readStatus(statusDir(), 'backup-incr').pgha_job_last_exit_code.value).toBe(0);
  }, 120_000);

  test('a wrong backup type is refused without touching the status', async () => {
    const result = await run('pgha-backup', { args: ['weekly'] });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage:');
    expect(readdirSync(statusDir())).not.toContain('backup-weekly.prom');
  });

  test('check succeeds, with PGHA_FORCE and through the leader role check of the standalone primary', async () => {
    const forced = await run('pgha-check');
    expectSucceeded(forced);
    expect(forced.stderr).toContain('PGHA_FORCE=1: running without checking');
    const byRole = await run('pgha-check', { env: { PGHA_FORCE: '0' } });
    expectSucceeded(byRole);
    expect(byRole.stderr).not.toContain('skipping');
    expect(byRole.stderr).not.toContain('PGHA_FORCE');
    expect(readStatus(statusDir(), 'check').pgha_job_last_exit_code.value).toBe(0);
  }, 60_000);

  test('verify succeeds on the sound repository', async () => {
    const result = await run('pgha-verify');
    expectSucceeded(result);
    expect(result.stderr).toContain('status: ok');
    expect(result.stderr).toContain('every backup and WAL segment in the repository is valid');
    expect(readStatus(statusDir(), 'verify').pgha_job_last_exit_code.value).toBe(0);
  }, 120_000);

  test('the restore drill restores, starts, queries and deletes the copy, recording its duration and success', async () => {
    const result = await run('pgha-restore-drill');
    expectSucceeded(result);
    expect(result.stderr).toMatch(/pgha-restore-drill: recovery finished after [\d.]+ s/);
    expect(result.stderr).toContain('pgha-restore-drill: the restored copy has 4 databases');
    expect(result.stderr).toContain('restoreDrillQuery ran without error');
    const status = readStatus(statusDir(), 'restore-drill');
    expect(status.pgha_restore_drill_success.value).toBe(1);
    expect(status.pgha_job_last_exit_code.value).toBe(0);
    expect(status.pgha_restore_drill_duration_seconds.value).toBeGreaterThan(0);
    timings.add('recorded pgha_restore_drill_duration_seconds (s)', status.pgha_restore_drill_duration_seconds.value);
    expect(readdirSync(`${root}/drill`)).toEqual([]);
    expect(processesUnder(`${root}/drill`)).toEqual([]);
    // The live cluster was not touched: still a primary on its own socket.
    expect((await psql('SELECT pg_is_in_recovery()')).stdout.trim()).toBe('f');
  }, 240_000);

  test('a drill that cannot decrypt the repository fails, records success 0 and leaves nothing behind', async () => {
    const earlier = readStatus(statusDir(), 'restore-drill');
    await sleep(1100);
    const result = await run('pgha-restore-drill', { env: { PGBACKREST_REPO1_CIPHER_PASS: 'not-the-passphrase' } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('pgha-restore-drill: pgbackrest restore said:');
    expect(result.stderr).toMatch(/ERROR: \[\d+\]/);
    expect(result.stderr).toMatch(/pgha-restore-drill: FAILED with exit code \d+/);
    const status = readStatus(statusDir(), 'restore-drill');
    expect(status.pgha_restore_drill_success.value).toBe(0);
    expect(status.pgha_job_last_exit_code.value).not.toBe(0);
    expect(status.pgha_job_last_success_timestamp_seconds.value).toBe(earlier.pgha_job_last_success_timestamp_seconds.value);
    expect(status.pgha_job_last_run_timestamp_seconds.value).toBeGreaterThan(earlier.pgha_job_last_run_timestamp_seconds.value);
    expect(readdirSync(`${root}/drill`)).toEqual([]);
    expect(processesUnder(`${root}/drill`)).toEqual([]);
  }, 120_000);

  test('a drill stopped by SIGTERM (as systemd does on its timeout) stops its postgres, cleans up and records the failure', async () => {
    const drill = startProcess('pgha-restore-drill', join(scripts, 'pgha-restore-drill'), {
      runAs: POSTGRES,
      node: true,
      inheritEnv: false,
      env: { PGBACKREST_REPO1_CIPHER_PASS: CIPHER_PASS, PGHA_FORCE: '1' },
    });
    try {
      // Once the copy's postmaster exists, the drill is in its most delicate state.
      await waitUntil('the drill postgres to start', () => existsSync(`${root}/drill/data/postmaster.pid`), { timeoutMs: 60_000, intervalMs: 50, process: drill });
      process.kill(drill.pid, 'SIGTERM');
      const exit = await drill.exited;
      expect(exit).toEqual({ code: 143, signal: null });
    } finally {
      await stopProcess(drill);
    }
    expect(drill.logTail(200)).toMatch(/pgha-restore-drill: stopping the drill postgres \(pid \d+\)/);
    expect(drill.logTail(200)).toContain('pgha-restore-drill: FAILED with exit code 143');
    const status = readStatus(statusDir(), 'restore-drill');
    expect(status.pgha_job_last_exit_code.value).toBe(143);
    expect(status.pgha_restore_drill_success.value).toBe(0);
    expect(readdirSync(`${root}/drill`)).toEqual([]);
    expect(processesUnder(`${root}/drill`)).toEqual([]);
  }, 120_000);

  describe('replica role selection: the real patronictl 4.0.7 against a real etcd 3.5 holding member keys', () => {
    // Patroni's own patroni.yml for this node (scope = the stanza), pointing at a test etcd on loopback.
    let etcd: RunningProcess | undefined;
    let etcdClient: string;
    const rolesInput = (patronictl?: string) =>
      scriptsInput(root, FULL_FEATURED, {
        scriptDir: `${root}/scripts-roles${patronictl ? '-fake' : ''}`,
        jobStatusDir: `${root}/status-roles`,
        ...(patronictl ? { patronictl } : {}),
      });
    /**
     * Writes what a Patroni 4.0.7 cluster keeps in etcd: the leader key and one key per member
     * (Patroni 4 says role "primary" where 3 said "master"; a streaming replica adds replication_state).
     */
    const members = async (list: { name: string; role: 'primary' | 'replica'; state: string; replicationState?: string }[]) => {
      const put = async (key: string, value: string) => {
        const answer = await fetch(`http://${etcdClient}/v3/kv/put`, {
          method: 'POST',
          body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') }),
        });
        expect(answer.status).toBe(200);
      };
      await fetch(`http://${etcdClient}/v3/kv/deleterange`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from(`/service/${STANZA}/`).toString('base64'), range_end: Buffer.from(`/service/${STANZA}0`).toString('base64') }),
      });
      for (const [index, member] of list.entries()) {
        const host = `127.0.0.${11 + index}`;
        if (member.role === 'primary') await put(`/service/${STANZA}/leader`, member.name);
        const replication = member.replicationState ? { replication_state: member.replicationState } : {};
        await put(
          `/service/${STANZA}/members/${member.name}`,
          JSON.stringify({ conn_url: `postgres://${host}:5432/postgres`, api_url: `http://${host}:8008/patroni`, state: member.state, ...replication, role: member.role, version: '4.0.7', timeline: 1 }),
        );
      }
    };
    const runRoles = (name: string, dir = `${root}/scripts-roles`) => run(name, { dir, env: { PGHA_FORCE: '0' } });

    beforeAll(async () => {
      requireNodeBinaries(['/usr/bin/etcd', '/usr/bin/patronictl']);
      const [clientPort, peerPort] = await freePorts(2);
      etcdClient = `127.0.0.1:${clientPort}`;
      etcd = startProcess('etcd', '/usr/bin/etcd', {
        node: true,
        inheritEnv: false,
        args: [
          '--name', 'roles', '--data-dir', `${root}/etcd`,
          '--listen-client-urls', `http://${etcdClient}`, '--advertise-client-urls', `http://${etcdClient}`,
          '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
          '--initial-cluster', `roles=http://127.0.0.1:${peerPort}`,
        ],
      });
      await waitForPort('127.0.0.1', clientPort, { timeoutMs: 20_000, process: etcd });
      writeFileSync(
        `${root}/patroni.yml`,
        renderPatroniConfig({
          spec: validatePatroniClusterSpec({ clusterName: STANZA }),
          nodeName: NODE,
          address: '127.0.0.11',
          etcdHosts: [etcdClient],
          hbaCidrs: ['127.0.0.0/8'],
          dataDir: `${root}/data`,
          socketDir: `${root}/socket`,
          binDir: BIN,
        }),
      );
      writeScripts(rolesInput());
      mkdirSync(`${root}/status-roles`, { mode: 0o755 });
      chownTo(root, 'postgres');
    }, 60_000);
    afterAll(async () => {
      if (etcd) await stopProcess(etcd);
    });

    test('the leader leaves the drill to the first running replica: exit 0, no status written', async () => {
      await members([
        { name: NODE, role: 'primary', state: 'running' },
        { name: 'node-3', role: 'replica', state: 'running', replicationState: 'streaming' },
        { name: 'node-2', role: 'replica', state: 'stopped' },
        { name: 'node-4', role: 'replica', state: 'running' },
      ]);
      const result = await runRoles('pgha-restore-drill');
      expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({
        code: 0,
        stderr: 'pgha-restore-drill: skipping: this node is the leader; replica node-3 runs the job',
      });
      expect(readdirSync(`${root}/status-roles`)).toEqual([]);
    }, 60_000);

    test('a replica that replays from the archive (Patroni 4: "in archive recovery") counts as running: the choice does not flip while it catches up', async () => {
      await members([
        { name: NODE, role: 'primary', state: 'running' },
        { name: 'node-3', role: 'replica', state: 'running', replicationState: 'streaming' },
        { name: 'node-2', role: 'replica', state: 'running', replicationState: 'in archive recovery' },
      ]);
      const result = await runRoles('pgha-restore-drill');
      expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({
        code: 0,
        stderr: 'pgha-restore-drill: skipping: this node is the leader; replica node-2 runs the job',
      });
      expect(readdirSync(`${root}/status-roles`)).toEqual([]);
    }, 60_000);

    test('when patronictl fails the node does not guess: exit 0, no status written', async () => {
      writeFileSync(`${root}/fake-patronictl`, '#!/bin/sh\necho "etcd unreachable" >&2\nexit 1\n');
      chmodSync(`${root}/fake-patronictl`, 0o755);
      const fake = writeScripts(rolesInput(`${root}/fake-patronictl`));
      const result = await runRoles('pgha-restore-drill', fake);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain('skipping: patronictl list failed');
      expect(readdirSync(`${root}/status-roles`)).toEqual([]);
    });

    test('with no running replica the leader runs the drill', async () => {
      await members([
        { name: NODE, role: 'primary', state: 'running' },
        { name: 'node-2', role: 'replica', state: 'starting' },
      ]);
      const result = await runRoles('pgha-restore-drill');
      expectSucceeded(result);
      expect(result.stderr).toContain('the cluster has no running replica: the leader runs the job');
      expect(readStatus(`${root}/status-roles`, 'restore-drill').pgha_restore_drill_success.value).toBe(1);
    }, 240_000);
  });

  describe('logical dumps', () => {
    const dumps = () => readdirSync(`${root}/dumps`).sort();
    const daysAgo = (days: number) => new Date(Date.now() - days * 86400_000);
    const place = (name: string, ageDays: number) => {
      const path = `${root}/dumps/${name}`;
      writeFileSync(path, 'old');
      const { uid, gid } = userIds('postgres');
      chownSync(path, uid, gid);
      utimesSync(path, daysAgo(ageDays), daysAgo(ageDays));
    };

    test('keeps verified dumps, deletes and reports a failed one, expires old ones', async () => {
      const listed = writeScripts(
        scriptsInput(root, { ...FULL_FEATURED, logicalDump: { databases: ['app', 'postgres', 'nosuchdb'], retentionDays: 7 } }, { scriptDir: `${root}/scripts-dump-list` }),
      );
      place('app-20200101T000000Z.dump', 30); // expired: app dumps fine this run
      place('app-20200102T000000Z.dump', 3); // within retention
      place('nosuchdb-20200101T000000Z.dump', 30); // kept: nosuchdb fails this run
      place('app-20200101T000000Z.dump.partial', 0); // left by a killed run

      const result = await run('pgha-dump', { dir: listed });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('pgha-dump: dump of database nosuchdb FAILED: partial file deleted');
      expect(result.stderr).toContain('pgha-dump: the dump failed for: nosuchdb');
      expect(result.stderr).toContain('keeping');
      const files = dumps();
      const fresh = files.filter((f) => /^(app|postgres)-\d{8}T\d{6}Z\.dump$/.test(f) && !f.includes('2020'));
      expect(fresh.map((f) => f.split('-')[0]).sort()).toEqual(['app', 'postgres']);
      expect(files).toEqual(expect.arrayContaining(['app-20200102T000000Z.dump', 'nosuchdb-20200101T000000Z.dump']));
      expect(files).not.toContain('app-20200101T000000Z.dump');
      expect(files.filter((f) => f.endsWith('.partial'))).toEqual([]);
      expect(files.filter((f) => f.startsWith('nosuchdb-') && !f.includes('2020'))).toEqual([]);
      // The kept dump is a real custom-format archive with the table in it.
      const toc = await runCommand(`${BIN}/pg_restore`, { args: ['-l', `${root}/dumps/${fresh.find((f) => f.startsWith('app-'))}`], node: true });
      expect(toc.code).toBe(0);
      expect(toc.stdout).toMatch(/TABLE public t postgres/);
      expect(statSync(`${root}/dumps/${fresh[0]}`).mode & 0o777).toBe(0o600);
      const status = readStatus(statusDir(), 'dump');
      expect(status.pgha_job_last_exit_code.value).toBe(1);
    }, 120_000);

    test('without a list every connectable database is dumped, and a dropped database\'s old dumps expire', async () => {
      await sleep(1100); // a new timestamp in the file names
      const before = new Set(dumps());
      const result = await run('pgha-dump');
      expectSucceeded(result);
      const added = dumps().filter((f) => !before.has(f));
      expect(added.map((f) => f.replace(/-\d{8}T\d{6}Z\.dump$/, '')).sort()).toEqual(['app', 'postgres']);
      expect(dumps()).not.toContain('nosuchdb-20200101T000000Z.dump');
      expect(readStatus(statusDir(), 'dump').pgha_job_last_exit_code.value).toBe(0);
    }, 120_000);
  });

  test('verify fails on a corrupted backup file, keeping the previous success time', async () => {
    const earlier = readStatus(statusDir(), 'verify');
    const backupDir = `${root}/repo/backup/${STANZA}`;
    const full = readdirSync(backupDir).filter((name) => /^\d{8}-\d{6}F$/.test(name)).sort()[0];
    // The largest file of the full backup: overwrite bytes in its middle.
    const files: { path: string; size: number }[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else files.push({ path, size: statSync(path).size });
      }
    };
    walk(join(backupDir, full, 'pg_data'));
    const victim = files.sort((a, b) => b.size - a.size)[0];
    const bytes = readFileSync(victim.path);
    bytes.fill(0x58, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 64);
    writeFileSync(victim.path, bytes);
    await sleep(1100);

    const result = await run('pgha-verify');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('status: error');
    expect(result.stderr).toContain('pgha-verify: verify found invalid or missing files in the repository');
    const status = readStatus(statusDir(), 'verify');
    expect(status.pgha_job_last_exit_code.value).not.toBe(0);
    expect(status.pgha_job_last_success_timestamp_seconds.value).toBe(earlier.pgha_job_last_success_timestamp_seconds.value);
    expect(status.pgha_job_last_run_timestamp_seconds.value).toBeGreaterThan(earlier.pgha_job_last_run_timestamp_seconds.value);
  }, 120_000);
});
