import { z } from 'zod';
import { port, wholeNumber } from './common';
import { CalendarSpec, calendarProblem, parseCalendar } from './calendar';
import { firstCollision } from './calendar-collision';
import { whyNeverElapses } from './calendar-elapse';
import { formatElapse } from './calendar-format';
import { effectiveTimeZone } from './calendar-zone';
import { SpecProblem } from './problems';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

const CALENDAR_EXPECTED = 'a systemd OnCalendar expression: a shorthand (hourly, daily, weekly, ...) or [WEEKDAYS] [DATE] [TIME]';

/**
 * OnCalendar expressions (spec/calendar.ts), checked here so that a typo, or a date that never
 * comes, fails at synth time instead of leaving a timer that never fires.
 */
function addCalendarIssue(value: string, example: string, context: z.core.$RefinementCtx<unknown>): void {
  const problem = calendarProblem(value);
  if (problem) {
    context.addIssue({
      code: 'custom',
      input: value,
      message: `${CALENDAR_EXPECTED} (${problem}); fix: write e.g. "${example}", and check it with \`systemd-analyze calendar '${example}'\``,
    });
    return;
  }
  const now = new Date();
  const never = whyNeverElapses(value, now);
  if (never) {
    context.addIssue({
      code: 'custom',
      input: value,
      message: `a schedule that fires: systemd finds no elapse of it after ${formatElapse(now.getTime() * 1000, parseCalendar(value))} (${never.reason}); fix: ${never.fix}`,
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

/** The backup timers' RandomizedDelaySec (render/backup-scripts.ts, planBackupJobs). */
export const BACKUP_RANDOMIZED_DELAY_SECONDS = 300;
/** AccuracySec of every job timer (render/systemd-unit.ts): systemd may start a timer up to this late. */
export const TIMER_ACCURACY_SECONDS = 60;
/** Two backup timers elapsing at most this far apart can start at the same moment. */
export const BACKUP_START_SPREAD_SECONDS = BACKUP_RANDOMIZED_DELAY_SECONDS + TIMER_ACCURACY_SECONDS;

/**
 * The one-lock rule: two backup types (full, differential, incremental) must never start
 * together. A backup (and the expire it runs after) holds pgBackRest's backup lock of the stanza
 * (<stanza>-backup-1.lock, flock without waiting); a second backup then fails at once with
 * "[050]: unable to acquire lock". `check` and `verify` take no lock (pgBackRest 2.55.1: verify
 * succeeds while a backup holds the lock; check is no locking command in its command table), so
 * only the backup types are compared.
 *
 * Compared by their elapses, not their text ("daily" is "*-*-* 00:00:00"): each timer starts a
 * random 0..RandomizedDelaySec after its elapse, then up to AccuracySec later, so two elapses up
 * to BACKUP_START_SPREAD_SECONDS apart can start at the same moment. Backups further apart can
 * still overlap when one runs long; that depends on the data and is left to the job alerts.
 * Schedules in different time zones are compared by their instants; each elapse is named in its
 * own schedule's zone.
 */
function backupCollision(path: string, value: string, earlierPath: string, earlierValue: string, now: Date): SpecProblem | undefined {
  const [spec, earlier]: CalendarSpec[] = [parseCalendar(value), parseCalendar(earlierValue)];
  const pair = firstCollision(earlier, spec, now, BACKUP_START_SPREAD_SECONDS);
  if (!pair) return undefined;
  // In two zones the common start is also given in the earlier schedule's zone.
  const inEarlierZone = effectiveTimeZone(spec) === effectiveTimeZone(earlier) ? '' : ` (${formatElapse(pair.first, earlier)})`;
  const when =
    pair.first === pair.second
      ? `both start at ${formatElapse(pair.first, spec)}${inEarlierZone}`
      : `both can start at ${formatElapse(Math.max(pair.first, pair.second), spec)} (${earlierPath} elapses at ${formatElapse(pair.first, earlier)}, ` +
        `${path} at ${formatElapse(pair.second, spec)}, and each timer starts up to ${BACKUP_START_SPREAD_SECONDS} s late: RandomizedDelaySec=${BACKUP_RANDOMIZED_DELAY_SECONDS}, AccuracySec=${TIMER_ACCURACY_SECONDS})`;
  return {
    path,
    given: value,
    expected: `a schedule that never starts together with ${earlierPath}: ${when}; two backups at once collide on pgBackRest's lock and one fails`,
    fix: `move ${path} to other days or hours than ${earlierPath}, more than ${Math.ceil(BACKUP_START_SPREAD_SECONDS / 60)} minutes apart (e.g. full on Sunday, differential Mon..Sat)`,
  };
}

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
    // Two backups at once: pgBackRest's stanza lock fails one of them (see backupCollision).
    uses: ['fullSchedule', 'differentialSchedule', 'incrementalSchedule'],
    check: (s) => {
      const schedules: [keyof Spec & string, string | false | undefined][] = [
        ['fullSchedule', s.fullSchedule],
        ['differentialSchedule', s.differentialSchedule],
        ['incrementalSchedule', s.incrementalSchedule],
      ];
      const now = new Date();
      const problems: SpecProblem[] = [];
      schedules.forEach(([path, value], index) => {
        if (typeof value !== 'string') return;
        for (const [earlier, other] of schedules.slice(0, index)) {
          if (typeof other !== 'string') continue;
          const problem = backupCollision(path, value, earlier, other, now);
          if (problem) {
            problems.push(problem);
            return;
          }
        }
      });
      return problems;
    },
  },
];

export function validateBackupJobSpec(input: unknown, constructPath?: string, outside?: OutsideProps): BackupJobSpec {
  return validateSpec('BackupJob spec', backupJobSchema, backupJobRules, input, constructPath, outside);
}
