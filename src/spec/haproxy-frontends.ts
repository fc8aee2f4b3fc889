import { z } from 'zod';
import { instanceType, optIn, optionalPort, port, wholeNumber } from './common';
import { distinctPorts } from './patroni-cluster';
import { cidrList, refuseAnywhere } from './network';
import { poolingSchema } from './pooling';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

/** Proxies of one cluster; also the most zones a construct previews before its spec is checked. */
export const MAX_PROXIES = 8;

export const haproxyFrontendsSchema = z.object({
  proxyCount: wholeNumber('proxies', 1, MAX_PROXIES, 2).default(2),
  allowSingleProxy: optIn(),
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
  maxReplicaLagBytes: wholeNumber('bytes', 0, 2 ** 40, 16 * 1024 * 1024).default(16 * 1024 * 1024),
  maxConnections: wholeNumber('connections', 1, 100_000, 2000).default(2000),
  /** Networks allowed to reach the proxy ports. */
  clientCidrs: cidrList,
  allowAnyClient: optIn(),
  /** PgBouncer on each proxy, in front of the read-write and read-only frontends. @default - none */
  pooling: poolingSchema.optional(),
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
    uses: ['readWritePort', 'readOnlyPort', 'syncReplicaPort', 'statsPort', 'healthPort', 'pooling'],
    check: (s) =>
      distinctPorts({
        readWritePort: s.readWritePort,
        readOnlyPort: s.readOnlyPort,
        syncReplicaPort: s.syncReplicaPort,
        statsPort: s.statsPort,
        healthPort: s.healthPort,
        'pooling.readWritePort': s.pooling?.readWritePort,
        'pooling.readOnlyPort': s.pooling?.readOnlyPort,
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

/** The construct's props outside the spec that are data: the proxies' machine and the outputs' names. */
export const HAPROXY_FRONTENDS_OUTSIDE_SHAPE = {
  instanceType: instanceType('c6i.large').optional(),
  outputPrefix: z
    .string(expectation('a prefix of Terraform output names', 'use e.g. "orders_"'))
    .regex(/^([A-Za-z_][A-Za-z0-9_-]{0,63})?$/, expectation('letters, digits, "_" and "-", starting with a letter or "_" (Terraform output names)', 'use e.g. "orders_"'))
    .optional(),
};

export function validateHaproxyFrontendsSpec(input: unknown, constructPath?: string, outside?: OutsideProps): HaproxyFrontendsSpec {
  return validateSpec('HaproxyFrontends spec', haproxyFrontendsSchema, haproxyFrontendsRules, input, constructPath, outside);
}
