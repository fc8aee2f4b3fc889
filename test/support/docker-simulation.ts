/**
 * Runs the service and job containers of a synthesized Docker stack on this machine, which has no
 * Docker engine, as close to Docker as a test can get without one:
 * - each container is a process in a mount namespace of its own (`unshare --mount`, private
 *   propagation) that runs from the node runtime root (Debian 13 with the node packages: the
 *   image's release and packages; assets/runtime/in-root.sh, then chroot), where the root's /etc,
 *   /usr/local, /var and /run are overlays with a writable layer per container, as an image's
 *   filesystem is (the root itself is never written); this machine's temp directory is bound in
 *   at its own path, as for every node program the tests run;
 * - its uploads are written there as Docker writes them (root-owned, with their permissions), and
 *   its volumes are host directories bind-mounted at their container paths, shared by the
 *   containers that mount the same volume;
 * - it starts as root with exactly its synthesized command and environment (random_password
 *   references replaced by generated values), Docker's PATH and HOSTNAME;
 * - its health check runs inside its namespace and root (nsenter --mount --root), and it stops
 *   with SIGTERM, then SIGKILL after its stop timeout, as `docker stop` does.
 * The network is not simulated: the stack's subnet must be a loopback one (127.x), where every
 * address is this machine's. Anchors (which only hold a network namespace) are not run.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inRootCommand } from '../../src/runner/node-root';
import { SynthesizedStack } from './aws-stack';
import { CommandResult, RunningProcess, runCommand, startProcess, stopProcess, testNodeRoot } from './processes';

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

  // The image's filesystem: the node runtime root. in-root.sh (after unshare's `--`) mounts /proc,
  // /dev and /sys into it, binds the temp directory, and chroots into it to run the command.
  const nodeRoot = testNodeRoot();
  const unshareAndInRoot = inRootCommand({ root: nodeRoot, binds: [tmpdir()] }, []);
  const inRoot = unshareAndInRoot.slice(unshareAndInRoot.indexOf('--') + 1);
  const under = (path: string) => OVERLAID.some((top) => path === top || path.startsWith(`${top}/`));

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
      mounts.push(`mount -t overlay overlay -o lowerdir=${nodeRoot}${path},upperdir=${upper},workdir=${work} ${nodeRoot}${path}`);
    }
    for (const volume of (container.volumes as Resource[] | undefined) ?? []) {
      const source = join(dir, 'volumes', resolve(String(volume.volume_name)));
      const target = String(volume.container_path);
      // Its mount point is made in the container's layer, never in the shared root.
      if (!under(target)) throw new Error(`docker simulation: ${name}: volume at ${target} is outside ${OVERLAID.join(', ')}`);
      mkdirSync(source, { recursive: true, mode: 0o755 });
      mounts.push(`mkdir -p ${nodeRoot}${target} && mount --bind ${source} ${nodeRoot}${target}`);
    }
    // Into each layer, never into the node runtime root itself.
    const copies = OVERLAID.filter((path) => existsSync(join(staged, path))).map((path) => `cp -a ${join(staged, path)}/. ${nodeRoot}${path}`);
    const setup = [...mounts, ...copies, 'exec "$@"'].join(' && ');
    const command = (container.command as string[]).map(resolve);
    const env: Record<string, string> = { PATH: IMAGE_PATH, HOSTNAME: name };
    for (const entry of (container.env as string[] | undefined) ?? []) {
      const resolved = resolve(entry);
      env[resolved.slice(0, resolved.indexOf('='))] = resolved.slice(resolved.indexOf('=') + 1);
    }
    // Every step execs (bash, in-root.sh, chroot, container-start, setpriv): the PID is the container's process.
    const process = startProcess(name, '/usr/bin/unshare', {
      args: ['--mount', '--propagation', 'private', '--', '/bin/bash', '-c', setup, 'container-setup', ...inRoot, ...command],
      env,
      inheritEnv: false,
    });
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
      // Its mount namespace and its root (the node runtime root with the container's layers), as `docker exec` runs it.
      return runCommand('/usr/bin/nsenter', {
        args: ['--target', String(target.process.pid), '--mount', '--root', '--wd', '--', ...target.healthcheck],
        env: target.env,
        inheritEnv: false,
        timeoutMs: 10_000,
      });
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

/**
 * Owner (user:group) and octal mode of a path as a process sees it in its mount namespace and root:
 * the names are the container's own (its /etc/passwd and /etc/group, the node runtime root's),
 * not this machine's, whose users have other ids.
 */
export function statInNamespace(pid: number, path: string): { owner: string; mode: string } {
  const root = `/proc/${pid}/root`;
  const stat = statSync(`${root}${path}`);
  const nameOf = (file: string, id: number) =>
    readFileSync(`${root}/etc/${file}`, 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((fields) => fields.length > 2 && Number(fields[2]) === id)?.[0] ?? String(id);
  return { owner: `${nameOf('passwd', stat.uid)}:${nameOf('group', stat.gid)}`, mode: (stat.mode & 0o7777).toString(8).padStart(4, '0') };
}
