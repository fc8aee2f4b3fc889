import { z } from 'zod';
import { availabilityZone, regionOfZone } from './aws-platform';
import { ipv4NetworkSized, parseIpv4Network } from './network';
import { CrossFieldRule, expectation, validateSpec } from './validate';

/** The VPC is cut into /24s: a public one for the NAT gateway, then one private per zone. */
export const VPC_SUBNET_PREFIX = 24;

export const awsVpcSchema = z.object({
  cidrBlock: ipv4NetworkSized('10.40.0.0/16', 16, 28, { expected: 'a VPC network of /16 to /28 (the sizes AWS allows)', fix: 'use e.g. "10.40.0.0/16"' }).default('10.40.0.0/16'),
  availabilityZones: z
    .array(availabilityZone, expectation('a list of availability zones', 'pass e.g. ["eu-west-1a", "eu-west-1b", "eu-west-1c"]'))
    .min(1, expectation('at least one availability zone (three for a production cluster)', 'pass e.g. ["eu-west-1a", "eu-west-1b", "eu-west-1c"]')),
  name: z
    .string(expectation('a Name tag prefix', 'use e.g. "orders"'))
    .regex(/^[A-Za-z0-9 ._:/=+@-]{1,200}$/, expectation('1-200 letters, digits, spaces and ._:/=+@- (what AWS allows in tags)', 'use e.g. "orders"')),
});

export type AwsVpcSpecInput = z.input<typeof awsVpcSchema>;
export type AwsVpcSpec = z.output<typeof awsVpcSchema>;

const awsVpcRules: readonly CrossFieldRule<AwsVpcSpec>[] = [
  {
    uses: ['cidrBlock', 'availabilityZones'],
    check: ({ cidrBlock, availabilityZones }) => {
      const parsed = parseIpv4Network(cidrBlock);
      const needed = availabilityZones.length + 1;
      if (!parsed.ok || 2 ** (VPC_SUBNET_PREFIX - parsed.value.prefix) >= needed) return [];
      const largest = VPC_SUBNET_PREFIX - Math.ceil(Math.log2(needed));
      return [
        {
          path: 'cidrBlock',
          given: cidrBlock,
          expected: `a VPC network with room for ${needed} /24 subnets (one public, one per zone): /${largest} or larger`,
          fix: `use a /${Math.max(16, largest)} or larger, e.g. "10.40.0.0/16", or fewer zones`,
        },
      ];
    },
  },
  {
    uses: ['availabilityZones'],
    check: ({ availabilityZones }) => {
      const duplicate = availabilityZones.findIndex((zone, index) => availabilityZones.indexOf(zone) !== index);
      const regions = [...new Set(availabilityZones.map(regionOfZone))];
      return [
        ...(duplicate >= 0
          ? [{ path: `availabilityZones.${duplicate}`, given: availabilityZones[duplicate], expected: 'each zone once (one private subnet per zone)', fix: 'remove the repeated zone' }]
          : []),
        ...(regions.length > 1
          ? [{ path: 'availabilityZones', given: availabilityZones, expected: 'zones of one region (a VPC lives in one region)', fix: `keep the zones of one region, e.g. ${regions[0]}` }]
          : []),
      ];
    },
  },
];

export function validateAwsVpcSpec(input: unknown, constructPath?: string): AwsVpcSpec {
  return validateSpec('AwsVpc spec', awsVpcSchema, awsVpcRules, input, constructPath);
}
