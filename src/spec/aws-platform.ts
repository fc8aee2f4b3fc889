import { z } from 'zod';
import { isAvailabilityZone, regionOf } from './aws-region';
import { instanceType, integerFrom } from './common';
import { ipv4NetworkSized, isTerraformReference, lastHostNumber, overlaps, parsedNetwork } from './network';
import { SpecProblem } from './problems';
import { CrossFieldRule, expectation, validateSpec } from './validate';

/** An AWS id: a Terraform reference (known at apply), or a literal that must look like one. */
export function awsId(kind: string, example: string) {
  const pattern = new RegExp(`^${kind}-[0-9a-f]{8}([0-9a-f]{9})?$`);
  return z
    .string(expectation(`a ${kind} id`, `pass e.g. "${example}" or a reference such as vpc.vpcId`))
    .min(1, expectation(`a ${kind} id`, `pass e.g. "${example}"`))
    .refine((value) => isTerraformReference(value) || pattern.test(value), expectation(`a ${kind} id such as "${example}"`, `copy the id from the AWS console or pass a reference (e.g. vpc.vpcId)`));
}

/** A literal the platform computes with at synth: a Terraform reference (known only at apply) is refused. */
function knownAtSynth(schema: z.ZodString, why: string) {
  return schema.refine((value) => !isTerraformReference(value), expectation(`a value known at synth time (${why})`, 'write the value itself, not a reference to a resource attribute'));
}

/** "eu-west-1a": a region and a zone letter (or a Local Zone, "us-west-2-lax-1a"). */
export const availabilityZone = knownAtSynth(
  z
    .string(expectation('an availability zone such as "eu-west-1a"', 'write the zone name'))
    .refine(isAvailabilityZone, expectation('an availability zone name such as "eu-west-1a" (a region and a zone letter)', 'write the zone, e.g. "eu-west-1a", not the region "eu-west-1"')),
  'the region and the nodes\' placement come from it',
);

/** The region of a zone the schema accepted. */
export const regionOfZone = (zone: string): string => regionOf(zone) ?? zone;

/** A subnet of a VPC: AWS allows /16 to /28. */
function subnetCidrBlock() {
  return knownAtSynth(
    ipv4NetworkSized('10.40.1.0/24', 16, 28, { expected: 'a subnet of /16 to /28 (the sizes AWS allows)', fix: 'give the subnet\'s own CIDR block, e.g. "10.40.1.0/24"' }),
    'nodes get fixed addresses in it',
  );
}

export const awsSubnetSchema = z.strictObject(
  {
    subnetId: awsId('subnet', 'subnet-0123456789abcdef0'),
    availabilityZone,
    cidrBlock: subnetCidrBlock(),
  },
  expectation('a subnet { subnetId, availabilityZone, cidrBlock }', 'pass vpc.privateSubnets of an AwsVpc, or the id, zone and CIDR block of an existing private subnet'),
);

/** AWS reserves the network address and hosts 1 to 3 of a subnet (router, DNS, future), and the last. */
export const LAST_RESERVED_HOST = 3;

export const awsPlatformSchema = z.object({
  vpcId: awsId('vpc', 'vpc-0123456789abcdef0'),
  subnets: z
    .array(awsSubnetSchema, expectation('a list of private subnets', 'pass vpc.privateSubnets of an AwsVpc'))
    .min(1, expectation('at least one private subnet (three, in three zones, for a production cluster)', 'pass vpc.privateSubnets of an AwsVpc')),
  amiId: z
    .string(expectation('an AMI id', 'pass e.g. "ami-0123456789abcdef0", or leave it unset for the newest Debian 13'))
    .refine((value) => isTerraformReference(value) || /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/.test(value), expectation('an AMI id such as "ami-0123456789abcdef0"', 'copy the id of a Debian 13 AMI, or leave amiId unset'))
    .optional(),
  secretNamePrefix: z
    .string(expectation('a Secrets Manager name prefix', 'use e.g. "pgha/orders/"'))
    .regex(/^[A-Za-z0-9/_+=.@-]{1,256}$/, expectation('1-256 letters, digits and /_+=.@- (what Secrets Manager allows in names)', 'use e.g. "pgha/orders/"'))
    .optional(),
  firstHostNumber: integerFrom('the host number of the first node in each subnet (AWS reserves hosts 1 to 3)', LAST_RESERVED_HOST + 1, 2 ** 16, 10).default(10),
  defaultInstanceType: instanceType('m6i.large').default('m6i.large'),
  kmsKeyArn: z
    .string(expectation('a KMS key ARN', 'pass e.g. key.arn'))
    .refine((value) => isTerraformReference(value) || /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_-]+$/.test(value), expectation('a KMS key ARN such as "arn:aws:kms:eu-west-1:123456789012:key/..."', 'pass the key\'s ARN (key.arn), not its id or alias name'))
    .optional(),
});

export type AwsPlatformSpecInput = z.input<typeof awsPlatformSchema>;
export type AwsPlatformSpec = z.output<typeof awsPlatformSchema>;


const awsPlatformRules: readonly CrossFieldRule<AwsPlatformSpec>[] = [
  {
    uses: ['subnets'],
    check: ({ subnets }) => {
      const problems: SpecProblem[] = [];
      const regions = [...new Set(subnets.map((s) => regionOfZone(s.availabilityZone)))];
      if (regions.length > 1) {
        problems.push({
          path: 'subnets',
          given: subnets.map((s) => s.availabilityZone),
          expected: 'subnets of one region (a stack\'s provider deploys to one region)',
          fix: `keep the subnets of one region, e.g. ${regions[0]}`,
        });
      }
      subnets.forEach((subnet, index) => {
        const earlier = subnets.slice(0, index).findIndex((other) => other.subnetId === subnet.subnetId || overlaps(parsedNetwork(other.cidrBlock), parsedNetwork(subnet.cidrBlock)));
        if (earlier < 0) return;
        problems.push({
          path: `subnets.${index}`,
          given: subnet,
          expected: `a subnet apart from subnets.${earlier} (${subnets[earlier].cidrBlock}): nodes placed in both would get the same addresses`,
          fix: 'list each subnet once, with its own CIDR block',
        });
      });
      return problems;
    },
  },
  {
    uses: ['subnets', 'firstHostNumber'],
    check: ({ subnets, firstHostNumber }) => {
      // The smallest subnet bounds it: one problem, naming that subnet.
      const hosts = subnets.map((subnet, index) => ({ index, subnet, lastHost: lastHostNumber(parsedNetwork(subnet.cidrBlock)) }));
      const smallest = hosts.reduce((a, b) => (b.lastHost < a.lastHost ? b : a));
      if (firstHostNumber <= smallest.lastHost) return [];
      return [
        {
          path: 'firstHostNumber',
          given: firstHostNumber,
          expected: `a host number inside every subnet (subnets.${smallest.index}, ${smallest.subnet.cidrBlock}, holds hosts ${LAST_RESERVED_HOST + 1} to ${smallest.lastHost})`,
          fix: `use ${Math.min(10, smallest.lastHost)}, or larger subnets`,
        },
      ];
    },
  },
];

export function validateAwsPlatformSpec(input: unknown, constructPath?: string): AwsPlatformSpec {
  return validateSpec('AwsPlatform spec', awsPlatformSchema, awsPlatformRules, input, constructPath);
}
