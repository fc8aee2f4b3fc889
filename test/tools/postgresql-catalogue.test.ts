/**
 * The spec's checks of `postgresqlParameters` against the PostgreSQL 17 the nodes run (the node
 * runtime root's): the committed catalogue is what its pg_settings says, and for tables of bad and
 * good values and a few hundred generated ones, the checker says what the server itself says when
 * it reads them from postgresql.conf (`postgres -C`, see ScratchPostgres.verdicts). One scratch
 * cluster in a temp dir; the only server started listens on a unix socket and is stopped by its PID.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CATALOGUE_FILE, ScratchPostgres, Verdict, readCatalogue, renderCatalogueModule } from '../../scripts/generate-postgresql-catalogue';
import { LAYOUT } from '../../src/model/layout';
import { BAD_PARAMETER_VALUES } from '../support/bad-parameter-values';
import { renderReplicationPostgresqlConf } from '../../src/render/replication-node';
import { POSTGRESQL_CATALOGUE } from '../../src/spec/postgresql-catalogue.data';
import { baseUnit } from '../../src/spec/postgresql-guc-values';
import { ParameterValue, checkPostgresqlSetting, formatAmount, settingText } from '../../src/spec/postgresql-settings';
import { validatePrimaryWithReplicasSpec } from '../../src/spec/primary-with-replicas';

/** [parameter, value as a spec gives it, what our expected says, what PostgreSQL's message says] */
const BAD: readonly (readonly [string, ParameterValue, RegExp, RegExp])[] = [
  ['work_mem', '-1MB', /memory from 64kB to 2147483647kB/, /-1024 kB is outside the valid range/],
  ['shared_buffers', 'lots', /memory from 128kB/, /invalid value for parameter "shared_buffers": "lots"/],
  ['superuser_reserved_connections', -100, /whole number from 0 to 262143/, /-100 is outside the valid range/],
  ['work_mem', '16mb', /amount of memory/, /invalid value/],
  ['work_mem', '1.5 GB x', /amount of memory/, /invalid value/],
  ['shared_buffers', '64kB', /from 128kB/, /8 8kB is outside the valid range/],
  ['statement_timeout', '5m', /a time from 0 to 2147483647ms/, /invalid value/],
  ['statement_timeout', '-5s', /a time from 0/, /-5000 ms is outside/],
  ['checkpoint_timeout', 10, /a time from 30s to 1d/, /10 s is outside/],
  ['checkpoint_timeout', '1 week', /a time/, /invalid value/],
  ['autovacuum_naptime', '0', /a time from 1s/, /0 s is outside/],
  ['max_locks_per_transaction', '0x1.8', /whole number from 10/, /2 is outside/],
  ['max_locks_per_transaction', '08', /whole number/, /invalid value/],
  ['max_locks_per_transaction', 3_000_000_000, /whole number/, /invalid value/],
  ['max_locks_per_transaction', '5kB', /whole number/, /invalid value/],
  ['temp_file_limit', '-2', /memory from -1/, /-2 kB is outside/],
  ['jit', 'maybe', /a boolean/, /requires a Boolean value/],
  ['jit', 2, /a boolean/, /requires a Boolean value/],
  ['jit', 'o', /a boolean/, /requires a Boolean value/],
  ['fsync', '', /a boolean/, /requires a Boolean value/],
  ['seq_page_cost', 'nan', /a number of at least 0/, /invalid value/],
  ['seq_page_cost', '1e-310', /a number of at least 0/, /invalid value/],
  ['seq_page_cost', -0.5, /a number of at least 0/, /-0.5 is outside/],
  ['checkpoint_completion_target', 1.5, /a number from 0 to 1/, /1.5 is outside/],
  ['cursor_tuple_fraction', '1e400', /a number from 0 to 1/, /invalid value/],
  ['vacuum_cost_delay', '1s', /a time from 0 to 100ms/, /1000 ms is outside/],
  ['wal_level', 'hot-standby', /one of "minimal", "replica", "logical"/, /invalid value/],
  ['password_encryption', 'on', /one of "md5", "scram-sha-256"/, /invalid value/],
  ['archive_mode', 'sometimes', /one of "always", "on", "off"/, /invalid value/],
  ['log_min_messages', 'verbose', /one of "debug5"/, /invalid value/],
  ['synchronous_commit', 'remote', /one of "local", "remote_write"/, /invalid value/],
  ['huge_pages', 'maybe', /one of "off", "on", "try"/, /invalid value/],
  ['server_version_num', '170000', /read-only/, /cannot be changed/],
  ['wal_segment_size', '32MB', /read-only/, /cannot be changed/],
  ['work_mme', '4MB', /a parameter of PostgreSQL 17/, /unrecognized configuration parameter "work_mme"/],
  // Limits of check hooks, beyond pg_settings' range.
  ['commit_timestamp_buffers', 17, /a multiple of 16 blocks/, /invalid value for parameter "commit_timestamp_buffers": 17/],
  ['vacuum_buffer_usage_limit', '64kB', /0 or from 128kB to 16GB/, /invalid value for parameter "vacuum_buffer_usage_limit": 64/],
];

/** Values both take: units and their rounding, spaces, hex and octal, boolean spellings, enum case and hidden spellings. */
const GOOD: readonly (readonly [string, ParameterValue])[] = [
  ['work_mem', '16MB'],
  ['work_mem', '1.5MB'],
  ['work_mem', '  32 MB  '],
  ['work_mem', 4096],
  ['work_mem', '0x100'],
  ['work_mem', '1GB'],
  ['shared_buffers', '128MB'],
  ['shared_buffers', 16384],
  ['statement_timeout', '1.5s'],
  ['statement_timeout', '1500us'],
  ['statement_timeout', 0],
  ['checkpoint_timeout', '1d'],
  ['log_rotation_age', '1.5h'],
  ['max_locks_per_transaction', '012'],
  ['max_locks_per_transaction', '1e2'],
  ['max_locks_per_transaction', 64.4],
  ['max_locks_per_transaction', '.5e2'],
  ['jit', 'yes'],
  ['jit', 1],
  ['jit', true],
  ['jit', 'OFF'],
  ['jit', 't'],
  ['jit', 'of'],
  ['seq_page_cost', '0x1p-2'],
  ['seq_page_cost', 1.5e-7],
  ['seq_page_cost', '2.'],
  ['random_page_cost', '1.7976931348623157e308'],
  ['vacuum_cost_delay', '500us'],
  ['wal_level', 'REPLICA'],
  ['wal_level', 'hot_standby'],
  ['synchronous_commit', 'TRUE'],
  ['log_min_messages', 'debug'],
  ['application_name', "it's fine"],
  ['plpgsql.variable_conflict', 'use_column'],
  ['myapp.anything', 'goes'],
  ['transaction_buffers', '1MB'],
  ['vacuum_buffer_usage_limit', 0],
  ['vacuum_buffer_usage_limit', '16GB'],
];

/** Generated texts for parameters of every numeric unit, reals, booleans and enums: near misses as much as hits. */
const RANDOM_PARAMETERS = {
  integer: ['work_mem', 'shared_buffers', 'wal_keep_size', 'log_parameter_max_length', 'max_locks_per_transaction', 'statement_timeout', 'checkpoint_timeout', 'log_rotation_age', 'temp_file_limit'],
  real: ['seq_page_cost', 'checkpoint_completion_target', 'vacuum_cost_delay', 'geqo_selection_bias'],
  bool: ['jit', 'fsync', 'log_checkpoints'],
  enum: ['wal_level', 'synchronous_commit', 'archive_mode', 'huge_pages', 'log_min_messages', 'password_encryption'],
};

function randomCases(count: number): { name: string; value: string }[] {
  const cased = (text: string) => fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((upper) => [...text].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
  const space = fc.constantFrom('', '', '', ' ', '  ', '\t');
  const digits = fc.oneof(
    fc.integer({ min: -5, max: 5000 }).map(String),
    fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }).map(String),
    fc.constantFrom('2147483647', '2147483648', '-2147483649', '9223372036854775808', '0', '-0', '010', '08', '0x1F', '0x', '.5', '-.5', '1.', '1e3', '1e', '2.5', '0.5', '1.5', '0x1.8p1', 'inf', 'nan', '1e-310', '1e400'),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }).map(String),
    fc.double({ min: 0, max: 2, noNaN: true }).map((n) => n.toPrecision(3)),
  );
  const unit = fc.constantFrom('', '', 'B', 'kB', 'MB', 'GB', 'TB', 'KB', 'mb', 'us', 'ms', 's', 'min', 'h', 'd', 'm', 'sec', 'x', 'kBx');
  const number = fc.tuple(space, digits, space, unit, space).map((parts) => parts.join(''));
  const boolWords = ['true', 'false', 'yes', 'no', 'on', 'off'];
  const boolText = fc.oneof(
    fc.constantFrom(...boolWords).chain((word) => fc.integer({ min: 1, max: word.length + 1 }).chain((length) => cased(`${word}x`.slice(0, length)))),
    fc.constantFrom('1', '0', '2', '', 'o', '10', ' on', 'on '),
  );
  const cases = fc.oneof(
    fc.tuple(fc.constantFrom(...RANDOM_PARAMETERS.integer, ...RANDOM_PARAMETERS.real), number),
    fc.tuple(fc.constantFrom(...RANDOM_PARAMETERS.bool), boolText),
    fc.constantFrom(...RANDOM_PARAMETERS.enum).chain((name) => {
      const definition = POSTGRESQL_CATALOGUE.parameters[name];
      const options = [...(definition.enumvals ?? []), ...(definition.hidden_enumvals ?? [])];
      const nearMiss = fc.constantFrom(...options).map((option) => `${option.slice(0, -1)}`);
      return fc.tuple(fc.constant(name), fc.oneof(fc.constantFrom(...options).chain(cased), nearMiss, boolText, fc.constantFrom('debug', 'archive', ' replica')));
    }),
  );
  return fc.sample(cases, { seed: 20_240_615, numRuns: count }).map(([name, value]) => ({ name, value }));
}

const RANDOM = randomCases(400);

/**
 * Every parameter at and around its bounds (written bare and with units), every enum option in upper
 * case, boolean spellings. Left out, where postgres -C's verdict depends on more than the value:
 * the sum of the process counts (MAX_BACKENDS, 262143) and the machine's stack limit
 * (max_stack_depth), the log_*_stats that exclude each other, and min/max_wal_size, which only a
 * real start checks (see below).
 */
function boundaryCases(): { name: string; value: string }[] {
  const cases: { name: string; value: string }[] = [];
  const processCounts = ['max_connections', 'autovacuum_max_workers', 'max_worker_processes', 'max_wal_senders'];
  for (const [name, definition] of Object.entries(POSTGRESQL_CATALOGUE.parameters)) {
    if (definition.context === 'internal' || name.includes('.') || ['max_stack_depth', 'min_wal_size', 'max_wal_size'].includes(name) || /^log_.*_stats$/.test(name)) continue;
    if (definition.vartype === 'integer' || definition.vartype === 'real') {
      const unit = baseUnit(definition.unit);
      const [min, max] = [definition.min_val!, definition.max_val!];
      for (const value of [min, max, min - 1, max + 1, min + 0.5, min - 0.5, max + 0.5, max * 2].filter(Number.isFinite)) {
        if (processCounts.includes(name) && value > 100_000) continue;
        cases.push({ name, value: String(value) });
        if (unit && value > 0) cases.push({ name, value: formatAmount(value, unit) });
      }
      for (const value of ['1kB', '1s', '0.001ms', '1.5min', '3 GB', '100000000TB']) cases.push({ name, value });
    } else if (definition.vartype === 'enum') {
      for (const value of [...definition.enumvals!, 'on', 'off', 'true', '1', 'x', '']) cases.push({ name, value: value.toUpperCase() });
    } else if (definition.vartype === 'bool') {
      for (const value of ['on', 'Of', 'tRu', 'x', '11', 'yes']) cases.push({ name, value });
    }
  }
  return cases;
}

const BOUNDARIES = boundaryCases();

let scratch: ScratchPostgres;
let badVerdicts: Verdict[];
let goodVerdicts: Verdict[];
let randomVerdicts: Verdict[];
let boundaryVerdicts: Verdict[];

beforeAll(async () => {
  scratch = await ScratchPostgres.create();
  // One batch: the server reads every value of a round at once.
  const cases = [...BAD, ...GOOD].map(([name, value]) => ({ name, value: settingText(value) }));
  const verdicts = await scratch.verdicts([...cases, ...RANDOM, ...BOUNDARIES]);
  badVerdicts = verdicts.slice(0, BAD.length);
  goodVerdicts = verdicts.slice(BAD.length, cases.length);
  randomVerdicts = verdicts.slice(cases.length, cases.length + RANDOM.length);
  boundaryVerdicts = verdicts.slice(cases.length + RANDOM.length);
}, 120_000);

afterAll(() => scratch?.remove());

describe('the PostgreSQL parameter catalogue', () => {
  test('the committed data file is what the installed PostgreSQL reports', async () => {
    const fresh = renderCatalogueModule(await readCatalogue(scratch));
    const committed = readFileSync(CATALOGUE_FILE, 'utf8');
    if (fresh !== committed) {
      const [freshLines, committedLines] = [fresh.split('\n'), committed.split('\n')];
      const changed = [...freshLines.filter((line) => !committedLines.includes(line)).map((line) => `+ ${line}`), ...committedLines.filter((line) => !freshLines.includes(line)).map((line) => `- ${line}`)];
      throw new Error(`src/spec/postgresql-catalogue.data.ts differs from the node runtime's PostgreSQL: run \`npm run catalogue:postgresql\` (as root) and commit it.\n${changed.slice(0, 40).join('\n')}`);
    }
    expect(Object.keys(POSTGRESQL_CATALOGUE.parameters).length).toBeGreaterThan(350);
    expect(POSTGRESQL_CATALOGUE.parameters.work_mem).toEqual({ vartype: 'integer', context: 'user', unit: 'kB', min_val: 64, max_val: 2147483647 });
  });
});

describe('values PostgreSQL refuses', () => {
  test(`${BAD.length} bad values: the checker and postgres both refuse each`, () => {
    const disagreements = BAD.flatMap(([name, value, ours, theirs], index) => {
      const problem = checkPostgresqlSetting(name, value);
      const verdict = badVerdicts[index];
      const fine = problem !== undefined && ours.test(problem.expected) && problem.path === `postgresqlParameters.${name}` && !verdict.accepted && theirs.test(verdict.message);
      return fine ? [] : [`${name} = ${JSON.stringify(value)}: checker ${JSON.stringify(problem)}, postgres ${JSON.stringify(verdict)}`];
    });
    expect(disagreements).toEqual([]);
  });

  test('every value the invalid-input corpus refuses as a bad value is refused by postgres too', async () => {
    const verdicts = await scratch.verdicts(BAD_PARAMETER_VALUES.map(([name, value]) => ({ name, value: settingText(value) })));
    const accepted = BAD_PARAMETER_VALUES.filter((_, index) => verdicts[index].accepted);
    expect(accepted).toEqual([]);
  });

  test('a value with a quote and a line break, written by Patroni, stops PostgreSQL at start', async () => {
    const value = "it's\nfine";
    expect(checkPostgresqlSetting('application_name', value)?.expected).toMatch(/without line breaks/);
    // Patroni's own writer (patroni/postgresql/config.py ConfigWriter), from the node runtime root.
    const file = join(scratch.dir, 'patroni-written.conf');
    const write = await scratch.run([
      '/usr/bin/python3',
      '-c',
      'import sys\nfrom patroni.postgresql.config import ConfigWriter\nwith ConfigWriter(sys.argv[1]) as f:\n  f.writeline("include \'%s\'" % sys.argv[2])\n  f.write_param("application_name", sys.argv[3])',
      file,
      join(scratch.dataDir, 'postgresql.conf'),
      value,
    ]);
    expect(write.stderr).toBe('');
    expect(readFileSync(file, 'utf8')).toContain("application_name = 'it''s\nfine'");
    const start = await scratch.run([`${LAYOUT.postgresBinDir}/postgres`, '-D', scratch.dataDir, `--config-file=${file}`, '-C', 'application_name']);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/syntax error in file .*patroni-written\.conf/);
    expect(start.stderr).toMatch(/FATAL: +configuration file .* contains errors/);
  });

  test('a NUL is not refused but silently ends the value: the checker refuses it', async () => {
    expect(checkPostgresqlSetting('application_name', 'a\0b')?.expected).toMatch(/NUL/);
    const file = join(scratch.dir, 'nul.conf');
    writeFileSync(file, `include '${join(scratch.dataDir, 'postgresql.conf')}'\napplication_name = 'a\0b'\n`, { mode: 0o644 });
    const start = await scratch.run([`${LAYOUT.postgresBinDir}/postgres`, '-D', scratch.dataDir, `--config-file=${file}`, '-C', 'application_name']);
    expect(start.code).toBe(0);
    expect(start.stdout.trim()).not.toBe('a\0b');
  });

  test("a number JavaScript prints with a bare exponent breaks PrimaryWithReplicas' postgresql.conf: the spec refuses it", async () => {
    const conf = renderReplicationPostgresqlConf({ address: '127.0.0.1', port: 5432, hbaFile: '/etc/postgresql/pg_hba.conf', standbyCount: 1, synchronousStandbyNames: '', parameters: { seq_page_cost: 1e-7 } });
    const line = conf.split('\n').find((l) => l.startsWith('seq_page_cost'))!;
    expect(line).toBe('seq_page_cost = 1e-7');
    const file = join(scratch.dir, 'exponent.conf');
    writeFileSync(file, `include '${join(scratch.dataDir, 'postgresql.conf')}'\n${line}\n`, { mode: 0o644 });
    const start = await scratch.run([`${LAYOUT.postgresBinDir}/postgres`, '-D', scratch.dataDir, `--config-file=${file}`, '-C', 'seq_page_cost']);
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/syntax error in file .* near token "-7"/);
    expect(() => validatePrimaryWithReplicasSpec({ clusterName: 'orders', postgresqlParameters: { seq_page_cost: 1e-7 } })).toThrow(
      /postgresqlParameters\.seq_page_cost: got 1e-7; expected a number postgresql\.conf can hold.*Fix: write it as a string, e\.g\. "0\.0000001"/,
    );
  });
});

describe('values PostgreSQL takes', () => {
  test(`${GOOD.length} good values: the checker and postgres both take each`, () => {
    const disagreements = GOOD.flatMap(([name, value], index) => {
      const problem = checkPostgresqlSetting(name, value);
      return problem === undefined && goodVerdicts[index].accepted ? [] : [`${name} = ${JSON.stringify(value)}: checker ${JSON.stringify(problem)}, postgres ${JSON.stringify(goodVerdicts[index])}`];
    });
    expect(disagreements).toEqual([]);
  });

  test(`${RANDOM.length} generated values of integer, real, boolean and enum parameters: the checker's verdict is the server's`, () => {
    const disagreements = RANDOM.flatMap(({ name, value }, index) => {
      const ours = checkPostgresqlSetting(name, value) === undefined;
      return ours === randomVerdicts[index].accepted ? [] : [`${name} = ${JSON.stringify(value)}: checker ${ours ? 'takes' : 'refuses'} it, postgres says ${JSON.stringify(randomVerdicts[index])}`];
    });
    expect(disagreements).toEqual([]);
    // The generator must exercise both sides, or agreement proves little.
    const accepted = randomVerdicts.filter((verdict) => verdict.accepted).length;
    expect(accepted).toBeGreaterThan(RANDOM.length / 5);
    expect(RANDOM.length - accepted).toBeGreaterThan(RANDOM.length / 5);
  });

  test(`every parameter of the catalogue at its bounds (${BOUNDARIES.length} values): the checker's verdict is the server's`, () => {
    const disagreements = BOUNDARIES.flatMap(({ name, value }, index) => {
      const ours = checkPostgresqlSetting(name, value) === undefined;
      return ours === boundaryVerdicts[index].accepted ? [] : [`${name} = ${JSON.stringify(value)}: checker ${ours ? 'takes' : 'refuses'} it, postgres says ${JSON.stringify(boundaryVerdicts[index])}`];
    });
    expect(disagreements).toEqual([]);
    expect(new Set(BOUNDARIES.map(({ name }) => name)).size).toBeGreaterThan(250);
  });
});

describe('settings postgres -C takes that stop a real start', () => {
  const refusedAtStart = (settings: Record<string, string>) => scratch.withServer(async () => 'started', settings);

  test('min_wal_size below twice the WAL segment size', async () => {
    expect(checkPostgresqlSetting('min_wal_size', '16MB')).toEqual({
      path: 'postgresqlParameters.min_wal_size',
      given: '16MB',
      expected: 'an amount of memory from 2MB to 2147483647MB, e.g. "16MB"; a bare number counts MB, and at least 32MB: twice the WAL segment size (16MB), or PostgreSQL refuses to start',
      fix: '"16MB": use "32MB" or more',
    });
    await expect(refusedAtStart({ min_wal_size: '16MB' })).rejects.toThrow(/FATAL: +"min_wal_size" must be at least twice "wal_segment_size"/);
    expect(checkPostgresqlSetting('min_wal_size', '32MB')).toBeUndefined();
  });

  test('reserved connections that take all of maxConnections', async () => {
    expect(() => validatePrimaryWithReplicasSpec({ clusterName: 'orders', maxConnections: 10, postgresqlParameters: { superuser_reserved_connections: 7, reserved_connections: 3 } })).toThrow(
      /postgresqlParameters\.superuser_reserved_connections: got 7; expected superuser_reserved_connections \+ reserved_connections \(7 \+ 3\) below maxConnections \(10\)/,
    );
    await expect(refusedAtStart({ max_connections: '10', superuser_reserved_connections: '7', reserved_connections: '3' })).rejects.toThrow(
      /"superuser_reserved_connections" \(7\) plus "reserved_connections" \(3\) must be less than "max_connections" \(10\)/,
    );
  });

  test('log_statement_stats with a per-stage statistics setting', async () => {
    expect(() => validatePrimaryWithReplicasSpec({ clusterName: 'orders', postgresqlParameters: { log_statement_stats: true, log_planner_stats: 'on' } })).toThrow(
      /postgresqlParameters\.log_statement_stats: got true; expected log_statement_stats off while log_planner_stats is on/,
    );
    await expect(refusedAtStart({ log_planner_stats: 'on', log_statement_stats: 'on' })).rejects.toThrow(/invalid value for parameter "log_statement_stats"/);
  });
});
