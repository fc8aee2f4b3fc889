import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The "context" of cdktf.json: stack settings, so a deployment is configured without editing
 * code. `cdktf synth` passes it in CDKTF_CONTEXT_JSON; a plain `node` run reads the file.
 */
export function cdktfContext(): Record<string, unknown> {
  if (process.env.CDKTF_CONTEXT_JSON) return JSON.parse(process.env.CDKTF_CONTEXT_JSON);
  const file = join(__dirname, '..', 'cdktf.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).context ?? {}) : {};
}
