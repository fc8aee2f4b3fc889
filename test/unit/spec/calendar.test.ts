/**
 * The OnCalendar module: the grammar's structure and reasons (spec/calendar.ts), systemd's search
 * and "never" (spec/calendar-elapse.ts). When two expressions elapse together is
 * calendar-collision.test.ts; the agreement with systemd itself is test/tools/calendar.test.ts.
 */
import { calendarProblem, parseCalendar } from '../../../src/spec/calendar';
import { nextElapse, searchNextElapse, whyNeverElapses } from '../../../src/spec/calendar-elapse';

const utc = (iso: string) => new Date(`${iso}Z`);
const micros = (iso: string) => utc(iso).getTime() * 1000;

describe('parseCalendar: the structure systemd keeps', () => {
  test('a shorthand is its expansion', () => {
    expect(parseCalendar('weekly')).toMatchObject({ weekdays: 0b1, years: undefined, months: undefined, days: undefined, hours: [{ start: 0, stop: -1, repeat: 0 }] });
    expect(parseCalendar('daily')).toEqual({ ...parseCalendar('*-*-* 00:00:00'), expression: 'daily' });
    expect(parseCalendar('Quarterly UTC')).toMatchObject({ months: [1, 4, 7, 10].map((start) => ({ start, stop: -1, repeat: 0 })), timeZone: 'UTC' });
  });

  test('weekdays as a bit mask from Monday; all seven are no restriction', () => {
    expect(parseCalendar('Mon..Fri 02:30').weekdays).toBe(0b0011111);
    expect(parseCalendar('sat,Sunday').weekdays).toBe(0b1100000);
    expect(parseCalendar('Mon-Sun').weekdays).toBeUndefined();
  });

  test('fields normalized as systemd does: ranges end on a repetition, useless repetitions go, lists sort', () => {
    const spec = parseCalendar('*-*-* 1..1,0..23/5:10..58/7:00');
    expect(spec.hours).toEqual([{ start: 0, stop: 20, repeat: 5 }, { start: 1, stop: -1, repeat: 0 }]);
    expect(spec.minutes).toEqual([{ start: 10, stop: 52, repeat: 7 }]);
    expect(parseCalendar('*-*-* 5..7/5:00').hours).toEqual([{ start: 5, stop: -1, repeat: 0 }]);
  });

  test('seconds in microseconds, rounded on the 7th decimal; "*" is every whole second', () => {
    expect(parseCalendar('*:*:0/0.5').seconds).toEqual([{ start: 0, stop: -1, repeat: 500_000 }]);
    expect(parseCalendar('01:02:03.1234567').seconds).toEqual([{ start: 3_123_457, stop: -1, repeat: 0 }]);
    expect(parseCalendar('*:*:*').seconds).toEqual([{ start: 0, stop: -1, repeat: 1_000_000 }]);
  });

  test('days from the end of the month, two-digit years, zones', () => {
    expect(parseCalendar('*-02~01')).toMatchObject({ endOfMonth: true, months: [{ start: 2, stop: -1, repeat: 0 }], days: [{ start: 1, stop: -1, repeat: 0 }] });
    expect(parseCalendar('30-01-01').years).toEqual([{ start: 2030, stop: -1, repeat: 0 }]);
    expect(parseCalendar('99-01-01').years).toEqual([{ start: 1999, stop: -1, repeat: 0 }]);
    expect(parseCalendar('*-*-* 01:00 Europe/Berlin').timeZone).toBe('Europe/Berlin');
    expect(parseCalendar('*-*-* 01:00 utc').timeZone).toBe('UTC');
    expect(parseCalendar('*-*-* 01:00').timeZone).toBeUndefined();
  });
});

describe('calendarProblem: why systemd would refuse an expression', () => {
  test.each([
    ['*-*-* 0/24:00', /"\/24" in the hour "0\/24" repeats by more than the range 0..23 allows/],
    ['*:50/15', /the repetition "50\/15" never repeats: 50 \+ 15 is past the last minute 59 \(write "50" alone\)/],
    ['*-*~29', /day from the end of the month ~29 is out of range 1..28/],
    ['*-*~27,28', /~28 is out of range 1..25 \(as entry 2 of a "~" list/],
    ['*-*~03/5', /the repetition "~03\/5" never repeats/],
    ['*:*:5..5', /the second range "5..5" must span at least one second/],
    ['*/2:00', /"\*\/2" is not a valid hour: "\*" stands alone in systemd/],
    ['*-*-* 1..0:00', /the hour range "1..0" runs backwards/],
    ['Mon..Wed..Fri', /"Mon..Wed..Fri" is not a weekday or a weekday list/],
    ['Mond 01:00', /"Mond" is not a weekday/],
    ['nightly', /"nightly" is not a weekday \(Mon, Tue, Wed, Thu, Fri, Sat, Sun\) nor a shorthand/],
    ['2024~02-01', /"2024~02-01" is not a date/],
    ['*-*-* 01:00  UTC', /put a single space before the time zone/],
    ['Mon\t01:00', /a tab or a line break/],
    ['1969-01-01', /year 1969 is out of range 1970..2199/],
    ['01:00:60', /second 60 is out of range 0..59/],
  ])('refuses %p', (expression, reason) => {
    expect(calendarProblem(expression)).toMatch(reason);
  });

  // systemd takes these zones; this library takes only UTC and Area/Location names.
  test.each([
    ['*-*-* 01:00 EST5EDT', '"EST5EDT" is a time zone this library does not take (it takes UTC or an Area/Location name of the tz database): write "*-*-* 01:00 America/New_York" (EST5EDT is America/New_York in the tz database)'],
    ['weekly Japan', '"Japan" is a time zone this library does not take (it takes UTC or an Area/Location name of the tz database): write "weekly Asia/Tokyo" (Japan is Asia/Tokyo in the tz database)'],
    ['daily GMT', '"GMT" is a time zone this library does not take (it takes UTC or an Area/Location name of the tz database): write "daily UTC" (GMT is UTC in the tz database)'],
    ['Mon 01:00 CEST', '"CEST" is a time zone abbreviation, which this library does not take (it takes UTC or an Area/Location name of the tz database): write e.g. "Mon 01:00 UTC" or "Mon 01:00 Europe/Berlin"'],
  ])('refuses the zone of %p, saying what to write', (expression, reason) => {
    expect(calendarProblem(expression)).toBe(reason);
  });

  test.each([['1:00 Mon', /"Mon" is out of place/], ['Wed 3pm', /"3pm" is out of place/], ['01:00 SAT', /"SAT" is out of place/]])('%p: a word out of place is no zone', (expression, reason) => {
    expect(calendarProblem(expression)).toMatch(reason);
  });

  test.each(['anually', 'bi-annually', 'Mon, 01:00', '*:0..60/7', '*-*-* 1..1:00', '*-*~28,28', 'daily  ', '  Mon 01:00'])('accepts %p, as systemd does (blanks around: as a unit file)', (expression) => {
    expect(calendarProblem(expression)).toBeUndefined();
  });
});

describe('nextElapse: systemd\'s search', () => {
  test('strictly after the base time, to the microsecond', () => {
    expect(nextElapse('daily', utc('2026-12-08T00:00:00'))).toEqual(utc('2026-12-09T00:00:00'));
    expect(searchNextElapse('*:*:0/0.25', micros('2026-12-08T00:00:00'))).toEqual({ micros: micros('2026-12-08T00:00:00') + 250_000 });
  });

  test('days from the end: "~07/2" steps towards the end of the month', () => {
    const elapses: string[] = [];
    let after = utc('2027-02-01T00:00:00');
    for (let i = 0; i < 4; i++) {
      after = nextElapse('*-*~07/2', after)!;
      elapses.push(after.toISOString().slice(0, 10));
    }
    expect(elapses).toEqual(['2027-02-22', '2027-02-24', '2027-02-26', '2027-02-28']);
  });

  test('in a zone with DST, a time in the skipped hour does not elapse that day', () => {
    expect(nextElapse('*-*-* 02:30 Europe/Berlin', utc('2027-03-27T12:00:00'))).toEqual(utc('2027-03-29T00:30:00'));
    expect(nextElapse('*-*-* 02:30 Europe/Berlin', utc('2027-10-30T12:00:00'))).toEqual(utc('2027-10-31T00:30:00'));
  });

  test('nothing after 2199; systemd gives up after 1000 steps', () => {
    expect(searchNextElapse('*-12-31 23:59:59', micros('2199-12-31T23:59:59'))).toEqual({ never: 'no-match' });
    expect(searchNextElapse('*-02,04,06,09,11-31', micros('2026-12-08T00:00:00'))).toEqual({ never: 'gave-up' });
    expect(nextElapse('*-02-30', utc('2026-12-08T00:00:00'))).toBeUndefined();
  });

  test('252 skips January 1st after a day repetition past December 31st; 257 (the default) does not', () => {
    const after = micros('2099-12-31T23:00:00');
    expect(searchNextElapse('*-*-1/7 04:00', after, 252)).toEqual({ micros: micros('2100-01-08T04:00:00') });
    expect(searchNextElapse('*-*-1/7 04:00', after)).toEqual({ micros: micros('2100-01-01T04:00:00') });
  });
});

describe('whyNeverElapses', () => {
  const now = utc('2026-12-08T01:24:00');

  test.each<[string, RegExp, RegExp]>([
    ['*-02-30', /none of the dates it names exists/, /length of the month/],
    ['2025-*-* 00:00', /every year it names is past/, /name a year from 2026 on/],
    ['Mon *-02-30', /none of the dates it names exists/, /length of the month/],
    ['Sat 2026-02-*', /every year it names is past/, /name a year from 2026 on/],
    ['Sat 2027-02-29', /none of the dates it names exists/, /length of the month/],
    ['Fri 2027-02-01..04', /none of its dates falls on Fri/, /drop the weekdays/],
    ['*-02,04,06,09,11-31', /systemd gives up its search after 1000 steps/, /name only dates that exist/],
  ])('%p: %p', (expression, reason, fix) => {
    expect(whyNeverElapses(expression, now)).toEqual({ reason: expect.stringMatching(reason), fix: expect.stringMatching(fix) });
  });

  test('a schedule that fires rarely or far ahead fires', () => {
    expect(whyNeverElapses('Mon *-02-29', now)).toBeUndefined();
    expect(whyNeverElapses('2150-01-01', now)).toBeUndefined();
  });

  test('without years the answer does not depend on the day it is asked', () => {
    const expressions = ['*-02-29', 'Mon *-02-29', '*-*~01', 'Fri *-*-13', '*-02-30', 'Sun *-02~01..02'];
    const verdicts = (at: string) => expressions.map((e) => whyNeverElapses(e, utc(at)) === undefined);
    expect(verdicts('2026-12-08T00:00:00')).toEqual([true, true, true, true, false, true]);
    for (const at of ['1999-03-01T00:00:00', '2044-02-29T23:59:59', '2071-06-30T12:00:00']) expect(verdicts(at)).toEqual(verdicts('2026-12-08T00:00:00'));
  });
});
