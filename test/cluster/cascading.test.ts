/**
 * Cascading replicas (PatroniCluster `replicateFrom`, Patroni's `replicatefrom` tag) run for real
 * on 127.75.x.y: the reference topology in `async` mode with { 'main-pg-3': 'main-pg-2' }.
 * main-pg-3 streams from main-pg-2 (main-pg-2's pg_stat_replication shows it, the leader's does
 * not); when main-pg-2 goes away, main-pg-3 follows the leader until main-pg-2 returns; with
 * synchronous_mode on, main-pg-3 covers as the synchronous standby while it follows the leader,
 * and main-pg-2 takes the role back when it returns. The scenarios run in order against one cluster, led by main-pg-1 (a
 * switchover makes it so when another member won the bootstrap race).
 */
import { clusterHealth, http, patroniCluster } from '../../src/runner/cluster-checks';
import { localStopService } from '../../src/runner/local-cluster';
import { eventually, memberAddress, restApiOf, TestCluster } from '../support/local-cluster';
import { ensureRunning, hostOf, PATRONI_SERVICE, restApiAuth, sql, TIMING, useCluster } from './helpers';

const BLOCK = 75;
/** The leader the scenarios want: neither the upstream nor the cascading member. */
const PRIMARY = 'main-pg-1';
const UPSTREAM = 'main-pg-2';
const CASCADING = 'main-pg-3';
/** Patroni's slot name for a member (dcs/__init__.py slot_name_from_member_name). */
const slotOf = (member: string) => member.replace(/-/g, '_');

const { started, cleanup, figures } = useCluster('cluster tests, cascading replicas', {
  addressBlock: BLOCK,
  replicationMode: 'async',
  failover: 'fast',
  topology: { cluster: { replicateFrom: { [CASCADING]: UPSTREAM } } },
});

interface WalSender {
  readonly application_name: string;
  readonly state: string;
  readonly sync_state: string;
}

interface WalReceiver {
  readonly status: string;
  readonly sender_host: string;
  readonly slot_name: string | null;
}

/** pg_stat_replication on a member, asked on the member itself. */
const walSenders = (c: TestCluster, member: string) =>
  sql<WalSender>(c, memberAddress(c, member), 'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name');

const streamingTo = async (c: TestCluster, member: string) => (await walSenders(c, member)).filter((s) => s.state === 'streaming').map((s) => s.application_name);

/** pg_stat_wal_receiver on a replica: where it streams from. */
async function walReceiver(c: TestCluster, member: string): Promise<WalReceiver | undefined> {
  const [row] = await sql<WalReceiver>(c, memberAddress(c, member), 'SELECT status, sender_host, slot_name FROM pg_stat_wal_receiver');
  return row;
}

const slotsOn = async (c: TestCluster, member: string) =>
  (await sql<{ slot_name: string; active: boolean }>(c, memberAddress(c, member), 'SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name')).map(
    (s) => `${s.slot_name}${s.active ? '' : ' (inactive)'}`,
  );

const roles = async (c: TestCluster) => Object.fromEntries((await patroniCluster(restApiOf(c, PRIMARY))).map((m) => [m.name, m.role]));

/** The member CASCADING streams from right now, by its WAL receiver's sender address. */
async function upstreamOf(c: TestCluster, member: string): Promise<string | undefined> {
  const receiver = await walReceiver(c, member);
  if (receiver?.status !== 'streaming') return undefined;
  return c.endpoints.members.find((m) => m.host === receiver.sender_host)?.name ?? receiver.sender_host;
}

/** Leader PRIMARY; UPSTREAM streams from it; CASCADING streams from UPSTREAM and not from it. */
async function waitCascading(c: TestCluster, timeoutMs: number): Promise<void> {
  let last = '';
  await eventually('main-pg-3 streaming from main-pg-2 and main-pg-2 from the leader main-pg-1', timeoutMs, async () => {
    const seen = {
      roles: await roles(c),
      onLeader: await streamingTo(c, PRIMARY),
      onUpstream: await streamingTo(c, UPSTREAM),
      cascadingFrom: await upstreamOf(c, CASCADING),
    };
    last = JSON.stringify(seen);
    return seen.roles[PRIMARY] === 'leader' && seen.onLeader.join() === UPSTREAM && seen.onUpstream.join() === CASCADING && seen.cascadingFrom === UPSTREAM;
  }).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${last}`);
  });
}

/** Writes a row through the rw port and waits for it on `member`; returns how long it took. */
async function rowReaches(c: TestCluster, member: string, id: number, timeoutMs = 30_000): Promise<number> {
  await sql(c, c.endpoints.writer, 'CREATE TABLE IF NOT EXISTS cascade_rows (id int PRIMARY KEY)');
  await sql(c, c.endpoints.writer, 'INSERT INTO cascade_rows VALUES ($1)', [id]);
  const t0 = Date.now();
  await eventually(`row ${id} on ${member}`, timeoutMs, async () => (await sql(c, memberAddress(c, member), 'SELECT 1 FROM cascade_rows WHERE id = $1', [id])).length === 1);
  return Date.now() - t0;
}

/** Stops UPSTREAM's Patroni cleanly (its postgres with it); afterEach starts it again if the test did not. */
async function stopUpstream(c: TestCluster): Promise<void> {
  cleanup.add(`start patroni on ${UPSTREAM}`, () => ensureRunning(c, UPSTREAM, PATRONI_SERVICE));
  expect(await localStopService(c.dir, UPSTREAM, PATRONI_SERVICE)).toBe('stopped');
}

describe('cascading replicas', () => {
  test('GIVEN replicateFrom { main-pg-3: main-pg-2 } WHEN the cluster has bootstrapped and main-pg-1 leads THEN main-pg-3 streams from main-pg-2: on its pg_stat_replication, not on the leader\'s', async () => {
    const c = started();
    // GIVEN main-pg-1 as the leader, whoever won the bootstrap race
    const bootstrapLeader = Object.entries(await roles(c)).find(([, role]) => role === 'leader')?.[0];
    if (bootstrapLeader !== PRIMARY) {
      const t0 = Date.now();
      const answer = await http(`http://${restApiOf(c, bootstrapLeader!)}/switchover`, {
        method: 'POST',
        body: { leader: bootstrapLeader, candidate: PRIMARY },
        auth: restApiAuth(c),
        timeoutMs: 60_000,
      });
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: expect.stringContaining(PRIMARY) });
      figures.note(`bootstrap leader ${bootstrapLeader}: switched over to ${PRIMARY} in ${Date.now() - t0} ms`);
    } else {
      figures.note(`bootstrap leader ${PRIMARY}: no switchover needed`);
    }

    // WHEN the cluster has settled
    const t1 = Date.now();
    await waitCascading(c, 90_000);
    figures.note(`cascade in place ${Date.now() - t1} ms after the leader was ${PRIMARY}`);

    // THEN main-pg-3 is on main-pg-2's pg_stat_replication and not on the leader's (on one host,
    // every replication connection arrives from 127.0.0.1, so the application name tells them apart)
    expect(await walSenders(c, UPSTREAM)).toEqual([{ application_name: CASCADING, state: 'streaming', sync_state: 'async' }]);
    expect((await walSenders(c, PRIMARY)).map((s) => s.application_name)).toEqual([UPSTREAM]);
    // Its WAL receiver names main-pg-2 and the slot main-pg-2 keeps for it. Patroni 4 keeps a slot
    // for every other member on every member (so that after a failover, or when a member follows
    // another, its WAL is there): only the slots of the members streaming from a node are active;
    // the leader's slot for main-pg-3 waits, inactive.
    expect(await walReceiver(c, CASCADING)).toEqual({ status: 'streaming', sender_host: hostOf(c, UPSTREAM), slot_name: slotOf(CASCADING) });
    // (After a switchover the slots settle a loop or two later.)
    const slots = async () => ({ [UPSTREAM]: await slotsOn(c, UPSTREAM), [PRIMARY]: await slotsOn(c, PRIMARY) });
    const expectedSlots = { [UPSTREAM]: [`${slotOf(PRIMARY)} (inactive)`, slotOf(CASCADING)], [PRIMARY]: [slotOf(UPSTREAM), `${slotOf(CASCADING)} (inactive)`] };
    await eventually('the slots to settle', 30_000, async () => JSON.stringify(await slots()) === JSON.stringify(expectedSlots)).catch(() => undefined);
    expect(await slots()).toEqual(expectedSlots);
    // Patroni publishes the tags: replicatefrom on main-pg-3 only.
    const tags = Object.fromEntries(JSON.parse((await http(`http://${restApiOf(c, PRIMARY)}/cluster`)).body).members.map((m: { name: string; tags?: object }) => [m.name, m.tags ?? {}]));
    expect(tags).toEqual({ [PRIMARY]: {}, [UPSTREAM]: {}, [CASCADING]: { replicatefrom: UPSTREAM } });
    // `pgha local up` (and `status`) count main-pg-3 as a streaming replica.
    const health = await clusterHealth(c.endpoints.members.map((m) => m.restApi), 0);
    expect({ healthy: health.healthy, leader: health.leader, streaming: [...health.streaming].sort(), waitingFor: health.waitingFor }).toEqual({
      healthy: true,
      leader: PRIMARY,
      streaming: [UPSTREAM, CASCADING],
      waitingFor: '',
    });
    // And what the leader commits reaches main-pg-3 through main-pg-2.
    figures.note(`a row committed on the leader reached ${CASCADING} in ${await rowReaches(c, CASCADING, 1)} ms (through ${UPSTREAM})`);
  }, 240_000);

  test('GIVEN main-pg-3 cascading WHEN main-pg-2\'s Patroni stops THEN main-pg-3 streams from the leader once main-pg-2 leaves the DCS; AND WHEN main-pg-2 returns THEN main-pg-3 streams from it again', async () => {
    const c = started();
    await waitCascading(c, 90_000);

    // WHEN
    const stoppedAt = Date.now();
    await stopUpstream(c);
    figures.note(`${UPSTREAM} stopped cleanly in ${Date.now() - stoppedAt} ms`);

    // THEN: Patroni follows replicatefrom while the upstream's member key lives (ttl ${TIMING.ttlSeconds} s), then the leader.
    let last = '';
    await eventually(`${CASCADING} to stream from the leader`, 60_000, async () => {
      const seen = { from: await upstreamOf(c, CASCADING), onLeader: await streamingTo(c, PRIMARY) };
      last = JSON.stringify(seen);
      return seen.from === PRIMARY && seen.onLeader.includes(CASCADING);
    }).catch((error: Error) => {
      throw new Error(`${error.message}; last seen: ${last}`);
    });
    const fellBackMs = Date.now() - stoppedAt;
    figures.note(`${CASCADING} streaming from the leader ${fellBackMs} ms after ${UPSTREAM} stopped (ttl ${TIMING.ttlSeconds} s, loop_wait ${TIMING.loopWaitSeconds} s)`);
    expect(fellBackMs).toBeGreaterThan(1_000);
    // The leader now keeps a slot for it, and what the leader commits reaches it directly.
    expect(await slotsOn(c, PRIMARY)).toEqual(expect.arrayContaining([slotOf(CASCADING)]));
    figures.note(`a row committed while ${UPSTREAM} was down reached ${CASCADING} in ${await rowReaches(c, CASCADING, 2)} ms`);

    // WHEN main-pg-2 returns
    const startedAt = Date.now();
    await cleanup.now(`start patroni on ${UPSTREAM}`);
    // THEN main-pg-3 goes back to it, and leaves the leader's replication list
    await waitCascading(c, 90_000);
    figures.note(`${CASCADING} back on ${UPSTREAM} ${Date.now() - startedAt} ms after ${UPSTREAM}'s Patroni started`);
    expect(await streamingTo(c, PRIMARY)).toEqual([UPSTREAM]);
    expect(await rowReaches(c, CASCADING, 3)).toBeLessThan(30_000);
  }, 240_000);

  test('GIVEN synchronous_mode turned on WHEN main-pg-2 (the synchronous standby) stops THEN main-pg-3, once it follows the leader, becomes the synchronous standby; AND WHEN main-pg-2 returns THEN it takes the role back', async () => {
    const c = started();
    await waitCascading(c, 90_000);

    // GIVEN synchronous_mode on, through Patroni's REST API (the spec's rule holds: 1 <= 3 - 1 - 1)
    const patch = await http(`http://${restApiOf(c, PRIMARY)}/config`, { method: 'PATCH', body: { synchronous_mode: true }, auth: restApiAuth(c), timeoutMs: 10_000 });
    expect(patch.status).toBe(200);
    await eventually(`${UPSTREAM} as the synchronous standby`, 60_000, async () => {
      const senders = await walSenders(c, PRIMARY);
      return senders.some((s) => s.application_name === UPSTREAM && s.sync_state === 'sync') && (await roles(c))[UPSTREAM] === 'sync_standby';
    });
    // While it cascades, main-pg-3 is not on the leader at all, so it cannot be picked.
    expect((await roles(c))[CASCADING]).toBe('replica');

    // WHEN main-pg-2 stops THEN main-pg-3 falls back to the leader and becomes its synchronous standby
    const stoppedAt = Date.now();
    await stopUpstream(c);
    await eventually(`${CASCADING} to stream from the leader`, 60_000, async () => (await upstreamOf(c, CASCADING)) === PRIMARY);
    await eventually(`${CASCADING} as the synchronous standby`, 60_000, async () => {
      const senders = await walSenders(c, PRIMARY);
      return senders.some((s) => s.application_name === CASCADING && s.sync_state === 'sync') && (await roles(c))[CASCADING] === 'sync_standby';
    });
    figures.note(`sync mode: ${CASCADING} synchronous standby ${Date.now() - stoppedAt} ms after ${UPSTREAM} stopped`);
    // Commits are synchronous again: a row is on main-pg-3 as soon as its commit returns.
    expect(await rowReaches(c, CASCADING, 4)).toBeLessThan(30_000);

    // WHEN main-pg-2 returns THEN main-pg-3 cascades from it again and main-pg-2 is the synchronous standby
    await cleanup.now(`start patroni on ${UPSTREAM}`);
    await waitCascading(c, 90_000);
    await eventually(`${UPSTREAM} synchronous again`, 60_000, async () => (await roles(c))[UPSTREAM] === 'sync_standby');
    expect((await roles(c))[CASCADING]).toBe('replica');
  }, 240_000);
});
