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
 * - `default` is Patroni's own: writes resume 22-30 s after the primary dies (median 25.9 s).
 * - `fast`: 9.4-10.9 s (median 10.0 s). A dead leader's lease runs out ttl after its last refresh,
 *   at most loop_wait earlier, so the outage is about ttl - loop_wait/2 + 1 s.
 * Faster is possible but not safe: 7/1/3 measured a 7.5 s median, yet with retry_timeout 3 a
 * primary whose etcd member was etcd's raft leader demoted itself when that member died (the
 * election and the client's reconnect outlast 3 s): one etcd member lost must not cost writes.
 * Patroni 3.2+ raises a ttl below 20 to 20; Debian 12 ships 3.0.2, which takes these as they are.
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
