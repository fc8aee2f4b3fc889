import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The node runtime root: a Debian 13 root filesystem, made by debootstrap from Debian's archive,
 * holding the node packages (PostgreSQL 17, Patroni 4, etcd 3.5, HAProxy 3.0, pgBackRest,
 * PgBouncer, the exporters). The local platform and the tests run every node program from it, so
 * what runs here is the binaries an EC2 node or a container gets, on any Debian or Ubuntu host.
 */

/** assets/runtime, beside src/ and lib/ alike. */
const ASSETS = join(__dirname, '..', '..', 'assets', 'runtime');
const PACKAGES_FILE = join(ASSETS, 'node-root.packages');
const BUILD_SCRIPT = join(ASSETS, 'build-node-root.sh');
const IN_ROOT_SCRIPT = join(ASSETS, 'in-root.sh');
/** Written last by the build: a root that has it is whole. */
const MANIFEST = '.pgha-node-root';
const DEFAULT_CACHE_DIR = '/var/cache/pgha';

/** Where a node's processes run: the root, and the host directories bound into it at their own paths. */
export interface NodeRuntime {
  readonly root: string;
  readonly binds: readonly string[];
}

/** The packages the root holds, from assets/runtime/node-root.packages. */
export function nodeRootPackages(): string[] {
  return readFileSync(PACKAGES_FILE, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
}

/**
 * The root's directory: one per package list and build script, so a change to either makes a new
 * root instead of patching one in place. Under $PGHA_RUNTIME_DIR, or /var/cache/pgha.
 */
export function nodeRootDir(): string {
  const key = createHash('sha256').update(readFileSync(PACKAGES_FILE)).update(readFileSync(BUILD_SCRIPT)).digest('hex').slice(0, 12);
  return join(process.env.PGHA_RUNTIME_DIR ?? DEFAULT_CACHE_DIR, `debian-13-${key}`);
}

/** The package versions a whole root holds (its manifest), or undefined when there is none. */
export function nodeRootVersions(root: string): Record<string, string> | undefined {
  const manifest = join(root, MANIFEST);
  if (!existsSync(manifest)) return undefined;
  const versions: Record<string, string> = {};
  for (const line of readFileSync(manifest, 'utf8').split('\n')) {
    const match = /^([a-z0-9][a-z0-9+.-]*)=(\S+)$/.exec(line);
    if (match && match[1] !== 'suite' && match[1] !== 'packages') versions[match[1]] = match[2];
  }
  return versions;
}

function needRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root: the node runtime root is built with debootstrap and its programs run through unshare and chroot. Run it as root (sudo).`);
  }
}

/**
 * The node runtime root, built first when this machine has none (about 100 s and 950 MB, from
 * Debian's archive; needs debootstrap). Several processes may ask at once: the build runs under
 * flock(1) on a lock file beside the root, which the kernel releases if the builder dies, and a
 * builder that got the lock late finds the root made and stops. A build that fails leaves no root
 * (its log stays beside it).
 */
export function ensureNodeRoot(options: { log?: (line: string) => void } = {}): string {
  const root = nodeRootDir();
  if (nodeRootVersions(root)) return root;
  needRoot('Building the node runtime root');
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(dirname(root), { recursive: true });
  log(`pgha: building the node runtime root (Debian 13 with ${nodeRootPackages().length} packages) in ${root}; once per machine, about 2 minutes`);
  const result = spawnSync('/usr/bin/flock', [`${root}.lock`, '/bin/sh', BUILD_SCRIPT, root, PACKAGES_FILE], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0 || !nodeRootVersions(root)) {
    throw new Error(`building the node runtime root in ${root} failed (${result.error?.message ?? `exit ${result.status}`}); the lines above say why`);
  }
  return root;
}

/**
 * The command line that runs `argv` from the root, with the runtime's directories bound in at
 * their own paths. Every step execs, so the PID of the spawned process is the program's.
 */
export function inRootCommand(runtime: NodeRuntime, argv: readonly string[]): string[] {
  return ['/usr/bin/unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', IN_ROOT_SCRIPT, runtime.root, ...runtime.binds, '--', ...argv];
}

/** A user as the root's own /etc/passwd defines it: uid, primary gid and home. */
export function rootUser(root: string, name: string): { uid: number; gid: number; home: string } | undefined {
  const line = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid, , home] = line.split(':');
  return { uid: Number(uid), gid: Number(gid), home };
}

/** uid and gid of "user:group" as the root's own /etc/passwd and /etc/group define them. */
export function rootOwnerIds(root: string, owner: string): { uid: number; gid: number } {
  const [user, group] = owner.split(':');
  const groupLine = readFileSync(join(root, 'etc', 'group'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${group ?? user}:`));
  const uid = rootUser(root, user)?.uid;
  const gid = groupLine ? Number(groupLine.split(':')[2]) : undefined;
  if (uid === undefined || gid === undefined) {
    throw new Error(`user or group of "${owner}" does not exist in the node runtime root ${root}: add the package that creates it to assets/runtime/node-root.packages`);
  }
  return { uid, gid };
}
