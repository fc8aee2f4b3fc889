/**
 * One measured workload, run in a fresh process by run.ts so that module loading counts:
 *   clusters N      synthesize one stack holding N clusters with their proxies
 * Prints one JSON line: wall milliseconds since the process started, in-process work, peak RSS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

function report(workMs: number): void {
  const wallMs = performance.now();
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ wallMs, workMs, peakMiB })}\n`);
}

function synthClusters(count: number): number {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { App, TerraformStack, Testing } = require('../../src/cdktf') as typeof import('../../src/cdktf');
  const { AwsProvider } = require('@cdktf/provider-aws/lib/provider') as typeof import('@cdktf/provider-aws/lib/provider');
  const { AwsPlatform } = require('../../src/platform/aws/aws-platform') as typeof import('../../src/platform/aws/aws-platform');
  const { PatroniCluster } = require('../../src/constructs/patroni-cluster') as typeof import('../../src/constructs/patroni-cluster');
  const { HaproxyFrontends } = require('../../src/constructs/haproxy-frontends') as typeof import('../../src/constructs/haproxy-frontends');
  const { collectRenderedNodes } = require('../../src/platform/rendered-node') as typeof import('../../src/platform/rendered-node');
  const started = performance.now();
  const outdir = mkdtempSync(join(tmpdir(), 'pgha-bench-'));
  const stack = new TerraformStack(new App({ outdir }), 'bench');
  new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
  const subnets = ['a', 'b', 'c'].map((zone, i) => ({ subnetId: `subnet-0${zone.repeat(16)}`, availabilityZone: `eu-west-1${zone}`, cidrBlock: `10.0.${i * 4}.0/22` }));
  const platform = new AwsPlatform(stack, 'Platform', { vpcId: 'vpc-0123456789abcdef0', subnets, amiId: 'ami-0123456789abcdef0' });
  for (let i = 1; i <= count; i++) {
    const cluster = new PatroniCluster(stack, `Cluster${i}`, { clusterName: `db${i}`, platform });
    new HaproxyFrontends(stack, `Frontends${i}`, { platform, cluster, outputPrefix: `db${i}_`, clientCidrs: ['10.0.0.0/16'] });
  }
  Testing.synth(stack);
  collectRenderedNodes(stack);
  const elapsed = performance.now() - started;
  rmSync(outdir, { recursive: true, force: true });
  return elapsed;
}

const [mode, count] = process.argv.slice(2);
if (mode === 'clusters') {
  report(synthClusters(Number(count)));
} else {
  throw new Error(`unknown workload ${mode}`);
}
