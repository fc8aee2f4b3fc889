import { CALENDAR_MAX_YEAR, CalendarSpec, MICROS_PER_SECOND, asCalendarSpec } from './calendar';
import { DAY_MICROS, DAY_SECONDS, civilFromDays, daysFromCivil } from './calendar-dates';
import { nextElapseMicros } from './calendar-elapse';
import { calendarDayMatches, nextTimeOfDay } from './calendar-match';
import { clockFor, effectiveTimeZone, zoneOffsets } from './calendar-zone';

/**
 * When two OnCalendar expressions elapse together (firstCollision), for the one-lock rule of the
 * backups (backup-job.ts); the two may be in different time zones. Exact, not sampled, and in
 * absolute time: where both zones' offsets are steady, from the days and times each expression
 * matches (calendar-match.ts); around an offset change of either zone, where a time may not elapse
 * or elapse once of two, from systemd's search itself (calendar-elapse.ts). Where systemd skips a
 * time its expression matches (calendar-match.ts says when), a collision at that time is reported
 * although the timer skips it: cautious, never a collision missed.
 * test/unit/spec/calendar-collision.test.ts compares it with stepping through both expressions' elapses.
 */

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

/** 28 years: 7 weekdays times the 4-year leap cycle, in whole days. */
const CALENDAR_CYCLE_DAYS = 28 * 365 + 7;
/** The 28-year cycle holds until February 2100, which has no 29th. */
const CYCLE_BREAK_DAY = daysFromCivil(2100, 2, 28);

/**
 * Up to when a collision is looked for: 28 years on when neither expression names years, since
 * the days (and the zones' rules) repeat then; else to 2199, after which nothing elapses.
 */
function horizon(specA: CalendarSpec, specB: CalendarSpec, afterMicros: number): number {
  const today = Math.floor(afterMicros / DAY_MICROS);
  const repeats = !specA.years && !specB.years && today + CALENDAR_CYCLE_DAYS + 1 <= CYCLE_BREAK_DAY;
  // A day more than the last day counted, for the zones west of UTC.
  return ((repeats ? today + CALENDAR_CYCLE_DAYS + 1 : daysFromCivil(CALENDAR_MAX_YEAR, 12, 31)) + 2) * DAY_MICROS;
}

// ---- around offset changes: systemd's search ----------------------------------------------------

/**
 * Beyond an offset change's jump, this much further is looked up with systemd's search too: only
 * an instant within the jump of a change can have a skipped or repeated local time.
 */
const CHANGE_MARGIN_SECONDS = 60;

/** Instants from `start` to before `end`, in microseconds since the epoch. */
interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * Where either zone's offset changes, merged: the jump either side of each change, and `window`
 * more before it, so that a pair found from the match sets before a span never reaches into it.
 */
function offsetChangeSpans(zones: readonly string[], from: number, until: number, window: number): Span[] {
  const spans: Span[] = [];
  for (const zone of new Set(zones.filter((z) => z !== 'UTC'))) {
    const { changes, offsets } = zoneOffsets(zone);
    changes.forEach((change, i) => {
      const reach = (Math.abs(offsets[i + 1] - offsets[i]) + CHANGE_MARGIN_SECONDS) * MICROS_PER_SECOND;
      const span = { start: change * MICROS_PER_SECOND - reach - window, end: change * MICROS_PER_SECOND + reach };
      if (span.end > from && span.start < until) spans.push(span);
    });
  }
  spans.sort((x, y) => x.start - y.start);
  const merged: Span[] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, span.end) };
    else merged.push(span);
  }
  return merged;
}

/**
 * An expression's next elapse at or after an instant, the elapses taken in turn from `from` (each
 * search from the previous elapse, as its timer does) up to `until`: in a repeated hour a search
 * from elsewhere can find a time the timer skips. Past `until`, a search from there.
 */
function elapsesInTurn(spec: CalendarSpec, from: number, until: number): (micros: number) => number | undefined {
  const found: number[] = [];
  let searchedTo = from - 1;
  let ended = false;
  return (micros) => {
    if (micros > until) return nextElapseMicros(spec, micros - 1);
    while (!ended && searchedTo < micros) {
      const next = nextElapseMicros(spec, searchedTo);
      if (next === undefined) ended = true;
      else found.push((searchedTo = next));
    }
    let [low, high] = [0, found.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (found[middle] < micros) low = middle + 1;
      else high = middle;
    }
    return found[low];
  };
}

// ---- where the offsets are steady: the match sets -------------------------------------------------

/** The first time >= `micros` (from the start of day 0) an expression matches, on the days marked in `days` only. */
function nextOnDays(spec: CalendarSpec, days: readonly boolean[], micros: number): number | undefined {
  for (let day = Math.floor(micros / DAY_MICROS); day < days.length; day++) {
    if (!days[day]) continue;
    const time = nextTimeOfDay(spec, Math.max(0, micros - day * DAY_MICROS));
    if (time !== undefined) return day * DAY_MICROS + time;
  }
  return undefined;
}

/**
 * The earliest pair with its earlier elapse in a stretch where neither offset changes, day by day
 * of a's zone. There b's elapses are its times of day moved by the constant difference of the
 * offsets; a day's earliest pair then depends only on that difference, on which days around it
 * each expression matches, and on where the stretch cuts the day, so it is worked out once for
 * each such pattern and the days (to 2199 at most) are merely looked up.
 */
function steadyCollisions(specA: CalendarSpec, specB: CalendarSpec, window: number): (from: number, until: number) => ElapsePair | undefined {
  const [clockA, clockB] = [clockFor(specA), clockFor(specB)];
  const patterns = new Map<number | string, ElapsePair | undefined>();

  /** The earliest pair of a day of a's zone, relative to its midnight, with its earlier elapse in [start, end). */
  function dayPair(shift: number, days: readonly boolean[], start: number, end: number): ElapsePair | undefined {
    const bits = days.reduce((sum, matches, i) => sum + (matches ? 1 << i : 0), 0);
    // A number for a whole day, the most frequent look-up.
    const key = start === 0 && end === DAY_MICROS ? shift * 32 + bits : `${shift} ${bits} ${start} ${end}`;
    if (!patterns.has(key)) {
      // a's elapses on this day and the next; b's on the three days of b's zone about them, the first starting at `shift` (a's midnight or before).
      const nextA = (micros: number) => nextOnDays(specA, days.slice(0, 2), micros);
      const nextB = (micros: number) => {
        const found = nextOnDays(specB, days.slice(2), micros - shift);
        return found === undefined ? undefined : found + shift;
      };
      patterns.set(key, leapfrog(nextA, nextB, start, end, window));
    }
    return patterns.get(key);
  }

  return (from, until) => {
    const offsetA = clockA.offset(Math.floor(from / MICROS_PER_SECOND)) * MICROS_PER_SECOND;
    const offsetB = clockB.offset(Math.floor(from / MICROS_PER_SECOND)) * MICROS_PER_SECOND;
    // b's day starts `shift` (0 to under a day) before a's, `daysBehind` whole days back in the calendar.
    const daysBehind = Math.floor((offsetB - offsetA) / DAY_MICROS);
    const shift = offsetA - offsetB + daysBehind * DAY_MICROS;
    const matchesA = (day: number) => calendarDayMatches(specA, civilFromDays(day));
    const matchesB = (day: number) => calendarDayMatches(specB, civilFromDays(day + daysBehind));
    const [localFrom, localUntil] = [from + offsetA, until + offsetA];
    const firstDay = Math.floor(localFrom / DAY_MICROS);
    // Whether a matches the day and the next, b the three days from the day (moved on day by day).
    let days = [matchesA(firstDay), matchesA(firstDay + 1), matchesB(firstDay), matchesB(firstDay + 1), matchesB(firstDay + 2)];
    for (let day = firstDay; day * DAY_MICROS < localUntil; day++) {
      if (day > firstDay) days = [days[1], matchesA(day + 1), days[3], days[4], matchesB(day + 2)];
      // Neither elapses within this day of a's zone.
      if (!days[0] && !days[2] && !days[3]) continue;
      const start = Math.max(0, localFrom - day * DAY_MICROS);
      const end = Math.min(DAY_MICROS, localUntil - day * DAY_MICROS);
      const pair = dayPair(shift, days, start, end);
      if (pair) return { first: day * DAY_MICROS + pair.first - offsetA, second: day * DAY_MICROS + pair.second - offsetA };
    }
    return undefined;
  };
}

/**
 * The first time `a` and `b` elapse within `windowSeconds` of each other after `after`: the
 * earliest such pair by its earlier elapse, or undefined when they never do (up to 2199; 28
 * years on when neither names years). Each takes its elapses in its own zone.
 */
export function firstCollision(a: CalendarSpec | string, b: CalendarSpec | string, after: Date, windowSeconds: number): ElapsePair | undefined {
  const specA = asCalendarSpec(a);
  const specB = asCalendarSpec(b);
  if (!(windowSeconds >= 0 && windowSeconds < DAY_SECONDS)) throw new Error(`firstCollision: the window must be 0 to 86399 seconds, got ${windowSeconds}`);
  const window = windowSeconds * MICROS_PER_SECOND;
  const afterMicros = after.getTime() * 1000;
  const until = horizon(specA, specB, afterMicros);
  const steady = steadyCollisions(specA, specB, window);
  const spans = offsetChangeSpans([effectiveTimeZone(specA), effectiveTimeZone(specB)], afterMicros, until, window);
  let at = afterMicros + 1;
  for (const span of [...spans, { start: until, end: until }]) {
    const steadyPair = at < Math.min(span.start, until) ? steady(at, Math.min(span.start, until)) : undefined;
    if (steadyPair) return steadyPair;
    const [from, to] = [Math.max(at, span.start), Math.min(span.end, until)];
    if (from < to) {
      // Partners up to a window after the span are taken in turn too.
      const pair = leapfrog(elapsesInTurn(specA, from, to + window), elapsesInTurn(specB, from, to + window), from, to, window);
      if (pair) return pair;
    }
    at = Math.max(at, span.end);
  }
  return undefined;
}
