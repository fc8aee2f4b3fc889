/**
 * systemd OnCalendar expressions (systemd.time(7), "Calendar Events"): the grammar, parsed into the
 * structure systemd keeps (src/shared/calendarspec.c, the same in 252 and 257, Debian 12 and 13),
 * with a readable reason for every expression systemd would refuse. When they elapse is
 * calendar-elapse.ts; when two of them elapse together, calendar-collision.ts.
 *
 *   shorthand [TZ]                minutely hourly daily weekly monthly yearly annually quarterly semiannually
 *                                 (and systemd's spellings anually, biannually, bi-annually, semi-annually)
 *   [WEEKDAYS] [DATE] [TIME] [TZ] e.g. "Sun *-*-* 01:00:00", "Mon..Fri 02:30", "*-*-01 04:00 UTC"
 *
 * WEEKDAYS: Mon..Sun or full names, any case; lists with ",", ascending ranges with ".." or "-".
 * DATE: [YEAR-]MONTH-DAY, or MONTH~DAY / YEAR-MONTH~DAY counting DAY from the end of the month
 * (~01 is the last day). TIME: HOUR:MINUTE[:SECOND], SECOND with up to 6 decimals. A missing DATE
 * is every day, a missing TIME 00:00:00. Each number is "*" alone, or a list of values, ranges
 * "a..b" and repetitions "a/n" or "a..b/n". Two-digit years are 20xx below 70, else 19xx.
 *
 * Where this is stricter than systemd, on purpose:
 * - "@<epoch>" (one moment, never repeats) is refused;
 * - a time zone is "UTC" (any case) or a tz database name with a "/" (Europe/Berlin, Etc/UTC);
 *   systemd also takes bare names such as "EST5EDT", "Japan" or the machine's own abbreviations,
 *   which are refused here with the Area/Location name to write instead;
 * - leading and trailing blanks are removed first, as a unit file's parser does (systemd-analyze
 *   refuses them); tabs and line breaks inside are refused.
 * test/tools/calendar.test.ts holds this grammar against `systemd-analyze calendar`.
 */

/** The shorthands systemd expands (calendarspec.c), by their lower-case name. */
const SHORTHANDS: Record<string, { months?: number[]; days?: number[]; weekdays?: number; time: 'minutely' | 'hourly' | 'daily' }> = {
  minutely: { time: 'minutely' },
  hourly: { time: 'hourly' },
  daily: { time: 'daily' },
  weekly: { weekdays: 1, time: 'daily' },
  monthly: { days: [1], time: 'daily' },
  yearly: { months: [1], days: [1], time: 'daily' },
  annually: { months: [1], days: [1], time: 'daily' },
  anually: { months: [1], days: [1], time: 'daily' },
  quarterly: { months: [1, 4, 7, 10], days: [1], time: 'daily' },
  semiannually: { months: [1, 7], days: [1], time: 'daily' },
  'semi-annually': { months: [1, 7], days: [1], time: 'daily' },
  biannually: { months: [1, 7], days: [1], time: 'daily' },
  'bi-annually': { months: [1, 7], days: [1], time: 'daily' },
};

/** The shorthands as the docs name them (systemd's other spellings are accepted too). */
export const CALENDAR_SHORTHANDS = ['minutely', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'annually', 'quarterly', 'semiannually'] as const;

/** Monday first, as systemd counts (bit 0 of `weekdays`). */
export const WEEKDAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const WEEKDAY_WORDS: readonly [string, number][] = [
  ['monday', 0], ['mon', 0], ['tuesday', 1], ['tue', 1], ['wednesday', 2], ['wed', 2], ['thursday', 3], ['thu', 3],
  ['friday', 4], ['fri', 4], ['saturday', 5], ['sat', 5], ['sunday', 6], ['sun', 6],
];
const ALL_WEEKDAYS = 0b111_1111;

export const MICROS_PER_SECOND = 1_000_000;
/** systemd's last year (calendarspec.c MAX_YEAR): nothing elapses after 2199. */
export const CALENDAR_MAX_YEAR = 2199;
const INT_MAX = 2 ** 31 - 1;

/**
 * One entry of a field's list as systemd keeps it: `start`, up to `stop` (-1: no range) every
 * `repeat` (0: no repetition). A value with a repetition and no stop repeats to the field's end
 * (for "~" days: towards the month's end). Seconds are in microseconds.
 */
export interface CalendarComponent {
  readonly start: number;
  readonly stop: number;
  readonly repeat: number;
}

/** A field: undefined is "*" (every value). */
export type CalendarField = readonly CalendarComponent[] | undefined;

/** A parsed OnCalendar expression, normalized as systemd normalizes it. */
export interface CalendarSpec {
  readonly expression: string;
  /** Bit i set: weekday i (0 = Monday); undefined: every weekday. */
  readonly weekdays?: number;
  readonly years: CalendarField;
  readonly months: CalendarField;
  /** Days of the month, or with `endOfMonth` days counted from its end (1 = the last). */
  readonly days: CalendarField;
  readonly endOfMonth: boolean;
  readonly hours: CalendarField;
  readonly minutes: CalendarField;
  /** Microseconds within the minute. */
  readonly seconds: CalendarField;
  /** "UTC", a tz database name, or undefined: the machine's zone, which is UTC on every node. */
  readonly timeZone?: string;
}

interface FieldRule {
  readonly name: 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';
  readonly min: number;
  /** The largest value, in the field's unit (microseconds for seconds). */
  readonly max: number;
  readonly micros?: boolean;
}

const FIELDS = {
  year: { name: 'year', min: 1970, max: CALENDAR_MAX_YEAR },
  month: { name: 'month', min: 1, max: 12 },
  day: { name: 'day', min: 1, max: 31 },
  hour: { name: 'hour', min: 0, max: 23 },
  minute: { name: 'minute', min: 0, max: 59 },
  second: { name: 'second', min: 0, max: 60 * MICROS_PER_SECOND - 1, micros: true },
} as const satisfies Record<string, FieldRule>;

/** A component with the text it came from, for the messages. */
interface SourcedComponent {
  start: number;
  stop: number;
  repeat: number;
  readonly text: string;
}

class CalendarSyntaxError extends Error {}

const fail = (reason: string): never => {
  throw new CalendarSyntaxError(reason);
};

/** A value in the field's unit; a number of more digits than fit is out of every range anyway. */
function parseNumber(text: string, rule: FieldRule): number {
  const [whole, fraction] = text.split('.');
  const wholeValue = whole.length > 12 ? Number.MAX_SAFE_INTEGER : Number(whole);
  if (!rule.micros) return wholeValue;
  // systemd keeps 6 decimals and rounds on the 7th (parse_fractional_part_u).
  let micros = 0;
  if (fraction !== undefined) {
    micros = Number(fraction.slice(0, 6).padEnd(6, '0'));
    if (fraction.length > 6 && fraction[6] >= '5') micros++;
  }
  return Math.min(wholeValue, Number.MAX_SAFE_INTEGER / MICROS_PER_SECOND) * MICROS_PER_SECOND + micros;
}

const show = (value: number, rule: FieldRule) => (rule.micros ? String(value / MICROS_PER_SECOND) : String(value));

/** A list item: a value, a range a..b, each with a repetition /n; seconds with decimals ("." once, ".." a range). */
const WHOLE_ITEM = /^(\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/;
const SECONDS_ITEM = /^(\d+(?:\.\d+)?)(?:\.\.(\d+(?:\.\d+)?))?(?:\/(\d+(?:\.\d+)?))?$/;

/** A field's text: "*" alone, or a list of values, ranges and repetitions (calendarspec.c parse_chain). */
function parseField(text: string, rule: FieldRule): SourcedComponent[] | undefined {
  const what = rule.name;
  if (text === '*') return rule.micros ? [{ start: 0, stop: -1, repeat: MICROS_PER_SECOND, text }] : undefined;
  if (text.startsWith('*')) {
    fail(`"${text}" is not a valid ${what}: "*" stands alone in systemd (for a repetition write its start, e.g. "0/15")`);
  }
  const item = rule.micros ? SECONDS_ITEM : WHOLE_ITEM;
  return text.split(',').map((part) => {
    const match = item.exec(part);
    if (!match) return fail(`"${part}" is not a valid ${what} (use *, a number, a range a..b or a repetition a/n)`);
    const [, startText, stopText, repeatText] = match;
    const start = parseNumber(startText, rule);
    const stop = stopText === undefined ? -1 : parseNumber(stopText, rule);
    let repeat = stopText === undefined ? 0 : rule.micros ? MICROS_PER_SECOND : 1;
    if (repeatText !== undefined) {
      repeat = parseNumber(repeatText, rule);
      if (repeat === 0) {
        fail(`"/${repeatText}" in the ${what} "${part}" must repeat by ${rule.micros ? 'more than 0 seconds' : 'a whole number of at least 1'}`);
      }
    } else if (rule.micros && stop >= 0 && start + repeat > stop) {
      // A second range without a repetition steps by whole seconds: it must span one.
      fail(stop < start ? `the ${what} range "${part}" runs backwards` : `the ${what} range "${part}" must span at least one second (or say its step, e.g. "${part}/1")`);
    }
    if (Math.max(start, stop, repeat) > INT_MAX) fail(`${what} ${startText} is out of range ${show(rule.min, rule)}..${Math.floor(Number(show(rule.max, rule)))}`);
    return { start, stop, repeat, text: part };
  });
}

/**
 * systemd's normalize_chain: a range ends on its last repetition, a repetition that cannot happen
 * once is dropped, duplicates go, the list is sorted.
 */
function normalizeField(components: SourcedComponent[] | undefined): SourcedComponent[] | undefined {
  if (!components) return undefined;
  for (const c of components) {
    if (c.stop > c.start && c.repeat > 0) c.stop -= (c.stop - c.start) % c.repeat;
    if ((c.stop > c.start && c.repeat > 0 && c.start + c.repeat > c.stop) || c.start === c.stop) {
      c.repeat = 0;
      c.stop = -1;
    }
  }
  const sorted = [...components].sort((a, b) => a.start - b.start || a.stop - b.stop || a.repeat - b.repeat);
  return sorted.filter((c, i) => i === 0 || c.start !== sorted[i - 1].start || c.stop !== sorted[i - 1].stop || c.repeat !== sorted[i - 1].repeat);
}

/** systemd's chain_valid, with the reason. */
function checkField(components: SourcedComponent[] | undefined, rule: FieldRule, endOfMonth = false): void {
  if (!components) return;
  const what = endOfMonth ? 'day from the end of the month' : rule.name;
  const tilde = endOfMonth ? '~' : '';
  components.forEach((c, index) => {
    // systemd refuses days more than 28 from the end of the month, and (chain_valid lowering its
    // bound once per entry) 3 fewer for each further entry of a "~" list: "~27,28" is refused.
    const max = endOfMonth ? rule.max - 3 * (index + 1) : rule.max;
    const range = `${show(rule.min, rule)}..${rule.micros ? 59 : max}`;
    const listed = endOfMonth && index > 0 ? ` (as entry ${index + 1} of a "~" list, which systemd allows 3 days less per entry)` : '';
    if (c.start < rule.min || c.start > max) fail(`${what} ${tilde}${show(c.start, rule)} is out of range ${range}${listed}`);
    if (c.repeat > max - rule.min) fail(`"/${show(c.repeat, rule)}" in the ${what} "${c.text}" repeats by more than the range ${range} allows`);
    if (c.stop >= 0) {
      if (c.stop < rule.min || c.stop > max) fail(`${what} ${tilde}${show(c.stop, rule)} is out of range ${range}${listed}`);
      if (c.start + c.repeat > c.stop) fail(`the ${what} range "${c.text}" runs backwards`);
    } else if (c.repeat > 0 && (endOfMonth ? c.start - c.repeat < rule.min : c.start + c.repeat > max)) {
      fail(
        `the repetition "${tilde}${c.text}" never repeats: ${show(c.start, rule)} ${endOfMonth ? '-' : '+'} ${show(c.repeat, rule)} is past ` +
          `${endOfMonth ? 'the end of the month' : `the last ${what} ${show(max, rule)}`} (write "${tilde}${show(c.start, rule)}" alone)`,
      );
    }
  });
}

const strip = (components: SourcedComponent[] | undefined): CalendarField =>
  components?.map(({ start, stop, repeat }) => ({ start, stop, repeat }));

/** Weekdays as systemd reads them (parse_weekdays): a bit mask, Monday = bit 0. */
function parseWeekdays(token: string): number {
  const notAList = () => fail(`"${token}" is not a weekday or a weekday list such as Mon..Fri or Sat,Sun`);
  let bits = 0;
  let rangeFrom = -1;
  let itemStart = 0;
  let at = 0;
  for (;;) {
    const lower = token.slice(at).toLowerCase();
    const found = WEEKDAY_WORDS.find(([word]) => lower.startsWith(word));
    const after = found && token[at + found[0].length];
    if (!found || (after !== undefined && !'-.,'.includes(after))) {
      return fail(`"${token.slice(at).split(/\.\.|[-,]/)[0]}" is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`);
    }
    const [word, day] = found;
    bits |= 1 << day;
    at += word.length;
    if (rangeFrom >= 0) {
      if (rangeFrom > day) fail(`the weekday range "${token.slice(itemStart, at)}" runs backwards (weeks start on Monday)`);
      for (let d = rangeFrom + 1; d < day; d++) bits |= 1 << d;
    }
    if (at === token.length) return bits;
    if (token.startsWith('..', at) || token[at] === '-') {
      if (rangeFrom >= 0) notAList();
      rangeFrom = day;
      at += token[at] === '-' ? 1 : 2;
    } else if (token[at] === ',') {
      rangeFrom = -1;
      at++;
      itemStart = at;
    } else {
      notAList();
    }
    // A trailing comma is allowed, an open range is not.
    if (at === token.length) return rangeFrom < 0 ? bits : notAList();
  }
}

/** The parts of an expression as written, before systemd's normalization. */
interface Parts {
  readonly weekdays?: number;
  readonly years?: SourcedComponent[];
  readonly months?: SourcedComponent[];
  readonly days?: SourcedComponent[];
  readonly endOfMonth: boolean;
  readonly hours?: SourcedComponent[];
  readonly minutes?: SourcedComponent[];
  readonly seconds?: SourcedComponent[];
}

interface ParsedDate {
  years?: SourcedComponent[];
  months?: SourcedComponent[];
  days?: SourcedComponent[];
  endOfMonth: boolean;
}

function parseDate(token: string): ParsedDate {
  const parts = token.split(/([-~])/);
  const notADate = () => fail(`"${token}" is not a date: write [YEAR-]MONTH-DAY, e.g. *-*-* or *-*-01, or MONTH~DAY from the end of the month`);
  // [part, sep, part] or [part, sep, part, sep, part]; "~" only before the day.
  if (parts.length !== 3 && parts.length !== 5) notADate();
  if (parts.length === 5 && parts[1] === '~') notADate();
  const [year, month, day] = parts.length === 5 ? [parts[0], parts[2], parts[4]] : [undefined, parts[0], parts[2]];
  return {
    years: year === undefined ? undefined : parseField(year, FIELDS.year),
    months: parseField(month, FIELDS.month),
    days: parseField(day, FIELDS.day),
    endOfMonth: parts[parts.length - 2] === '~',
  };
}

function parseTime(token: string): { hours?: SourcedComponent[]; minutes?: SourcedComponent[]; seconds?: SourcedComponent[] } {
  const parts = token.split(':');
  if (parts.length < 2 || parts.length > 3) fail(`"${token}" is not a time: write HOUR:MINUTE[:SECOND], e.g. 01:00:00`);
  return {
    hours: parseField(parts[0], FIELDS.hour),
    minutes: parseField(parts[1], FIELDS.minute),
    seconds: parts[2] === undefined ? zero() : parseField(parts[2], FIELDS.second),
  };
}

const zero = (): SourcedComponent[] => [{ start: 0, stop: -1, repeat: 0, text: '0' }];
const values = (list: readonly number[]): SourcedComponent[] => list.map((v) => ({ start: v, stop: -1, repeat: 0, text: String(v) }));

const TIME_ZONE_NAME = /^[A-Z][A-Za-z0-9_+-]*(\/[A-Z][A-Za-z0-9_+-]*)+$/;
let canonicalZones: Map<string, string> | undefined;

/** A tz database name that Intl knows (zone names are case-sensitive on the nodes, Intl's are not). */
export function isTimeZoneName(word: string): boolean {
  if (!TIME_ZONE_NAME.test(word)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: word });
  } catch {
    return false;
  }
  canonicalZones ??= new Map(Intl.supportedValuesOf('timeZone').map((zone) => [zone.toLowerCase(), zone]));
  const canonical = canonicalZones.get(word.toLowerCase());
  return canonical === undefined || canonical === word;
}

const looksLikeTimeZone = (word: string) => /^[A-Za-z_]+\/[A-Za-z0-9_/+-]+$/.test(word);

/** The tz database's names without a "/" (old zones and links, tzdata's "backward"): systemd takes them. */
const BARE_TIME_ZONE_NAMES = new Set([
  'CET', 'CST6CDT', 'Cuba', 'EET', 'EST', 'EST5EDT', 'Egypt', 'Eire', 'Factory', 'GB', 'GB-Eire', 'GMT', 'GMT+0', 'GMT-0', 'GMT0',
  'Greenwich', 'HST', 'Hongkong', 'Iceland', 'Iran', 'Israel', 'Jamaica', 'Japan', 'Kwajalein', 'Libya', 'MET', 'MST', 'MST7MDT',
  'NZ', 'NZ-CHAT', 'Navajo', 'PRC', 'PST8PDT', 'Poland', 'Portugal', 'ROC', 'ROK', 'Singapore', 'Turkey', 'UCT', 'Universal',
  'W-SU', 'WET', 'Zulu',
]);

/** What Intl calls a zone, when that is a name this grammar takes; undefined otherwise. */
function acceptedNameOf(zone: string): string | undefined {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    return name === 'UTC' || isTimeZoneName(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a last word that is a time zone in a form this grammar refuses is refused, and what to write
 * instead (`rest`: the expression before it); undefined for any other word.
 */
function refusedTimeZone(word: string, rest: string): string | undefined {
  const takes = 'it takes UTC or an Area/Location name of the tz database';
  const anyZone = `write e.g. "${rest} UTC" or "${rest} Europe/Berlin"`;
  if (BARE_TIME_ZONE_NAMES.has(word)) {
    const name = acceptedNameOf(word);
    const write = name ? `write "${rest} ${name}" (${word} is ${name} in the tz database)` : anyZone;
    return `"${word}" is a time zone this library does not take (${takes}): ${write}`;
  }
  // CEST, PST: systemd takes an abbreviation only as the machine's own, and the nodes run in UTC.
  const otherWord = [...WEEKDAY_WORDS.map(([w]) => w), ...Object.keys(SHORTHANDS)].includes(word.toLowerCase());
  if (/^[A-Z]{3,5}$/.test(word) && !otherWord) return `"${word}" is a time zone abbreviation, which this library does not take (${takes}): ${anyZone}`;
  return undefined;
}

export type CalendarParse = { readonly calendar: CalendarSpec; readonly problem?: undefined } | { readonly calendar?: undefined; readonly problem: string };

/** The expression parsed, or why systemd would refuse it. */
export function parseCalendarExpression(expression: string): CalendarParse {
  try {
    return { calendar: parse(expression) };
  } catch (error) {
    if (error instanceof CalendarSyntaxError) return { problem: error.message };
    throw error;
  }
}

/** Why `expression` is not an OnCalendar expression, or undefined when it is one. */
export function calendarProblem(expression: string): string | undefined {
  return parseCalendarExpression(expression).problem;
}

/** The parsed expression; throws when it is not an OnCalendar expression. */
export function parseCalendar(expression: string): CalendarSpec {
  const parsed = parseCalendarExpression(expression);
  if (parsed.problem !== undefined) throw new Error(`not a systemd OnCalendar expression: ${JSON.stringify(expression)} (${parsed.problem})`);
  return parsed.calendar;
}

/** A parsed expression as given, or the text parsed; throws when it is not an OnCalendar expression. */
export const asCalendarSpec = (calendar: CalendarSpec | string): CalendarSpec => (typeof calendar === 'string' ? parseCalendar(calendar) : calendar);

function parse(expression: string): CalendarSpec {
  const text = expression.trim();
  if (text === '') fail('it is empty');
  if (/[^\S ]/.test(text)) fail('it contains a tab or a line break: separate its parts with spaces');

  // The zone first, as systemd does: " UTC" at the end, else a last word that names a zone.
  let body = text;
  let timeZone: string | undefined;
  let zoneProblem: string | undefined;
  const lastSpace = text.lastIndexOf(' ');
  const lastWord = text.slice(lastSpace + 1);
  if (lastSpace > 0 && lastWord.toUpperCase() === 'UTC') {
    [body, timeZone] = [text.slice(0, lastSpace), 'UTC'];
  } else if (lastSpace > 0 && isTimeZoneName(lastWord)) {
    [body, timeZone] = [text.slice(0, lastSpace), lastWord];
  } else if (lastSpace > 0 && looksLikeTimeZone(lastWord)) {
    body = text.slice(0, lastSpace);
    zoneProblem = `"${lastWord}" is not a time zone (use UTC or a tz database name such as Europe/Berlin)`;
  } else if (lastSpace > 0) {
    zoneProblem = refusedTimeZone(lastWord, text.slice(0, lastSpace));
    if (zoneProblem !== undefined) body = text.slice(0, lastSpace);
  }

  const shorthand = SHORTHANDS[body.toLowerCase()];
  if (!shorthand && body.endsWith(' ') && SHORTHANDS[body.trim().toLowerCase()]) fail('put a single space before the time zone');
  let parts: Parts;
  if (shorthand) {
    parts = {
      weekdays: shorthand.weekdays,
      years: undefined,
      months: shorthand.months && values(shorthand.months),
      days: shorthand.days && values(shorthand.days),
      endOfMonth: false,
      hours: shorthand.time === 'daily' ? zero() : undefined,
      minutes: shorthand.time === 'minutely' ? undefined : zero(),
      seconds: zero(),
    };
  } else {
    parts = parseParts(body);
  }
  if (zoneProblem) fail(zoneProblem);
  return normalize(expression, parts, timeZone);
}

/** [WEEKDAYS] [DATE] [TIME], in that order, separated by spaces (parse_weekdays, parse_date, parse_calendar_time). */
function parseParts(body: string): Parts {
  const tokens = body.split(/ +/).filter((t) => t !== '');
  let index = 0;
  let weekdays: number | undefined;
  let date: ParsedDate = { endOfMonth: false };
  let time: ReturnType<typeof parseTime> = { hours: zero(), minutes: zero(), seconds: zero() };
  // What a token is follows from its first separator: "-" or "~" a date, ":" a time.
  const kind = (token: string) => /^[^-~:]*([-~:])/.exec(token)?.[1];
  const first = tokens[0];
  if (/^[A-Za-z]/.test(first)) {
    if (!WEEKDAY_WORDS.some(([word]) => first.toLowerCase().startsWith(word))) {
      const alone = tokens.length === 1 ? ` nor a shorthand (${CALENDAR_SHORTHANDS.join(', ')})` : '';
      fail(`"${first.split(/[,.-]/)[0]}" is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)${alone}`);
    }
    weekdays = parseWeekdays(first);
    index++;
  } else if (!/^[\d*]/.test(first)) {
    fail(`"${first}" starts neither a shorthand (${CALENDAR_SHORTHANDS.join(', ')}) nor a weekday, date or time`);
  }
  if (index < tokens.length && (kind(tokens[index]) === '-' || kind(tokens[index]) === '~')) date = parseDate(tokens[index++]);
  if (index < tokens.length && kind(tokens[index]) === ':') {
    // The time ends the expression: systemd allows no blank after it (not even a second one before a zone).
    if (index === tokens.length - 1 && body.endsWith(' ')) fail('put a single space before the time zone');
    time = parseTime(tokens[index++]);
  }
  if (index < tokens.length) {
    fail(`"${tokens[index]}" is out of place: the parts go in the order [WEEKDAYS] [DATE] [TIME] [TIMEZONE]`);
  }
  return { weekdays, years: date.years, months: date.months, days: date.days, endOfMonth: date.endOfMonth, ...time };
}

/** calendar_spec_normalize and calendar_spec_valid. */
function normalize(expression: string, parts: Parts, timeZone: string | undefined): CalendarSpec {
  // Two-digit years (fix_year): 00..69 are 20xx, 70..99 19xx.
  for (const c of parts.years ?? []) {
    for (const key of ['start', 'stop'] as const) {
      if (c[key] >= 0 && c[key] < 70) c[key] += 2000;
      else if (c[key] >= 70 && c[key] < 100) c[key] += 1900;
    }
  }
  const years = normalizeField(parts.years);
  const months = normalizeField(parts.months);
  const days = normalizeField(parts.days);
  const hours = normalizeField(parts.hours);
  const minutes = normalizeField(parts.minutes);
  const seconds = normalizeField(parts.seconds);
  const endOfMonth = parts.endOfMonth && days !== undefined;
  checkField(years, FIELDS.year);
  checkField(months, FIELDS.month);
  checkField(days, FIELDS.day, endOfMonth);
  checkField(hours, FIELDS.hour);
  checkField(minutes, FIELDS.minute);
  checkField(seconds, FIELDS.second);
  const weekdays = parts.weekdays === undefined || parts.weekdays <= 0 || parts.weekdays >= ALL_WEEKDAYS ? undefined : parts.weekdays;
  return {
    expression,
    ...(weekdays !== undefined ? { weekdays } : {}),
    years: strip(years),
    months: strip(months),
    days: strip(days),
    endOfMonth,
    hours: strip(hours),
    minutes: strip(minutes),
    seconds: strip(seconds),
    ...(timeZone !== undefined ? { timeZone } : {}),
  };
}
