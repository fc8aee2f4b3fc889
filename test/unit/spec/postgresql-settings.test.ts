/**
 * The checker of one `postgresqlParameters` setting against the catalogue of the nodes' PostgreSQL:
 * what it refuses, and that each problem says what PostgreSQL takes and how to write it.
 * test/tools/postgresql-catalogue.test.ts holds its verdicts against the real server.
 */
import { POSTGRESQL_CATALOGUE } from '../../../src/spec/postgresql-catalogue.data';
import { baseUnit } from '../../../src/spec/postgresql-guc-values';
import { PostgresqlCatalogue, checkPostgresqlCombinations, checkPostgresqlSetting, formatAmount, settingText } from '../../../src/spec/postgresql-settings';

describe('checkPostgresqlSetting', () => {
  describe('names', () => {
    test('fails when the name is unknown, suggesting the nearest one', () => {
      expect(checkPostgresqlSetting('work_mme', '4MB')).toEqual({
        path: 'postgresqlParameters.work_mme',
        given: '4MB',
        expected: 'a parameter of PostgreSQL 17 (custom ones are named "prefix.name")',
        fix: 'correct the name (did you mean work_mem?) or remove it',
      });
    });

    test('fails when the name is unknown and nothing is near, without a suggestion', () => {
      expect(checkPostgresqlSetting('fast_mode', 'on')?.fix).toBe('correct the name or remove it');
    });

    test('fails when the parameter is read-only (internal)', () => {
      expect(checkPostgresqlSetting('wal_segment_size', '32MB')).toEqual({
        path: 'postgresqlParameters.wal_segment_size',
        given: '32MB',
        expected: 'no "wal_segment_size": it is read-only in PostgreSQL, fixed when the server was built or the cluster initialised',
        fix: 'remove it',
      });
    });

    test('takes custom dotted names with any value, as PostgreSQL does', () => {
      expect(checkPostgresqlSetting('myapp.tenant', 'anything at all')).toBeUndefined();
      expect(checkPostgresqlSetting('pg_stat_statements.max', 'lots')).toBeUndefined();
    });

    test('checks a dotted name the catalogue knows (plpgsql is in every database)', () => {
      expect(checkPostgresqlSetting('plpgsql.variable_conflict', 'bogus')).toMatchObject({
        expected: 'one of "error", "use_variable", "use_column" (any case)',
        fix: 'write one of "error", "use_variable", "use_column"',
      });
    });

    test('finds names in any case, as PostgreSQL does (pg_settings says DateStyle)', () => {
      expect(checkPostgresqlSetting('datestyle', 'ISO, DMY')).toBeUndefined();
      expect(checkPostgresqlSetting('intervalstyle', 'nope')?.expected).toMatch(/^one of "postgres", "postgres_verbose"/);
    });
  });

  describe('text that postgresql.conf cannot hold', () => {
    test.each([
      ['a line feed', "it's\nfine"],
      ['a carriage return', 'a\rb'],
      ['a NUL', 'a\0b'],
    ])('fails on %s, even for a custom name', (_what, value) => {
      for (const name of ['application_name', 'myapp.note']) {
        expect(checkPostgresqlSetting(name, value)).toEqual({
          path: `postgresqlParameters.${name}`,
          given: value,
          expected: 'one line of text without line breaks or NUL characters: a postgresql.conf value cannot hold them (PostgreSQL refuses to start on a line break)',
          fix: 'remove the line breaks; a list parameter takes commas, e.g. "a, b"',
        });
      }
    });

    test('takes a quote: both renderers escape it', () => {
      expect(checkPostgresqlSetting('application_name', "it's fine")).toBeUndefined();
    });
  });

  describe('memory', () => {
    test('fails on a negative amount, saying what PostgreSQL made of it', () => {
      expect(checkPostgresqlSetting('work_mem', '-1MB')).toEqual({
        path: 'postgresqlParameters.work_mem',
        given: '-1MB',
        expected: 'an amount of memory from 64kB to 2147483647kB, e.g. "16MB"; a bare number counts kB',
        fix: '"-1MB" is -1024kB: use a value from 64kB to 2147483647kB',
      });
    });

    test('fails on words, naming the units', () => {
      expect(checkPostgresqlSetting('shared_buffers', 'lots')).toEqual({
        path: 'postgresqlParameters.shared_buffers',
        given: 'lots',
        expected: 'an amount of memory from 128kB to 8589934584kB, e.g. "16MB"; a bare number counts blocks of 8kB',
        fix: 'write a number and one of the units B, kB, MB, GB, TB (case matters), e.g. "16MB"',
      });
    });

    test('fails on a unit in the wrong case, naming the right one', () => {
      expect(checkPostgresqlSetting('work_mem', '16mb')?.fix).toBe('write a number and one of the units B, kB, MB, GB, TB (case matters: "MB", not "mb"), e.g. "16MB"');
      expect(checkPostgresqlSetting('work_mem', '16KB')?.fix).toMatch(/"kB", not "KB"/);
    });

    test('fails when rounding leaves too little: 100B is 0kB', () => {
      expect(checkPostgresqlSetting('work_mem', '100B')?.fix).toBe('"100B" is 0kB: use a value from 64kB to 2147483647kB');
    });

    test('counts blocks for block-sized parameters', () => {
      expect(checkPostgresqlSetting('shared_buffers', '64kB')?.fix).toBe('"64kB" is 8 blocks of 8kB: use a value from 128kB to 8589934584kB');
      expect(checkPostgresqlSetting('shared_buffers', 16)).toBeUndefined();
    });

    test.each<[string | number]>([['16MB'], ['1.5MB'], ['  32 MB  '], [4096], ['0x100'], ['0100'], ['1e3'], ['.5MB']])('takes %p', (value) => {
      expect(checkPostgresqlSetting('work_mem', value)).toBeUndefined();
    });
  });

  describe('time', () => {
    test('fails on an unknown unit, naming the units', () => {
      expect(checkPostgresqlSetting('statement_timeout', '5m')).toEqual({
        path: 'postgresqlParameters.statement_timeout',
        given: '5m',
        expected: 'a time from 0 to 2147483647ms, e.g. "30s"; a bare number counts ms',
        fix: 'write a number and one of the units us, ms, s, min, h, d (case matters), e.g. "30s"',
      });
    });

    test('fails below the minimum in the parameter\'s unit', () => {
      expect(checkPostgresqlSetting('checkpoint_timeout', 10)).toMatchObject({ expected: 'a time from 30s to 1d, e.g. "30s"; a bare number counts s', fix: '"10": use a value from 30s to 1d' });
    });

    test('fails on a real time out of range after conversion', () => {
      expect(checkPostgresqlSetting('vacuum_cost_delay', '1s')?.fix).toBe('"1s" is 1000ms: use a value from 0 to 100ms');
    });

    test.each<[string, string | number]>([
      ['statement_timeout', '1.5s'],
      ['statement_timeout', '1500us'],
      ['statement_timeout', 0],
      ['checkpoint_timeout', '1d'],
      ['log_rotation_age', '1.5h'],
      ['vacuum_cost_delay', '500us'],
    ])('takes %s = %p', (name, value) => {
      expect(checkPostgresqlSetting(name, value)).toBeUndefined();
    });
  });

  describe('whole numbers and reals', () => {
    test('fails on a value out of range, a unit where none is taken, and more than an int holds', () => {
      expect(checkPostgresqlSetting('superuser_reserved_connections', -100)).toEqual({
        path: 'postgresqlParameters.superuser_reserved_connections',
        given: -100,
        expected: 'a whole number from 0 to 262143',
        fix: '"-100": use a value from 0 to 262143',
      });
      expect(checkPostgresqlSetting('max_locks_per_transaction', '5kB')?.fix).toBe('write a whole number without a unit, e.g. "100"');
      expect(checkPostgresqlSetting('max_locks_per_transaction', 3_000_000_000)?.fix).toBe('use a value from 10 to 2147483647 (PostgreSQL keeps it as a 32-bit integer)');
    });

    test('reads octal and rounds as PostgreSQL does: "010" is 8 and 9.5 is 10, 10.5 is 10', () => {
      expect(checkPostgresqlSetting('max_locks_per_transaction', '010')?.fix).toBe('"010" is 8: use a value from 10 to 2147483647');
      expect(checkPostgresqlSetting('max_locks_per_transaction', '08')?.expected).toBe('a whole number from 10 to 2147483647');
      expect(checkPostgresqlSetting('max_locks_per_transaction', 9.5)).toBeUndefined();
      expect(checkPostgresqlSetting('max_locks_per_transaction', 9.4)?.fix).toBe('"9.4" is 9: use a value from 10 to 2147483647');
    });

    test('describes an unbounded real as "at least"', () => {
      expect(checkPostgresqlSetting('seq_page_cost', -0.5)).toMatchObject({ expected: 'a number of at least 0', fix: '"-0.5": use a value of at least 0' });
      expect(checkPostgresqlSetting('seq_page_cost', '1.7976931348623157e308')).toBeUndefined();
    });

    test.each<[string]>([['nan'], ['1e-310'], ['1e400'], ['x']])('fails on the real %p', (value) => {
      expect(checkPostgresqlSetting('seq_page_cost', value)?.fix).toBe('write a number without a unit, e.g. "100"');
    });
  });

  describe('booleans', () => {
    test.each<[string | number | boolean]>([['maybe'], [2], ['o'], [''], ['onn'], [' on']])('fails on %p', (value) => {
      expect(checkPostgresqlSetting('jit', value)).toEqual({
        path: 'postgresqlParameters.jit',
        given: value,
        expected: 'a boolean: on or off (true/false, yes/no, 1/0 also work)',
        fix: 'write true or false, or "on" / "off"',
      });
    });

    test.each<[string | number | boolean]>([[true], [false], [1], [0], ['yes'], ['OFF'], ['t'], ['of'], ['fal']])('takes %p', (value) => {
      expect(checkPostgresqlSetting('jit', value)).toBeUndefined();
    });
  });

  describe('enums', () => {
    test('fails on a value not listed, suggesting the nearest', () => {
      expect(checkPostgresqlSetting('wal_level', 'replicas')).toEqual({
        path: 'postgresqlParameters.wal_level',
        given: 'replicas',
        expected: 'one of "minimal", "replica", "logical" (any case)',
        fix: 'write one of "minimal", "replica", "logical" (did you mean replica?)',
      });
      expect(checkPostgresqlSetting('password_encryption', true)?.expected).toBe('one of "md5", "scram-sha-256" (any case)');
    });

    test('takes any case and the spellings pg_settings hides', () => {
      expect(checkPostgresqlSetting('wal_level', 'REPLICA')).toBeUndefined();
      expect(checkPostgresqlSetting('wal_level', 'hot_standby')).toBeUndefined();
      expect(checkPostgresqlSetting('synchronous_commit', true)).toBeUndefined();
      expect(checkPostgresqlSetting('log_min_messages', 'debug')).toBeUndefined();
    });
  });

  describe('limits pg_settings does not show', () => {
    test('fails on SLRU buffers that are not a multiple of 16 blocks', () => {
      expect(checkPostgresqlSetting('transaction_buffers', 24)).toEqual({
        path: 'postgresqlParameters.transaction_buffers',
        given: 24,
        expected: 'an amount of memory from 0 to 1GB, e.g. "16MB"; a bare number counts blocks of 8kB, and a multiple of 16 blocks (128kB): the cache is kept in banks of 16',
        fix: '"24": use a multiple of 16 blocks, e.g. "1MB" (128 blocks)',
      });
      expect(checkPostgresqlSetting('transaction_buffers', '1MB')).toBeUndefined();
    });

    test('fails on a vacuum ring buffer between 0 and 128kB', () => {
      expect(checkPostgresqlSetting('vacuum_buffer_usage_limit', '64kB')?.fix).toBe('"64kB": use 0 or from "128kB" to "16GB"');
      expect(checkPostgresqlSetting('vacuum_buffer_usage_limit', 0)).toBeUndefined();
    });

    test('fails on WAL sizes below two 16MB segments', () => {
      expect(checkPostgresqlSetting('max_wal_size', '16MB')?.expected).toMatch(/at least 32MB: twice the WAL segment size \(16MB\), or PostgreSQL refuses to start$/);
      expect(checkPostgresqlSetting('max_wal_size', '1GB')).toBeUndefined();
    });
  });

  test('checks against the catalogue it is given', () => {
    const catalogue: PostgresqlCatalogue = { major: 99, parameters: { only_one: { vartype: 'integer', context: 'user', min_val: 1, max_val: 3 } } };
    expect(checkPostgresqlSetting('only_one', 4, catalogue)?.expected).toBe('a whole number from 1 to 3');
    expect(checkPostgresqlSetting('work_mem', '4MB', catalogue)?.expected).toBe('a parameter of PostgreSQL 99 (custom ones are named "prefix.name")');
  });
});

describe('checkPostgresqlCombinations', () => {
  test('fails when log_statement_stats is on with a per-stage statistics setting', () => {
    expect(checkPostgresqlCombinations({ log_statement_stats: 'yes', log_parser_stats: true, log_executor_stats: 1 })).toEqual([
      {
        path: 'postgresqlParameters.log_statement_stats',
        given: 'yes',
        expected: 'log_statement_stats off while log_parser_stats, log_executor_stats are on: PostgreSQL refuses to start with both',
        fix: 'turn off log_statement_stats or log_parser_stats, log_executor_stats',
      },
    ]);
  });

  test('takes either alone', () => {
    expect(checkPostgresqlCombinations({ log_statement_stats: true, log_parser_stats: false })).toEqual([]);
    expect(checkPostgresqlCombinations({ log_planner_stats: true })).toEqual([]);
  });
});

describe('settingText and formatAmount', () => {
  test('write values as the renderers do: booleans as on/off, numbers as JavaScript prints them', () => {
    expect([true, false, 0.05, 1e21, 1.5e-7, 'x'].map(settingText)).toEqual(['on', 'off', '0.05', '1e+21', '1.5e-7', 'x']);
  });

  test('name an amount in the largest unit that writes it exactly', () => {
    expect(formatAmount(16384, baseUnit('kB')!)).toBe('16MB');
    expect(formatAmount(16, baseUnit('8kB')!)).toBe('128kB');
    expect(formatAmount(2147483647, baseUnit('kB')!)).toBe('2147483647kB');
    expect(formatAmount(86400, baseUnit('s')!)).toBe('1d');
    expect(formatAmount(0.5, baseUnit('ms')!)).toBe('500us');
  });
});

test('the catalogue holds every parameter kind with its unit and bounds', () => {
  const parameters = Object.values(POSTGRESQL_CATALOGUE.parameters);
  expect(new Set(parameters.map((p) => p.vartype))).toEqual(new Set(['bool', 'integer', 'real', 'enum', 'string']));
  expect(parameters.filter((p) => p.vartype === 'integer' || p.vartype === 'real').every((p) => p.min_val !== undefined && p.max_val !== undefined)).toBe(true);
  expect(parameters.filter((p) => p.vartype === 'enum').every((p) => (p.enumvals ?? []).length > 0)).toBe(true);
  expect(POSTGRESQL_CATALOGUE.parameters.shared_buffers).toEqual({ vartype: 'integer', context: 'postmaster', unit: '8kB', min_val: 16, max_val: 1073741823 });
});
