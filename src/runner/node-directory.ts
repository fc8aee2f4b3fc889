import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NodeFile, NodePlan, NodeService } from '../model/node-plan';
import { RenderedNode } from '../platform/rendered-node';
import { LocalSecret } from '../platform/local/local-platform';
import { rootOwnerIds } from './node-root';
import { pathMapper } from './path-map';

/** Secret name -> JSON key -> value. */
export type SecretValues = Record<string, Record<string, string>>;

/** Letters and digits, like the AWS platform's generated passwords (they go into KEY=value files). */
export function generateSecrets(secrets: readonly LocalSecret[]): SecretValues {
  const values: SecretValues = {};
  for (const secret of secrets) {
    values[secret.name] = {
      ...(secret.fixedValues ?? {}),
      ...Object.fromEntries(secret.keys.map((key) => [key, randomBytes(48).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 32)])),
    };
  }
  return values;
}

/**
 * uid and gid of "user:group" in the node runtime root, when there is one and this process may
 * give files away (it is root).
 */
export function ownerIds(owner: string, runtimeRoot: string | undefined): { uid: number; gid: number } | undefined {
  if (runtimeRoot === undefined || process.getuid?.() !== 0) return undefined;
  return rootOwnerIds(runtimeRoot, owner);
}

/** Gives paths their mode and owner, reading the root's users once per owner (a node has hundreds of files, a few owners). */
function placer(runtimeRoot: string | undefined): (path: string, mode: string, owner: string) => void {
  const ids = new Map<string, { uid: number; gid: number } | undefined>();
  return (path, mode, owner) => {
    chmodSync(path, parseInt(mode, 8));
    if (!ids.has(owner)) ids.set(owner, ownerIds(owner, runtimeRoot));
    const found = ids.get(owner);
    if (found) chownSync(path, found.uid, found.gid);
  };
}

/** A node laid out under its own directory, ready to start. */
export interface LocalNode {
  readonly name: string;
  readonly address: string;
  readonly root: string;
  readonly plan: NodePlan;
  /** The node's files as written: paths and contents under `root`. */
  readonly files: readonly NodeFile[];
  /** A node path (or text holding node paths) as it is on this machine. */
  readonly localPath: (text: string) => string;
}

/**
 * Writes a node under `root`: its directories and files at their node paths with their modes and
 * owners (the users of the node runtime root at `runtimeRoot`, which runs its programs; without
 * one, files keep this process's owner), node paths inside them remapped under `root`, and its
 * secrets as 0600 environment files.
 */
export function layOutNode(rendered: RenderedNode, root: string, secrets: SecretValues, runtimeRoot?: string): LocalNode {
  const { plan } = rendered;
  const localPath = pathMapper(plan, root);
  const place = placer(runtimeRoot);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  chmodSync(root, 0o755);
  for (const dir of plan.directories) {
    const path = localPath(dir.path);
    mkdirSync(path, { recursive: true, mode: 0o755 });
    place(path, dir.mode, dir.owner);
  }
  const files = rendered.files.map((file) => ({ ...file, path: localPath(file.path), content: localPath(file.content) }));
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o755 });
    writeFileSync(file.path, file.content);
    place(file.path, file.mode, file.owner);
  }
  for (const secret of plan.secrets) {
    const values = secrets[secret.name];
    if (!values) throw new Error(`node ${plan.name} needs secret "${secret.name}", which the stack does not create`);
    const path = localPath(secret.environmentFile);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const lines = Object.entries(secret.variables).map(([variable, key]) => `${variable}=${values[key]}\n`);
    writeFileSync(path, lines.join(''), { mode: 0o600 });
    place(path, '0600', secret.owner);
  }
  for (const file of plan.secretFiles ?? []) {
    const value = secrets[file.secret]?.[file.key];
    if (value === undefined) throw new Error(`node ${plan.name} needs "${file.key}" of secret "${file.secret}", which the stack does not create`);
    const path = localPath(file.path);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, value, { mode: 0o600 });
    place(path, '0600', file.owner);
  }
  return { name: plan.name, address: plan.address, root, plan, files, localPath };
}

/** KEY=value lines of an environment file, as systemd's EnvironmentFile= reads them. */
export function readEnvironmentFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) env[match[1]] = match[2];
  }
  return env;
}

/** The environment a service starts with: what systemd would give it from the unit. */
export function serviceEnvironment(node: LocalNode, service: NodeService, home: string): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: home,
    USER: service.user,
  };
  for (const [key, value] of Object.entries(service.environment ?? {})) env[key] = node.localPath(value);
  for (const file of service.environmentFiles ?? []) Object.assign(env, readEnvironmentFile(node.localPath(file)));
  return env;
}

export const logPath = (dir: string, node: string, service: string) => join(dir, 'logs', `${node}.${service}.log`);
