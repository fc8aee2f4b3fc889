import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The layers of the design (shared/DESIGN.md, beside the checkout; README "Layout"), top to bottom: a layer may import from the layers above it,
 * never from one below. `cdktf` is the seam around the cdktf core (src/cdktf.ts); `index` is the
 * public API. Each entry lists what the layer may import, ours and other packages'.
 */
const LAYERS = ['model', 'spec', 'render', 'node-plan', 'platform', 'constructs', 'policy', 'review', 'runner', 'cli'] as const;
const above = (layer: (typeof LAYERS)[number]) => LAYERS.slice(0, LAYERS.indexOf(layer) + 1);
/** Packages a layer may load; the lower layers stay free of cdktf so that render code runs anywhere. */
const PURE = ['zod', 'yaml', 'ipaddr.js', 'fastest-levenshtein'];
const CDKTF = ['cdktf-seam', 'constructs', '@cdktf/provider-aws', '@cdktf/provider-docker', '@cdktf/provider-random', '@cdktf/provider-tls'];
const ALLOWED: Record<string, readonly string[]> = {
  model: [],
  spec: [...above('spec'), ...PURE],
  render: [...above('render'), ...PURE],
  'node-plan': [...above('node-plan'), ...PURE],
  platform: [...above('platform'), ...PURE, ...CDKTF],
  constructs: [...above('constructs'), ...PURE, ...CDKTF],
  policy: [...above('policy'), ...PURE, ...CDKTF],
  review: [...above('review'), ...PURE, ...CDKTF],
  // The runner and the CLI start processes and talk to PostgreSQL; nothing above them may load pg.
  runner: [...above('runner'), ...PURE, ...CDKTF, 'pg'],
  cli: [...above('cli'), ...PURE, ...CDKTF, 'pg'],
  // Application-side code shipped in the package: the model and pg only.
  router: ['model', 'router', 'pg'],
  'cdktf-seam': ['cdktf'],
  index: [...above('review'), ...PURE, ...CDKTF],
};

const SRC = resolve(__dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : entry.endsWith('.ts') ? [path] : [];
  });
}

/** The layer of a file under src/: its first folder, or the seam and the API file at the top. */
function layerOf(file: string): string {
  const path = relative(SRC, file).replace(/\.ts$/, '');
  if (path.startsWith('..')) return 'outside src';
  if (path === 'cdktf') return 'cdktf-seam';
  if (path === 'index') return 'index';
  return path.split('/')[0];
}

/** What an import names: one of our layers, or a package (its scope and name). Node's own modules are left out. */
function importedLayer(file: string, specifier: string): string | undefined {
  if (specifier.startsWith('node:')) return undefined;
  if (specifier.startsWith('.')) return layerOf(resolve(dirname(file), specifier));
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Static imports, re-exports, require() and import() alike. */
function specifiers(text: string): string[] {
  const found = text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"]([^'"]+)['"]|(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g);
  return [...found].map((m) => m[1] ?? m[2]);
}

function wrongWayImports(files: readonly { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) => {
    const layer = layerOf(path);
    const allowed = ALLOWED[layer];
    if (!allowed) return [`${relative(SRC, path)}: folder "${layer}" is not a layer of shared/DESIGN.md`];
    return specifiers(text)
      .map((specifier) => ({ specifier, to: importedLayer(path, specifier) }))
      .filter(({ to }) => to !== undefined && !allowed.includes(to))
      .map(({ specifier, to }) => `${relative(SRC, path)} (${layer}) imports ${specifier} (${to})`);
  });
}

describe('layers (shared/DESIGN.md: each layer imports only from the layers above it)', () => {
  const files = sourceFiles(SRC).map((path) => ({ path, text: readFileSync(path, 'utf8') }));

  test('every file of src/ is in a layer, and no import goes the wrong way', () => {
    expect(files.length).toBeGreaterThan(90);
    expect(wrongWayImports(files)).toEqual([]);
  });

  test('nothing in src/ imports the reference stacks', () => {
    expect(files.flatMap(({ path, text }) => specifiers(text).filter((s) => s.startsWith('.') && layerOf(resolve(dirname(path), s)) === 'outside src'))).toEqual([]);
  });

  test.each([
    ['render imports node-plan', 'render/x.ts', `import { planPatroniNode } from '../node-plan/patroni-cluster-plan';`, 'render/x.ts (render) imports ../node-plan/patroni-cluster-plan (node-plan)'],
    ['spec imports render', 'spec/x.ts', `import { POOL_MODES } from '../render/pgbouncer-config';`, 'spec/x.ts (spec) imports ../render/pgbouncer-config (render)'],
    ['a construct requires the runner', 'constructs/x.ts', `const runner = require('../runner/local-cluster');`, 'constructs/x.ts (constructs) imports ../runner/local-cluster (runner)'],
    ['the API file loads pg', 'index.ts', `export { Client } from 'pg';`, 'index.ts (index) imports pg (pg)'],
    ['render loads cdktf', 'render/x.ts', `import { Fn } from 'cdktf';`, 'render/x.ts (render) imports cdktf (cdktf)'],
    ['model imports spec', 'model/x.ts', `import type { Spec } from '../spec/patroni-cluster';`, 'model/x.ts (model) imports ../spec/patroni-cluster (spec)'],
  ])('fails when %s', (_name, path, text, finding) => {
    expect(wrongWayImports([{ path: join(SRC, path), text }])).toEqual([finding]);
  });

  test('allows an import from a layer above', () => {
    expect(wrongWayImports([{ path: join(SRC, 'render/x.ts'), text: `import { LAYOUT } from '../model/layout';\nimport { z } from 'zod';` }])).toEqual([]);
  });
});
