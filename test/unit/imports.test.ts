import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BARREL = /(?:from\s+|require\(\s*|import\(\s*)['"]@cdktf\/provider-[a-z0-9-]+['"]/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(entry) ? [path] : [];
  });
}

describe('imports', () => {
  // This file and the layers test spell wrong imports out in their own examples.
  const examples = [__filename, join(__dirname, 'layers.test.ts')];
  const files = ['src', 'stacks', 'test', 'bin'].flatMap((dir) => sourceFiles(join(ROOT, dir))).filter((file) => !examples.includes(file));

  test('no file imports a provider barrel (provider-aws: 2,000+ modules, seconds per process; provider-tls, provider-docker likewise)', () => {
    expect(files.length).toBeGreaterThan(20);
    const barrelImporters = files.filter((file) => BARREL.test(readFileSync(file, 'utf8'))).map((file) => relative(ROOT, file));
    expect(barrelImporters).toEqual([]);
  });

  test('the barrel pattern catches a barrel import', () => {
    expect(BARREL.test(`import { Instance } from '@cdktf/provider-aws';`)).toBe(true);
    expect(BARREL.test(`const aws = require("@cdktf/provider-docker")`)).toBe(true);
    expect(BARREL.test(`import { PrivateKey } from '@cdktf/provider-tls';`)).toBe(true);
    expect(BARREL.test(`import { Instance } from '@cdktf/provider-aws/lib/instance';`)).toBe(false);
    expect(BARREL.test(`import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';`)).toBe(false);
  });

  test('in the library, only src/cdktf.ts imports the cdktf core (the reference stacks are an app, and import it as users do)', () => {
    const core = /from\s+['"]cdktf['"]/;
    const importers = files.filter((file) => core.test(readFileSync(file, 'utf8'))).map((file) => relative(ROOT, file)).filter((file) => file.startsWith('src/'));
    expect(importers).toEqual(['src/cdktf.ts']);
  });
});
