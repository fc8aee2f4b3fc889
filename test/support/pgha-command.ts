import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(__dirname, '..', '..', 'bin', 'pgha.js');

/** The `pgha` command as a user runs it: the bin entry in a process of its own, in `cwd` (its project). */
export function runPgha(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd, encoding: 'utf8', timeout: options.timeoutMs ?? 300_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}
