import { z } from 'zod';
import { integerFrom, port } from './common';
import { FAILOVER_PROFILES } from './failover';
import { expectation, validateSpec } from './validate';

const absoluteDir = (what: string) =>
  z
    .string(expectation(`the absolute path of ${what}`, 'pass e.g. "/tmp/pgha-local/archive"'))
    .regex(/^\/[^\0\n]*$/, expectation(`the absolute path of ${what}`, 'start the path with "/", e.g. "/tmp/pgha-local/archive"'));

export const localArchiveStoreSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('posix'), dir: absoluteDir('the archive directory') }),
    z.strictObject({ type: z.literal('s3'), dir: absoluteDir('the S3 server\'s data directory'), port: port(9000) }),
  ],
  expectation('{ type: "posix", dir } or { type: "s3", dir, port }', 'pass e.g. { type: "posix", dir: "/tmp/pgha-local/archive" } (pgha local up sets it)'),
);

export const localPlatformSchema = z.object({
  // Octets of the nodes' loopback addresses 127.<addressBlock>.<subnet>.<host>.
  addressBlock: integerFrom('the second octet of the nodes\' addresses 127.<block>.<subnet>.<host>', 1, 254, 42).default(42),
  subnets: integerFrom('pseudo-subnets (third octets 1..subnets)', 1, 254, 3).default(3),
  firstHostNumber: integerFrom('the host number (last octet) of the first node of each pseudo-subnet', 1, 254, 10).default(10),
  archiveStore: localArchiveStoreSchema.optional(),
  nodesDir: absoluteDir('the nodes\' directory').optional(),
  failover: z
    .enum(Object.keys(FAILOVER_PROFILES) as [keyof typeof FAILOVER_PROFILES], expectation('"default" or "fast"', 'use "fast" for drills in seconds, or leave failover unset'))
    .optional(),
});

export type LocalPlatformSpec = z.output<typeof localPlatformSchema>;

export function validateLocalPlatformSpec(input: unknown, constructPath?: string): LocalPlatformSpec {
  return validateSpec('LocalPlatform spec', localPlatformSchema, [], input ?? {}, constructPath);
}
