import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { App, TerraformStack, Testing } from '../../src/cdktf';
import { AwsPlatform } from '../../src/platform/aws/aws-platform';
import { AwsSubnet } from '../../src/platform/aws/subnet';

/**
 * The App's output folder: the App creates it, and these tests never synthesize to disk
 * (Testing.synth works in memory), so one shared folder serves every test and nothing piles up.
 */
export const UNUSED_OUTDIR = join(tmpdir(), 'pgha-tests-unused-outdir');

export const THREE_ZONE_SUBNETS: AwsSubnet[] = [
  { subnetId: 'subnet-0aaaaaaaaaaaaaaa1', availabilityZone: 'eu-west-1a', cidrBlock: '10.0.1.0/24' },
  { subnetId: 'subnet-0bbbbbbbbbbbbbbb2', availabilityZone: 'eu-west-1b', cidrBlock: '10.0.2.0/24' },
  { subnetId: 'subnet-0ccccccccccccccc3', availabilityZone: 'eu-west-1c', cidrBlock: '10.0.3.0/24' },
];

/** A stack with an AWS platform over existing subnets (no VPC of its own): what construct tests need. */
export function awsTestStack(subnets: AwsSubnet[] = THREE_ZONE_SUBNETS) {
  const app = new App({ outdir: UNUSED_OUTDIR });
  const stack = new TerraformStack(app, 'test');
  new AwsProvider(stack, 'aws', { region: 'eu-west-1' });
  const platform = new AwsPlatform(stack, 'Platform', { vpcId: 'vpc-0123456789abcdef0', subnets, amiId: 'ami-0d13d13d13d13d13d' });
  return { app, stack, platform };
}

export interface SynthesizedStack {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, { value: unknown; description?: string }>;
}

export function synthesize(stack: TerraformStack): SynthesizedStack {
  return JSON.parse(Testing.synth(stack)) as SynthesizedStack;
}

/** Resources of one type, as a list of their configurations. */
export function resourcesOf(synth: SynthesizedStack, type: string): Record<string, unknown>[] {
  return Object.values(synth.resource?.[type] ?? {});
}

/** The cloud-config text an instance boots with. */
export function userDataOf(instance: Record<string, unknown>): string {
  return gunzipSync(Buffer.from(String(instance.user_data_base64), 'base64')).toString('utf8');
}

/** "${aws_security_group.X.id}" -> the logical id of the security group. */
export function logicalIdOf(reference: unknown): string {
  const match = /^\$\{[a-z0-9_]+\.([^.]+)\.[a-z_]+\}$/.exec(String(reference));
  if (!match) throw new Error(`not a plain reference: ${String(reference)}`);
  return match[1];
}
