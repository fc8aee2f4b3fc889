import { CALENDAR_MAX_YEAR, CalendarSpec } from './calendar';
import { DAY_SECONDS, civilFromDays, daysFromCivil } from './calendar-dates';

/**
 * The clocks an OnCalendar expression is evaluated on: the struct tm that systemd's search moves,
 * and localtime_r / mktime of a zone. An expression without a zone is in the machine's zone, which
 * is UTC on every node; an explicit zone takes its offsets from Intl (the tz database of Node's
 * ICU, which may lag the nodes' tzdata).
 */

/** A struct tm as find_next moves it: full year, month 0..11; out of range until normalized. */
export interface Tm {
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
export interface Clock {
  localtime(epochSeconds: number): Tm;
  /** Normalizes `tm` in place; returns its instant. */
  mktime(tm: Tm): number;
  /** Seconds east of UTC at an instant. */
  offset(epochSeconds: number): number;
}

export const UTC_CLOCK: Clock = {
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
export interface ZoneOffsets {
  readonly from: number;
  readonly to: number;
  readonly changes: readonly number[];
  /** offsets[i] holds before changes[i] (and after changes[i - 1]). */
  readonly offsets: readonly number[];
}

const zoneTables = new Map<string, ZoneOffsets>();
const WEEK_SECONDS = 7 * DAY_SECONDS;

/** Intl sampled weekly, each change found to the second (zones do not change twice in a week). */
export function zoneOffsets(zone: string): ZoneOffsets {
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
export function zoneOffset(zone: string, epochSeconds: number): number {
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

/** The clock of an expression's zone; each search takes a new one, as mktime keeps state. */
export function clockFor(spec: CalendarSpec): Clock {
  const zone = effectiveTimeZone(spec);
  return zone === 'UTC' ? UTC_CLOCK : zoneClock(zone);
}
