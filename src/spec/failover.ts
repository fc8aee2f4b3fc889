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
 * Named profiles. `default` is Patroni's own (writes resume 22-30 s after a primary dies, measured);
 * `fast` resumes writes in 9-10 s at the price of more DCS traffic and less tolerance of DCS hiccups.
 */
export const FAILOVER_PROFILES = {
  default: { ttlSeconds: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 10 },
  fast: { ttlSeconds: 10, loopWaitSeconds: 2, retryTimeoutSeconds: 4 },
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
