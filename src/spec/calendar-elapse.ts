import { CALENDAR_MAX_YEAR, CalendarField, CalendarSpec, MICROS_PER_SECOND, WEEKDAY_NAMES, parseCalendar } from './calendar';

/**
 * When systemd OnCalendar expressions (parsed by calendar.ts) elapse:
 * - nextElapse / searchNextElapse: systemd's own search (calendarspec.c find_next and
 *   calendar_spec_next_usec) step by step, as the nodes' systemd 257 runs it (Debian 12's 252 on
 *   request: it differs in one corner, see withinBounds), so that it agrees with the timers even
 *   where systemd is surprising: it gives up after 1000 steps ("*-02,04,06,09,11-31"), nothing
 *   elapses after 2199, and in a zone with daylight saving time a time in the skipped hour does
 *   not elapse that day while one in the repeated hour elapses once (glibc's mktime, emulated);
 * - whyNeverElapses: a schedule whose timer would never start, and why;
 * - firstCollision: the first time two expressions elapse (nearly) together;
 * - calendarDayMatches, nextTimeOfDay, calendarTimesOfDay: the days and times an expression
 *   matches, which the search finds one by one (render/alert-rules.ts derives backup gaps from them).
 * An expression without a zone is in the machine's zone, which is UTC on every node; an explicit
 * zone takes its offsets from Intl (the tz database of Node's ICU, which may lag the nodes' tzdata).
 * Elapses are microseconds since the epoch: "*:*:0/0.25" elapses between milliseconds.
 * test/tools/calendar.test.ts compares all of it with `systemd-analyze calendar --iterations`.
 */

const DAY_SECONDS = 86_400;
const DAY_MICROS = DAY_SECONDS * MICROS_PER_SECOND;
/** systemd's safety valve (MAX_CALENDAR_ITERATIONS): it stops searching after this many steps. */
const MAX_SEARCH_STEPS = 1000;

// ---- civil dates (proleptic Gregorian, as timegm counts) ---------------------------------------

/** Days since 1970-01-01 of a date; a day or month out of range carries over, as mktime does. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = year + Math.floor((month - 1) / 12);
  const m = (((month - 1) % 12) + 12) % 12; // 0 = January
  const shifted = m < 2 ? y - 1 : y;
  const era = Math.floor(shifted / 400);
  const yearOfEra = shifted - era * 400;
  const dayOfYear = Math.floor((153 * ((m + 10) % 12) + 2) / 5);
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468 + day - 1;
}

export interface CivilDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  readonly day: number;
  /** 0 = Monday .. 6 = Sunday, as systemd counts weekdays. */
  readonly weekday: number;
}

export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return {
    year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0),
    month,
    day: dayOfYear - Math.floor((153 * mp + 2) / 5) + 1,
    // 1970-01-01 was a Thursday.
    weekday: (((days + 3) % 7) + 7) % 7,
  };
}

const daysInMonth = (year: number, month: number) => daysFromCivil(year, month + 1, 1) - daysFromCivil(year, month, 1);

// ---- struct tm and the clocks ----------------------------------------------------------------

/** A struct tm as find_next moves it: full year, month 0..11; out of range until normalized. */
interface Tm {
  year: number;
  mon: number;
  mday: number;
  hour: number;
  min: number;
  sec: number;
}

function timegm(tm: Tm): number {
  return daysFromCivil(tm.year, tm.mon + 1, tm.mday) * DAY_SECONDS + tm.hour * 3600 + tm.min * 60 + tm.sec;
}

function setFields(tm: Tm, localSeconds: number): void {
  const days = Math.floor(localSeconds / DAY_SECONDS);
  const rest = localSeconds - days * DAY_SECONDS;
  const date = civilFromDays(days);
  tm.year = date.year;
  tm.mon = date.month - 1;
  tm.mday = date.day;
  tm.hour = Math.floor(rest / 3600);
  tm.min = Math.floor((rest % 3600) / 60);
  tm.sec = rest % 60;
}

/** localtime_r and mktime of one zone. */
interface Clock {
  localtime(epochSeconds: number): Tm;
  /** Normalizes `tm` in place; returns its instant. */
  mktime(tm: Tm): number;
  /** Seconds east of UTC at an instant. */
  offset(epochSeconds: number): number;
}

const UTC_CLOCK: Clock = {
  localtime(epochSeconds) {
    const tm = { year: 0, mon: 0, mday: 0, hour: 0, min: 0, sec: 0 };
    setFields(tm, epochSeconds);
    return tm;
  },
  mktime(tm) {
    const seconds = timegm(tm);
    setFields(tm, seconds);
    return seconds;
  },
  offset: () => 0,
};

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(zone: string): Intl.DateTimeFormat {
  let format = zoneFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    zoneFormats.set(zone, format);
  }
  return format;
}

/** Seconds east of UTC in `zone` at an instant, from Intl ("12/31/2026, 23:59:59"). */
function intlOffset(zone: string, epochSeconds: number): number {
  const text = zoneFormat(zone).format(epochSeconds * 1000);
  const match = /^(\d+)\/(\d+)\/(\d+), (\d+):(\d+):(\d+)$/.exec(text);
  if (!match) throw new Error(`unexpected date format from Intl for time zone ${zone}: ${text}`);
  const [month, day, year, hour, minute, second] = match.slice(1).map(Number);
  return daysFromCivil(year, month, day) * DAY_SECONDS + hour * 3600 + minute * 60 + second - epochSeconds;
}

/** A zone's offsets from 1970 to 2200: the instants where it changes, and the offset from each on. */
interface ZoneOffsets {
  readonly from: number;
  readonly to: number;
  readonly changes: readonly number[];
  /** offsets[i] holds before changes[i] (and after changes[i - 1]). */
  readonly offsets: readonly number[];
}

const zoneTables = new Map<string, ZoneOffsets>();
const WEEK_SECONDS = 7 * DAY_SECONDS;

/** Intl sampled weekly, each change found to the second (zones do not change twice in a week). */
function zoneOffsets(zone: string): ZoneOffsets {
  let table = zoneTables.get(zone);
  if (!table) {
    const from = -WEEK_SECONDS;
    const to = daysFromCivil(CALENDAR_MAX_YEAR + 1, 1, 8) * DAY_SECONDS;
    const changes: number[] = [];
    const offsets = [intlOffset(zone, from)];
    for (let weekStart = from; weekStart < to; weekStart += WEEK_SECONDS) {
      const before = offsets[offsets.length - 1];
      const after = intlOffset(zone, weekStart + WEEK_SECONDS);
      if (after === before) continue;
      let [low, high] = [weekStart, weekStart + WEEK_SECONDS];
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2);
        if (intlOffset(zone, middle) === before) low = middle;
        else high = middle;
      }
      changes.push(high);
      offsets.push(after);
    }
    table = { from, to, changes, offsets };
    zoneTables.set(zone, table);
  }
  return table;
}

/** Seconds east of UTC in `zone` at an instant. */
function zoneOffset(zone: string, epochSeconds: number): number {
  const table = zoneOffsets(zone);
  if (epochSeconds < table.from || epochSeconds >= table.to) return intlOffset(zone, epochSeconds);
  let [low, high] = [0, table.changes.length];
  while (low < high) {
    const middle = (low + high) >> 1;
    if (table.changes[middle] <= epochSeconds) low = middle + 1;
    else high = middle;
  }
  return table.offsets[low];
}

/**
 * A zone's clock. mktime is glibc's with tm_isdst = -1: it probes from the offset of its previous
 * call, so a time of the repeated hour keeps the side it was found on; a time in the skipped hour
 * moves forward by the gap (then find_next, seeing the fields change, moves on from there).
 */
function zoneClock(zone: string): Clock {
  let lastOffset = 0;
  const offset = (epochSeconds: number) => zoneOffset(zone, epochSeconds);
  return {
    localtime(epochSeconds) {
      lastOffset = offset(epochSeconds);
      return UTC_CLOCK.localtime(epochSeconds + lastOffset);
    },
    mktime(tm) {
      const local = timegm(tm);
      let instant = local - lastOffset;
      let found = false;
      for (let probe = 0; probe < 4 && !found; probe++) {
        const o = offset(instant);
        if (instant + o === local) found = true;
        else instant = local - o;
      }
      // No instant has these fields: a skipped hour. Forward, by the offset before the change.
      if (!found) instant = local - offset(local - DAY_SECONDS);
      lastOffset = offset(instant);
      setFields(tm, instant + lastOffset);
      return instant;
    },
    offset,
  };
}

/** The zone an expression is evaluated in: UTC without one (the nodes' clock), else its own. */
export function effectiveTimeZone(spec: CalendarSpec): string {
  if (spec.timeZone === undefined || spec.timeZone === 'UTC') return 'UTC';
  return zoneFormat(spec.timeZone).resolvedOptions().timeZone;
}

function clockFor(spec: CalendarSpec): Clock {
  const zone = effectiveTimeZone(spec);
  return zone === 'UTC' ? UTC_CLOCK : zoneClock(zone);
}

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

const asSpec = (calendar: CalendarSpec | string) => (typeof calendar === 'string' ? parseCalendar(calendar) : calendar);

/**
 * Whose search: the nodes' systemd 257 (Debian 13, with the fix of systemd PR 40266 backported), or
 * Debian 12's 252, which differs in one corner only (see withinBounds).
 */
export type SystemdVersion = 252 | 257;

/** calendar_spec_next_usec: the first elapse after `afterMicros` (microseconds since the epoch). */
export function searchNextElapse(calendar: CalendarSpec | string, afterMicros: number, version: SystemdVersion = 257): ElapseSearch {
  const spec = asSpec(calendar);
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

// ---- the match sets: which days, which times of day ------------------------------------------

/** The smallest value >= `value` and <= `max` in the field (undefined: every value). */
function nextInField(field: CalendarField, value: number, max: number): number | undefined {
  if (value > max) return undefined;
  if (!field) return value;
  let best: number | undefined;
  for (const c of field) {
    let candidate: number;
    if (c.start >= value) candidate = c.start;
    else if (c.repeat > 0) candidate = c.start + c.repeat * Math.ceil((value - c.start) / c.repeat);
    else continue;
    if (candidate <= (c.stop >= 0 ? Math.min(c.stop, max) : max) && (best === undefined || candidate < best)) best = candidate;
  }
  return best;
}

const fieldHas = (field: CalendarField, value: number, max: number) => nextInField(field, value, max) === value;

/** Whether the expression's date part (year, month, day, weekday) matches a civil date. */
export function calendarDayMatches(spec: CalendarSpec, date: CivilDate): boolean {
  if (spec.weekdays !== undefined && (spec.weekdays & (1 << date.weekday)) === 0) return false;
  if (!fieldHas(spec.years, date.year, CALENDAR_MAX_YEAR) || !fieldHas(spec.months, date.month, 12)) return false;
  if (!spec.endOfMonth) return fieldHas(spec.days, date.day, 31);
  // Days from the end, as find_matching_component counts them: a range runs forward from its far end.
  const last = daysInMonth(date.year, date.month);
  return spec.days!.some((c) => {
    let start = last + 1 - c.start;
    let stop = c.stop >= 0 ? last + 1 - c.stop : -1;
    if (stop > 0) [start, stop] = [stop, start];
    if (date.day === start) return true;
    return c.repeat > 0 && date.day > start && (date.day - start) % c.repeat === 0 && date.day <= (stop >= 0 ? stop : last);
  });
}

/** The first time of day (microseconds after midnight) >= `micros` the expression's time part matches. */
export function nextTimeOfDay(spec: CalendarSpec, micros: number): number | undefined {
  const HOUR = 3600 * MICROS_PER_SECOND;
  const MINUTE = 60 * MICROS_PER_SECOND;
  const fromHour = Math.floor(micros / HOUR);
  for (let hour = nextInField(spec.hours, fromHour, 23); hour !== undefined; hour = nextInField(spec.hours, hour + 1, 23)) {
    const intoHour = hour === fromHour ? micros - hour * HOUR : 0;
    const fromMinute = Math.floor(intoHour / MINUTE);
    for (let minute = nextInField(spec.minutes, fromMinute, 59); minute !== undefined; minute = nextInField(spec.minutes, minute + 1, 59)) {
      const intoMinute = hour === fromHour && minute === fromMinute ? intoHour - minute * MINUTE : 0;
      const second = nextInField(spec.seconds, intoMinute, MINUTE - 1);
      if (second !== undefined) return hour * HOUR + minute * MINUTE + second;
    }
  }
  return undefined;
}

/** Every time of day the expression matches, ascending (microseconds); throws past `limit` of them. */
export function calendarTimesOfDay(spec: CalendarSpec, limit = 1_000_000): number[] {
  const times: number[] = [];
  for (let t = nextTimeOfDay(spec, 0); t !== undefined; t = nextTimeOfDay(spec, t + 1)) {
    if (times.length === limit) throw new Error(`${JSON.stringify(spec.expression)} elapses more than ${limit} times a day`);
    times.push(t);
  }
  return times;
}

// ---- when two expressions elapse together ------------------------------------------------------

/** An elapse of each of two expressions, no further apart than the window asked for. */
export interface ElapsePair {
  /** Microseconds since the epoch. */
  readonly first: number;
  readonly second: number;
}

/**
 * The earliest pair (by its earlier elapse) of elapses of `a` and `b`, at or after `from` and with
 * the earlier one before `until`, at most `window` apart. Each miss moves past an elapse with no
 * partner, so it ends quickly unless both elapse often and never meet.
 */
function leapfrog(
  nextA: (micros: number) => number | undefined,
  nextB: (micros: number) => number | undefined,
  from: number,
  until: number,
  window: number,
): ElapsePair | undefined {
  let at = from;
  for (;;) {
    const a = nextA(at);
    const b = nextB(at);
    if (a === undefined || b === undefined || Math.min(a, b) >= until) return undefined;
    if (Math.abs(a - b) <= window) return { first: a, second: b };
    at = Math.max(a, b) - window;
  }
}

/** The instant a local day starts, near enough for a day without an offset change. */
function dayStart(clock: Clock, day: number): number {
  const midnight = day * DAY_SECONDS;
  return midnight - clock.offset(midnight - clock.offset(midnight));
}

/** The UTC days (since 1970) in which a zone's offset changes. */
function zoneOffsetChangeDays(zone: string): Set<number> {
  return new Set(zoneOffsets(zone).changes.map((instant) => Math.floor(instant / DAY_SECONDS)));
}

/** 28 years: 7 weekdays times the 4-year leap cycle, in whole days. */
const CALENDAR_CYCLE_DAYS = 28 * 365 + 7;
/** The 28-year cycle holds until February 2100, which has no 29th. */
const CYCLE_BREAK_DAY = daysFromCivil(2100, 2, 28);

/**
 * The first time `a` and `b` elapse within `windowSeconds` of each other after `after`: the
 * earliest such pair by its earlier elapse, or undefined when they never do (up to 2199).
 * Both must be in the same time zone. Exact, not sampled: two elapses meet when both dates match
 * and their times of day are close (the same day, or across midnight into the next); on the days
 * around a zone's offset change, where a time may not elapse or elapse once of two, it steps
 * through the elapses themselves (nextElapse). Day by day, at most to 2199; 28 years when
 * neither names years, since the days repeat then.
 */
export function firstCollision(a: CalendarSpec | string, b: CalendarSpec | string, after: Date, windowSeconds: number): ElapsePair | undefined {
  const specA = asSpec(a);
  const specB = asSpec(b);
  const zone = effectiveTimeZone(specA);
  if (effectiveTimeZone(specB) !== zone) {
    throw new Error(`firstCollision: ${JSON.stringify(specA.expression)} and ${JSON.stringify(specB.expression)} are in different time zones`);
  }
  if (!(windowSeconds >= 0 && windowSeconds < DAY_SECONDS)) throw new Error(`firstCollision: the window must be 0 to 86399 seconds, got ${windowSeconds}`);
  const window = windowSeconds * MICROS_PER_SECOND;
  const clock = clockFor(specA);
  const nextA = (micros: number) => nextElapseMicros(specA, micros - 1);
  const nextB = (micros: number) => nextElapseMicros(specB, micros - 1);
  const afterMicros = after.getTime() * 1000;
  const afterSeconds = Math.floor(after.getTime() / 1000);
  const afterLocal = afterMicros + clock.offset(afterSeconds) * MICROS_PER_SECOND;
  const today = Math.floor(afterLocal / DAY_MICROS);

  // From the match sets: the earliest collision at or after a time of day when both elapse that
  // day, and when one elapses late and the other early the next day.
  const timeA = (t: number) => nextTimeOfDay(specA, t);
  const timeB = (t: number) => nextTimeOfDay(specB, t);
  const firstA = timeA(0);
  const firstB = timeB(0);
  const pairsFrom = (from: number) => ({
    sameDay: leapfrog(timeA, timeB, from, DAY_MICROS, window),
    lateA: firstB === undefined ? undefined : timeA(Math.max(from, DAY_MICROS + firstB - window)),
    lateB: firstA === undefined ? undefined : timeB(Math.max(from, DAY_MICROS + firstA - window)),
  });
  const wholeDay = pairsFrom(0);
  // Without years, days repeat with the weekdays and leap years: 28 years show every pattern.
  const repeats = !specA.years && !specB.years && today + CALENDAR_CYCLE_DAYS + 1 <= CYCLE_BREAK_DAY;
  const lastDay = repeats ? today + CALENDAR_CYCLE_DAYS + 1 : daysFromCivil(CALENDAR_MAX_YEAR, 12, 31);
  const changeDays = zone === 'UTC' ? undefined : zoneOffsetChangeDays(zone);
  const changes = (day: number) => changeDays !== undefined && [-2, -1, 0, 1, 2].some((d) => changeDays.has(day + d));
  let aToday = calendarDayMatches(specA, civilFromDays(today));
  let bToday = calendarDayMatches(specB, civilFromDays(today));
  for (let day = today; day <= lastDay; day++) {
    const tomorrow = civilFromDays(day + 1);
    const aTomorrow = day < lastDay && calendarDayMatches(specA, tomorrow);
    const bTomorrow = day < lastDay && calendarDayMatches(specB, tomorrow);
    if ((aToday || bToday) && changes(day)) {
      // Around an offset change the match sets are not the elapses: step through the elapses.
      const from = Math.max(dayStart(clock, day) * MICROS_PER_SECOND, afterMicros + 1);
      const pair = leapfrog(nextA, nextB, from, dayStart(clock, day + 1) * MICROS_PER_SECOND, window);
      if (pair) return pair;
    } else if (aToday || bToday) {
      const { sameDay, lateA, lateB } = day === today ? pairsFrom(afterLocal - today * DAY_MICROS + 1) : wholeDay;
      const offset = clock.offset(day * DAY_SECONDS);
      const at = (dayOffset: number, time: number) => (day + dayOffset) * DAY_MICROS + time - offset * MICROS_PER_SECOND;
      const candidates: ElapsePair[] = [];
      if (aToday && bToday && sameDay) candidates.push({ first: at(0, sameDay.first), second: at(0, sameDay.second) });
      if (aToday && bTomorrow && lateA !== undefined && lateA < DAY_MICROS) candidates.push({ first: at(0, lateA), second: at(1, firstB!) });
      if (bToday && aTomorrow && lateB !== undefined && lateB < DAY_MICROS) candidates.push({ first: at(1, firstA!), second: at(0, lateB) });
      if (candidates.length > 0) return candidates.sort((x, y) => Math.min(x.first, x.second) - Math.min(y.first, y.second))[0];
    }
    aToday = aTomorrow;
    bToday = bTomorrow;
  }
  return undefined;
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
  const spec = asSpec(calendar);
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

/** An elapse as systemd-analyze prints it, in the expression's zone: "2026-12-13 01:00:00 UTC". */
export function formatElapse(micros: number, calendar: CalendarSpec | string): string {
  const zone = effectiveTimeZone(asSpec(calendar));
  const seconds = Math.floor(micros / MICROS_PER_SECOND);
  const fraction = micros - seconds * MICROS_PER_SECOND;
  const tm = UTC_CLOCK.localtime(seconds + (zone === 'UTC' ? 0 : zoneOffset(zone, seconds)));
  const two = (n: number) => String(n).padStart(2, '0');
  const decimals = fraction > 0 ? `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}` : '';
  return `${tm.year}-${two(tm.mon + 1)}-${two(tm.mday)} ${two(tm.hour)}:${two(tm.min)}:${two(tm.sec)}${decimals} ${zone}`;
}
