/**
 * `npm run bench`: synth cost of the reference stack against the cost most cdktf apps pay just to
 * load the provider-aws barrel, measured in the same run on the same machine, each workload in a
 * fresh process (same runner, so both pay the same Node and transpiler start-up), median of 3.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

interface Sample {
  wallMs: number;
  workMs: number;
  peakMiB: number;
}

const RUNS = 3;

function measure(...args: string[]): Sample {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const result = spawnSync(process.execPath, ['-r', join(__dirname, '..', '..', 'bin', 'register.js'), join(__dirname, 'workload.ts'), ...args], {
      cwd: join(__dirname, '..', '..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (result.status !== 0) throw new Error(`workload ${args.join(' ')} failed:\n${result.stderr}`);
    samples.push(JSON.parse(result.stdout.trim().split('\n').pop()!));
  }
  const median = (key: keyof Sample) => samples.map((s) => s[key]).sort((a, b) => a - b)[Math.floor(RUNS / 2)];
  return { wallMs: median('wallMs'), workMs: median('workMs'), peakMiB: median('peakMiB') };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

const barrel = measure('barrel');
const awsHa = measure('aws-ha');
const timeRatio = awsHa.wallMs / barrel.wallMs;

console.log('cdktf-postgres-ha benchmark (median of 3 fresh processes each)\n');
console.log(`provider-aws barrel load (baseline)  wall ${fmt(barrel.wallMs)}   peak ${barrel.peakMiB.toFixed(0)} MiB`);
console.log(`aws-ha synth (+ node files)          wall ${fmt(awsHa.wallMs)}   peak ${awsHa.peakMiB.toFixed(0)} MiB`);
console.log(`ratio aws-ha / barrel                time ${timeRatio.toFixed(2)}   memory ${(awsHa.peakMiB / barrel.peakMiB).toFixed(2)}`);
console.log(`target: time ratio < 0.30 (${verdict(timeRatio < 0.3)}), peak < 200 MiB (${verdict(awsHa.peakMiB < 200)})\n`);

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
