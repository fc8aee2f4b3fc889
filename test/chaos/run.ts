/**
 * `npm run chaos [-- --runs N] [--faults a,b]`: the fault suite's drills, each repeated N times
 * (default 10) on one local sync cluster (fast profile, 127.88.x.y), then a table per fault: lost
 * writes, longest write gap, time two members were writable, time to healthy. Exits 1 when any
 * run lost a write or broke another rule of the suite (test/cluster/faults.ts).
 */
import { FAULTS, Fault, FaultOutcome, faultLine, faultProblems, runFault } from '../cluster/faults';
import { Cleanup } from '../cluster/helpers';
import { startTestCluster, stopTestCluster, TestCluster } from '../support/local-cluster';

const BLOCK = 88;

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const runs = Number(option('runs') ?? 10);
const faults = (option('faults')?.split(',') ?? [...FAULTS]) as Fault[];
const unknown = faults.filter((fault) => !FAULTS.includes(fault));
if (!Number.isInteger(runs) || runs < 1 || unknown.length > 0) {
  console.error(`usage: npm run chaos -- [--runs N] [--faults ${FAULTS.join(',')}]${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  process.exit(2);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values: number[]) => `${seconds(Math.min(...values))}-${seconds(Math.max(...values))} (median ${seconds(median(values))})`;

async function main(): Promise<number> {
  let cluster: TestCluster | undefined;
  const outcomes: FaultOutcome[] = [];
  const failures: string[] = [];
  try {
    cluster = await startTestCluster({ addressBlock: BLOCK, replicationMode: 'sync', failover: 'fast' });
    console.log(`cluster up in ${cluster.dir}; ${runs} run(s) of ${faults.join(', ')}`);
    for (const fault of faults) {
      for (let run = 1; run <= runs; run++) {
        const cleanup = new Cleanup();
        try {
          const outcome = await runFault(cluster, BLOCK, fault, cleanup, `chaos_${fault.replace(/-/g, '_')}_${run}`);
          outcomes.push(outcome);
          const problems = faultProblems(outcome);
          console.log(`[${fault} ${run}/${runs}] ${faultLine(outcome)}${problems.length ? `\n  PROBLEMS: ${problems.join('; ')}` : ''}`);
          failures.push(...problems.map((p) => `${fault} run ${run}: ${p}`));
        } catch (error) {
          console.log(`[${fault} ${run}/${runs}] FAILED: ${(error as Error).message}`);
          failures.push(`${fault} run ${run}: ${(error as Error).message.split('\n')[0]}`);
        } finally {
          await cleanup.runAll();
        }
      }
    }
  } finally {
    await stopTestCluster(cluster);
  }

  console.log('\n| fault | runs | acknowledged writes lost | longest write gap | two members writable | time to healthy |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const fault of faults) {
    const of = outcomes.filter((o) => o.fault === fault);
    if (of.length === 0) {
      console.log(`| ${fault} | 0 of ${runs} completed | | | | |`);
      continue;
    }
    const lost = of.map((o) => o.lost.length);
    console.log(
      `| ${fault} | ${of.length} of ${runs} | ${lost.reduce((a, b) => a + b, 0)} (of ${of.reduce((a, o) => a + o.acknowledged, 0)} acknowledged) | ` +
        `${range(of.map((o) => o.longestWriteGapMs))} | ${range(of.map((o) => o.twoWritableMs))} | ${range(of.map((o) => o.timeToHealthyMs))} |`,
    );
  }
  if (failures.length > 0) {
    console.log(`\n${failures.length} problem(s):\n  ${failures.join('\n  ')}`);
    return 1;
  }
  console.log('\nevery run: 0 acknowledged writes lost, no write acknowledged by a former leader, every member back on the leader\'s timeline');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(1);
  },
);
