import { POSTGRES_PACKAGE } from '../model/layout';
import { join, resolve } from 'node:path';
import { readStackListing, readStackOutput } from '../constructs/stack-output';
import { LocalArchiveStore } from '../platform/local/archive-store';
import { LocalPlatformRequest } from '../platform/stack-platform';
import { recoveryReportOf } from '../review/recovery-objectives';
import { FAILOVER_PROFILES, FailoverProfile } from '../spec/failover';
import { VALIDATE_KINDS, validateCommand } from './validate-command';
import { Synthesized, UserAppError, chooseStack, findProject, readSynthesized, synthesizeApp } from './user-app';

/** Under /tmp: the services run as postgres, etcd and haproxy and must reach their directories. */
const DEFAULT_LOCAL_DIR = '/tmp/pgha-local';

const USAGE = `pgha: tools for cdktf-postgres-ha

Run it in your cdktf project: it finds the nearest cdktf.json and runs its "app" as \`cdktf synth\`
does, so every command sees the stacks of your app (--stack picks one when there are several).

  pgha validate <kind> <spec.json>
      Checks a construct's or platform's props as JSON (construct references such as "platform"
      or "cluster" are set aside) and prints them with defaults applied, or every problem with
      its field, what was given, what is expected and the fix. Exit 1 when invalid. Kinds:
      ${Object.keys(VALIDATE_KINDS).join(', ')}.
  pgha nodes [--stack S] [--dir SYNTH_DIR]
      Lists the nodes of a stack and the files written for each. --dir reads an app synthesized
      already (e.g. cdktf.out) instead of running the app.
  pgha plan-report [--stack S] [--restore-seconds N] [--dir SYNTH_DIR]
      The RPO/RTO table of each cluster of the stack, from its settings (replication mode,
      failover timing, archive_timeout, backups); N is a measured restore time to plan with.
  pgha local up [--stack S] [--dir /tmp/pgha-local] [--profile default|fast] [--address-block 42]
                [--archive-dir DIR [--archive-s3-port PORT]]
      Runs the stack's topology on this machine: the app builds the stack on the local platform
      (the stack gets its platform from stackPlatform()), every node at its own 127.<block>.x.y
      address, its files under DIR/nodes/<node>, its services as processes (as root: under their
      own users). Archives live in DIR/archive unless --archive-dir names a store to share (a
      directory, or with --archive-s3-port the local S3-compatible server over it): a stack that
      restores from an archive finds there what another cluster wrote. Returns when the cluster
      is healthy and writes DIR/endpoints.json.
  pgha local runtime
      Builds the node runtime root when this machine has none (Debian 13 from Debian's archive
      with debootstrap, ~2 min and ~950 MB under /var/cache/pgha, once per machine; \`local up\`
      builds it too), then prints its directory and the versions of the node programs in it.
  pgha local status [--dir /tmp/pgha-local]
      Each member's role, state, timeline and lag, and the processes.
  pgha local down [--dir /tmp/pgha-local]
      Stops every process \`up\` started.
  pgha local run-job <node> <job> [--dir /tmp/pgha-local]
      Runs a node's scheduled job now, as its timer would (pgha-backup-full, pgha-backup-diff,
      pgha-check, pgha-verify, pgha-restore-drill, pgha-dump): it acts only on the node whose role
      fits, and prints its output.
  pgha local promote <node> [--dir /tmp/pgha-local]
      A PrimaryWithReplicas cluster: stop the primary, promote the standby <node>, and point the
      other standbys at it (the manual failover, scripted).
  pgha help
      This text, and the stacks of the app in this directory.
`;

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const console_: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** The value after `name`, or `fallback` when the option is absent; an option without a value is refused. */
function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  if (index < 0) return fallback;
  const value = args[index + 1];
  if (value === undefined || value === '' || value.startsWith('--')) throw new UserAppError(`${name}: expected a value after it, e.g. ${name} ${fallback || '<value>'}`);
  return value;
}

/**
 * The app's synthesized stacks: read from `--dir` when given (an app synthesized already), else
 * synthesized now from the project's cdktf.json.
 */
function synthesized(args: string[], cwd: string, localRequest?: LocalPlatformRequest): { app: Synthesized; where: string } {
  const given = option(args, '--dir', '');
  if (given) return { app: readSynthesized(resolve(cwd, given)), where: given };
  const project = findProject(cwd);
  if (!project) {
    throw new UserAppError(`no cdktf.json in ${cwd} or above: run pgha in your cdktf project (or pass --dir <synthesized app>, e.g. cdktf.out)`);
  }
  return { app: synthesizeApp(project, { localRequest }), where: `the app of ${project.configFile}` };
}

/** The stack named by --stack, or the only one; its output directory is read before `app` is disposed. */
function withStack<T>(args: string[], cwd: string, use: (stackDir: string, stack: string) => T): T {
  const named = option(args, '--stack', '') || undefined;
  const { app, where } = synthesized(args, cwd);
  try {
    const stack = chooseStack(app, named, where);
    return use(app.stackDir(stack), stack);
  } finally {
    app.dispose();
  }
}

/** The stack's nodes and their files, as its pgha.json lists them (an output directory may hold leftovers of earlier synths). */
function nodes(args: string[], io: Output, cwd: string): number {
  return withStack(args, cwd, (stackDir) => {
    for (const node of [...readStackListing(stackDir).nodes].sort((a, b) => a.plan.name.localeCompare(b.plan.name))) {
      io.out(`${node.plan.name}\n`);
      for (const path of node.files.map((f) => f.path).sort()) io.out(`  ${path}\n`);
    }
    return 0;
  });
}

/** --archive-dir and --archive-s3-port: an archive store shared with other local clusters. */
function archiveStore(args: string[], cwd: string): LocalArchiveStore | undefined {
  const dir = option(args, '--archive-dir', '');
  const port = option(args, '--archive-s3-port', '');
  if (!dir) {
    if (port) throw new UserAppError('pgha local up: --archive-s3-port: expected --archive-dir too (the directory the local S3 server keeps its objects in)');
    return undefined;
  }
  if (!port) return { type: 'posix', dir: resolve(cwd, dir) };
  const number = Number(port);
  if (!Number.isInteger(number) || number < 1024 || number > 65535) throw new UserAppError(`pgha local up: --archive-s3-port: got "${port}"; expected a port number 1024-65535, e.g. 9000`);
  return { type: 's3', dir: resolve(cwd, dir), port: number };
}

async function localUpCommand(args: string[], io: Output, cwd: string): Promise<number> {
  const dir = resolve(cwd, option(args, '--dir', DEFAULT_LOCAL_DIR));
  const profile = option(args, '--profile', '');
  if (profile && !(profile in FAILOVER_PROFILES)) {
    io.err(`pgha local up: --profile: got "${profile}"; expected ${Object.keys(FAILOVER_PROFILES).join(' or ')}\n`);
    return 2;
  }
  const block = option(args, '--address-block', '42');
  const addressBlock = Number(block);
  if (!Number.isInteger(addressBlock) || addressBlock < 1 || addressBlock > 254) {
    io.err(`pgha local up: --address-block: got "${block}"; expected 1-254 (the second octet of 127.x.y.z), e.g. 42\n`);
    return 2;
  }
  const store = archiveStore(args, cwd) ?? { type: 'posix', dir: join(dir, 'archive') };
  const started = Date.now();
  const progress = (line: string) => io.out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  let stack = option(args, '--stack', '');
  if (!stack) {
    // Which stack: the only one of the app built with this library.
    const { app, where } = synthesized([], cwd);
    try {
      stack = chooseStack(app, undefined, where);
    } finally {
      app.dispose();
    }
  }
  const request: LocalPlatformRequest = {
    stack,
    platform: { addressBlock, nodesDir: join(dir, 'nodes'), archiveStore: store, ...(profile ? { failover: profile as FailoverProfile } : {}) },
  };
  const { app, where } = synthesized([], cwd, request);
  let description;
  try {
    chooseStack(app, stack, where);
    description = readStackOutput(app.stackDir(stack));
  } finally {
    app.dispose();
  }
  progress(`stack ${stack} built on the local platform: ${description.nodes.length} nodes`);
  // Loaded only now: a synth never loads the runner (pg, processes).
  const { endpointsPath, localUp } = await import('../runner/local-cluster');
  const endpoints = await localUp({ dir, stack: description, progress });
  const pooled = endpoints.pooledWriter && endpoints.pooledReader ? `, pooled writer ${endpoints.pooledWriter.host}:${endpoints.pooledWriter.port}, pooled reader ${endpoints.pooledReader.host}:${endpoints.pooledReader.port}` : '';
  io.out(`healthy: writer ${endpoints.writer.host}:${endpoints.writer.port}, reader ${endpoints.reader.host}:${endpoints.reader.port}${pooled}; details in ${endpointsPath(dir)}\n`);
  return 0;
}

/** The packages whose versions `pgha local runtime` prints. */
const RUNTIME_PROGRAMS = [POSTGRES_PACKAGE, 'patroni', 'etcd-server', 'haproxy', 'pgbackrest', 'pgbouncer', 'prometheus-postgres-exporter', 'prometheus-node-exporter', 'prometheus'];

async function localRuntimeCommand(io: Output): Promise<number> {
  const { ensureNodeRoot, nodeRootVersions } = await import('../runner/node-root');
  const root = ensureNodeRoot({ log: (line) => io.err(`${line}\n`) });
  const versions = nodeRootVersions(root) ?? {};
  io.out(`node runtime root: ${root}\n`);
  for (const name of RUNTIME_PROGRAMS) io.out(`  ${name.padEnd(30)} ${versions[name] ?? '(not installed)'}\n`);
  return 0;
}

async function local(args: string[], io: Output, cwd: string): Promise<number> {
  const [action] = args;
  const dir = resolve(cwd, option(args, '--dir', DEFAULT_LOCAL_DIR));
  if (action === 'up') return localUpCommand(args, io, cwd);
  if (action === 'runtime') return localRuntimeCommand(io);
  if (!['down', 'status', 'run-job', 'promote'].includes(action ?? '')) {
    io.err(`pgha local: expected up, runtime, status, down, run-job or promote\n`);
    return 2;
  }
  const runner = await import('../runner/local-cluster');
  if (action === 'down') {
    const report = await runner.localDown(dir);
    io.out(`stopped ${report.stopped.length} process(es)${report.killed.length ? `, killed ${report.killed.join(', ')}` : ''}\n`);
    if (report.leftBehind.length > 0) {
      io.err(`still running: ${report.leftBehind.join(', ')}\n`);
      return 1;
    }
    return 0;
  }
  if (action === 'status') {
    io.out(await runner.localStatus(dir));
    return 0;
  }
  if (action === 'run-job') {
    const [, node, job] = args;
    if (!node || !job || node.startsWith('--') || job.startsWith('--')) {
      io.err('pgha local run-job: expected a node and a job, e.g. `pgha local run-job main-pg-1 pgha-backup-full`\n');
      return 2;
    }
    const result = await runner.localRunJob(dir, node, job);
    io.out(result.output);
    io.out(`${job} on ${node}: exit ${result.exitCode} after ${(result.durationMs / 1000).toFixed(1)} s\n`);
    return result.exitCode === 0 ? 0 : 1;
  }
  if (action === 'promote') {
    const [, node] = args;
    if (!node || node.startsWith('--')) {
      io.err('pgha local promote: expected the standby to promote, e.g. `pgha local promote main-pg-2` (a PrimaryWithReplicas cluster)\n');
      return 2;
    }
    const { localPromote } = await import('../runner/local-promote');
    const report = await localPromote(dir, node);
    io.out(`${report.fenced ? `stopped the old primary ${report.fenced}; ` : ''}promoted ${report.promoted}; streaming from it now: ${report.repointed.join(', ') || 'no standby'}\n`);
    return 0;
  }
  io.err(`pgha local: expected up, runtime, status, down, run-job or promote\n`);
  return 2;
}

function planReport(args: string[], io: Output, cwd: string): number {
  const given = option(args, '--restore-seconds', '');
  const restoreSeconds = given === '' ? undefined : Number(given);
  if (restoreSeconds !== undefined && !(Number.isFinite(restoreSeconds) && restoreSeconds > 0)) {
    io.err(`pgha plan-report: --restore-seconds: got "${given}"; expected a positive number of seconds, e.g. 300\n`);
    return 2;
  }
  return withStack(args, cwd, (stackDir, stack) => {
    io.out(`## Recovery objectives of stack ${stack}\n\n${recoveryReportOf(readStackOutput(stackDir), restoreSeconds)}`);
    return 0;
  });
}

/** The usage, then the stacks of the app in this directory, when there is one. */
function help(io: Output, cwd: string): number {
  io.out(USAGE);
  const project = findProject(cwd);
  if (!project) {
    io.out(`\nNo cdktf.json in ${cwd} or above: run pgha in a cdktf project to see its stacks.\n`);
    return 0;
  }
  try {
    const app = synthesizeApp(project);
    try {
      const lines = app.pghaStacks.map((stack) => {
        const kinds = readStackListing(app.stackDir(stack)).platforms.map((p) => p.kind);
        return `  ${stack} (${kinds.join(', ') || 'no platform'})`;
      });
      io.out(`\nStacks of ${project.configFile} with clusters:\n${lines.join('\n') || '  (none)'}\n`);
    } finally {
      app.dispose();
    }
  } catch (error) {
    io.out(`\nThe stacks of ${project.configFile} are unknown: ${(error as Error).message}\n`);
  }
  return 0;
}

/** Runs one pgha command; `cwd` is where it looks for the project's cdktf.json. Returns the exit code. */
export async function main(args: string[], io: Output = console_, cwd: string = process.cwd()): Promise<number> {
  try {
    return await run(args, io, cwd);
  } catch (error) {
    // What the user can act on is said plainly; a failed `local up` names its step and log.
    io.err(`${(error as Error).message}\n`);
    if (process.env.PGHA_DEBUG) io.err(`${(error as Error).stack}\n`);
    return error instanceof UserAppError ? 2 : 1;
  }
}

async function run(args: string[], io: Output, cwd: string): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'validate':
      return validateCommand(rest, io);
    case 'nodes':
      return nodes(rest, io, cwd);
    case 'local':
      return local(rest, io, cwd);
    case 'plan-report':
      return planReport(rest, io, cwd);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return help(io, cwd);
    default:
      io.err(`pgha: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
