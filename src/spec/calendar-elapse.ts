import { CALENDAR_MAX_YEAR, CalendarField, CalendarSpec, MICROS_PER_SECOND, WEEKDAY_NAMES, asCalendarSpec } from './calendar';
import { DAY_SECONDS, civilFromDays, daysFromCivil } from './calendar-dates';
import { Clock, Tm, clockFor } from './calendar-zone';

/**
 * When a systemd OnCalendar expression (parsed by calendar.ts) elapses:
 * - nextElapse / searchNextElapse: systemd's own search (calendarspec.c find_next and
 *   calendar_spec_next_usec) step by step, as the nodes' systemd 257 runs it (Debian 12's 252 on
 *   request: it differs in one corner, see withinBounds), so that it agrees with the timers even
 *   where systemd is surprising: it gives up after 1000 steps ("*-02,04,06,09,11-31"), nothing
 *   elapses after 2199, and in a zone with daylight saving time a time in the skipped hour does
 *   not elapse that day while one in the repeated hour elapses once (glibc's mktime, emulated in
 *   calendar-zone.ts);
 * - whyNeverElapses: a schedule whose timer would never start, and why.
 * Neighbours: the civil dates (calendar-dates.ts), the zones' clocks (calendar-zone.ts), the days
 * and times an expression matches (calendar-match.ts), when two expressions elapse together
 * (calendar-collision.ts) and how an elapse is printed (calendar-format.ts).
 * Elapses are microseconds since the epoch: "*:*:0/0.25" elapses between milliseconds.
 * test/tools/calendar.test.ts compares all of it with `systemd-analyze calendar --iterations`.
 */


/** systemd's safety valve (MAX_CALENDAR_ITERATIONS): it stops searching after this many steps. */
const MAX_SEARCH_STEPS = 1000;

// ---- find_next ---------------------------------------------------------------------------------

/** find_end_of_month: the day of tm's month `day` days from its end (1 = the last), or -1. */
function endOfMonthDay(clock: Clock, tm: Tm, day: number): number {
  const t = { ...tm, mon: tm.mon + 1, mday: 1 - day };
  clock.mktime(t);
  return t.mon !== tm.mon ? -1 : t.mday;
}

/** find_matching_component: the earliest value >= `value` the field allows; undefined when none. */
function findMatching(clock: Clock, field: CalendarField, endOfMonth: boolean, tm: Tm, value: number): number | undefined {
  if (!field) return value;
  let best: number | undefined;
  for (const c of field) {
    let { start, stop } = c;
    if (endOfMonth) {
      start = endOfMonthDay(clock, tm, c.start);
      stop = endOfMonthDay(clock, tm, c.stop);
      if (stop > 0) [start, stop] = [stop, start];
    }
    if (start >= value) {
      if (best === undefined || start < best) best = start;
    } else if (c.repeat > 0) {
      const k = start + c.repeat * Math.ceil((value - start) / c.repeat);
      if ((best === undefined || k < best) && (stop < 0 || k <= stop)) best = k;
    }
  }
  return best;
}

/**
 * tm_within_bounds: 1 when tm needs no normalization, 0 when it was normalized (the next unit
 * down reset), -1 past 2199 or backwards.
 */
function withinBounds(clock: Clock, tm: Tm, version: SystemdVersion): number {
  if (tm.year > CALENDAR_MAX_YEAR) return -1;
  const t = { ...tm };
  clock.mktime(t);
  let cmp: number;
  if ((cmp = Math.sign(t.year - tm.year)) !== 0) {
    t.mon = 0;
    // 252 keeps the day: "*-*-1/7" from December 30th skips January 1st (systemd PR 40266).
    if (version !== 252) t.mday = 1;
  } else if ((cmp = Math.sign(t.mon - tm.mon)) !== 0) t.mday = 1;
  else if ((cmp = Math.sign(t.mday - tm.mday)) !== 0) t.hour = 0;
  else if ((cmp = Math.sign(t.hour - tm.hour)) !== 0) t.min = 0;
  else if ((cmp = Math.sign(t.min - tm.min)) !== 0) t.sec = 0;
  else cmp = Math.sign(t.sec - tm.sec);
  if (cmp < 0) return -1;
  if (cmp > 0) Object.assign(tm, t);
  return cmp === 0 ? 1 : 0;
}

function matchesWeekday(clock: Clock, weekdays: number | undefined, tm: Tm): boolean {
  if (weekdays === undefined) return true;
  const t = { ...tm };
  clock.mktime(t);
  return (weekdays & (1 << civilFromDays(daysFromCivil(t.year, t.mon + 1, t.mday)).weekday)) !== 0;
}

type Search = { readonly tm: Tm; readonly micros: number } | 'no-match' | 'gave-up';

function findNext(spec: CalendarSpec, clock: Clock, start: Tm, startMicros: number, version: SystemdVersion): Search {
  const c = { ...start };
  let micros = startMicros;
  const resetBelow = (unit: 'mon' | 'mday' | 'hour' | 'min' | 'sec') => {
    const order = ['mon', 'mday', 'hour', 'min', 'sec'] as const;
    for (const key of order.slice(order.indexOf(unit))) c[key] = key === 'mday' ? 1 : 0;
    micros = 0;
  };
  for (let step = 0; step < MAX_SEARCH_STEPS; step++) {
    clock.mktime(c);

    const year = findMatching(clock, spec.years, false, c, c.year);
    if (year === undefined) return 'no-match';
    if (year !== c.year) {
      c.year = year;
      resetBelow('mon');
    }
    if (withinBounds(clock, c, version) <= 0) return 'no-match';

    const month = findMatching(clock, spec.months, false, c, c.mon + 1);
    let r: number;
    if (month !== undefined && month !== c.mon + 1) {
      c.mon = month - 1;
      resetBelow('mday');
    }
    if (month === undefined || (r = withinBounds(clock, c, version)) < 0) {
      c.year++;
      resetBelow('mon');
      continue;
    }
    if (r === 0) continue;

    const day = findMatching(clock, spec.days, spec.endOfMonth, c, c.mday);
    if (day !== undefined && day !== c.mday) {
      c.mday = day;
      resetBelow('hour');
    }
    if (day === undefined || (r = withinBounds(clock, c, version)) < 0) {
      c.mon++;
      resetBelow('mday');
      continue;
    }
    if (r === 0) continue;
    if (!matchesWeekday(clock, spec.weekdays, c)) {
      c.mday++;
      resetBelow('hour');
      continue;
    }

    const hour = findMatching(clock, spec.hours, false, c, c.hour);
    if (hour !== undefined && hour !== c.hour) {
      c.hour = hour;
      resetBelow('min');
    }
    if (hour === undefined || (r = withinBounds(clock, c, version)) < 0) {
      c.mday++;
      resetBelow('hour');
      continue;
    }
    // A zone's skipped hour: start again from the normalized time.
    if (r === 0) continue;

    const minute = findMatching(clock, spec.minutes, false, c, c.min);
    if (minute !== undefined && minute !== c.min) {
      c.min = minute;
      resetBelow('sec');
    }
    if (minute === undefined || (r = withinBounds(clock, c, version)) < 0) {
      c.hour++;
      resetBelow('min');
      continue;
    }
    if (r === 0) continue;

    const second = findMatching(clock, spec.seconds, false, c, c.sec * MICROS_PER_SECOND + micros);
    if (second !== undefined) {
      c.sec = Math.floor(second / MICROS_PER_SECOND);
      micros = second % MICROS_PER_SECOND;
    }
    if (second === undefined || (r = withinBounds(clock, c, version)) < 0) {
      c.min++;
      c.sec = 0;
      micros = 0;
      continue;
    }
    if (r === 0) continue;
    return { tm: c, micros };
  }
  return 'gave-up';
}

/** The next elapse strictly after `afterMicros`, or why there is none ("gave-up": systemd stops searching). */
export type ElapseSearch = { readonly micros: number; readonly never?: undefined } | { readonly micros?: undefined; readonly never: 'no-match' | 'gave-up' };

/**
 * Whose search: the nodes' systemd 257 (Debian 13, with the fix of systemd PR 40266 backported), or
 * Debian 12's 252, which differs in one corner only (see withinBounds).
 */
export type SystemdVersion = 252 | 257;

/** calendar_spec_next_usec: the first elapse after `afterMicros` (microseconds since the epoch). */
export function searchNextElapse(calendar: CalendarSpec | string, afterMicros: number, version: SystemdVersion = 257): ElapseSearch {
  const spec = asCalendarSpec(calendar);
  const clock = clockFor(spec);
  const from = Math.floor(afterMicros) + 1;
  const seconds = Math.floor(from / MICROS_PER_SECOND);
  const found = findNext(spec, clock, clock.localtime(seconds), from - seconds * MICROS_PER_SECOND, version);
  if (typeof found === 'string') return { never: found };
  return { micros: clock.mktime({ ...found.tm }) * MICROS_PER_SECOND + found.micros };
}

/** The first elapse after `afterMicros`, in microseconds since the epoch; undefined when none. */
export function nextElapseMicros(calendar: CalendarSpec | string, afterMicros: number): number | undefined {
  return searchNextElapse(calendar, afterMicros).micros;
}

/** The first elapse after `after` (to the millisecond); undefined when systemd finds none. */
export function nextElapse(calendar: CalendarSpec | string, after: Date): Date | undefined {
  const micros = nextElapseMicros(calendar, after.getTime() * 1000);
  return micros === undefined ? undefined : new Date(Math.floor(micros / 1000));
}

// ---- schedules that never fire -----------------------------------------------------------------

/** Just before 1970-01-01: where a search for a past elapse starts. */
const BEFORE_EPOCH_MICROS = -1;

/**
 * Why a timer on this expression would never start after `after`, with a fix; undefined when it
 * elapses. "Never" is systemd's own answer (its search, up to 2199): the expression names only
 * dates that do not exist, or only past years, or systemd gives up searching. Without years in
 * it the answer does not depend on `after` (every month, day and weekday combination recurs
 * within 28 years), so only an expression naming past years turns invalid with time.
 */
export function whyNeverElapses(calendar: CalendarSpec | string, after: Date): { readonly reason: string; readonly fix: string } | undefined {
  const spec = asCalendarSpec(calendar);
  const found = searchNextElapse(spec, after.getTime() * 1000);
  if (found.micros !== undefined) return undefined;
  const check = `then check it with \`systemd-analyze calendar --iterations=3 '${spec.expression}'\``;
  if (found.never === 'gave-up') {
    return {
      reason: `systemd gives up its search after ${MAX_SEARCH_STEPS} steps ("Infinite loop in calendar calculation"): most dates it names do not exist`,
      fix: `name only dates that exist (e.g. *-01,03,05,07,08,10,12-31 for the 31st), ${check}`,
    };
  }
  const year = civilFromDays(Math.floor(after.getTime() / (DAY_SECONDS * 1000))).year;
  if (spec.years && searchNextElapse(spec, BEFORE_EPOCH_MICROS).micros !== undefined) {
    return { reason: `every year it names is past`, fix: `name a year from ${year} on, or write * for every year, ${check}` };
  }
  if (spec.weekdays !== undefined && searchNextElapse({ ...spec, weekdays: undefined }, after.getTime() * 1000).micros !== undefined) {
    const days = WEEKDAY_NAMES.filter((_n, i) => spec.weekdays! & (1 << i)).join(',');
    return { reason: `none of its dates falls on ${days}`, fix: `drop the weekdays or name other dates, ${check}` };
  }
  return {
    reason: 'none of the dates it names exists (such as February 30th, April 31st, or February 29th of a year that is not a leap year)',
    fix: `check the day against the length of the month (*-02~01 is the last day of February), ${check}`,
  };
}
