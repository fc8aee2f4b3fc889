import { calendarProblem, validateBackupJobSpec } from '../../../src/spec/backup-job';
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
    ['an incremental on the differential schedule', { incrementalSchedule: 'Mon..Sat *-*-* 01:00:00' }, 'incrementalSchedule', /different from differentialSchedule/],
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
