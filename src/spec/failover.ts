import { z } from 'zod';
import { positiveSeconds } from './common';
import { expectation } from './validate';

/** Patroni's leader lease timing. Rule: loopWait + 2 * retryTimeout <= ttl. */
export interface FailoverTiming {
  readonly ttlSeconds: number;
  readonly loopWaitSeconds: number;
  readonly retryTimeoutSeconds: number;
}

/**
 * Named profiles, measured with `npm run bench:failover` (SIGKILL of the primary, sync mode):
 * - `default` is Patroni's own: writes resume 22-30 s after the primary dies (median 25.7 s).
 * - `fast` resumes them in 7.1-8.2 s (median 7.5 s). A dead leader's lease runs out ttl after its
 *   last refresh, which came at most loop_wait before: the outage is about ttl - loop_wait/2 + 1 s,
 *   so ttl 10 / loop_wait 2 could not go below ~9 s (measured median 10.0 s). The price: a DCS
 *   write every second per node, and a primary that cannot reach etcd for 3 s (retry_timeout)
 *   demotes itself. loop_wait 1 and retry_timeout 3 are the lowest Patroni 3.2+ accepts; those
 *   versions also raise any ttl below 20 to 20 (Debian 12 ships 3.0.2, which takes 7).
 */
export const FAILOVER_PROFILES = {
  default: { ttlSeconds: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 10 },
  fast: { ttlSeconds: 7, loopWaitSeconds: 1, retryTimeoutSeconds: 3 },
} as const satisfies Record<string, FailoverTiming>;

export type FailoverProfile = keyof typeof FAILOVER_PROFILES;

export const failoverSchema = z
  .union(
    [
      z.enum(['default', 'fast']),
      z.strictObject({
        ttlSeconds: positiveSeconds('ttl', 30),
        loopWaitSeconds: positiveSeconds('loop_wait', 10),
        retryTimeoutSeconds: positiveSeconds('retry_timeout', 10),
      }),
    ],
    expectation(
      '"default", "fast" or { ttlSeconds, loopWaitSeconds, retryTimeoutSeconds }',
      'pick a profile, or give all three timings in whole seconds',
    ),
  )
  .default('default')
  .transform((value): FailoverTiming => (typeof value === 'string' ? FAILOVER_PROFILES[value] : value));
