/**
 * When two OnCalendar expressions elapse together (spec/calendar-collision.ts): named cases, in one
 * zone and across zones (with systemd's own answers around a DST change), and agreement with
 * stepping through both expressions' elapses one by one (systemd's search, spec/calendar-elapse.ts).
 */
import fc from 'fast-check';
import { parseCalendar } from '../../../src/spec/calendar';
import { ElapsePair, firstCollision } from '../../../src/spec/calendar-collision';
import { searchNextElapse } from '../../../src/spec/calendar-elapse';
import { formatElapse } from '../../../src/spec/calendar-format';

const utc = (iso: string) => new Date(`${iso}Z`);
/** Each elapse of a pair in its own expression's zone. */
const text = (pair: ElapsePair | undefined, a: string, b: string) => pair && [formatElapse(pair.first, a), formatElapse(pair.second, b)];

describe('firstCollision: when two expressions elapse together', () => {
  const now = utc('2026-12-08T01:24:00');

  test.each<[string, string, number, string[] | undefined]>([
    ['daily', '*-*-* 00:00:00', 0, ['2026-12-09 00:00:00 UTC', '2026-12-09 00:00:00 UTC']],
    ['Sun *-*-* 01:00', '*-*-* 01:00:00', 0, ['2026-12-13 01:00:00 UTC', '2026-12-13 01:00:00 UTC']],
    ['*-*-01 01:00', 'Mon *-*-* 01:00', 0, ['2027-02-01 01:00:00 UTC', '2027-02-01 01:00:00 UTC']],
    ['Sun *-*-* 01:00', 'Mon..Sat *-*-* 01:00', 360, undefined],
    ['*-*-* 01:00', '*-*-* 01:06', 359, undefined],
    ['*-*-* 01:00', '*-*-* 01:06', 360, ['2026-12-09 01:00:00 UTC', '2026-12-09 01:06:00 UTC']],
    ['*-02-28 23:58', '*-03-01 00:02', 360, ['2027-02-28 23:58:00 UTC', '2027-03-01 00:02:00 UTC']],
    ['Mon *-02-29 00:00', '*-*-* 00:01', 60, ['2044-02-29 00:00:00 UTC', '2044-02-29 00:01:00 UTC']],
    ['*:*:0/2', '*:*:1/2', 0, undefined],
    ['*:*:0/2', '*:*:1/2', 1, ['2026-12-08 01:24:02 UTC', '2026-12-08 01:24:01 UTC']],
    ['2030-06-15 12:00', '*-*-15 12:00', 0, ['2030-06-15 12:00:00 UTC', '2030-06-15 12:00:00 UTC']],
    ['2150-*-* 00:00', '*-12-31 00:00', 0, ['2150-12-31 00:00:00 UTC', '2150-12-31 00:00:00 UTC']],
    ['*-*-* 01:58 Europe/Berlin', '*-*-* 03:01 Europe/Berlin', 360, ['2027-03-28 01:58:00 Europe/Berlin', '2027-03-28 03:01:00 Europe/Berlin']],
    ['Sun *-*-* 01:00 Europe/Berlin', 'Mon..Sat *-*-* 01:00 Europe/Berlin', 360, undefined],
  ])('in one zone: %p and %p within %p s: %p', (a, b, window, expected) => {
    expect(text(firstCollision(a, b, now, window), a, b)).toEqual(expected);
  });

  test.each<[string, string, number, string[] | undefined]>([
    ['Sun *-*-* 01:00:00 Europe/Berlin', 'Mon..Sat *-*-* 12:00:00', 360, undefined],
    ['Sun *-*-* 01:00 Europe/Berlin', 'Mon..Sat *-*-* 01:00', 360, undefined],
    ['Sun *-*-* 01:00 Europe/Berlin', 'Sun *-*-* 00:00', 0, ['2026-12-13 01:00:00 Europe/Berlin', '2026-12-13 00:00:00 UTC']],
    ['Sun *-*-* 01:00 Europe/Berlin', 'Sat *-*-* 23:58', 360, ['2026-12-13 01:00:00 Europe/Berlin', '2026-12-12 23:58:00 UTC']],
    ['daily', 'daily Europe/Berlin', 0, undefined],
    ['daily', 'daily Europe/Berlin', 3600, ['2026-12-09 00:00:00 UTC', '2026-12-09 00:00:00 Europe/Berlin']],
    ['daily UTC', 'daily Etc/UTC', 0, ['2026-12-09 00:00:00 UTC', '2026-12-09 00:00:00 UTC']],
    // 5 hours apart only while New York has begun daylight saving time and Berlin has not (or has ended it and New York not).
    ['*-*-* 19:00 America/New_York', '*-*-* 00:00 Europe/Berlin', 0, ['2027-03-14 19:00:00 America/New_York', '2027-03-15 00:00:00 Europe/Berlin']],
    ['Fri *-*-* 23:30 America/New_York', 'Sat *-*-* 04:30', 0, ['2026-12-11 23:30:00 America/New_York', '2026-12-12 04:30:00 UTC']],
  ])('across zones: %p and %p within %p s: %p', (a, b, window, expected) => {
    expect(text(firstCollision(a, b, now, window), a, b)).toEqual(expected);
  });

  test('across zones, only while their offsets line up: winter in Berlin (CET, UTC+1) and a UTC schedule an hour earlier', () => {
    // GIVEN summer: Berlin's Sunday 01:00 is Saturday 23:00 UTC, an hour from 23:58
    const pair = firstCollision('Sun *-*-* 01:00 Europe/Berlin', 'Sat *-*-* 23:58', utc('2027-04-01T00:00:00'), 360);
    // THEN the first collision is the first Sunday of CET (DST ends on 2027-10-31 at 03:00 CEST)
    expect(text(pair, 'Sun *-*-* 01:00 Europe/Berlin', 'Sat *-*-* 23:58')).toEqual(['2027-11-07 01:00:00 Europe/Berlin', '2027-11-06 23:58:00 UTC']);
  });

  // systemd-analyze calendar: on 2027-10-31 "*-*-* 02:30 Europe/Berlin" elapses at 00:30 UTC (CEST)
  // and not at 01:30 UTC (CET); on 2027-11-07 "*-*-* 01:30 America/New_York" at 05:30 UTC only. A
  // search started within the repeated hour would find the second one, which the timer skips.
  test.each<[string, string, number, string | undefined]>([
    ['*-*-* 02:30 Europe/Berlin', '2027-10-31 00:30', 0, '2027-10-31 00:30:00 UTC'],
    ['*-*-* 02:30 Europe/Berlin', '2027-10-31 01:30', 0, undefined],
    ['*-*-* 01:30 America/New_York', '2027-11-07 05:30', 0, '2027-11-07 05:30:00 UTC'],
    ['*-*-* 01:30 America/New_York', '2027-11-07 06:30', 0, undefined],
    // 03:00 CET is 02:00 UTC: half an hour after the 02:30 that does not elapse, 90 minutes after the one that does.
    ['*-*-* 02:30 Europe/Berlin', '2027-10-31 03:00 Europe/Berlin', 1800, undefined],
  ])('a time of the repeated hour elapses once, as systemd says: %p and %p within %p s', (a, b, window, expected) => {
    expect(text(firstCollision(a, b, now, window), 'daily', 'daily')?.[0]).toEqual(expected);
  });

  test('fails when the window is a day or more', () => {
    expect(() => firstCollision('daily', 'daily Europe/Berlin', now, 86_400)).toThrow(/the window must be 0 to 86399 seconds, got 86400/);
  });
});

// Pairs whose every elapse over the whole horizon must be compared (they never collide): how long
// that takes is a benchmark's business, not a unit test's; here they must finish and say "never".
describe('firstCollision over the whole horizon, across zones', () => {
  test.each<[string, string, number]>([
    ['minutely Europe/Berlin', '*-*-* *:00:30 America/New_York', 0],
    ['hourly Europe/Berlin', '*-*-* *:30 America/New_York', 360],
    ['Sun *-*-* 01:00:00 Europe/Berlin', 'Mon..Sat *-*-* 12:00:00', 360],
  ])('%p and %p never start within %p s of each other', (a, b, window) => {
    expect(firstCollision(a, b, utc('2026-12-08T01:24:00'), window)).toBeUndefined();
  });
});

describe('firstCollision agrees with stepping through both expressions\' elapses', () => {
  const POOL = [
    'daily', '*-*-* 00/4:30', 'quarterly', 'Sun *-*-* 01:00', '*-*-* 01:00:00', 'Mon..Sat 01:00', '*-*-01 01:00', 'Mon *-*-* 01:00',
    '*-*~01 23:58', '*-*-* 00:02', 'Sat *-*-* 23:58', '*-*-* 07..23/6:00', '*-*-* 00/6:00', 'Fri *-*-13 12:00', '*-02~01 12:00',
    '*-*-* 01:05', '*-*-* 01:58', '*-*-* 02:30', '*-*-* 03:01', 'Sun *-*-* 02:59:30',
  ];
  /** Often enough to meet around a DST change of either zone. */
  const FREQUENT = ['hourly', '*:0/20', '*-*-* 01..03:00/7', '*-*-* 00/2:59', '*:07:30', 'Sun *-*-* 00..04:00/15', '*-*-* 02:30', '*-*-* 01:30'];
  const HORIZON_MICROS = 430 * 86_400_000_000;
  const CAP = 1000;

  /** Every elapse from `after` to the horizon (at most CAP), by systemd's search. */
  function elapses(expression: string, after: number): number[] {
    const spec = parseCalendar(expression);
    const list: number[] = [];
    for (let t = after; list.length < CAP; ) {
      const next = searchNextElapse(spec, t).micros;
      if (next === undefined || next > after + HORIZON_MICROS) break;
      list.push(next);
      t = next;
    }
    return list;
  }

  /** firstCollision against brute force, where both lists of elapses are complete (up to a window before their ends). */
  function expectAgreement(exprA: string, exprB: string, window: number, after: number): void {
    const listA = elapses(exprA, after * 1000);
    const listB = elapses(exprB, after * 1000);
    const horizon =
      Math.min(listA.length === CAP ? listA[CAP - 1] : Infinity, listB.length === CAP ? listB[CAP - 1] : Infinity, after * 1000 + HORIZON_MICROS) -
      window * 1_000_000;
    const partnerWithin = (x: number, others: number[]) => {
      let [low, high] = [0, others.length];
      while (low < high) {
        const middle = (low + high) >> 1;
        if (others[middle] < x) low = middle + 1;
        else high = middle;
      }
      return low < others.length && others[low] - x <= window * 1_000_000;
    };
    // The earliest pair (by its earlier elapse): the first elapse with one of the other at most `window` later.
    const brute = [...listA.map((x) => [x, listB] as const), ...listB.map((x) => [x, listA] as const)]
      .sort(([x], [y]) => x - y)
      .find(([x, others]) => partnerWithin(x, others))?.[0];
    const pair = firstCollision(exprA, exprB, new Date(after), window);
    const ours = pair && Math.min(pair.first, pair.second);
    const within = (t: number | undefined) => (t !== undefined && t <= horizon ? t : undefined);
    expect({ exprA, exprB, window, after: new Date(after).toISOString(), first: within(ours) }).toEqual({
      exprA, exprB, window, after: new Date(after).toISOString(), first: within(brute),
    });
    if (pair) {
      expect(Math.abs(pair.first - pair.second)).toBeLessThanOrEqual(window * 1_000_000);
      expect([searchNextElapse(exprA, pair.first - 1).micros, searchNextElapse(exprB, pair.second - 1).micros]).toEqual([pair.first, pair.second]);
    }
  }

  test('on 40 seeded pairs, windows and base times, in UTC and in Europe/Berlin', () => {
    const cases = fc.sample(
      fc.record({
        a: fc.constantFrom(...POOL),
        b: fc.constantFrom(...POOL),
        zone: fc.constantFrom('', ' Europe/Berlin'),
        window: fc.constantFrom(0, 60, 360),
        after: fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2031, 0, 1) }),
      }),
      { seed: 20261208, numRuns: 40 },
    );
    for (const { a, b, zone, window, after } of cases) expectAgreement(a + zone, b + zone, window, after);
  });

  const TWO_ZONES = fc.constantFrom<[string, string]>(
    ['', ' Europe/Berlin'], [' Europe/Berlin', ''], ['', ' America/New_York'], [' America/New_York', ''],
    [' Europe/Berlin', ' America/New_York'], [' America/New_York', ' Europe/Berlin'],
  );

  test('on 40 seeded pairs in two of UTC, Europe/Berlin and America/New_York', () => {
    const cases = fc.sample(
      fc.record({
        a: fc.constantFrom(...POOL, ...FREQUENT),
        b: fc.constantFrom(...POOL, ...FREQUENT),
        zones: TWO_ZONES,
        window: fc.constantFrom(0, 60, 360, 3600),
        after: fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2031, 0, 1) }),
      }),
      { seed: 20261209, numRuns: 40 },
    );
    for (const { a, b, zones, window, after } of cases) expectAgreement(a + zones[0], b + zones[1], window, after);
  });

  test('on 30 seeded pairs of frequent schedules in two zones, from a few days before a DST change', () => {
    // Berlin changes on the last Sundays of March and October, New York on the second Sunday of
    // March and the first of November.
    const changes = ['2027-03-14T07:00:00Z', '2027-03-28T01:00:00Z', '2027-10-31T01:00:00Z', '2027-11-07T06:00:00Z', '2030-03-31T01:00:00Z', '2030-11-03T06:00:00Z'];
    const cases = fc.sample(
      fc.record({
        a: fc.constantFrom(...FREQUENT),
        b: fc.constantFrom(...FREQUENT),
        zones: TWO_ZONES,
        window: fc.constantFrom(0, 60, 360, 3600),
        change: fc.constantFrom(...changes),
        before: fc.integer({ min: 0, max: 2 * 86_400_000 }),
      }),
      { seed: 20261210, numRuns: 30 },
    );
    for (const { a, b, zones, window, change, before } of cases) expectAgreement(a + zones[0], b + zones[1], window, Date.parse(change) - before);
  });
});
