import { z } from 'zod';
import { optIn } from './common';
import { ipv4Address, ipv4NetworkSized, lastHostNumber, parseIpv4Network } from './network';
import { CrossFieldRule, expectation, validateSpec } from './validate';

export const dockerPlatformSchema = z.object({
  /** The bridge network: /8 to /29 (Docker gives host 1 to the gateway). */
  subnet: ipv4NetworkSized('172.28.0.0/24', 8, 29, {
    expected: 'a bridge network of /8 to /29',
    fix: 'pass a private range no other Docker network uses, e.g. "172.28.0.0/24"',
  }).default('172.28.0.0/24'),
  firstHostNumber: z
    .number(expectation('a host number from 2 (host 1 is the bridge\'s gateway)', 'use 10'))
    .int(expectation('a whole host number from 2', 'use 10'))
    .min(2, expectation('a host number from 2 (host 1 is the bridge\'s gateway)', 'use 10'))
    .default(10),
  /** Where the proxies' ports are published on the Docker host. */
  publishAddress: ipv4Address('127.0.0.1').default('127.0.0.1'),
  /** Publish on 0.0.0.0, every interface of the host. */
  allowPublishOnEveryInterface: optIn(),
  name: z
    .string(expectation('a prefix of Docker object names', 'use e.g. "pgha"'))
    .regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, expectation('1-40 lowercase letters, digits, "_", "." or "-", starting with a letter or digit (it prefixes Docker object names)', 'use e.g. "pgha"'))
    .default('pgha'),
});

export type DockerPlatformSpec = z.output<typeof dockerPlatformSchema>;

const dockerPlatformRules: readonly CrossFieldRule<DockerPlatformSpec>[] = [
  {
    uses: ['subnet', 'firstHostNumber'],
    check: ({ subnet, firstHostNumber }) => {
      const parsed = parseIpv4Network(subnet);
      const lastHost = parsed.ok ? lastHostNumber(parsed.value) : 0;
      return firstHostNumber <= lastHost
        ? []
        : [{ path: 'firstHostNumber', given: firstHostNumber, expected: `a host number from 2 to ${lastHost} (the hosts of ${subnet})`, fix: `use ${Math.min(10, lastHost)}, or a larger subnet` }];
    },
  },
  {
    uses: ['publishAddress', 'allowPublishOnEveryInterface'],
    check: ({ publishAddress, allowPublishOnEveryInterface }) =>
      publishAddress !== '0.0.0.0' || allowPublishOnEveryInterface
        ? []
        : [
            {
              path: 'publishAddress',
              given: publishAddress,
              expected: 'one address of the Docker host: 0.0.0.0 publishes the database ports on every interface of the host, public ones included',
              fix: 'use "127.0.0.1" (this machine only) or the address clients reach, or set allowPublishOnEveryInterface: true if you mean every interface',
            },
          ],
  },
];

export function validateDockerPlatformSpec(input: unknown, constructPath?: string): DockerPlatformSpec {
  return validateSpec('DockerPlatform spec', dockerPlatformSchema, dockerPlatformRules, input ?? {}, constructPath);
}
