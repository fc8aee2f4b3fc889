/**
 * `npm run bench`: `npm run synth` of the reference app (compiled, as it runs) against what a user
 * would pick instead, an AWS CDK Aurora PostgreSQL cluster (aws-cdk-lib, installed for the bench
 * only), measured in the same run on the same machine, each in a fresh process, median of 3; then
 * how synth grows with the number of clusters in one stack.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A whole process: wall time from spawn to exit, peak RSS. */
interface AppSample {
  wallMs: number;
  peakMiB: number;
}

/** A workload of workload.ts, with the time of its in-process work. */
interface Sample extends AppSample {
  workMs: number;
}

const RUNS = 3;
const ROOT = join(__dirname, '..', '..');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The baseline's packages, pinned, installed once beside ours (not a dependency of the project). */
const AURORA_PACKAGES = ['aws-cdk-lib@2.278.0', 'constructs@10.8.1'];
const AURORA_DIR = join(ROOT, 'node_modules', '.cache', 'pgha-bench-aurora');

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): void {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
}

function ensureAuroraBaseline(): void {
  const marker = join(AURORA_DIR, 'installed.txt');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === AURORA_PACKAGES.join(' ')) return;
  mkdirSync(AURORA_DIR, { recursive: true });
  writeFileSync(join(AURORA_DIR, 'package.json'), JSON.stringify({ name: 'pgha-bench-aurora', private: true }));
  console.log(`installing the baseline (${AURORA_PACKAGES.join(', ')}) into ${AURORA_DIR} ...`);
  run('npm', ['install', '--no-audit', '--no-fund', '--no-save', ...AURORA_PACKAGES], AURORA_DIR);
  writeFileSync(marker, AURORA_PACKAGES.join(' '));
}

/** A whole app process, start-up included: wall time from spawn to exit, and its peak RSS. Median of RUNS. */
function measureApp(script: string, env: NodeJS.ProcessEnv = {}): AppSample {
  const walls: number[] = [];
  const peaks: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = mkdtempSync(join(tmpdir(), 'pgha-bench-out-'));
    const report = join(out, 'usage.json');
    const started = performance.now();
    const result = spawnSync(process.execPath, ['-r', join(__dirname, 'report-usage.js'), script], {
      cwd: ROOT,
      env: { ...process.env, ...env, CDKTF_OUTDIR: join(out, 'cdktf.out'), CDK_OUTDIR: join(out, 'cdk.out'), PGHA_BENCH_REPORT: report },
      encoding: 'utf8',
      timeout: 120_000,
    });
    walls.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`${script} failed:\n${result.stderr}`);
    peaks.push((JSON.parse(readFileSync(report, 'utf8')) as { peakMiB: number }).peakMiB);
    rmSync(out, { recursive: true, force: true });
  }
  return { wallMs: median(walls), peakMiB: median(peaks) };
}

/** A workload of workload.ts in a fresh process (transpiled by swc as it loads). */
function measure(...args: string[]): Sample {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const result = spawnSync(process.execPath, ['-r', join(ROOT, 'bin', 'register.js'), join(__dirname, 'workload.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`workload ${args.join(' ')} failed:\n${result.stderr}`);
    samples.push(JSON.parse(result.stdout.trim().split('\n').pop()!));
  }
  return { wallMs: median(samples.map((s) => s.wallMs)), workMs: median(samples.map((s) => s.workMs)), peakMiB: median(samples.map((s) => s.peakMiB)) };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

// What `npm run synth` runs once it has compiled the app (its build step is a no-op when nothing changed).
run('npm', ['run', '--silent', 'build:app'], ROOT);
ensureAuroraBaseline();
const aurora = measureApp(join(__dirname, 'aurora-app.js'), { NODE_PATH: join(AURORA_DIR, 'node_modules') });
const reference = measureApp(join(ROOT, 'dist', 'stacks', 'main.js'));
const awsHa = measureApp(join(__dirname, 'aws-ha-app.js'));

console.log(`cdktf-postgres-ha benchmark (median of ${RUNS} fresh processes each, start-up included)\n`);
const line = (name: string, s: AppSample) => console.log(`${name.padEnd(66)} wall ${fmt(s.wallMs)}   peak ${s.peakMiB.toFixed(0)} MiB`);
line('baseline: aws-cdk-lib Aurora PostgreSQL, writer + 2 readers, VPC', aurora);
line('the reference app, compiled (what npm run synth runs once built)', reference);
line('aws-ha alone (1 HA cluster, VPC, archive, backups, monitoring)', awsHa);
const ratio = (s: AppSample) => `time ${(s.wallMs / aurora.wallMs).toFixed(2)}   memory ${(s.peakMiB / aurora.peakMiB).toFixed(2)}`;
console.log(`${'ratio reference app / baseline'.padEnd(66)} ${ratio(reference)}`);
console.log(`${'ratio aws-ha / baseline'.padEnd(66)} ${ratio(awsHa)}`);
console.log(
  `target, the reference app: time ratio <= 0.25 (${verdict(reference.wallMs / aurora.wallMs <= 0.25)}), peak <= 150 MB (${verdict(reference.peakMiB * 1.048576 <= 150)})`,
);
console.log(`         aws-ha alone: time ratio <= 0.25 (${verdict(awsHa.wallMs / aurora.wallMs <= 0.25)}), peak <= 150 MB (${verdict(awsHa.peakMiB * 1.048576 <= 150)})\n`);

console.log('growth: clusters (3 nodes + 2 proxies + NLB each) in one stack, synth work in-process');
const growth = [1, 4, 16].map((count) => ({ count, ...measure('clusters', String(count)) }));
for (const g of growth) {
  console.log(
    `  ${String(g.count).padStart(2)} cluster(s)  work ${fmt(g.workMs)}   per cluster ${(g.workMs / g.count).toFixed(0)} ms   wall ${fmt(g.wallMs)}   peak ${g.peakMiB.toFixed(0)} MiB`,
  );
}
// Linear growth: each added cluster costs about the same, so the marginal cost from 4 to 16 is
// no higher than from 1 to 4 (a quadratic step, e.g. scanning all nodes per node, would double it).
const marginal = (a: (typeof growth)[number], b: (typeof growth)[number]) => (b.workMs - a.workMs) / (b.count - a.count);
const early = marginal(growth[0], growth[1]);
const late = marginal(growth[1], growth[2]);
console.log(`  cost of each added cluster: ${early.toFixed(0)} ms (1->4), ${late.toFixed(0)} ms (4->16); ratio ${(late / early).toFixed(2)}`);
console.log(`target: linear growth, ratio <= 1.5 (${verdict(late / early <= 1.5)})`);
