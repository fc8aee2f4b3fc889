/**
 * How PostgreSQL 17 reads a parameter's value (src/backend/utils/misc/guc.c: parse_bool, parse_int,
 * parse_real, convert_to_base_unit; config_enum_lookup_by_name), so the spec can refuse at synth
 * what the server would refuse at start. Checked against the real binary by
 * test/tools/postgresql-catalogue.test.ts.
 */

/** A value PostgreSQL read, or why it could not: the text itself, its unit, or more than an int holds. */
export type GucParse = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly reason: 'syntax' | 'unit' | 'overflow' };

/** C's isspace in the C locale. */
const SPACE = /^[ \t\n\v\f\r]*/;
const DBL_MIN = 2.2250738585072014e-308;
const LONG_MAX = 2n ** 63n - 1n;
const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);

/** C's rint() in the default rounding mode: halves go to the even neighbour (0.5 -> 0, 2.5 -> 2). */
export function rint(value: number): number {
  if (!Number.isFinite(value)) return value;
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * bool.c parse_bool: a prefix of true, false, yes or no, or on, off (at least "of"), 1 or 0,
 * in any case, nothing around it.
 */
export function parseGucBool(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  switch (lower[0]) {
    case 't':
      return 'true'.startsWith(lower) ? true : undefined;
    case 'f':
      return 'false'.startsWith(lower) ? false : undefined;
    case 'y':
      return 'yes'.startsWith(lower) ? true : undefined;
    case 'n':
      return 'no'.startsWith(lower) ? false : undefined;
    case 'o':
      return lower === 'on' ? true : lower === 'of' || lower === 'off' ? false : undefined;
    case '1':
      return lower === '1' ? true : undefined;
    case '0':
      return lower === '0' ? false : undefined;
    default:
      return undefined;
  }
}

/** The option an enum value names (pg_strcasecmp: ASCII case folded, nothing trimmed), or undefined. */
export function lookupGucEnum(text: string, options: readonly string[]): string | undefined {
  const lower = asciiLower(text);
  return options.find((option) => asciiLower(option) === lower);
}

const asciiLower = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

interface Prefix {
  readonly value: number;
  /** What follows the number. */
  readonly rest: string;
  /** errno == ERANGE */
  readonly outOfRange: boolean;
}

/** glibc strtol(text, &end, 0): leading space, a sign, then hex (0x), octal (0...) or decimal digits. */
function strtol(text: string): (Prefix & { readonly next: string }) | undefined {
  const match = /^([ \t\n\v\f\r]*)([+-]?)(0[xX](?=[0-9a-fA-F])[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!match) return undefined;
  const digits = match[3];
  const magnitude = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  const negative = match[2] === '-';
  const outOfRange = negative ? magnitude > LONG_MAX + 1n : magnitude > LONG_MAX;
  const rest = text.slice(match[0].length);
  return { value: Number(negative ? -magnitude : magnitude), rest, outOfRange, next: rest[0] ?? '' };
}

/**
 * glibc strtod in the C locale: inf/infinity, nan, hexadecimal floats, decimal floats. ERANGE on
 * overflow, and on underflow to zero or to a subnormal number (PostgreSQL then refuses the value).
 */
function strtod(text: string): Prefix | undefined {
  const space = SPACE.exec(text)![0].length;
  const body = text.slice(space);
  const sign = /^[+-]/.test(body) ? body[0] : '';
  const unsigned = body.slice(sign.length);
  const negate = (value: number) => (sign === '-' ? -value : value);
  const special = /^(infinity|inf|nan(\([0-9A-Za-z_]*\))?)/i.exec(unsigned);
  if (special) {
    const value = special[1].toLowerCase().startsWith('inf') ? Infinity : NaN;
    return { value: negate(value), rest: unsigned.slice(special[0].length), outOfRange: false };
  }
  const hex = /^0[xX](([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?/.exec(unsigned);
  if (hex) {
    const whole = hex[2] ?? '';
    const fraction = hex[3] ?? hex[4] ?? '';
    const mantissa = BigInt(`0x${whole}${fraction}`);
    const exponent = Number(hex[5] ?? 0) - 4 * fraction.length;
    // Two steps, so neither power of two overflows on its own.
    const value = Number(mantissa) * 2 ** Math.trunc(exponent / 2) * 2 ** (exponent - Math.trunc(exponent / 2));
    return finish(negate(value), mantissa !== 0n, unsigned.slice(hex[0].length));
  }
  const decimal = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?/.exec(unsigned);
  if (!decimal) return undefined;
  const value = Number(decimal[0]);
  return finish(negate(value), /[1-9]/.test(decimal[1]), unsigned.slice(decimal[0].length));
}

function finish(value: number, nonZeroDigits: boolean, rest: string): Prefix {
  const magnitude = Math.abs(value);
  const outOfRange = magnitude === Infinity || (nonZeroDigits && magnitude < DBL_MIN);
  return { value, rest, outOfRange };
}

/** Units of memory, largest first, in bytes; and of time, in microseconds (guc.c's conversion tables). */
const MEMORY_UNITS: readonly (readonly [string, number])[] = [
  ['TB', 1024 ** 4],
  ['GB', 1024 ** 3],
  ['MB', 1024 ** 2],
  ['kB', 1024],
  ['B', 1],
];
const TIME_UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400_000_000],
  ['h', 3_600_000_000],
  ['min', 60_000_000],
  ['s', 1_000_000],
  ['ms', 1_000],
  ['us', 1],
];

export const MEMORY_UNIT_NAMES = MEMORY_UNITS.map(([name]) => name);
export const TIME_UNIT_NAMES = TIME_UNITS.map(([name]) => name);

/** A parameter's unit as pg_settings names it ("kB", "8kB", "MB", "ms", "s", "min"): its kind and size. */
export interface BaseUnit {
  readonly kind: 'memory' | 'time';
  /** Bytes or microseconds. */
  readonly size: number;
  readonly name: string;
}

export function baseUnit(unit: string | undefined): BaseUnit | undefined {
  if (!unit) return undefined;
  const memory = /^([0-9]*)(B|kB|MB|GB|TB)$/.exec(unit);
  if (memory) return { kind: 'memory', size: Number(memory[1] || 1) * MEMORY_UNITS.find(([name]) => name === memory[2])![1], name: unit };
  const time = TIME_UNITS.find(([name]) => name === unit);
  if (time) return { kind: 'time', size: time[1], name: unit };
  throw new Error(`unknown PostgreSQL unit "${unit}" in the parameter catalogue`);
}

/** guc.c convert_to_base_unit: at most 3 letters of unit, spaces after; a fraction is rounded to the next smaller unit. */
function convertToBaseUnit(value: number, text: string, unit: BaseUnit): number | undefined {
  const match = /^([^ \t\n\v\f\r]{0,3})[ \t\n\v\f\r]*$/.exec(text);
  if (!match) return undefined;
  const table = unit.kind === 'memory' ? MEMORY_UNITS : TIME_UNITS;
  const index = table.findIndex(([name]) => name === match[1]);
  if (index < 0) return undefined;
  const multiplier = table[index][1] / unit.size;
  const converted = value * multiplier;
  const next = table[index + 1];
  if (!next) return converted;
  const nextMultiplier = next[1] / unit.size;
  return rint(converted / nextMultiplier) * nextMultiplier;
}

/** The number and the unit after it, in the parameter's unit (parse_int and parse_real share this). */
function withUnit(number: Prefix, unit: BaseUnit | undefined): GucParse {
  if (Number.isNaN(number.value)) return { ok: false, reason: 'syntax' };
  const rest = number.rest.slice(SPACE.exec(number.rest)![0].length);
  if (rest === '') return { ok: true, value: number.value };
  if (!unit) return { ok: false, reason: 'syntax' };
  const converted = convertToBaseUnit(number.value, rest, unit);
  return converted === undefined ? { ok: false, reason: 'unit' } : { ok: true, value: converted };
}

/**
 * guc.c parse_int: strtol (octal and hex too), or strtod when a ".", "e" or an overflow stops it;
 * an optional unit; rounded half to even; within C's int.
 */
export function parseGucInt(text: string, unit: BaseUnit | undefined): GucParse {
  const integer = strtol(text);
  // Where strtol stopped: after its digits, or at the very start when it found none (so ".5" is 0.5, " .5" nothing).
  const stop = integer ? integer.next : text[0];
  const number = integer?.outOfRange || ['.', 'e', 'E'].includes(stop) ? strtod(text) : integer;
  if (!number || number.outOfRange) return { ok: false, reason: 'syntax' };
  const parsed = withUnit(number, unit);
  if (!parsed.ok) return parsed;
  const value = rint(parsed.value);
  return value > INT_MAX || value < INT_MIN ? { ok: false, reason: 'overflow' } : { ok: true, value };
}

/** guc.c parse_real: strtod, an optional unit. */
export function parseGucReal(text: string, unit: BaseUnit | undefined): GucParse {
  const number = strtod(text);
  if (!number || number.outOfRange) return { ok: false, reason: 'syntax' };
  return withUnit(number, unit);
}
