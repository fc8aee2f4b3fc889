/**
 * Helpers for tests that run real processes (etcd, Patroni, PostgreSQL, HAProxy) on loopback.
 *
 * Rules they keep: every process is remembered by its PID and stopped by that PID only; every
 * wait is bounded and says, when it gives up, what it waited for and what the process logged.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { ensureNodeRoot, inRootCommand, rootOwnerIds, rootUser } from '../../src/runner/node-root';
import { asUserCommand } from '../../src/runner/processes';

/** Run a process as another OS user. setpriv execs (no fork), so the PID we hold is the program's. */
export interface RunAs {
  readonly user: string;
  /** @default - the user's primary group */
  readonly group?: string;
}

export interface StartOptions {
  readonly args?: readonly string[];
  /** Added to (and overriding) this process's environment. */
  readonly env?: Record<string, string>;
  /**
   * Start from this process's environment; false gives only a system PATH (plus HOME/USER for
   * `runAs`), so nothing from the test runner (pyenv, PATRONI_*, ETCD_*) leaks into the program.
   * @default true
   */
  readonly inheritEnv?: boolean;
  readonly runAs?: RunAs;
  readonly cwd?: string;
  /**
   * A node program: run it from the node runtime root (Debian 13, the binaries the nodes get),
   * with this machine's temp directory bound in at its own path, and `runAs` the root's user.
   * Without it, the command runs on this machine (shellcheck, systemd-analyze, cloud-init).
   */
  readonly node?: boolean;
}

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** The last lines of stdout and stderr, interleaved as they arrived. */
  logTail(lines?: number): string;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

const LOG_LIMIT_BYTES = 256 * 1024;
const ENSURE_PACKAGES = 'bash scripts/ensure-debian-packages.sh';

let nodeRoot: string | undefined;

/** The node runtime root, built on first use (once per machine; `npm test` builds it first). */
export function testNodeRoot(): string {
  nodeRoot ??= ensureNodeRoot();
  return nodeRoot;
}

/** Fails (never skips) when a binary is missing, saying how to install it. */
export function requireBinaries(binaries: readonly string[]): void {
  const missing = binaries.filter((binary) => !isExecutable(binary));
  if (missing.length > 0) {
    throw new Error(`Missing ${missing.join(', ')}: run \`${ENSURE_PACKAGES}\` to install the Debian packages the tests use.`);
  }
}

/** Fails (never skips) when the node runtime root lacks a program, saying how to get it. */
export function requireNodeBinaries(binaries: readonly string[]): void {
  const root = testNodeRoot();
  const missing = binaries.filter((binary) => !isExecutable(path.join(root, binary)));
  if (missing.length > 0) {
    throw new Error(`The node runtime root ${root} has no ${missing.join(', ')}: add its package to assets/runtime/node-root.packages (a new root is built).`);
  }
}

function isExecutable(binary: string): boolean {
  const candidates = binary.includes('/') ? [binary] : (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, binary));
  return candidates.some((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return fs.statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * The command line that runs `command` as another user, keeping the PID (setpriv execs), from the
 * node runtime root when `node` (every step there execs too).
 */
export function commandAs(runAs: RunAs | undefined, command: string, args: readonly string[], node = false): [string, string[]] {
  const argv = runAs ? asUserCommand(runAs.user, runAs.group ?? runAs.user, [command, ...args]) : [command, ...args];
  const [file, ...rest] = node ? inRootCommand({ root: testNodeRoot(), binds: [os.tmpdir()] }, argv) : argv;
  return [file, rest];
}

/** Starts a long-running process and keeps its output in memory for error messages. */
export function startProcess(name: string, command: string, options: StartOptions = {}): RunningProcess {
  const [file, argv] = commandAs(options.runAs, command, options.args ?? [], options.node);
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: environment(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);

  let log = '';
  const keep = (chunk: Buffer) => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT_BYTES) log = log.slice(-LOG_LIMIT_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });

  return {
    name,
    pid: child.pid,
    child,
    exited,
    hasExited: () => done,
    logTail: (lines = 30) => log.split('\n').slice(-lines - 1).join('\n'),
  };
}

/** Runs a command to completion (bounded), capturing its output. Never throws on a non-zero exit. */
export function runCommand(
  command: string,
  options: StartOptions & { readonly timeoutMs?: number } = {},
): Promise<CommandResult> {
  const [file, argv] = commandAs(options.runAs, command, options.args ?? [], options.node);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: environment(options),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started }));
  });
}

/** Waits until host:port accepts a TCP connection; fails early if the process dies. */
export async function waitForPort(
  host: string,
  port: number,
  options: { readonly timeoutMs?: number; readonly process?: RunningProcess } = {},
): Promise<void> {
  await waitUntil(`${host}:${port} to accept connections`, () => canConnect(host, port), options);
}

/**
 * Polls `check` until it returns true, at most `timeoutMs`. On timeout (or if `process` exits
 * first) the error names what was awaited and shows the process's log tail.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number; readonly process?: RunningProcess } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  const proc = options.process;
  for (;;) {
    if (await check()) return;
    if (proc?.hasExited()) {
      throw new Error(`Gave up waiting for ${what}: ${proc.name} (pid ${proc.pid}) exited.\n--- ${proc.name} log tail ---\n${proc.logTail()}`);
    }
    if (Date.now() >= deadline) {
      const tail = proc ? `\n--- ${proc.name} (pid ${proc.pid}) log tail ---\n${proc.logTail()}` : '';
      throw new Error(`Gave up waiting for ${what} after ${timeoutMs} ms.${tail}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}

/** True when something accepts TCP connections on host:port (used to check a port is free, too). */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Stops one process by its PID: SIGTERM, then SIGKILL if it is still running after `graceMs`. */
export async function stopProcess(proc: RunningProcess, graceMs = 10_000): Promise<void> {
  if (proc.hasExited()) return;
  signal(proc.pid, 'SIGTERM');
  if (!(await exitsWithin(proc, graceMs))) {
    signal(proc.pid, 'SIGKILL');
    if (!(await exitsWithin(proc, 5_000))) throw new Error(`${proc.name} (pid ${proc.pid}) survived SIGKILL for 5 s`);
  }
}

function exitsWithin(proc: RunningProcess, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void proc.exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // already gone is fine
  }
}

/** A fresh directory under the OS temp dir, optionally handed to another user (with mode 0700). */
export function makeTempDir(prefix: string, options: { readonly owner?: string } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  if (options.owner) chownTo(dir, options.owner);
  return dir;
}

/** Gives a path (recursively) to a user and its primary group. */
export function chownTo(target: string, user: string): void {
  const { uid, gid } = userIds(user);
  const walk = (p: string) => {
    fs.chownSync(p, uid, gid);
    if (fs.statSync(p).isDirectory()) for (const entry of fs.readdirSync(p)) walk(path.join(p, entry));
  };
  walk(target);
}

export function removeTempDir(dir: string | undefined): void {
  if (dir && dir.startsWith(os.tmpdir() + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Stops (SIGTERM, by PID) what a failed test left running under `dir` (a backend, a pg_basebackup,
 * an archiver: ours, found by command line or working directory), waits up to 15 s for it to
 * exit, then removes `dir`.
 */
export async function removeTempDirAndProcesses(dir: string | undefined): Promise<void> {
  if (!dir) return;
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await waitUntil('processes under the test dir to exit', () => processesUnder(dir).length === 0, { timeoutMs: 15_000 }).catch(() => undefined);
  removeTempDir(dir);
}

/** How long a test's steps took, printed together at the end. */
export class StepTimings {
  private readonly entries: [string, number][] = [];

  add(what: string, ms: number): void {
    this.entries.push([what, ms]);
  }

  async timed<T>(what: string, action: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await action();
    } finally {
      this.add(what, Date.now() - started);
    }
  }

  print(title: string): void {
    if (this.entries.length > 0) console.log(`${title} (ms): ${this.entries.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }
}

/** A user's uid and primary gid in the node runtime root: the users the node programs run as. */
export function userIds(user: string): { uid: number; gid: number } {
  const found = rootUser(testNodeRoot(), user);
  if (!found) throw new Error(`no user ${user} in the node runtime root ${testNodeRoot()}`);
  return { uid: found.uid, gid: found.gid };
}

/** uid and gid of "user:group" in the node runtime root. */
export const ownerIdsInRoot = (owner: string) => rootOwnerIds(testNodeRoot(), owner);

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function environment(options: StartOptions): NodeJS.ProcessEnv {
  const base = options.inheritEnv === false ? { PATH: SYSTEM_PATH, LANG: 'C.UTF-8' } : process.env;
  return { ...base, ...(options.runAs ? homeOf(options.runAs.user, options.node) : {}), ...options.env };
}

/** HOME, USER and LOGNAME of a user: the root's, for a node program. */
function homeOf(user: string, node = false): Record<string, string> {
  const home = node ? rootUser(testNodeRoot(), user)?.home : execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':')[5];
  return home ? { HOME: home, USER: user, LOGNAME: user } : { USER: user, LOGNAME: user };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** PIDs of processes whose command line or working directory is under `dir` (to clean up after a failed test). */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // a process that just exited
      }
      if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}
