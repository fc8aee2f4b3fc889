/**
 * A stack of every construct, each made on first use, for tests that feed one construct (or
 * platform) bad props among good neighbours: the invalid-input corpus and the fuzz test.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App, TerraformStack } from '../../src/cdktf';
import {
  AwsPlatform,
  ClusterMonitoring,
  DockerPlatform,
  HaproxyFrontends,
  LocalPlatform,
  PatroniCluster,
  PrimaryWithReplicas,
  WalArchiveBucket,
} from '../../src/index';
import { THREE_ZONE_SUBNETS } from './aws-stack';

export interface ConstructEnv {
  readonly app: App;
  readonly stack: TerraformStack;
  /** The App's output directory: a stack synthesized there leaves stacks/test/cdk.tf.json. */
  readonly outdir: string;
  aws(): AwsPlatform;
  local(): LocalPlatform;
  docker(): DockerPlatform;
  /** An archive on the AWS platform. */
  archive(): WalArchiveBucket;
  /** PatroniCluster "main" (with the archive) on AWS. */
  cluster(): PatroniCluster;
  /** PrimaryWithReplicas "plain" on AWS. */
  replicas(): PrimaryWithReplicas;
  /** HaproxyFrontends of "main". */
  frontends(): HaproxyFrontends;
  /** ClusterMonitoring of "main", with its frontends. */
  monitoring(): ClusterMonitoring;
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

export function constructEnv(): ConstructEnv {
  const outdir = mkdtempSync(join(tmpdir(), 'pgha-invalid-'));
  const app = new App({ outdir });
  const stack = new TerraformStack(app, 'test');
  new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
  const aws = once(() => new AwsPlatform(stack, 'Aws', { vpcId: 'vpc-0123456789abcdef0', subnets: THREE_ZONE_SUBNETS, amiId: 'ami-0d13d13d13d13d13d' }));
  const local = once(() => new LocalPlatform(stack, 'Local', { addressBlock: 99, archiveStore: { type: 'posix', dir: join(outdir, 'archive') }, nodesDir: join(outdir, 'nodes') }));
  const docker = once(() => {
    new DockerProvider(stack, 'docker');
    return new DockerPlatform(stack, 'Docker', { subnet: '172.29.0.0/24' });
  });
  const archive = once(() => new WalArchiveBucket(stack, 'Archive', { platform: aws(), name: 'main-archive' }));
  const cluster = once(() => new PatroniCluster(stack, 'Main', { platform: aws(), clusterName: 'main', archive: archive() }));
  const replicas = once(() => new PrimaryWithReplicas(stack, 'Plain', { platform: aws(), clusterName: 'plain' }));
  const frontends = once(() => new HaproxyFrontends(stack, 'Frontends', { platform: aws(), cluster: cluster() }));
  const monitoring = once(() => new ClusterMonitoring(stack, 'Monitoring', { cluster: cluster(), frontends: frontends() }));
  return { app, stack, outdir, aws, local, docker, archive, cluster, replicas, frontends, monitoring };
}

/** Props as a user of plain JavaScript (or a JSON file) may pass them: any shape at all. */
export const loose = <T>(props: unknown): T => props as T;
