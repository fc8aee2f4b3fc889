import { dirname, join } from 'node:path';
import { NodePlan } from '../model/node-plan';

/**
 * The paths a node owns: where its files, directories, data volume and secret files live. On the
 * local platform each of them moves under the node's own directory; everything else (programs
 * in /usr/bin, /usr/lib/postgresql) stays where Debian put it.
 */
export function ownedPaths(plan: NodePlan): string[] {
  const paths = new Set<string>();
  for (const file of plan.files) paths.add(dirname(file.path));
  for (const dir of plan.directories) paths.add(dir.path);
  for (const secret of plan.secrets) paths.add(dirname(secret.environmentFile));
  for (const file of plan.secretFiles ?? []) paths.add(dirname(file.path));
  if (plan.dataVolume) paths.add(plan.dataVolume.mountPath);
  // Keep only the outermost: /var/lib/pgha covers /var/lib/pgha/etcd.
  return [...paths].filter((path) => ![...paths].some((other) => other !== path && path.startsWith(`${other}/`))).sort();
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rewrites every owned path in `text` (config files, command lines) to the same path under
 * `nodeRoot`, in one pass so nothing is moved twice. A path matches only as a whole: after a
 * start, space, quote, "=", ":" or ","; and before the end, "/", space, quote, ":" or ",".
 */
export function pathMapper(plan: NodePlan, nodeRoot: string): (text: string) => string {
  const roots = ownedPaths(plan).sort((a, b) => b.length - a.length);
  if (roots.length === 0) return (text) => text;
  const pattern = new RegExp(`(^|[\\s"'=:,\\[])(${roots.map(escape).join('|')})(?=$|[/\\s"':,\\]])`, 'gm');
  return (text) => text.replace(pattern, (_match, before: string, path: string) => `${before}${join(nodeRoot, path)}`);
}
