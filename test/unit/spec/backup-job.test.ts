import { BACKUP_RANDOMIZED_DELAY_SECONDS, BACKUP_START_SPREAD_SECONDS, TIMER_ACCURACY_SECONDS, validateBackupJobSpec } from '../../../src/spec/backup-job';
import { planBackupJobs } from '../../../src/render/backup-scripts';
import { renderJobTimer } from '../../../src/render/systemd-unit';
import { calendarProblem } from '../../../src/spec/calendar';
import { SpecError } from '../../../src/spec/problems';

function problemsOf(input: unknown): SpecError {
  try {
    validateBackupJobSpec(input);
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(input)}`);
}

describe('BackupJob spec: defaults', () => {
  test('an empty spec gives weekly full, daily differential, hourly check, weekly verify and drill, 14 days retention', () => {
    expect(validateBackupJobSpec({})).toEqual({
      fullSchedule: 'Sun *-*-* 01:00:00',
      differentialSchedule: 'Mon..Sat *-*-* 01:00:00',
      incrementalSchedule: undefined,
      checkSchedule: 'hourly',
      verifySchedule: 'Sat *-*-* 05:00:00',
      restoreDrillSchedule: 'Wed *-*-* 03:00:00',
      backupStandby: false,
      retentionFull: 14,
      retentionFullType: 'time',
      retentionDiff: undefined,
      restoreDrillPort: 5499,
      restoreDrillTimeoutSeconds: 3600,
      restoreDrillQuery: undefined,
      logicalDump: undefined,
      processMax: 2,
    });
  });

  test('logicalDump: {} fills in its schedule and retention; databases stay unset (= all of them)', () => {
    expect(validateBackupJobSpec({ logicalDump: {} }).logicalDump).toEqual({ schedule: '*-*-* 02:30:00', retentionDays: 7 });
    expect(validateBackupJobSpec({ logicalDump: { databases: ['orders', 'billing-2'] } }).logicalDump?.databases).toEqual(['orders', 'billing-2']);
  });

  test('the restore drill and differential backups turn off with false or null', () => {
    expect(validateBackupJobSpec({ restoreDrillSchedule: false }).restoreDrillSchedule).toBe(false);
    expect(validateBackupJobSpec({ restoreDrillSchedule: null }).restoreDrillSchedule).toBe(false);
    expect(validateBackupJobSpec({ differentialSchedule: false }).differentialSchedule).toBe(false);
  });

  test('a full custom spec is kept as given', () => {
    const spec = validateBackupJobSpec({
      fullSchedule: 'daily',
      differentialSchedule: false,
      incrementalSchedule: '*-*-* 07..23/4:00:00',
      retentionFull: 4,
      retentionFullType: 'count',
      retentionDiff: 6,
      backupStandby: true,
      restoreDrillPort: 6499,
      restoreDrillTimeoutSeconds: 7200,
      restoreDrillQuery: 'SELECT count(*) FROM orders',
      processMax: 8,
    });
    expect(spec).toMatchObject({ fullSchedule: 'daily', retentionFull: 4, retentionFullType: 'count', retentionDiff: 6, backupStandby: true, processMax: 8 });
  });
});

describe('calendarProblem: the OnCalendar grammar', () => {
  test.each([
    'hourly',
    'Daily',
    'semiannually',
    'Sun *-*-* 01:00:00',
    'Mon..Sat *-*-* 01:00:00',
    'Mon-Fri 02:30',
    'Mon,Wed,Fri *-*-* 04:00',
    'Saturday 05:00',
    '*-*-* 02:30:00',
    '*-*-01 04:00 UTC',
    '*-*-* 01:00 Europe/Berlin',
    '2030-01-01',
    '*-02~01',
    '*:0/15',
    '*-*-* 00..06/2:00',
    '*-*-* 01:00:00.25',
    'Sat,Sun',
  ])('accepts %p', (expression) => {
    expect(calendarProblem(expression)).toBeUndefined();
  });

  test.each([
    ['', /empty/],
    ['Funday 01:00', /"Funday" is not a weekday/],
    ['Fri..Mon 01:00', /runs backwards/],
    ['*-*-* 25:00', /hour 25 is out of range 0..23/],
    ['*-*-* 01:60', /minute 60 is out of range 0..59/],
    ['*-13-01', /month 13 is out of range 1..12/],
    ['*-*-32', /day 32 is out of range 1..31/],
    ['1:00 Mon', /out of place/],
    ['*-*-* 0:0/0', /repeat by a whole number of at least 1/],
    ['every day', /"every" is not a weekday/],
    ['@1700000000', /starts neither a shorthand/],
    ['*-*-* 01:00 Mars/Olympus', /"Mars\/Olympus" is not a time zone/],
  ])('rejects %p with a reason', (expression, reason) => {
    expect(calendarProblem(expression)).toMatch(reason);
  });
});

describe('BackupJob spec: invalid input', () => {
  // [what is wrong, input, path named, words of the message]
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['a calendar expression with a bad weekday', { fullSchedule: 'Funday 01:00' }, 'fullSchedule', /"Funday" is not a weekday.*systemd-analyze calendar/],
    ['a calendar expression with hour 25', { checkSchedule: '*-*-* 25:00' }, 'checkSchedule', /hour 25 is out of range 0..23/],
    ['a schedule that is not a string', { verifySchedule: 5 }, 'verifySchedule', /systemd OnCalendar expression/],
    ['a drill schedule in plain English', { restoreDrillSchedule: 'Wed 3pm' }, 'restoreDrillSchedule', /"3pm" is out of place/],
    ['a drill schedule that is a number', { restoreDrillSchedule: 3 }, 'restoreDrillSchedule', /or false to turn it off/],
    ['a bad dump schedule', { logicalDump: { schedule: 'nightly' } }, 'logicalDump.schedule', /"nightly" is not a weekday/],
    ['retention beyond 10 years of days', { retentionFull: 5000 }, 'retentionFull', /1 to 3650 days with retentionFullType "time"/],
    ['retention of zero backups', { retentionFullType: 'count', retentionFull: 0 }, 'retentionFull', /at least 1/],
    ['a fractional retention', { retentionFull: 1.5 }, 'retentionFull', /whole number/],
    ['an unknown retention type', { retentionFullType: 'days' }, 'retentionFullType', /"count" or "time"/],
    ['a privileged drill port', { restoreDrillPort: 80 }, 'restoreDrillPort', /1024 to 65535/],
    ['a drill port above 65535', { restoreDrillPort: 70000 }, 'restoreDrillPort', /1024 to 65535/],
    ['a drill port as text', { restoreDrillPort: '5499' }, 'restoreDrillPort', /integer port/],
    ['a drill timeout under a minute', { restoreDrillTimeoutSeconds: 10 }, 'restoreDrillTimeoutSeconds', /at least 60 seconds/],
    ['an empty drill query', { restoreDrillQuery: '' }, 'restoreDrillQuery', /non-empty SQL/],
    ['processMax above 32', { processMax: 64 }, 'processMax', /at most 32 processes/],
    ['a database name with a space', { logicalDump: { databases: ['my db'] } }, 'logicalDump.databases.0', /letters, digits/],
    ['an empty database list', { logicalDump: { databases: [] } }, 'logicalDump.databases', /at least one database/],
    ['a dump retention of zero days', { logicalDump: { retentionDays: 0 } }, 'logicalDump.retentionDays', /at least 1 days/],
    ['an unknown dump field', { logicalDump: { keepDays: 3 } }, 'logicalDump', /only documented fields/],
    ['a differential on the full schedule', { differentialSchedule: 'Sun *-*-* 01:00:00' }, 'differentialSchedule', /collide on pgBackRest's lock/],
    ['an incremental on the differential schedule', { incrementalSchedule: 'Mon..Sat *-*-* 01:00:00' }, 'incrementalSchedule', /never starts together with differentialSchedule/],
    ['a check on a date that never comes', { checkSchedule: '*-02-30 01:00' }, 'checkSchedule', /a schedule that fires: systemd finds no elapse/],
    ['backupStandby as text', { backupStandby: 'yes' }, 'backupStandby', /true or false/],
    ['a misspelt field', { retentionfull: 3 }, 'retentionfull', /only documented fields/],
  ])('fails with %s', (_what, input, path, message) => {
    const error = problemsOf(input);
    const problem = error.problems.find((p) => p.path === path);
    expect({ paths: error.problems.map((p) => p.path), found: problem !== undefined }).toEqual({ paths: expect.arrayContaining([path]), found: true });
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${path}: got `);
    // Every problem says what was expected and how to fix it.
    for (const p of error.problems) {
      expect(p.expected.length).toBeGreaterThan(5);
      expect(p.fix.length).toBeGreaterThan(5);
    }
  });

  test('every problem is reported at once, each with its own path', () => {
    const error = problemsOf({ fullSchedule: 'Funday', restoreDrillPort: 22, retentionFull: 0, processMax: 0 });
    expect(error.problems.map((p) => p.path).sort()).toEqual(['fullSchedule', 'processMax', 'restoreDrillPort', 'retentionFull']);
  });

  test('the problem carries the value given', () => {
    const problem = problemsOf({ verifySchedule: 'Sat *-*-* 05:61' }).problems[0];
    expect(problem).toMatchObject({ path: 'verifySchedule', given: 'Sat *-*-* 05:61' });
    expect(problem.expected).toMatch(/minute 61 is out of range 0..59/);
    expect(problem.fix).toMatch(/write e.g. "Sat \*-\*-\* 05:00:00"/);
  });

  test('a spec that is not an object is refused', () => {
    expect(problemsOf('weekly').problems[0]).toMatchObject({ path: '(spec)', expected: 'an object' });
  });
});

describe('BackupJob spec: the one-lock rule compares elapses, not texts, in any zones', () => {
  // GIVEN a Tuesday: 2026-12-08 01:24 UTC
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-12-08T01:24:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  // [what, input, the later schedule's path, the earlier one's, the first collision]
  test.each<[string, Record<string, unknown>, string, string, string]>([
    ['a shorthand and its expansion', { fullSchedule: 'daily', differentialSchedule: '*-*-* 00:00:00' }, 'differentialSchedule', 'fullSchedule', 'both start at 2026-12-09 00:00:00 UTC'],
    ['weekly full and daily differential at the same hour', { fullSchedule: 'Sun *-*-* 01:00', differentialSchedule: '*-*-* 01:00:00' }, 'differentialSchedule', 'fullSchedule', 'both start at 2026-12-13 01:00:00 UTC'],
    ['the 1st and Mondays: Mondays that are the 1st', { fullSchedule: '*-*-01 01:00', differentialSchedule: 'Mon *-*-* 01:00' }, 'differentialSchedule', 'fullSchedule', 'both start at 2027-02-01 01:00:00 UTC'],
    ['incrementals that meet the Sunday full', { fullSchedule: 'Sun *-*-* 06:00:00', incrementalSchedule: '*-*-* 00/6:00:00' }, 'incrementalSchedule', 'fullSchedule', 'both start at 2026-12-13 06:00:00 UTC'],
    ['an incremental on the default differential', { incrementalSchedule: 'Mon..Sat 01:00' }, 'incrementalSchedule', 'differentialSchedule', 'both start at 2026-12-09 01:00:00 UTC'],
    ['a leap-day full and a daily differential', { fullSchedule: '*-02-29 03:00', differentialSchedule: '*-*-* 03:00' }, 'differentialSchedule', 'fullSchedule', 'both start at 2028-02-29 03:00:00 UTC'],
    [
      'five minutes apart: within the random delay',
      { fullSchedule: 'Sun *-*-* 01:00', incrementalSchedule: '*-*-* 01:05' },
      'incrementalSchedule',
      'fullSchedule',
      'both can start at 2026-12-13 01:05:00 UTC (fullSchedule elapses at 2026-12-13 01:00:00 UTC, incrementalSchedule at 2026-12-13 01:05:00 UTC',
    ],
    [
      'across midnight',
      { fullSchedule: 'Sat *-*-* 23:58', differentialSchedule: 'Sun *-*-* 00:01', incrementalSchedule: undefined },
      'differentialSchedule',
      'fullSchedule',
      'both can start at 2026-12-13 00:01:00 UTC (fullSchedule elapses at 2026-12-12 23:58:00 UTC',
    ],
    [
      'the skipped hour of a DST change: 01:58 and 03:01 are 3 minutes apart',
      { fullSchedule: '*-*-* 01:58 Europe/Berlin', differentialSchedule: '*-*-* 03:01 Europe/Berlin' },
      'differentialSchedule',
      'fullSchedule',
      'both can start at 2027-03-28 03:01:00 Europe/Berlin',
    ],
    [
      'in two zones: the Berlin full at 01:00 (CET) is midnight UTC, the differential on the same instant',
      { fullSchedule: 'Sun *-*-* 01:00 Europe/Berlin', differentialSchedule: 'Sun *-*-* 00:00' },
      'differentialSchedule',
      'fullSchedule',
      'both start at 2026-12-13 00:00:00 UTC (2026-12-13 01:00:00 Europe/Berlin)',
    ],
    [
      'in two zones: a UTC differential two minutes before the Berlin full',
      { fullSchedule: 'Sun *-*-* 01:00 Europe/Berlin', differentialSchedule: 'Sat *-*-* 23:58' },
      'differentialSchedule',
      'fullSchedule',
      'both can start at 2026-12-13 00:00:00 UTC (fullSchedule elapses at 2026-12-13 01:00:00 Europe/Berlin, differentialSchedule at 2026-12-12 23:58:00 UTC',
    ],
  ])('fails when %s', (_what, input, path, earlier, when) => {
    const problem = problemsOf(input).problems.find((p) => p.path === path);
    expect(problem).toEqual({
      path,
      given: input[path],
      expected: expect.stringContaining(`a schedule that never starts together with ${earlier}: ${when}`),
      fix: expect.stringMatching(new RegExp(`^move ${path} to other days or hours than ${earlier}, more than 6 minutes apart`)),
    });
    expect(problem!.expected).toMatch(/two backups at once collide on pgBackRest's lock and one fails$/);
  });

  test.each<[string, Record<string, unknown>]>([
    ['the defaults (Sunday full, Mon..Sat differential)', {}],
    ['Sunday full, Mon..Sat differential, daytime incrementals', { incrementalSchedule: '*-*-* 07..23/6:00:00' }],
    ['the same weekdays written apart', { fullSchedule: 'Sun *-*-* 01:00', differentialSchedule: 'Mon..Sat *-*-* 01:00' }],
    ['seven minutes apart: beyond the random delay', { fullSchedule: 'Sun *-*-* 01:00', incrementalSchedule: '*-*-* 01:07' }],
    ['the 1st of the month and the last day of the month', { fullSchedule: '*-*-01 01:00', differentialSchedule: '*-*~01 01:00' }],
    ['the same text for check and verify as for a backup: they take no lock', { checkSchedule: 'Sun *-*-* 01:00:00', verifySchedule: 'Mon..Sat *-*-* 01:00:00' }],
    ['differential turned off', { fullSchedule: 'daily', differentialSchedule: false }],
    ['a Berlin full on Sunday at 01:00 and a UTC differential Mon..Sat at noon', { fullSchedule: 'Sun *-*-* 01:00:00 Europe/Berlin', differentialSchedule: 'Mon..Sat *-*-* 12:00:00' }],
    ['a Berlin full on Sunday at 01:00 and the default differential (Saturday 01:00 UTC is a day earlier)', { fullSchedule: 'Sun *-*-* 01:00 Europe/Berlin' }],
    ['a New York full on Sunday and a Berlin differential Mon..Sat, both at 01:00', { fullSchedule: 'Sun *-*-* 01:00 America/New_York', differentialSchedule: 'Mon..Sat *-*-* 01:00 Europe/Berlin' }],
  ])('accepts %s', (_what, input) => {
    expect(() => validateBackupJobSpec(input)).not.toThrow();
  });

  test('fails when a schedule never fires, saying why and how to fix it', () => {
    const problems = problemsOf({ fullSchedule: '*-02-30 01:00', verifySchedule: '2025-*-* 05:00', restoreDrillSchedule: 'Mon *-02-30' }).problems;
    expect(problems).toEqual([
      {
        path: 'fullSchedule',
        given: '*-02-30 01:00',
        expected: expect.stringMatching(/^a schedule that fires: systemd finds no elapse of it after 2026-12-08 01:24:00 UTC \(none of the dates it names exists/),
        fix: expect.stringMatching(/^check the day against the length of the month \(\*-02~01 is the last day of February\)/),
      },
      {
        path: 'verifySchedule',
        given: '2025-*-* 05:00',
        expected: expect.stringMatching(/\(every year it names is past\)$/),
        fix: expect.stringMatching(/^name a year from 2026 on, or write \* for every year/),
      },
      { path: 'restoreDrillSchedule', given: 'Mon *-02-30', expected: expect.stringMatching(/none of the dates it names exists/), fix: expect.any(String) },
    ]);
  });

  test('the spread is what the rendered timers do: RandomizedDelaySec of the backup jobs plus AccuracySec', () => {
    const plan = planBackupJobs({
      spec: validateBackupJobSpec({ incrementalSchedule: '*-*-* 07..23/6:00:00' }),
      stanza: 'main',
      pgbackrestConfig: '/etc/pgbackrest/pgbackrest.conf',
      dataDir: '/var/lib/postgresql/17/main',
      binDir: '/usr/lib/postgresql/17/bin',
      socketDir: '/run/postgresql',
      postgresPort: 5432,
      patroniConfig: '/etc/patroni/patroni.yml',
      nodeName: 'node-1',
    });
    const backups = plan.jobs.filter((j) => j.name.startsWith('pgha-backup-'));
    expect(backups.map((j) => j.randomizedDelaySeconds)).toEqual([BACKUP_RANDOMIZED_DELAY_SECONDS, BACKUP_RANDOMIZED_DELAY_SECONDS, BACKUP_RANDOMIZED_DELAY_SECONDS]);
    expect(renderJobTimer(backups[0])).toContain(`AccuracySec=${TIMER_ACCURACY_SECONDS / 60}min`);
    expect(BACKUP_START_SPREAD_SECONDS).toBe(360);
  });
});
