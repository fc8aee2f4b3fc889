import { z } from 'zod';
import { cidr, optionalPort, port } from './common';
import { distinctPorts, refuseAnywhere } from './patroni-cluster';
import { CrossFieldRule, expectation, validateSpec } from './validate';

export const haproxyFrontendsSchema = z.object({
  proxyCount: z
    .number(expectation('a whole number of proxies', 'use 2'))
    .int(expectation('a whole number of proxies', 'use 2'))
    .min(1, expectation('at least 1 proxy', 'use 2'))
    .max(8, expectation('at most 8 proxies', 'use 8 or fewer'))
    .default(2),
  allowSingleProxy: z.boolean(expectation('true or false', 'use a boolean')).default(false),
  /** The zone of each proxy, in order, when the platform knows it at synth time. */
  proxyZones: z.array(z.string()).optional(),
  readWritePort: port(5000),
  readOnlyPort: port(5001),
  /** Optional frontend that routes only to synchronous standbys (Patroni `/sync`). */
  syncReplicaPort: optionalPort(5002).optional(),
  statsPort: port(7000),
  /** Where the load balancer checks that the proxy itself is alive. */
  healthPort: port(8404),
  /** A replica further behind than this leaves the read-only pool (Patroni `/replica?lag=`). */
  maxReplicaLagBytes: z
    .number(expectation('a number of bytes', 'use e.g. 16777216 (16 MiB)'))
    .int(expectation('a whole number of bytes', 'use e.g. 16777216 (16 MiB)'))
    .min(0, expectation('0 or more bytes', 'use e.g. 16777216 (16 MiB)'))
    .default(16 * 1024 * 1024),
  maxConnections: z
    .number(expectation('a whole number of connections', 'use e.g. 2000'))
    .int(expectation('a whole number of connections', 'use e.g. 2000'))
    .min(1, expectation('at least 1 connection', 'use e.g. 2000'))
    .max(100_000, expectation('at most 100000 connections', 'use e.g. 2000'))
    .default(2000),
  /** Networks allowed to reach the proxy ports. */
  clientCidrs: z.array(cidr, expectation('a list of CIDRs', 'pass e.g. ["10.0.0.0/16"]')).default([]),
  allowAnyClient: z.boolean(expectation('true or false', 'use a boolean')).default(false),
});

export type HaproxyFrontendsSpecInput = z.input<typeof haproxyFrontendsSchema>;
export type HaproxyFrontendsSpec = z.output<typeof haproxyFrontendsSchema>;
type Spec = HaproxyFrontendsSpec;

export const haproxyFrontendsRules: readonly CrossFieldRule<Spec>[] = [
  {
    uses: ['proxyCount', 'allowSingleProxy'],
    check: (s) =>
      s.proxyCount >= 2 || s.allowSingleProxy
        ? []
        : [
            {
              path: 'proxyCount',
              given: s.proxyCount,
              expected: 'at least 2 proxies, so that losing one does not cut every client off',
              fix: 'set proxyCount to 2, or allowSingleProxy: true for a test stack',
            },
          ],
  },
  {
    uses: ['readWritePort', 'readOnlyPort', 'syncReplicaPort', 'statsPort', 'healthPort'],
    check: (s) =>
      distinctPorts({
        readWritePort: s.readWritePort,
        readOnlyPort: s.readOnlyPort,
        syncReplicaPort: s.syncReplicaPort,
        statsPort: s.statsPort,
        healthPort: s.healthPort,
      }),
  },
  {
    uses: ['proxyZones', 'proxyCount', 'allowSingleProxy'],
    check: (s) => {
      const zones = new Set(s.proxyZones ?? []);
      if (s.proxyZones === undefined || s.proxyCount < 2 || zones.size >= 2 || s.allowSingleProxy) return [];
      return [
        {
          path: 'subnets',
          given: [...zones],
          expected: 'proxies in at least 2 availability zones',
          fix: 'give subnets in 2 or more zones',
        },
      ];
    },
  },
  {
    uses: ['clientCidrs', 'allowAnyClient'],
    check: (s) => refuseAnywhere('clientCidrs', s.clientCidrs, s.allowAnyClient, 'allowAnyClient'),
  },
];

export function validateHaproxyFrontendsSpec(input: unknown): HaproxyFrontendsSpec {
  return validateSpec('HaproxyFrontends spec', haproxyFrontendsSchema, haproxyFrontendsRules, input);
}
