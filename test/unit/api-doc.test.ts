import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

describe('API.md', () => {
  test('is the API reference generated from the public declarations now (npm run docs), with no warning', () => {
    const out = mkdtempSync(join(tmpdir(), 'pgha-api-'));
    // typedoc.json treats warnings as errors: an exported member whose type is not exported fails here.
    const result = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    try {
      expect(result.stderr + result.stdout).not.toMatch(/warning|error/i);
      expect(result.status).toBe(0);
      const generated = readFileSync(join(out, 'API.md'), 'utf8');
      expect(generated).toContain('### PatroniCluster');
      if (readFileSync(join(ROOT, 'API.md'), 'utf8') !== generated) {
        throw new Error('API.md is stale: the public API changed since it was generated. Fix: npm run docs, and commit API.md');
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
