import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TerraformStack } from 'cdktf';
import { AwsPlatform, AwsSubnet, AwsVpc } from 'cdktf-postgres-ha';

export interface AwsNetworkSettings {
  /** @default "eu-west-1" */
  readonly region?: string;
  /** Zones of the new VPC's subnets. @default "<region>a", "<region>b", "<region>c" */
  readonly availabilityZones?: readonly string[];
  /** Put the nodes in an existing VPC instead of creating one. */
  readonly existingNetwork?: { readonly vpcId: string; readonly subnets: readonly AwsSubnet[] };
}

/**
 * The AWS side of a reference stack: the provider (every resource tagged with the stack), and the
 * platform in the private subnets of a new VPC across three zones, or of an existing one. Returns
 * the new VPC's CIDR as the default client network (none for an existing VPC).
 */
export function awsPlatform(stack: TerraformStack, name: string, settings: AwsNetworkSettings): { platform: AwsPlatform; clientCidrs: readonly string[] } {
  const region = settings.region ?? 'eu-west-1';
  new AwsProvider(stack, 'aws', {
    region,
    defaultTags: [{ tags: { 'pgha:stack': name, ManagedBy: 'cdktf-postgres-ha' } }],
  });
  if (settings.existingNetwork) return { platform: new AwsPlatform(stack, 'Platform', settings.existingNetwork), clientCidrs: [] };
  const vpc = new AwsVpc(stack, 'Network', {
    name,
    availabilityZones: settings.availabilityZones ?? ['a', 'b', 'c'].map((zone) => `${region}${zone}`),
  });
  return { platform: new AwsPlatform(stack, 'Platform', { vpcId: vpc.vpcId, subnets: vpc.privateSubnets }), clientCidrs: [vpc.cidrBlock] };
}
