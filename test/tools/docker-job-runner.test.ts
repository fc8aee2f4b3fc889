/**
 * The Docker platform's job scheduler (run-on-schedule), run for real from the node runtime root,
 * as a job container of the Debian 13 image runs it: its bash, the real `systemd-analyze calendar`
 * of Debian 13 (systemd 257, the package the image adds for job containers) and coreutils' timeout,
 * on every-2-seconds schedules so that a run is seen within seconds. The temp dir with the script
 * and the jobs is bound into the root at its own path. shellcheck checks the rendered script.
 * Every runner started here is stopped by its PID in afterEach, with any job it left behind.
 */
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYOUT } from '../../src/model/layout';
import { NodeJob } from '../../src/model/node-plan';
import { JOB_RUNNER_PATH, jobRunnerCommand, renderJobRunner } from '../../src/platform/docker/job-runner';
import {
  RunningProcess,
  makeTempDir,
  processesUnder,
  removeTempDir,
  requireBinaries,
  requireNodeBinaries,
  runCommand,
  sleep,
  startProcess,
  stopProcess,
  waitUntil,
} from '../support/processes';

const SHELLCHECK = '/usr/bin/shellcheck';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const EVERY_2S = '*:*:0/2';
/** A schedule that does not elapse during a test. */
const FAR_AWAY = '2099-01-01';
/**
 * Each runner starts from the node runtime root (unshare, mounts, chroot, then two
 * systemd-analyze calls before its first line): on a loaded 2-core machine that takes seconds, so
 * the waits are generous and each start-to-run delay is measured from the runner's start line.
 */
const TEST_TIMEOUT_MS = 45_000;

describe('jobRunnerCommand', () => {
  const job: NodeJob = {
    name: 'pgha-backup-full',
    description: 'Full backup',
    user: 'postgres',
    group: 'postgres',
    command: ['/usr/local/lib/pgha/pgha-backup', 'full'],
    schedule: 'Sun *-*-* 01:00:00',
    randomizedDelaySeconds: 900,
    timeoutSeconds: 21600,
    afterStart: true,
  };

  test('the scheduler, the timer settings, "--", then the argv word for word', () => {
    expect(jobRunnerCommand(job)).toEqual([
      '/usr/local/lib/pgha/run-on-schedule',
      'Sun *-*-* 01:00:00',
      '900',
      '21600',
      '30',
      '--',
      '/usr/local/lib/pgha/pgha-backup',
      'full',
    ]);
    expect(jobRunnerCommand(job, 5)[4]).toBe('5');
  });

  test('no random delay is 0, no after-start run is "-"', () => {
    const plain = { schedule: 'hourly', timeoutSeconds: 600, command: ['/usr/local/lib/pgha/pgha-check', 'a b', ''] };
    expect(jobRunnerCommand(plain)).toEqual([JOB_RUNNER_PATH, 'hourly', '0', '600', '-', '--', '/usr/local/lib/pgha/pgha-check', 'a b', '']);
    expect(jobRunnerCommand({ ...plain, afterStart: false }, 7)[4]).toBe('-');
  });

  test('the scheduler sits beside the node scripts', () => {
    expect(JOB_RUNNER_PATH).toBe(`${LAYOUT.scriptDir}/run-on-schedule`);
  });

  test('refuses what the script would refuse, naming the field', () => {
    expect(() => jobRunnerCommand({ ...job, timeoutSeconds: 0 })).toThrow(/timeoutSeconds: got 0/);
    expect(() => jobRunnerCommand({ ...job, timeoutSeconds: 1.5 })).toThrow(/timeoutSeconds: got 1.5/);
    expect(() => jobRunnerCommand({ ...job, randomizedDelaySeconds: -1 })).toThrow(/randomizedDelaySeconds: got -1/);
    expect(() => jobRunnerCommand({ ...job, command: [] })).toThrow(/command: got none/);
    expect(() => jobRunnerCommand({ ...job, schedule: ' ' })).toThrow(/schedule: got an empty string/);
    expect(() => jobRunnerCommand(job, -30)).toThrow(/afterStartDelaySeconds: got -30/);
  });
});

describe('run-on-schedule', () => {
  let dir: string;
  let script: string;
  let runners: RunningProcess[] = [];
  let counter = 0;

  beforeAll(() => {
    requireBinaries([SHELLCHECK]);
    requireNodeBinaries([SYSTEMD_ANALYZE, '/bin/bash', '/usr/bin/timeout', '/usr/bin/date', '/usr/bin/sleep']);
    dir = makeTempDir('pgha-job-runner');
    script = join(dir, 'run-on-schedule');
    writeFileSync(script, renderJobRunner());
    chmodSync(script, 0o755);
    // A job that records each run, under a name of its own to find in the log.
    writeFileSync(join(dir, 'append-time'), '#!/bin/bash\ndate +%s.%N >> "$1"\nexit "${2:-0}"\n');
    chmodSync(join(dir, 'append-time'), 0o755);
    // A job that records its PID, then sleeps as that PID.
    writeFileSync(join(dir, 'long-job'), '#!/bin/bash\necho $$ > "$1"\nexec sleep 60\n');
    chmodSync(join(dir, 'long-job'), 0o755);
  });

  afterEach(async () => {
    for (const runner of runners) await stopProcess(runner, 5_000);
    runners = [];
    // A job whose runner was SIGKILLed would live on: its command line names the temp dir.
    for (const pid of processesUnder(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  afterAll(() => removeTempDir(dir));

  /** A fresh file name in the temp dir. */
  const file = (what: string) => join(dir, `${what}-${++counter}`);

  function start(args: readonly string[], env?: Record<string, string>): RunningProcess {
    const runner = startProcess('run-on-schedule', script, { args, env: { TZ: 'UTC', ...env }, node: true });
    runners.push(runner);
    return runner;
  }

  interface RunLine {
    started: string;
    command: string;
    status: number;
    duration: number;
    result: string;
  }

  function runLines(runner: RunningProcess): RunLine[] {
    return runner
      .logTail(500)
      .split('\n')
      .flatMap((line) => {
        const m = / run started=(\S+) command=(\S+) status=(\d+) duration=([\d.]+)s result=(.*)$/.exec(line);
        return m ? [{ started: m[1], command: m[2], status: Number(m[3]), duration: Number(m[4]), result: m[5] }] : [];
      });
  }

  const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : []);
  const times = (path: string) => lines(path).map(Number);

  /** True while the PID runs (a zombie counts as gone: it has ended, only its parent has not reaped it). */
  function isRunning(pid: number): boolean {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }

  /** The processes whose parent is `pid`, with their command names. */
  function childrenOf(pid: number): { pid: number; comm: string }[] {
    return readdirSync('/proc').flatMap((entry) => {
      if (!/^\d+$/.test(entry)) return [];
      try {
        const m = /^\d+ \((.*)\) \S+ (\d+) /.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'));
        return m && Number(m[2]) === pid ? [{ pid: Number(entry), comm: m[1] }] : [];
      } catch {
        return []; // exited meanwhile
      }
    });
  }

  /** The runner's exit, or a string saying it was still running after `ms`. */
  async function exitWithin(runner: RunningProcess, ms: number) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`still running after ${ms} ms`), ms)));
    try {
      return await Promise.race([runner.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** When the runner's start line (logged once its checks are done, before any delay) was seen, in Unix seconds. */
  async function startLineSeen(runner: RunningProcess): Promise<number> {
    await waitUntil('the start line', () => / run-on-schedule: command=\S+ schedule=/.test(runner.logTail()), { timeoutMs: 15_000, intervalMs: 20, process: runner });
    return Date.now() / 1000;
  }

  async function jobPid(pidFile: string, runner: RunningProcess): Promise<number> {
    await waitUntil(`the job to write ${pidFile}`, () => lines(pidFile).length > 0, { timeoutMs: 15_000, process: runner });
    return Number(lines(pidFile)[0]);
  }

  test('shellcheck finds nothing in the rendered script', async () => {
    const result = await runCommand(SHELLCHECK, { args: ['--severity=style', '--shell=bash', script] });
    expect({ out: result.stdout, err: result.stderr, code: result.code }).toEqual({ out: '', err: '', code: 0 });
  });

  test(
    'runs at every elapse of the schedule, on the schedule\'s seconds, and logs each run',
    async () => {
      const out = file('runs');
      const runner = start([EVERY_2S, '0', '10', '-', '--', join(dir, 'append-time'), out]);
      await waitUntil('2 runs', () => lines(out).length >= 2, { timeoutMs: 15_000, process: runner });
      const runs = times(out);
      for (let i = 1; i < runs.length; i++) expect(runs[i] - runs[i - 1]).toBeGreaterThanOrEqual(1.5);
      // *:*:0/2 elapses on even seconds; a run starts a few milliseconds after.
      for (const t of runs) expect({ t, second: Math.floor(t) % 2 }).toEqual({ t, second: 0 });
      await waitUntil('the log lines of 2 runs', () => runLines(runner).length >= 2, { timeoutMs: 5_000, process: runner });
      for (const run of runLines(runner)) {
        expect(run).toMatchObject({ command: 'append-time', status: 0, result: 'ok' });
        expect(run.started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(run.duration).toBeLessThan(1);
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'reads the UTC time of the next elapse when the local zone is not UTC (+05:30)',
    async () => {
      const out = file('runs-kolkata');
      const runner = start([EVERY_2S, '0', '10', '-', '--', join(dir, 'append-time'), out], { TZ: 'Asia/Kolkata' });
      await waitUntil('2 runs', () => lines(out).length >= 2, { timeoutMs: 15_000, process: runner });
      // The first elapse it waits for, read as UTC (a zone read as UTC would put it 5 h 30 min off):
      // the first run starts at it, a little after under load. Two runs, not one elapse run twice.
      const runs = times(out);
      const next = /next=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) /.exec(runner.logTail(200))?.[1];
      expect(next).toBeDefined();
      expect(runs[0] - Date.parse(next!) / 1000).toBeGreaterThanOrEqual(0);
      expect(runs[0] - Date.parse(next!) / 1000).toBeLessThan(5);
      expect(runs[1] - runs[0]).toBeGreaterThan(0.5);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an after-start delay runs the job once that long after the start, then only at the schedule',
    async () => {
      const out = file('after-start');
      const spawned = Date.now() / 1000;
      const runner = start([FAR_AWAY, '0', '10', '1', '--', join(dir, 'append-time'), out]);
      const started = await startLineSeen(runner);
      await waitUntil('the after-start run', () => lines(out).length >= 1, { timeoutMs: 10_000, process: runner });
      // At least the delay after the spawn (the start line comes later still); at most a few seconds after the start line.
      expect(times(out)[0] - spawned).toBeGreaterThanOrEqual(0.95);
      expect(times(out)[0] - started).toBeLessThan(4);
      await sleep(2_500);
      expect(lines(out)).toHaveLength(1);
      expect(runner.hasExited()).toBe(false);
      expect(runLines(runner)).toEqual([expect.objectContaining({ command: 'append-time', status: 0, result: 'ok' })]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a failed run is logged with its exit status and the next run still happens',
    async () => {
      const out = file('failing');
      const runner = start([EVERY_2S, '0', '10', '-', '--', join(dir, 'append-time'), out, '3']);
      await waitUntil('the log lines of 2 failed runs', () => runLines(runner).length >= 2, { timeoutMs: 15_000, process: runner });
      expect(lines(out).length).toBeGreaterThanOrEqual(2);
      for (const run of runLines(runner)) expect(run).toMatchObject({ command: 'append-time', status: 3, result: 'failed' });
      expect(runner.hasExited()).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a run past its timeout is killed and logged as failed; the runner goes on',
    async () => {
      const pidFile = file('timeout-pid');
      const runner = start([FAR_AWAY, '0', '1', '0', '--', join(dir, 'long-job'), pidFile]);
      const pid = await jobPid(pidFile, runner);
      await waitUntil('the log line of the timed-out run', () => runLines(runner).length >= 1, { timeoutMs: 12_000, process: runner });
      const [run] = runLines(runner);
      expect(run).toMatchObject({ command: 'long-job', status: 124, result: 'failed (timed out after 1s)' });
      expect(run.duration).toBeGreaterThanOrEqual(1);
      expect(run.duration).toBeLessThan(3);
      await waitUntil(`the job's pid ${pid} to be gone`, () => !isRunning(pid), { timeoutMs: 3_000 });
      expect(runner.hasExited()).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'SIGTERM during a run kills the job and exits 0 within seconds',
    async () => {
      const pidFile = file('term-pid');
      const runner = start([FAR_AWAY, '0', '600', '0', '--', join(dir, 'long-job'), pidFile]);
      const pid = await jobPid(pidFile, runner);
      expect(isRunning(pid)).toBe(true);
      const timeoutPids = childrenOf(runner.pid).map((child) => child.pid);
      expect(childrenOf(runner.pid).map((child) => child.comm)).toEqual(['timeout']);
      const sent = Date.now();
      process.kill(runner.pid, 'SIGTERM');
      expect(await exitWithin(runner, 5_000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - sent).toBeLessThan(5_000);
      await waitUntil(`the job's pid ${pid} and timeout's ${timeoutPids.join(' ')} to be gone`, () => ![pid, ...timeoutPids].some(isRunning), { timeoutMs: 3_000 });
      expect(runner.logTail()).toMatch(/stopping: terminating the running long-job/);
      expect(runLines(runner)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'SIGTERM while waiting for the next elapse exits 0 at once (the sleep does not hold it)',
    async () => {
      const runner = start([FAR_AWAY, '0', '10', '-', '--', '/bin/true']);
      await waitUntil('the start line', () => /next=2099-01-01T00:00:00Z/.test(runner.logTail()), { timeoutMs: 15_000, process: runner });
      await waitUntil('the runner to sleep', () => childrenOf(runner.pid).some((child) => child.comm === 'sleep'), { timeoutMs: 10_000, process: runner });
      const sleepPids = childrenOf(runner.pid).map((child) => child.pid);
      const sent = Date.now();
      process.kill(runner.pid, 'SIGTERM');
      expect(await exitWithin(runner, 5_000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - sent).toBeLessThan(2_000);
      await waitUntil(`its sleep ${sleepPids.join(' ')} to be gone`, () => !sleepPids.some(isRunning), { timeoutMs: 3_000 });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'the argv reaches the job word for word: spaces, quotes, $, glob, empty, backslash, newline',
    async () => {
      const out = file('argv');
      const argv = ['a b', "it's", '"double"', '$HOME', '*', '', 'back\\slash', 'new\nline', '--', '-x'];
      const runner = start([FAR_AWAY, '0', '10', '0', '--', 'bash', '-c', 'printf "%s\\0" "$@" > "$0"', out, ...argv]);
      await waitUntil('the run', () => runLines(runner).length >= 1, { timeoutMs: 15_000, process: runner });
      expect(runLines(runner)[0]).toMatchObject({ command: 'bash', status: 0 });
      expect(readFileSync(out, 'utf8').split('\0').slice(0, -1)).toEqual(argv);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a random delay of N seconds starts the run within N seconds',
    async () => {
      const out = file('random');
      const runner = start([FAR_AWAY, '2', '10', '0', '--', join(dir, 'append-time'), out]);
      const started = await startLineSeen(runner);
      await waitUntil('the delayed run', () => lines(out).length >= 1, { timeoutMs: 10_000, process: runner });
      expect(times(out)[0] - started).toBeLessThan(2 + 1.5);
      expect(runner.logTail()).toMatch(/randomized_delay=2s/);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a schedule with no elapse left idles after its after-start run instead of exiting',
    async () => {
      const out = file('never');
      const runner = start(['2001-01-01', '0', '10', '0', '--', join(dir, 'append-time'), out]);
      await waitUntil('the idle line', () => /has no elapse after .*: idle until stopped/.test(runner.logTail()), { timeoutMs: 15_000, process: runner });
      expect(lines(out)).toHaveLength(1);
      expect(runner.logTail()).toMatch(/next=never /);
      expect(runner.hasExited()).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an invalid schedule exits non-zero at once, naming it',
    async () => {
      const result = await runCommand(script, { args: ['Sun *-*-* 25:00:00', '0', '10', '-', '--', '/bin/true'], timeoutMs: 10_000, node: true });
      expect(result.code).toBe(2);
      expect(result.durationMs).toBeLessThan(5_000);
      expect(result.stderr).toContain("SCHEDULE: 'Sun *-*-* 25:00:00' is not a systemd calendar expression");
      expect(result.stdout).toBe('');
    },
    TEST_TIMEOUT_MS,
  );

  test.each<[string, string[], RegExp]>([
    ['no "--"', [EVERY_2S, '0', '10', '-', '/bin/true', 'x'], /usage: run-on-schedule SCHEDULE/],
    ['no command', [EVERY_2S, '0', '10', '-', '--'], /usage: run-on-schedule SCHEDULE/],
    ['a zero timeout', [EVERY_2S, '0', '0', '-', '--', '/bin/true'], /TIMEOUT_SECONDS: got '0'/],
    ['a leading zero (bash would read octal)', [EVERY_2S, '08', '10', '-', '--', '/bin/true'], /RANDOMIZED_DELAY_SECONDS: got '08'/],
    ['an after-start delay with a unit', [EVERY_2S, '0', '10', '30s', '--', '/bin/true'], /AFTER_START_DELAY_SECONDS: got '30s'/],
  ])('refuses %s', async (_what, args, message) => {
    const result = await runCommand(script, { args, timeoutMs: 10_000, node: true });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
