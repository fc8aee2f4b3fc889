/**
 * Runs the service and job containers of a synthesized Docker stack on this machine, which has no
 * Docker engine, as close to Docker as a test can get without one:
 * - each container is a process in a mount namespace of its own (`unshare --mount`, private
 *   propagation), where /etc, /usr/local, /var and /run are overlays of this machine's (which has
 *   the same Debian packages as the image) with a writable layer per container, as an image's
 *   filesystem is;
 * - its uploads are written there as Docker writes them (root-owned, with their permissions), and
 *   its volumes are host directories bind-mounted at their container paths, shared by the
 *   containers that mount the same volume;
 * - it starts as root with exactly its synthesized command and environment (random_password
 *   references replaced by generated values), Docker's PATH and HOSTNAME;
 * - its health check runs inside its namespace (nsenter), and it stops with SIGTERM, then SIGKILL
 *   after its stop timeout, as `docker stop` does.
 * The network is not simulated: the stack's subnet must be a loopback one (127.x), where every
 * address is this machine's. Anchors (which only hold a network namespace) are not run.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { SynthesizedStack } from './aws-stack';
import { CommandResult, RunningProcess, runCommand, startProcess, stopProcess } from './processes';

type Resource = Record<string, unknown>;

interface Upload {
  readonly file: string;
  readonly content: string;
  readonly permissions: string;
}

export interface SimulatedContainer {
  readonly name: string;
  /** The synthesized command, references resolved. */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly process: RunningProcess;
  readonly healthcheck?: readonly string[];
  readonly stopTimeoutSeconds: number;
}

export interface DockerSimulation {
  readonly containers: readonly SimulatedContainer[];
  /** random_password logical id -> the value given to it. */
  readonly passwords: ReadonlyMap<string, string>;
  container(name: string): SimulatedContainer;
  /** Runs the container's health check in its namespace, as Docker would. */
  healthcheck(name: string): Promise<CommandResult>;
  /** `docker stop` for every container; resolves with each one's stop time and whether it needed SIGKILL. */
  stop(): Promise<{ name: string; ms: number; killed: boolean }[]>;
}

/** The image's PATH (Debian's default), which Docker sets when the container gives none. */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** What a container's writable layer covers: every path the uploads, volumes and services write. */
const OVERLAID = ['/etc', '/usr/local', '/var', '/run'];
const DOCKER_STOP_TIMEOUT_SECONDS = 10;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Starts every service and job container of `synth` (those in another container's network namespace). */
export function simulateDockerStack(synth: SynthesizedStack, dir: string): DockerSimulation {
  const resources = synth.resource as Record<string, Record<string, Resource>>;
  const passwords = new Map<string, string>();
  const references = new Map<string, string>();
  for (const [id, password] of Object.entries(resources.random_password ?? {})) {
    const value = Array.from({ length: Number(password.length) }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');
    passwords.set(id, value);
    references.set(`random_password.${id}.result`, value);
  }
  for (const [id, volume] of Object.entries(resources.docker_volume ?? {})) references.set(`docker_volume.${id}.name`, String(volume.name));

  // Terraform's escapes back to text, and references to their values; anything else is a reference this simulation cannot give.
  const resolve = (text: string) =>
    text.replace(/\$\$\{|%%\{|\$\{([^}]+)\}/g, (match, reference: string | undefined) => {
      if (match === '$${') return '${';
      if (match === '%%{') return '%{';
      const value = references.get(reference!);
      if (value === undefined) throw new Error(`docker simulation: cannot resolve \${${reference}} (only random passwords and volumes are simulated)`);
      return value;
    });

  const containers: SimulatedContainer[] = [];
  const byName = new Map<string, SimulatedContainer>();
  for (const container of Object.values(resources.docker_container ?? {})) {
    if (!String(container.network_mode ?? '').startsWith('container:')) continue;
    const name = String(container.name);
    const root = join(dir, 'containers', name);
    // The uploads, staged with Docker's owner (root) and their permissions, then copied into the container's layer.
    const staged = join(root, 'uploads');
    for (const upload of (container.upload as Upload[] | undefined) ?? []) {
      if (!OVERLAID.some((path) => upload.file.startsWith(`${path}/`))) throw new Error(`docker simulation: ${name}: upload ${upload.file} is outside ${OVERLAID.join(', ')}`);
      const target = join(staged, upload.file);
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      writeFileSync(target, resolve(upload.content));
      chmodSync(target, parseInt(upload.permissions, 8));
    }
    const mounts: string[] = [];
    for (const path of OVERLAID) {
      const upper = join(root, 'layer', path);
      const work = join(root, 'work', path);
      mkdirSync(upper, { recursive: true });
      mkdirSync(work, { recursive: true });
      mounts.push(`mount -t overlay overlay -o lowerdir=${path},upperdir=${upper},workdir=${work} ${path}`);
    }
    for (const volume of (container.volumes as Resource[] | undefined) ?? []) {
      const source = join(dir, 'volumes', resolve(String(volume.volume_name)));
      mkdirSync(source, { recursive: true, mode: 0o755 });
      mounts.push(`mkdir -p ${volume.container_path} && mount --bind ${source} ${volume.container_path}`);
    }
    // Into each layer, never onto this machine's own root.
    const copies = OVERLAID.filter((path) => existsSync(join(staged, path))).map((path) => `cp -a ${join(staged, path)}/. ${path}`);
    const setup = [...mounts, ...copies, 'exec "$@"'].join(' && ');
    const command = (container.command as string[]).map(resolve);
    const env: Record<string, string> = { PATH: IMAGE_PATH, HOSTNAME: name };
    for (const entry of (container.env as string[] | undefined) ?? []) {
      const resolved = resolve(entry);
      env[resolved.slice(0, resolved.indexOf('='))] = resolved.slice(resolved.indexOf('=') + 1);
    }
    const process = startProcess(name, '/usr/bin/unshare', { args: ['--mount', '--', '/bin/bash', '-c', setup, 'container-setup', ...command], env, inheritEnv: false });
    const test = (container.healthcheck as { test?: string[] } | undefined)?.test;
    const simulated: SimulatedContainer = {
      name,
      command,
      env,
      process,
      healthcheck: test?.[0] === 'CMD' ? test.slice(1) : undefined,
      stopTimeoutSeconds: Number(container.stop_timeout ?? DOCKER_STOP_TIMEOUT_SECONDS),
    };
    containers.push(simulated);
    byName.set(name, simulated);
  }

  const container = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new Error(`docker simulation: no container ${name} (have ${[...byName.keys()].join(', ')})`);
    return found;
  };
  return {
    containers,
    passwords,
    container,
    healthcheck: (name) => {
      const target = container(name);
      if (!target.healthcheck) throw new Error(`docker simulation: container ${name} has no health check`);
      return runCommand('/usr/bin/nsenter', { args: ['--target', String(target.process.pid), '--mount', '--', ...target.healthcheck], env: target.env, inheritEnv: false, timeoutMs: 10_000 });
    },
    stop: async () =>
      Promise.all(
        containers.map(async (c) => {
          const started = Date.now();
          const graceMs = c.stopTimeoutSeconds * 1000;
          await stopProcess(c.process, graceMs);
          const ms = Date.now() - started;
          return { name: c.name, ms, killed: ms >= graceMs };
        }),
      ),
  };
}

/** Owner (user:group) and octal mode of a path as a process sees it in its mount namespace. */
export function statInNamespace(pid: number, path: string): { owner: string; mode: string } {
  const [owner, mode] = execFileSync('/usr/bin/stat', ['-c', '%U:%G %a', `/proc/${pid}/root${path}`], { encoding: 'utf8' }).trim().split(' ');
  return { owner, mode: mode.padStart(4, '0') };
}
