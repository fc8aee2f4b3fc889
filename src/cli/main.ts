import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { validateHaproxyFrontendsSpec } from '../spec/haproxy-frontends';
import { validatePatroniClusterSpec } from '../spec/patroni-cluster';
import { SpecError } from '../spec/problems';
import { FAILOVER_PROFILES, FailoverProfile } from '../spec/failover';
import { endpointsPath, localDown, localStatus, localUp } from '../runner/local-cluster';
import { LOCAL_TOPOLOGIES } from '../../stacks/local-topologies';
import { REFERENCE_STACKS } from '../../stacks/reference-stacks';
import { App } from '../cdktf';
import { localRunJob } from '../runner/local-cluster';
import { localPromote } from '../runner/local-promote';
import { recoveryReport } from '../review/recovery-objectives';
import { tmpdir } from 'node:os';

/** Under /tmp: the services run as postgres, etcd and haproxy and must reach their directories. */
const DEFAULT_LOCAL_DIR = '/tmp/pgha-local';

const USAGE = `pgha: tools for cdktf-postgres-ha

  pgha validate <patroni-cluster|haproxy-frontends> <spec.json>
      Checks a spec (the construct's props as JSON, without "platform"/"cluster") and prints
      it with defaults applied, or every problem with its field. Exit 1 when invalid.
  pgha nodes [--dir cdktf.out] [--stack aws-ha]
      Lists the nodes of a synthesized stack and the files written for each.
  pgha local up [--stack aws-ha] [--dir /tmp/pgha-local] [--profile default|fast] [--address-block 42]
      Runs the stack's topology on this machine: every node at its own 127.<block>.x.y address,
      its files under DIR/nodes/<node>, its services as processes (as root: under their own
      users). Returns when the cluster is healthy and writes DIR/endpoints.json.
  pgha local status [--dir /tmp/pgha-local]
      Each member's role, state, timeline and lag, and the processes.
  pgha local down [--dir /tmp/pgha-local]
      Stops every process \`up\` started.
  pgha local run-job <node> <job> [--dir /tmp/pgha-local]
  pgha local promote <node> [--dir /tmp/pgha-local]
      A PrimaryWithReplicas cluster: stop the primary, promote the standby <node>, and point the
      other standbys at it (the manual failover, scripted).
      Runs a node's scheduled job now, as its timer would (pgha-backup-full, pgha-backup-diff,
      pgha-check, pgha-verify, pgha-restore-drill, pgha-dump): it acts only on the node whose role
      fits, and prints its output.
  pgha plan-report [--stack aws-ha] [--restore-seconds N]
      The RPO/RTO table of each cluster of the stack, from its settings (replication mode,
      failover timing, archive_timeout, backups); N is a measured restore time to plan with.
  pgha help
`;

const VALIDATORS: Record<string, (input: unknown) => unknown> = {
  'patroni-cluster': validatePatroniClusterSpec,
  'haproxy-frontends': validateHaproxyFrontendsSpec,
};

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const console_: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 && args[index + 1] ? args[index + 1] : fallback;
}

function validate(args: string[], io: Output): number {
  const [kind, file] = args;
  const validator = VALIDATORS[kind];
  if (!validator || !file) {
    io.err(`pgha validate: expected a kind (${Object.keys(VALIDATORS).join(' or ')}) and a JSON file.\n`);
    return 2;
  }
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    io.err(`pgha validate: cannot read ${file} as JSON: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    io.out(`${JSON.stringify(validator(input), null, 2)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    io.err(`${file}: ${error.message}\n`);
    return 1;
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function nodes(args: string[], io: Output): number {
  const stackDir = join(option(args, '--dir', 'cdktf.out'), 'stacks', option(args, '--stack', 'aws-ha'), 'nodes');
  if (!existsSync(stackDir)) {
    io.err(`pgha nodes: ${stackDir} does not exist: run \`npm run synth\` first (or pass --dir/--stack).\n`);
    return 1;
  }
  for (const node of readdirSync(stackDir).sort()) {
    io.out(`${node}\n`);
    for (const file of filesUnder(join(stackDir, node)).sort()) io.out(`  /${relative(join(stackDir, node), file)}\n`);
  }
  return 0;
}

async function local(args: string[], io: Output): Promise<number> {
  const [action] = args;
  const dir = option(args, '--dir', DEFAULT_LOCAL_DIR);
  try {
    if (action === 'up') {
      const stack = option(args, '--stack', 'aws-ha');
      const topology = LOCAL_TOPOLOGIES[stack];
      if (!topology) {
        io.err(`pgha local up: no stack "${stack}"; expected one of ${Object.keys(LOCAL_TOPOLOGIES).join(', ')}\n`);
        return 2;
      }
      const profile = option(args, '--profile', '');
      if (profile && !(profile in FAILOVER_PROFILES)) {
        io.err(`pgha local up: --profile: got "${profile}"; expected ${Object.keys(FAILOVER_PROFILES).join(' or ')}\n`);
        return 2;
      }
      const addressBlock = Number(option(args, '--address-block', '42'));
      const started = Date.now();
      const endpoints = await localUp({
        dir,
        platform: { addressBlock },
        build: topology((profile || undefined) as FailoverProfile | undefined),
        progress: (line) => io.out(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`),
      });
      const pooled = endpoints.pooledWriter && endpoints.pooledReader ? `, pooled writer ${endpoints.pooledWriter.host}:${endpoints.pooledWriter.port}, pooled reader ${endpoints.pooledReader.host}:${endpoints.pooledReader.port}` : '';
      io.out(`healthy: writer ${endpoints.writer.host}:${endpoints.writer.port}, reader ${endpoints.reader.host}:${endpoints.reader.port}${pooled}; details in ${endpointsPath(dir)}\n`);
      return 0;
    }
    if (action === 'down') {
      const report = await localDown(dir);
      io.out(`stopped ${report.stopped.length} process(es)${report.killed.length ? `, killed ${report.killed.join(', ')}` : ''}\n`);
      if (report.leftBehind.length > 0) {
        io.err(`still running: ${report.leftBehind.join(', ')}\n`);
        return 1;
      }
      return 0;
    }
    if (action === 'status') {
      io.out(await localStatus(dir));
      return 0;
    }
    if (action === 'run-job') {
      const [, node, job] = args;
      if (!node || !job || node.startsWith('--') || job.startsWith('--')) {
        io.err('pgha local run-job: expected a node and a job, e.g. `pgha local run-job main-pg-1 pgha-backup-full`\n');
        return 2;
      }
      const result = await localRunJob(dir, node, job);
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
      const report = await localPromote(dir, node);
      io.out(`${report.fenced ? `stopped the old primary ${report.fenced}; ` : ''}promoted ${report.promoted}; streaming from it now: ${report.repointed.join(', ') || 'no standby'}\n`);
      return 0;
    }
    io.err(`pgha local: expected up, status, down, run-job or promote\n`);
    return 2;
  } catch (error) {
    io.err(`${(error as Error).message}\n`);
    return 1;
  }
}

function planReport(args: string[], io: Output): number {
  const name = option(args, '--stack', 'aws-ha');
  const build = REFERENCE_STACKS[name];
  if (!build) {
    io.err(`pgha plan-report: no stack "${name}"; expected one of ${Object.keys(REFERENCE_STACKS).join(', ')}\n`);
    return 2;
  }
  const given = option(args, '--restore-seconds', '');
  const restoreSeconds = given === '' ? undefined : Number(given);
  if (restoreSeconds !== undefined && !(Number.isFinite(restoreSeconds) && restoreSeconds > 0)) {
    io.err(`pgha plan-report: --restore-seconds: got "${given}"; expected a positive number of seconds, e.g. 300\n`);
    return 2;
  }
  // Built in memory, never synthesized to disk.
  const stack = build(new App({ outdir: join(tmpdir(), 'pgha-plan-report') }));
  io.out(`## Recovery objectives of stack ${name}\n\n${recoveryReport(stack, restoreSeconds)}`);
  return 0;
}

export async function main(args: string[], io: Output = console_): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'validate':
      return validate(rest, io);
    case 'nodes':
      return nodes(rest, io);
    case 'local':
      return local(rest, io);
    case 'plan-report':
      return planReport(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return 0;
    default:
      io.err(`pgha: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
