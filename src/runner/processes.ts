import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { NodeRuntime, inRootCommand } from './node-root';

/** A process started for a node's service, as recorded in the local cluster's state file. */
export interface TrackedProcess {
  readonly node: string;
  readonly service: string;
  readonly pid: number;
  readonly log: string;
  /** Where the service keeps the PID of a child it detaches (postgres under Patroni). */
  readonly detachedPidFile?: string;
  /** How it was started, to start it again. */
  readonly request: StartRequest;
}

export interface StartRequest {
  readonly node: string;
  readonly service: string;
  readonly argv: readonly string[];
  readonly user: string;
  readonly group: string;
  readonly env: Readonly<Record<string, string>>;
  readonly log: string;
  readonly cwd: string;
  readonly detachedPidFile?: string;
  /** A node's program runs from the node runtime root; without one, on this machine (the local S3 server). */
  readonly runtime?: NodeRuntime;
  /** The signal that asks it to stop, as its unit's KillSignal. @default SIGTERM */
  readonly stopSignal?: 'SIGTERM' | 'SIGINT';
}

const isRoot = () => process.getuid?.() === 0;

/** `argv` under another user and group: setpriv switches and execs, so the PID stays the program's. */
export function asUserCommand(user: string, group: string, argv: readonly string[]): string[] {
  return ['/usr/bin/setpriv', `--reuid=${user}`, `--regid=${group}`, '--init-groups', '--', ...argv];
}

/**
 * The command line of a request: under the service's own user (setpriv switches user and execs,
 * so the PID we keep is the program's), from the node runtime root when it has one, where the
 * user is the root's own. Not as root, a host program runs as this process's user.
 */
function commandLine(request: StartRequest): string[] {
  const asUser = asUserCommand(request.user, request.group, request.argv);
  if (request.runtime) {
    if (!isRoot()) throw new Error(`${request.node}/${request.service}: node programs run from the node runtime root through unshare and chroot, which need root; run as root (sudo)`);
    return inRootCommand(request.runtime, asUser);
  }
  return isRoot() ? asUser : [...request.argv];
}

/**
 * Starts a service in its own process group, detached from this process (so `pgha local up` can
 * return and leave the cluster running), with output appended to its log.
 */
export function startProcess(request: StartRequest): TrackedProcess {
  const [command, ...args] = commandLine(request);
  const out = openSync(request.log, 'a');
  try {
    const child = spawn(command, args, {
      cwd: request.cwd,
      env: { ...request.env },
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`cannot start ${request.argv[0]} for ${request.node}`);
    child.unref();
    return { node: request.node, service: request.service, pid: child.pid, log: request.log, detachedPidFile: request.detachedPidFile, request };
  } finally {
    closeSync(out);
  }
}

/** The state letter of a process (R, S, T when stopped, Z for a zombie), or undefined when it is gone. */
export function processState(pid: number): string | undefined {
  try {
    // /proc/PID/stat: "pid (comm) state ...": the comm may hold spaces, the state follows its ")".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Running, and not a zombie: an exited service waits for init to reap it, which can take seconds. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = processState(pid);
  return state !== undefined && state !== 'Z';
}

/** The PID a detached child recorded (first line of postmaster.pid), when that process still runs. */
export function detachedPid(file: string | undefined): number | undefined {
  if (!file || !existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function signal(pid: number, name: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, name);
  } catch {
    // Already gone.
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForExit(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pids.every((pid) => !isAlive(pid))) return true;
    await sleep(100);
  }
  return pids.every((pid) => !isAlive(pid));
}

/**
 * Stops a tracked process: its stop signal, SIGTERM unless its unit says otherwise (Patroni then
 * shuts its postgres down cleanly), and after `graceMs` SIGKILL to its whole process group and to
 * the child it detached. Returns how it went.
 */
export async function stopProcess(tracked: TrackedProcess, graceMs: number): Promise<'stopped' | 'killed' | 'not running'> {
  const detached = detachedPid(tracked.detachedPidFile);
  if (!isAlive(tracked.pid) && detached === undefined) return 'not running';
  signal(tracked.pid, tracked.request.stopSignal ?? 'SIGTERM', false);
  const pids = [tracked.pid, ...(detached ? [detached] : [])];
  if (await waitForExit(pids, graceMs)) return 'stopped';
  signal(tracked.pid, 'SIGKILL', true);
  const stillDetached = detachedPid(tracked.detachedPidFile);
  if (stillDetached) signal(stillDetached, 'SIGKILL', false);
  await waitForExit([...pids, ...(stillDetached ? [stillDetached] : [])], 5_000);
  return 'killed';
}

/** SIGKILL at once, with no grace: the process group and the detached child. For failure tests. */
export function killProcess(tracked: TrackedProcess): void {
  const detached = detachedPid(tracked.detachedPidFile);
  signal(tracked.pid, 'SIGKILL', true);
  if (detached) signal(detached, 'SIGKILL', false);
}

/** The last lines of a log, for error messages. */
export function logTail(file: string, lines = 20): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export const currentUser = () => userInfo().username;

export interface JobResult {
  readonly exitCode: number | null;
  /** Its output (also appended to the job's log). */
  readonly output: string;
  readonly durationMs: number;
}

/**
 * Runs a scheduled job once, as systemd would when its timer fires: under the job's user, in its
 * own process group, killed (group and all) when it outlasts `timeoutMs`.
 */
export function runJob(request: StartRequest, timeoutMs: number, extraEnv: Readonly<Record<string, string>> = {}): Promise<JobResult> {
  const [command, ...args] = commandLine(request);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: request.cwd, env: { ...request.env, ...extraEnv }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.pid && signal(child.pid, 'SIGKILL', true), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      appendFileSync(request.log, `--- ${new Date(started).toISOString()} ${request.service} exit ${exitCode}\n${output}`);
      resolve({ exitCode, output, durationMs: Date.now() - started });
    });
  });
}
