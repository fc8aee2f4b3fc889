/**
 * The OnCalendar module (src/spec/calendar.ts, src/spec/calendar-elapse.ts) against systemd's own
 * parser and search, `systemd-analyze calendar --iterations=N --base-time=@<epoch>` with TZ=UTC
 * as on the nodes: this machine's systemd 252 (Debian 12) for everything, and the node runtime
 * root's 257 (Debian 13) for the fixed corpus.
 * - a fixed corpus (every shorthand, weekday lists and ranges, repetitions, "~", years,
 *   fractional seconds, lists, zones with daylight saving time) from base times at month, leap
 *   year, year and century ends and on DST changes: the same elapses to the second, the same
 *   "never", the same give-up;
 * - a few hundred expressions from a seeded generator, valid and not: the same verdict, the same elapses;
 * - what the grammar refuses systemd refuses, except where this module is stricter on purpose;
 * - schedules that never fire: systemd finds no next elapse and the BackupJob spec refuses them.
 * systemd-analyze takes many expressions in one call: one call per base time.
 */
import fc from 'fast-check';
import { validateBackupJobSpec } from '../../src/spec/backup-job';
import { calendarProblem } from '../../src/spec/calendar';
import { SystemdVersion, searchNextElapse } from '../../src/spec/calendar-elapse';
import { SpecError } from '../../src/spec/problems';
import { CommandResult, requireBinaries, requireNodeBinaries, runCommand } from '../support/processes';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const ITERATIONS = 8;
const SEED = Number(process.env.CALENDAR_SEED ?? 20261208);
const RANDOM_RUNS = Number(process.env.CALENDAR_RUNS ?? 400);

/** What systemd says of an expression from a base time. */
type Verdict =
  | { readonly kind: 'refused' }
  | { readonly kind: 'gave-up' }
  /** Up to ITERATIONS elapses, UTC to the second; fewer when there are no more. */
  | { readonly kind: 'elapses'; readonly times: readonly string[] };

const utcText = (micros: number) => new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19).replace('T', ' ');

function failureText(what: string, result: CommandResult): string {
  return `${what}: exit ${result.code}${result.signal ? ` (${result.signal})` : ''} after ${result.durationMs} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** systemd-analyze calendar on many expressions at once, by expression. */
async function systemdVerdicts(expressions: readonly string[], baseSeconds: number, node = false): Promise<Map<string, Verdict>> {
  const unique = [...new Set(expressions)];
  const result = await runCommand(SYSTEMD_ANALYZE, {
    node,
    args: ['calendar', `--iterations=${ITERATIONS}`, `--base-time=@${baseSeconds}`, '--', ...unique],
    env: { TZ: 'UTC' },
    timeoutMs: 20_000,
  });
  const verdicts = new Map<string, Verdict>();
  // A block per expression that systemd could evaluate ("Original form" only when the normalized
  // form differs); the others only on stderr.
  for (const block of result.stdout.split(/\n\s*\n/)) {
    const expression = /^ *Original form: (.*)$/m.exec(block)?.[1] ?? /^ *Normalized form: (.*)$/m.exec(block)?.[1];
    if (expression === undefined) continue;
    const times = [...block.matchAll(/(?:Next elapse|Iter\. #\d+|Iteration #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map((m) => m[1]);
    verdicts.set(expression, { kind: 'elapses', times });
  }
  for (const [, expression] of result.stderr.matchAll(/^Failed to parse calendar specification '(.*)': /gm)) verdicts.set(expression, { kind: 'refused' });
  for (const [, expression] of result.stderr.matchAll(/^Failed to determine next elapse for '(.*)': /gm)) verdicts.set(expression, { kind: 'gave-up' });
  const missing = unique.filter((e) => !verdicts.has(e));
  if (missing.length > 0) throw new Error(failureText(`systemd-analyze calendar said nothing of ${JSON.stringify(missing)}`, result));
  return verdicts;
}

/** The same from this module, searching as that systemd does. */
function ourVerdict(expression: string, baseSeconds: number, version: SystemdVersion): Verdict {
  if (calendarProblem(expression) !== undefined) return { kind: 'refused' };
  const times: string[] = [];
  let after = baseSeconds * 1_000_000;
  for (let i = 0; i < ITERATIONS; i++) {
    const next = searchNextElapse(expression, after, version);
    if (next.never === 'gave-up') return { kind: 'gave-up' };
    if (next.micros === undefined) break;
    times.push(utcText(next.micros));
    after = next.micros;
  }
  return { kind: 'elapses', times };
}

/** Every expression whose verdicts differ, with both: this machine's systemd 252, or the node root's 257. */
async function disagreements(expressions: readonly string[], baseSeconds: number, version: SystemdVersion = 252) {
  const theirs = await systemdVerdicts(expressions, baseSeconds, version === 257);
  return expressions
    .map((expression) => ({ expression, ours: ourVerdict(expression, baseSeconds, version), systemd: theirs.get(expression)! }))
    .filter(({ ours, systemd }) => JSON.stringify(ours) !== JSON.stringify(systemd));
}

const at = (iso: string) => Date.parse(iso) / 1000;

/** Month, leap-year, year and century ends, DST changes (Europe/Berlin, America/New_York, Australia/Lord_Howe), systemd's last year. */
const BASE_TIMES = [
  at('1970-01-01T00:00:00Z'),
  at('2023-12-31T23:59:59Z'),
  at('2024-02-28T23:59:59Z'),
  at('2024-02-29T12:00:00Z'),
  at('2025-02-28T23:59:59Z'),
  at('2026-03-29T00:30:00Z'),
  at('2026-10-25T00:30:00Z'),
  at('2026-11-01T05:10:00Z'),
  at('2026-04-04T14:20:00Z'),
  at('2026-12-31T23:30:00Z'),
  at('2099-12-31T23:00:00Z'),
  at('2199-12-31T22:00:00Z'),
];

const CORPUS = [
  // shorthands, in systemd's spellings and cases, with zones
  'minutely', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'annually', 'anually', 'quarterly', 'semiannually',
  'semi-annually', 'biannually', 'bi-annually', 'DAILY', 'Hourly', 'daily UTC', 'weekly Europe/Berlin', 'monthly America/New_York',
  // weekdays: names, lists, ranges (".." and "-"), a trailing comma
  'Mon', 'mon,wed,fri', 'Sat,Sun 03:30', 'Mon..Fri 02:30', 'Mon-Fri 02:30', 'Monday..Wednesday,Sat 00:00', 'Tue, 12:00',
  'Sunday *-*-* 01:00:00', 'Mon..Sat *-*-* 01:00:00', 'Fri *-*-13 12:00', 'Mon *-*-01 00:00', 'Mon *-02-29', 'Sat *-12~01',
  'Thu..Sat *-*~01..07 18:00', 'Wed,Sun *-*-* 03:00:00',
  // repetitions
  '*:0/15', '*-*-* 07..23/6:00:00', '*-*-* 00..06/2:00', '*:5/10', '0/3:00', '*-*-1/7 04:00', '*-1/2-1 00:00',
  '*-*-* 8..18:00/30', '*:0..59/7', '*:0..60/7', '*-*-* 22..23:58..59', '*-*-* 1..1:00', '*-*-* 5..7/5:00',
  // days from the end of the month
  '*-02~01', '*-*~01', '*-*~01 23:59:59', '*-*~07/2', '*-*~01..03 12:00', '*-01,02,03~28', '2024-02~01..05', '*-*~15/7',
  // years
  '2030-01-01', '2027,2029-06-15 12:00', '2025..2035/5-01-01', '30-03-01 00:00', '2199-12-31 23:59:59', '2100-02-28..29',
  'Sat 2026..2027-*-* 06:00', '1980..2199/20-07-04 04:00',
  // fractional seconds
  '*-*-* 01:00:00.25', '*:*:0/0.5', '*:*:10.5..20/2.25', '*-*-* 12:00:59.999999', '*:*:1.1234567', '*:*:*',
  // lists
  '*-1,4,7,10-1 03:00', '*-*-* 04:00,16:30', '*-*-* 1,13:15,45', '*-*-5,10,15..20 09:00', '*-3,1,2-31,1 00:00',
  // zones, and the days they change
  '*-*-01 04:00 UTC', '*-*-* 01:00 utc', '*-*-* 01:00 Europe/Berlin', '*-*-* 02:30 Europe/Berlin', '*:0/20 Europe/Berlin',
  '*-*-* 01:30 America/New_York', '*:0/15 America/New_York', 'Mon..Fri 09:00 Asia/Kolkata', '*:0/15 Australia/Lord_Howe',
  '*:0/30 Europe/Dublin', '*-*-* 00:30 America/Santiago', '*-*-* 01:00 Etc/UTC', '*-*~01 02:30 Europe/Berlin',
  // never, and systemd giving up
  '*-02-30', '*-04-31', '2020-*-* 00:00', 'Mon 2199-02-29', 'Fri 2027-02-29', '*-02,04,06,09,11-31',
];

describe('the OnCalendar module agrees with systemd-analyze calendar', () => {
  beforeAll(() => requireBinaries([SYSTEMD_ANALYZE]));

  test(`the corpus has what the issue asks for (${CORPUS.length} expressions, ${BASE_TIMES.length} base times)`, () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CORPUS).size).toBe(CORPUS.length);
    expect(CORPUS.filter((e) => calendarProblem(e) !== undefined)).toEqual([]);
  });

  test.each(BASE_TIMES.map((base) => [new Date(base * 1000).toISOString(), base]))('the corpus from %s: the same elapses (systemd 252)', async (_when, base) => {
    expect(await disagreements(CORPUS, base)).toEqual([]);
  });

  test('the corpus from three base times: the same elapses with the nodes\' systemd 257 (Debian 13)', async () => {
    requireNodeBinaries([SYSTEMD_ANALYZE]);
    for (const base of [at('2024-02-28T23:59:59Z'), at('2026-10-25T00:30:00Z'), at('2099-12-31T23:00:00Z')]) {
      expect({ base, differences: await disagreements(CORPUS, base, 257) }).toEqual({ base, differences: [] });
    }
  });

  test('where 252 and 257 differ: a day repetition past December 31st (252 skips January 1st, systemd PR 40266)', async () => {
    requireNodeBinaries([SYSTEMD_ANALYZE]);
    const base = at('2099-12-31T23:00:00Z');
    const [old, current] = await Promise.all([systemdVerdicts(['*-*-1/7 04:00'], base), systemdVerdicts(['*-*-1/7 04:00'], base, true)]);
    expect([old.get('*-*-1/7 04:00'), current.get('*-*-1/7 04:00')]).toEqual([ourVerdict('*-*-1/7 04:00', base, 252), ourVerdict('*-*-1/7 04:00', base, 257)]);
    expect(ourVerdict('*-*-1/7 04:00', base, 252)).toMatchObject({ times: expect.arrayContaining(['2100-01-08 04:00:00']) });
    expect(ourVerdict('*-*-1/7 04:00', base, 252)).not.toMatchObject({ times: expect.arrayContaining(['2100-01-01 04:00:00']) });
    expect(ourVerdict('*-*-1/7 04:00', base, 257)).toMatchObject({ times: expect.arrayContaining(['2100-01-01 04:00:00']) });
  });

  test(`${RANDOM_RUNS} generated expressions, valid or not: the same verdict and elapses (seed ${SEED})`, async () => {
    const cases = fc.sample(fc.tuple(expression, fc.constantFrom(...BASE_TIMES)), { seed: SEED, numRuns: RANDOM_RUNS });
    const byBase = new Map<number, string[]>();
    for (const [text, base] of cases) byBase.set(base, [...(byBase.get(base) ?? []), text]);
    const differences = (await Promise.all([...byBase].map(([base, texts]) => disagreements(texts, base)))).flat();
    expect(differences).toEqual([]);
    // The generator is worth its runs: most expressions are valid, some are not, some never elapse.
    const verdicts = cases.map(([text, base]) => ourVerdict(text, base, 252));
    const valid = verdicts.filter((v) => v.kind === 'elapses').length;
    expect(valid).toBeGreaterThan(RANDOM_RUNS * 0.6);
    expect(RANDOM_RUNS - valid).toBeGreaterThan(RANDOM_RUNS * 0.05);
  });
});

// ---- a generator of OnCalendar expressions, mostly valid ----------------------------------------

const pad = (n: number) => (n < 10 && n >= 0 ? `0${n}` : String(n));
/** A number of the field, now and then just outside its range. */
const numberIn = (min: number, max: number) => fc.oneof({ weight: 9, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: fc.integer({ min: min - 1, max: max + 2 }) });
function field(min: number, max: number, seconds = false): fc.Arbitrary<string> {
  const value = seconds
    ? fc.oneof(numberIn(min, max).map(pad), fc.tuple(fc.integer({ min, max }), fc.integer({ min: 0, max: 999 })).map(([s, ms]) => `${pad(s)}.${ms}`))
    : numberIn(min, max).map(pad);
  const step = seconds
    ? fc.oneof(fc.integer({ min: 1, max: 30 }).map(String), fc.constantFrom('0.5', '2.25', '0'))
    : fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: Math.max(2, Math.floor((max - min) / 3)) }) }, { weight: 1, arbitrary: fc.constant(0) }).map(String);
  // Mostly ascending, now and then backwards.
  const range = fc.tuple(value, value, fc.integer({ min: 0, max: 9 })).map(([a, b, backwards]) => {
    const [low, high] = Number(a) <= Number(b) ? [a, b] : [b, a];
    return backwards === 0 ? `${high}..${low}` : `${low}..${high}`;
  });
  const item = fc.oneof(
    { weight: 5, arbitrary: value },
    { weight: 2, arbitrary: range },
    { weight: 2, arbitrary: fc.tuple(value, step).map(([a, n]) => `${a}/${n}`) },
    { weight: 1, arbitrary: fc.tuple(range, step).map(([r, n]) => `${r}/${n}`) },
  );
  return fc.oneof({ weight: 4, arbitrary: fc.constant('*') }, { weight: 5, arbitrary: item }, { weight: 2, arbitrary: fc.array(item, { minLength: 2, maxLength: 3 }).map((l) => l.join(',')) });
}
const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun', 'monday', 'SUNDAY', 'Friday'];
const dayIndex = (name: string) => ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].indexOf(name.slice(0, 3).toLowerCase());
const weekdayItem = fc.oneof(
  fc.constantFrom(...DAY_NAMES),
  // Mostly ascending, now and then backwards.
  fc.tuple(fc.constantFrom(...DAY_NAMES), fc.constantFrom('..', '-'), fc.constantFrom(...DAY_NAMES), fc.integer({ min: 0, max: 9 })).map(([a, sep, b, backwards]) => {
    const [low, high] = dayIndex(a) <= dayIndex(b) ? [a, b] : [b, a];
    return backwards === 0 ? `${high}${sep}${low}` : `${low}${sep}${high}`;
  }),
);
const weekdays = fc.array(weekdayItem, { minLength: 1, maxLength: 3 }).map((l) => l.join(','));
const date = fc.oneof(
  fc.tuple(field(1, 12), fc.constantFrom('-', '-', '~'), field(1, 31)).map(([m, sep, d]) => `${m}${sep}${d}`),
  fc.tuple(fc.oneof(field(2020, 2035), fc.constant('*')), field(1, 12), fc.constantFrom('-', '-', '~'), field(1, 31)).map(([y, m, sep, d]) => `${y}-${m}${sep}${d}`),
);
const time = fc.oneof(
  fc.tuple(field(0, 23), field(0, 59)).map(([h, m]) => `${h}:${m}`),
  fc.tuple(field(0, 23), field(0, 59), field(0, 59, true)).map(([h, m, s]) => `${h}:${m}:${s}`),
);
const zone = fc.constantFrom('', '', '', '', '', ' UTC', ' Europe/Berlin', ' America/New_York', ' Asia/Kolkata');
const expression: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('hourly', 'daily', 'weekly', 'monthly', 'quarterly'), zone).map(([s, z]) => s + z) },
  {
    weight: 9,
    arbitrary: fc
      .tuple(fc.option(weekdays, { freq: 3 }), fc.option(date, { freq: 4 }), fc.option(time, { freq: 5 }), zone)
      .filter(([w, d, t]) => w !== null || d !== null || t !== null)
      .map(([w, d, t, z]) => [w, d, t].filter((p) => p !== null).join(' ') + z),
  },
);

// ---- the grammar's verdicts -----------------------------------------------------------------

describe('what the grammar refuses, systemd refuses', () => {
  const REFUSED = [
    'Funday 01:00', 'Fri..Mon 01:00', '*-*-* 25:00', '*-*-* 23:60', '*-13-01', '*-*-32', '01:00:60', '1:00 Mon', '*-*-* 0:0/0',
    'every day', 'now', '*-*-* 01:00 Mars/Olympus', 'Wed 3pm', '*/2:00', '*,3:00', 'Mon..', 'Mon-Wed..Fri', 'Mond', '*-*~29',
    '*-*-1/31', '*:50/15', '*:*:5..5', '*-*~03/5', '2024~02-01', '1969-01-01', '*-*-* 01:00  UTC', '*-*-*:00', '01:', '*-*-* 1..0:00',
    '*-*-* 01:00:00.', '*-*-* 0/24:00', 'Mon,,Tue', '2024-01-01-01', '*-*-* *:*:*:*',
  ];
  /** systemd takes these; the grammar refuses them on purpose (spec/calendar.ts says why). */
  const STRICTER = ['@1700000000', '*-*-* 01:00 EST', '*-*-* 01:00 EST5EDT', '*-*-* 01:00 Japan', 'daily GMT'];
  /**
   * systemd-analyze refuses blanks around an expression; a unit file's parser strips them from
   * OnCalendar= first, and so does the grammar.
   */
  const LOOSER = [' daily', 'Mon 01:00 '];

  beforeAll(() => requireBinaries([SYSTEMD_ANALYZE]));

  test('every refused expression: a reason here, refused by systemd 252', async () => {
    const theirs = await systemdVerdicts(REFUSED, at('2026-12-08T00:00:00Z'));
    expect(REFUSED.filter((e) => calendarProblem(e) === undefined)).toEqual([]);
    expect(REFUSED.filter((e) => theirs.get(e)!.kind !== 'refused')).toEqual([]);
  });

  test('stricter than systemd: a time zone other than UTC without a "/", "@epoch"', async () => {
    const theirs = await systemdVerdicts(STRICTER, at('2026-12-08T00:00:00Z'));
    expect(STRICTER.map((e) => [e, calendarProblem(e) !== undefined, theirs.get(e)!.kind])).toEqual(STRICTER.map((e) => [e, true, 'elapses']));
  });

  test('looser than systemd-analyze, as a unit file: blanks around the expression', async () => {
    const theirs = await systemdVerdicts(LOOSER, at('2026-12-08T00:00:00Z'));
    expect(LOOSER.map((e) => [e, calendarProblem(e), theirs.get(e)!.kind])).toEqual(LOOSER.map((e) => [e, undefined, 'refused']));
  });
});

// ---- never ----------------------------------------------------------------------------------

describe('schedules that never fire', () => {
  const NEVER = ['*-02-30', '*-04-31', '2020-*-* 00:00', 'Mon *-02-30', 'Mon 2199-02-29', '2025-12-31 23:00', '*-02,04,06,09,11-31', 'Sat 2026-02-29'];

  test('systemd finds no next elapse of them, and the BackupJob spec refuses each', async () => {
    const now = Math.floor(Date.now() / 1000);
    const theirs = await systemdVerdicts(NEVER, now);
    expect(NEVER.map((e) => [e, theirs.get(e)])).toEqual(
      NEVER.map((e) => [e, e === '*-02,04,06,09,11-31' ? { kind: 'gave-up' } : { kind: 'elapses', times: [] }]),
    );
    for (const schedule of NEVER) {
      let refused: unknown;
      try {
        validateBackupJobSpec({ verifySchedule: schedule });
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(SpecError);
      expect((refused as SpecError).problems).toEqual([
        expect.objectContaining({ path: 'verifySchedule', given: schedule, expected: expect.stringMatching(/^a schedule that fires: systemd finds no elapse of it after /) }),
      ]);
    }
  });
});
