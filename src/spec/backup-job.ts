import { z } from 'zod';
import { port, wholeNumber } from './common';
import { SpecProblem } from './problems';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

/**
 * systemd OnCalendar expressions (systemd.time(7), "Calendar Events"), checked here so that a
 * typo fails at synth time instead of leaving a timer that never fires. The grammar is the one
 * systemd parses (252 and 257, Debian 12 and 13), minus rarely useful corners (`@epoch`, bare time lists):
 *
 *   shorthand                     minutely hourly daily weekly monthly yearly annually quarterly semiannually
 *   [WEEKDAYS] [DATE] [TIME] [TZ] e.g. "Sun *-*-* 01:00:00", "Mon..Fri 02:30", "*-*-01 04:00 UTC"
 *
 * WEEKDAYS: Mon..Sun (or full names), lists with "," and ascending ranges with ".." or "-".
 * DATE: [YEAR-]MONTH-DAY, DAY after "~" counts from the end of the month. TIME: HOUR:MINUTE[:SECOND].
 * Each number may be "*", a value, a range "a..b", a repetition "a/n" or "a..b/n", and a list of those.
 * test/tools/backup-scripts.test.ts checks the defaults and examples against `systemd-analyze calendar`.
 */
export const CALENDAR_SHORTHANDS = [
  'minutely',
  'hourly',
  'daily',
  'weekly',
  'monthly',
  'yearly',
  'annually',
  'quarterly',
  'semiannually',
] as const;

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const WEEKDAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

function weekdayIndex(word: string): number {
  const lower = word.toLowerCase();
  const short = WEEKDAYS.indexOf(lower as (typeof WEEKDAYS)[number]);
  return short >= 0 ? short : WEEKDAY_NAMES.indexOf(lower);
}

function checkWeekdays(token: string): string | undefined {
  for (const item of token.split(',')) {
    const bounds = item.split(/\.\.|-/);
    if (bounds.length > 2 || bounds.some((b) => b === '')) return `"${item}" is not a weekday or a weekday range such as Mon..Fri`;
    const indexes = bounds.map(weekdayIndex);
    const unknown = bounds.find((_b, i) => indexes[i] < 0);
    if (unknown !== undefined) return `"${unknown}" is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`;
    if (indexes.length === 2 && indexes[0] > indexes[1]) return `the weekday range "${item}" runs backwards (weeks start on Monday)`;
  }
  return undefined;
}

/** One numeric field: a list of "*", "v", "a..b", with an optional "/n" repetition. */
function checkNumberField(field: string, what: string, min: number, max: number, fraction = false): string | undefined {
  const value = fraction ? /^\d{1,4}(\.\d{1,6})?$/ : /^\d{1,4}$/;
  for (const item of field.split(',')) {
    const [base, repeat, extra] = item.split('/');
    if (extra !== undefined || base === '') return `"${item}" is not a valid ${what}`;
    if (repeat !== undefined && (!/^\d{1,4}$/.test(repeat) || Number(repeat) < 1)) {
      return `"/${repeat}" in the ${what} "${item}" must repeat by a whole number of at least 1`;
    }
    if (base === '*') continue;
    const bounds = base.split('..');
    if (bounds.length > 2 || bounds.some((b) => !value.test(b))) return `"${item}" is not a valid ${what} (use *, a number, a range a..b or a repetition a/n)`;
    const numbers = bounds.map(Number);
    const outside = numbers.find((n) => n < min || n >= max + 1);
    if (outside !== undefined) return `${what} ${outside} is out of range ${min}..${max}`;
    if (numbers.length === 2 && numbers[0] > numbers[1]) return `the ${what} range "${base}" runs backwards`;
  }
  return undefined;
}

function checkDate(token: string): string | undefined {
  const match = /^(?:([^-~]+)-)?([^-~]+)([-~])([^-~]+)$/.exec(token);
  if (!match) return `"${token}" is not a date: write [YEAR-]MONTH-DAY, e.g. *-*-* or *-*-01`;
  const [, year, month, , day] = match;
  return (
    (year !== undefined ? checkNumberField(year, 'year', 1970, 2199) : undefined) ??
    checkNumberField(month, 'month', 1, 12) ??
    checkNumberField(day, 'day', 1, 31)
  );
}

function checkTime(token: string): string | undefined {
  const parts = token.split(':');
  if (parts.length < 2 || parts.length > 3) return `"${token}" is not a time: write HOUR:MINUTE[:SECOND], e.g. 01:00:00`;
  return (
    checkNumberField(parts[0], 'hour', 0, 23) ??
    checkNumberField(parts[1], 'minute', 0, 59) ??
    (parts[2] !== undefined ? checkNumberField(parts[2], 'second', 0, 59, true) : undefined)
  );
}

function isTimeZone(token: string): boolean {
  if (token.toUpperCase() === 'UTC') return true;
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)+$/.test(token)) return false;
  try {
    return (Intl as unknown as { supportedValuesOf(key: string): string[] }).supportedValuesOf('timeZone').includes(token);
  } catch {
    return false;
  }
}

/** Why `expression` is not an OnCalendar expression, or undefined when it is one. */
export function calendarProblem(expression: string): string | undefined {
  const text = expression.trim();
  if (text === '') return 'it is empty';
  if ((CALENDAR_SHORTHANDS as readonly string[]).includes(text.toLowerCase())) return undefined;
  const tokens = text.split(/\s+/);
  let index = 0;
  const problems: (string | undefined)[] = [];
  const isDate = (t: string) => /^[\d*.,/]+([-~][\d*.,/]+){1,2}$/.test(t);
  const isTime = (t: string) => t.includes(':');
  if (index < tokens.length && /^[A-Za-z]/.test(tokens[index]) && !isTimeZone(tokens[index])) problems.push(checkWeekdays(tokens[index++]));
  if (index < tokens.length && isDate(tokens[index])) problems.push(checkDate(tokens[index++]));
  if (index < tokens.length && isTime(tokens[index])) problems.push(checkTime(tokens[index++]));
  if (index === 0) {
    return `"${tokens[0]}" starts neither a shorthand (${CALENDAR_SHORTHANDS.join(', ')}) nor a weekday, date or time`;
  }
  if (index < tokens.length && isTimeZone(tokens[index])) index++;
  const problem = problems.find((p) => p !== undefined);
  if (problem) return problem;
  if (index === tokens.length - 1 && /^[A-Za-z_]+\/[A-Za-z0-9_/+-]+$/.test(tokens[index])) {
    return `"${tokens[index]}" is not a time zone (use UTC or a tz database name such as Europe/Berlin)`;
  }
  if (index < tokens.length) {
    return `"${tokens[index]}" is out of place: the parts go in the order [WEEKDAYS] [DATE] [TIME] [TIMEZONE]`;
  }
  return undefined;
}

const CALENDAR_EXPECTED = 'a systemd OnCalendar expression: a shorthand (hourly, daily, weekly, ...) or [WEEKDAYS] [DATE] [TIME]';

function addCalendarIssue(value: string, example: string, context: z.core.$RefinementCtx<unknown>): void {
  const problem = calendarProblem(value);
  if (problem) {
    context.addIssue({
      code: 'custom',
      input: value,
      message: `${CALENDAR_EXPECTED} (${problem}); fix: write e.g. "${example}", and check it with \`systemd-analyze calendar '${example}'\``,
    });
  }
}

/** A systemd OnCalendar expression; the message says what is wrong with a bad one. */
export function calendarExpression(example: string) {
  return z
    .string(expectation(CALENDAR_EXPECTED, `write e.g. "${example}"`))
    .superRefine((value, context) => addCalendarIssue(value, example, context));
}

/** A schedule that can be turned off with false (or null). */
function optionalSchedule(example: string, defaultValue: string) {
  return z
    .union([z.string(), z.literal(false), z.null()], expectation(`${CALENDAR_EXPECTED}, or false to turn it off`, `write e.g. "${example}" or false`))
    .superRefine((value, context) => {
      if (typeof value === 'string') addCalendarIssue(value, example, context);
    })
    .default(defaultValue)
    .transform((value): string | false => (value === null ? false : value));
}

/** A database name as it may appear in the dump job: also a file name and a word of a script. */
const databaseName = z
  .string(expectation('a database name', 'give the name of a database, e.g. "orders"'))
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/,
    expectation('1-63 characters: letters, digits, "_", "." and "-"', 'use the database name as PostgreSQL shows it, e.g. "orders"; leave `databases` unset to dump them all'),
  );

export const logicalDumpSchema = z.strictObject(
  {
    /** When the dumps run. @default "*-*-* 02:30:00" (daily, after the nightly backup) */
    schedule: calendarExpression('*-*-* 02:30:00').default('*-*-* 02:30:00'),
    /** Databases to dump. @default - every database that allows connections, except templates */
    databases: z
      .array(databaseName, expectation('a list of database names', 'pass e.g. ["orders", "billing"]'))
      .min(1, expectation('at least one database', 'list a database, or leave `databases` unset to dump them all'))
      .optional(),
    /** Dumps older than this are deleted (unless that database's dump failed this run). @default 7 */
    retentionDays: wholeNumber('days', 1, 3650, 7).default(7),
  },
  expectation('an object { schedule?, databases?, retentionDays? }', 'pass e.g. { databases: ["orders"], retentionDays: 7 }, or leave logicalDump unset'),
);

export const RETENTION_TYPES = ['count', 'time'] as const;
/** pgBackRest's own upper bound of repo-retention-full (count). */
const PGBACKREST_MAX_RETENTION = 9_999_999;
const MAX_RETENTION_DAYS = 3650;

export const backupJobSchema = z.object({
  /** Full backups. @default "Sun *-*-* 01:00:00" (weekly) */
  fullSchedule: calendarExpression('Sun *-*-* 01:00:00').default('Sun *-*-* 01:00:00'),
  /** Differential backups; false turns them off. @default "Mon..Sat *-*-* 01:00:00" (daily but Sunday) */
  differentialSchedule: optionalSchedule('Mon..Sat *-*-* 01:00:00', 'Mon..Sat *-*-* 01:00:00'),
  /** Incremental backups. @default - none */
  incrementalSchedule: calendarExpression('*-*-* 07..23/6:00:00').optional(),
  /** `pgbackrest check` (archiving works, the repository is reachable). @default "hourly" */
  checkSchedule: calendarExpression('hourly').default('hourly'),
  /** `pgbackrest verify` (every file of the repository against its checksum). @default "Sat *-*-* 05:00:00" */
  verifySchedule: calendarExpression('Sat *-*-* 05:00:00').default('Sat *-*-* 05:00:00'),
  /** Restore of the latest backup on a replica, started and queried; false turns it off. @default "Wed *-*-* 03:00:00" */
  restoreDrillSchedule: optionalSchedule('Wed *-*-* 03:00:00', 'Wed *-*-* 03:00:00'),
  /** Back up from a replica (pgBackRest --backup-standby) instead of the leader. @default false */
  backupStandby: z.boolean(expectation('true or false', 'use a boolean')).default(false),
  /** Full backups to keep (retentionFullType "count") or days to keep them ("time"). @default 14 */
  retentionFull: wholeNumber('backups or days', 1, PGBACKREST_MAX_RETENTION, 14).default(14),
  /** @default "time" (retentionFull is in days) */
  retentionFullType: z
    .enum(RETENTION_TYPES, expectation('"count" or "time"', 'use "time" (retentionFull in days) or "count" (retentionFull backups)'))
    .default('time'),
  /** Differential backups to keep. @default - pgBackRest's: those of the full backups kept */
  retentionDiff: wholeNumber('differential backups', 1, PGBACKREST_MAX_RETENTION, 7).optional(),
  /** Port of the restore drill's PostgreSQL (a unix socket only, inside the drill directory). @default 5499 */
  restoreDrillPort: port(5499),
  /** The whole drill (restore, recovery, checks) must finish within this. @default 3600 */
  restoreDrillTimeoutSeconds: wholeNumber('seconds', 60, 7 * 86400, 3600).default(3600),
  /** Extra SQL the restored copy must run without error, e.g. "SELECT 1 FROM orders LIMIT 1". @default - none */
  restoreDrillQuery: z
    .string(expectation('an SQL statement', 'write e.g. "SELECT count(*) FROM orders"'))
    .min(1, expectation('a non-empty SQL statement', 'write e.g. "SELECT count(*) FROM orders", or leave it unset'))
    .max(10_000, expectation('at most 10000 characters of SQL', 'move a long check into a function in the database and call it'))
    .refine((sql) => !sql.includes('\0'), expectation('SQL without NUL characters', 'remove the NUL character'))
    .optional(),
  /** Logical dumps (pg_dump -Fc), verified with pg_restore. @default - none */
  logicalDump: logicalDumpSchema.optional(),
  /** pgBackRest process-max: parallel compression and transfer. @default 2 */
  processMax: wholeNumber('processes', 1, 32, 2).default(2),
});

export type BackupJobSpecInput = z.input<typeof backupJobSchema>;
export type BackupJobSpec = z.output<typeof backupJobSchema>;
type Spec = BackupJobSpec;

export const backupJobRules: readonly CrossFieldRule<Spec>[] = [
  {
    uses: ['retentionFull', 'retentionFullType'],
    check: (s) =>
      s.retentionFullType === 'time' && s.retentionFull > MAX_RETENTION_DAYS
        ? [
            {
              path: 'retentionFull',
              given: s.retentionFull,
              expected: `1 to ${MAX_RETENTION_DAYS} days with retentionFullType "time"`,
              fix: `set retentionFull to ${MAX_RETENTION_DAYS} days or fewer, or use retentionFullType "count" to keep a number of full backups`,
            },
          ]
        : [],
  },
  {
    // Two backup types on one schedule start together: pgBackRest's stanza lock fails one of them.
    uses: ['fullSchedule', 'differentialSchedule', 'incrementalSchedule'],
    check: (s) => {
      const schedules: [keyof Spec & string, string | false | undefined][] = [
        ['fullSchedule', s.fullSchedule],
        ['differentialSchedule', s.differentialSchedule],
        ['incrementalSchedule', s.incrementalSchedule],
      ];
      const problems: SpecProblem[] = [];
      schedules.forEach(([path, value], index) => {
        const earlier = schedules.slice(0, index).find(([, other]) => typeof value === 'string' && other === value);
        if (earlier) {
          problems.push({
            path,
            given: value,
            expected: `a schedule different from ${earlier[0]}: two backups started at once collide on pgBackRest's lock and one fails`,
            fix: `move ${path} to other days or hours than ${earlier[0]} (e.g. full on Sunday, differential Mon..Sat)`,
          });
        }
      });
      return problems;
    },
  },
];

export function validateBackupJobSpec(input: unknown, constructPath?: string, outside?: OutsideProps): BackupJobSpec {
  return validateSpec('BackupJob spec', backupJobSchema, backupJobRules, input, constructPath, outside);
}
