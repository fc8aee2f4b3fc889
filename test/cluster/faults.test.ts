/**
 * The fault suite, once each (`npm run chaos` repeats them and prints a table): the reference
 * topology (sync mode, etcd on the 3 PostgreSQL nodes, fast profile) on 127.86.x.y, under a
 * writer loop through the writer endpoint, against a frozen leader agent, etcd quorum loss, the
 * leader's etcd member stopped alone, and kill -9 of the leader. After each: no acknowledged
 * write lost, none acknowledged by the old leader once another member was writable, writes never
 * back on a former writer, and every member but the leader streaming on the leader's timeline.
 */
import { FAULTS, FAULT_DESCRIPTIONS, faultLine, faultProblems, runFault } from './faults';
import { useCluster } from './helpers';

const BLOCK = 86;
const under = useCluster('fault suite', { addressBlock: BLOCK, replicationMode: 'sync', failover: 'fast' });

describe('fault suite: sync cluster, fast profile, writer loop through the writer endpoint', () => {
  test.each(FAULTS.map((fault) => [fault, FAULT_DESCRIPTIONS[fault]]))(
    'GIVEN %s (%s) THEN no acknowledged write is lost and the old leader is back as a replica on the new timeline',
    async (fault) => {
      const outcome = await runFault(under.started(), BLOCK, fault as (typeof FAULTS)[number], under.cleanup, `fault_${fault.replace(/-/g, '_')}`);
      under.figures.note(faultLine(outcome));
      expect(outcome.acknowledged).toBeGreaterThan(40);
      expect(faultProblems(outcome)).toEqual([]);
    },
    420_000,
  );
});
