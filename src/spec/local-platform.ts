import { z } from 'zod';
import { port } from './common';
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

/** A whole number from `min` to 254 that becomes one octet of the nodes' loopback addresses. */
function octet(what: string, min: number, example: number) {
  const expected = `${what}: a whole number from ${min} to 254`;
  return z
    .number(expectation(expected, `use e.g. ${example}`))
    .int(expectation(expected, `use e.g. ${example}`))
    .min(min, expectation(expected, `use e.g. ${example}`))
    .max(254, expectation(expected, `use e.g. ${example}`))
    .default(example);
}

export const localPlatformSchema = z.object({
  addressBlock: octet('the second octet of the nodes\' addresses 127.<block>.<subnet>.<host>', 1, 42),
  subnets: octet('pseudo-subnets (third octets 1..subnets)', 1, 3),
  firstHostNumber: octet('the host number (last octet) of the first node of each pseudo-subnet', 1, 10),
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
