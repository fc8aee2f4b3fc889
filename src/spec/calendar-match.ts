import { CALENDAR_MAX_YEAR, CalendarField, CalendarSpec, MICROS_PER_SECOND } from './calendar';
import { CivilDate, daysInMonth } from './calendar-dates';

/**
 * The days and times of day an OnCalendar expression matches, apart from any zone: what systemd's
 * search (calendar-elapse.ts) finds one by one. The collision search (calendar-collision.ts)
 * compares them day by day, and render/alert-rules.ts derives the gaps between backups from them.
 * systemd skips a few of them: a repetition that runs past the end of its field carries over, and
 * when that carry reaches a new hour (seconds) or day (minutes) find_next resets only the next unit
 * down, so "*:*:0/25" after 12:59:50 elapses at 13:00:25, not 13:00:00 (systemd-analyze agrees).
 */

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
