import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The "context" of cdktf.json: stack settings, so a deployment is configured without editing
 * code. `cdktf synth` and `pgha` pass it in CDKTF_CONTEXT_JSON; a plain `node` run reads the file
 * of the project this app belongs to (the nearest cdktf.json above it).
 */
export function cdktfContext(): Record<string, unknown> {
  if (process.env.CDKTF_CONTEXT_JSON) return JSON.parse(process.env.CDKTF_CONTEXT_JSON);
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'cdktf.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).context ?? {};
  }
  return {};
}
