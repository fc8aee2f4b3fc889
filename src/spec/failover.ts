import { z } from 'zod';
import { expectation } from './validate';

/** Patroni's leader lease timing. Rule: loopWait + 2 * retryTimeout <= ttl. */
export interface FailoverTiming {
  readonly ttlSeconds: number;
  readonly loopWaitSeconds: number;
  readonly retryTimeoutSeconds: number;
}

/**
 * The smallest timings Patroni 4 takes: it raises a smaller ttl, loop_wait or retry_timeout to
 * these, with only a warning in its log (patroni/config.py), so a spec below them is refused.
 */
export const PATRONI_MINIMUM_TIMINGS = { ttlSeconds: 20, loopWaitSeconds: 1, retryTimeoutSeconds: 3 } as const;

/**
 * Named profiles (SIGKILL of the primary, sync mode; `npm run bench:failover`):
 * - `default` is Patroni's own: writes resume 22-30 s after the primary dies.
 * - `fast`: the shortest lease Patroni 4 allows (ttl 20). A dead leader's lease runs out ttl after
 *   its last refresh, at most loop_wait earlier, so the outage is about ttl - loop_wait/2 + 1 s;
 *   loop_wait 2 puts a sync standby back soon after a promotion, and retry_timeout 6 rides out
 *   an etcd election (3 s was too short: a primary whose etcd member was the raft leader demoted
 *   itself when that member died).
 */
export const FAILOVER_PROFILES = {
  default: { ttlSeconds: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 10 },
  fast: { ttlSeconds: 20, loopWaitSeconds: 2, retryTimeoutSeconds: 6 },
} as const satisfies Record<string, FailoverTiming>;

/** Whole seconds, at least Patroni 4's minimum for the setting. */
function patroniSeconds(setting: string, minimum: number, example: number) {
  const expected = `${setting} in whole seconds, at least ${minimum} (Patroni 4 raises a smaller one to ${minimum})`;
  return z
    .number(expectation(expected, `use a number such as ${example}`))
    .int(expectation(expected, `use a whole number such as ${example}`))
    .min(minimum, expectation(expected, `use ${minimum} or more, such as ${example}`));
}

export type FailoverProfile = keyof typeof FAILOVER_PROFILES;

export const failoverSchema = z
  .union(
    [
      z.enum(['default', 'fast']),
      z.strictObject({
        ttlSeconds: patroniSeconds('ttl', PATRONI_MINIMUM_TIMINGS.ttlSeconds, 30),
        loopWaitSeconds: patroniSeconds('loop_wait', PATRONI_MINIMUM_TIMINGS.loopWaitSeconds, 10),
        retryTimeoutSeconds: patroniSeconds('retry_timeout', PATRONI_MINIMUM_TIMINGS.retryTimeoutSeconds, 10),
      }),
    ],
    expectation(
      '"default", "fast" or { ttlSeconds, loopWaitSeconds, retryTimeoutSeconds }',
      'pick a profile, or give all three timings in whole seconds',
    ),
  )
  .default('default')
  .transform((value): FailoverTiming => (typeof value === 'string' ? FAILOVER_PROFILES[value] : value));
