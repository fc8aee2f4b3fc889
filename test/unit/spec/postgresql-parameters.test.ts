/**
 * `postgresqlParameters` of PatroniCluster and PrimaryWithReplicas against the cluster's other
 * props and what the renderers set: settings that would silently override the library, or that
 * PostgreSQL or Patroni would refuse or drop, are refused with the prop to use.
 */
import { validatePatroniClusterSpec } from '../../../src/spec/patroni-cluster';
import { SpecError, SpecProblem } from '../../../src/spec/problems';
import { validatePrimaryWithReplicasSpec } from '../../../src/spec/primary-with-replicas';

function problemsOf(validate: (input: unknown) => unknown, input: Record<string, unknown>): readonly SpecProblem[] {
  try {
    validate(input);
  } catch (error) {
    if (error instanceof SpecError) return error.problems;
    throw error;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(input)}`);
}

const patroni = (postgresqlParameters: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  problemsOf(validatePatroniClusterSpec, { clusterName: 'orders', postgresqlParameters, ...more });
const replicas = (postgresqlParameters: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  problemsOf(validatePrimaryWithReplicasSpec, { clusterName: 'orders', postgresqlParameters, ...more });

const knownPublications = { inventory: [{ name: 'inv_pub', database: 'app', tables: 'all' }] };
const twoSubscriptions = {
  knownPublications,
  subscriptions: [
    { name: 'inv_a', publisherCluster: 'inventory', publication: 'inv_pub' },
    { name: 'inv_b', publisherCluster: 'inventory', publication: 'inv_pub', database: 'app2' },
  ],
};

describe('PatroniCluster postgresqlParameters', () => {
  describe('archive_mode', () => {
    test('fails when it turns archiving off on a cluster with an archive', () => {
      expect(patroni({ archive_mode: 'off' }, { archiveId: 'bucket-1' })).toEqual([
        {
          path: 'postgresqlParameters.archive_mode',
          given: 'off',
          expected: '"on" or no archive_mode: the cluster has an archive, so it is "on", and "off" would silently stop WAL archiving and break point-in-time recovery',
          fix: 'remove archive_mode (archiving follows the archive prop)',
        },
      ]);
      expect(patroni({ archive_mode: false }, { archiveId: 'bucket-1' })[0].expected).toMatch(/"off" would silently stop WAL archiving/);
    });

    test('"on" with an archive says what the archive sets; "always" (archiving from replicas) and any value without an archive are refused', () => {
      for (const on of ['on', true, 'Yes']) {
        expect(validatePatroniClusterSpec({ clusterName: 'orders', archiveId: 'bucket-1', postgresqlParameters: { archive_mode: on } }).postgresqlParameters).toEqual({ archive_mode: on });
      }
      expect(patroni({ archive_mode: 'always' }, { archiveId: 'bucket-1' })[0]).toMatchObject({ expected: '"on" or no archive_mode: the cluster has an archive, so it is "on" (the replicas do not archive)' });
      expect(patroni({ archive_mode: 'on' })).toEqual([
        {
          path: 'postgresqlParameters.archive_mode',
          given: 'on',
          expected: 'no archive_mode: without an archive there is no archive_command, and WAL would pile up unarchived until the disk fills',
          fix: 'give the cluster an archive (the archive prop) and remove archive_mode',
        },
      ]);
    });
  });

  test('fails on a password_encryption other than scram-sha-256, which every pg_hba line requires', () => {
    expect(patroni({ password_encryption: 'md5' })).toEqual([
      {
        path: 'postgresqlParameters.password_encryption',
        given: 'md5',
        expected: '"scram-sha-256" or nothing: every pg_hba line the library writes requires scram-sha-256, so a password stored another way could never log in',
        fix: 'remove password_encryption (scram-sha-256 is set)',
      },
    ]);
    expect(() => validatePatroniClusterSpec({ clusterName: 'orders', postgresqlParameters: { password_encryption: 'SCRAM-SHA-256' } })).not.toThrow();
  });

  test.each([
    ['log_min_duration_statement', 500, 'use the slowQueryThresholdMs prop (-1 turns slow-query logging off)'],
    ['archive_timeout', '5min', 'use the archiveTimeoutSeconds prop (it applies with an archive)'],
    ['wal_log_hints', 'off', "pg_rewind needs it on; Patroni keeps it on; remove it"],
  ])('fails on %s, which a prop or Patroni owns', (name, value, fix) => {
    expect(patroni({ [name]: value })).toEqual([{ path: `postgresqlParameters.${name}`, given: value, expected: `no "${name}" (Patroni or this library owns it)`, fix }]);
  });

  test.each([
    ['max_locks_per_transaction', 20, 'at least 32: Patroni replaces a lower max_locks_per_transaction with its default (64), with only a warning in its log', 'set 32 or more, or remove it'],
    ['wal_keep_size', '8MB', 'at least 16MB: Patroni replaces a lower wal_keep_size with its default (128MB), with only a warning in its log', 'set 16MB or more, or remove it'],
  ])('fails on %s below the minimum Patroni silently replaces, though PostgreSQL takes it', (name, value, expected, fix) => {
    expect(patroni({ [name]: value })).toEqual([{ path: `postgresqlParameters.${name}`, given: value, expected, fix }]);
  });

  test('fails on WAL senders and slots fewer than nodes + 2, reading the value as PostgreSQL does ("010" is 8)', () => {
    expect(patroni({ max_wal_senders: '4' }, { nodeCount: 3 })).toEqual([
      {
        path: 'postgresqlParameters.max_wal_senders',
        given: '4',
        expected: 'at least nodeCount + 2 (5): one per standby plus room for a rebuild and a backup',
        fix: 'remove it (the default is 10) or set 5 or more',
      },
    ]);
    expect(patroni({ max_replication_slots: '010' }, { nodeCount: 7 })[0]).toMatchObject({ path: 'postgresqlParameters.max_replication_slots', expected: expect.stringContaining('at least nodeCount + 2 (9)') });
  });

  test('fails on logical workers fewer than the subscriptions need, which would override the sizing', () => {
    expect(patroni({ max_logical_replication_workers: 4, max_worker_processes: 8 }, twoSubscriptions)).toEqual([
      {
        path: 'postgresqlParameters.max_logical_replication_workers',
        given: 4,
        expected: 'at least 7 for 2 subscription(s): an apply worker and up to 2 table-sync workers each, plus the launcher',
        fix: 'remove it (the library sets 7) or set 7 or more',
      },
      {
        path: 'postgresqlParameters.max_worker_processes',
        given: 8,
        expected: 'at least 11 for 2 subscription(s): an apply worker and up to 2 table-sync workers each, plus the launcher',
        fix: 'remove it (the library sets 11) or set 11 or more',
      },
    ]);
  });

  test('fails when the reserved connections take all of maxConnections (PostgreSQL would not start)', () => {
    expect(patroni({ superuser_reserved_connections: 10 }, { maxConnections: 10 })).toEqual([
      {
        path: 'postgresqlParameters.superuser_reserved_connections',
        given: 10,
        expected: 'superuser_reserved_connections + reserved_connections (10 + 0) below maxConnections (10): PostgreSQL refuses to start otherwise',
        fix: 'lower them to at most 9 together, or raise maxConnections',
      },
    ]);
  });

  test('reports every bad value at once: type, unit, range, enum, name, line break', () => {
    const problems = patroni({ work_mem: '-1MB', shared_buffers: 'lots', superuser_reserved_connections: -100, application_name: "it's\nfine", jit: 'maybe', wal_compression: 'gzip', work_mme: '4MB' });
    expect(problems.map((p) => [p.path, p.expected])).toEqual([
      ['postgresqlParameters.work_mem', 'an amount of memory from 64kB to 2147483647kB, e.g. "16MB"; a bare number counts kB'],
      ['postgresqlParameters.shared_buffers', 'an amount of memory from 128kB to 8589934584kB, e.g. "16MB"; a bare number counts blocks of 8kB'],
      ['postgresqlParameters.superuser_reserved_connections', 'a whole number from 0 to 262143'],
      ['postgresqlParameters.application_name', 'one line of text without line breaks or NUL characters: a postgresql.conf value cannot hold them (PostgreSQL refuses to start on a line break)'],
      ['postgresqlParameters.jit', 'a boolean: on or off (true/false, yes/no, 1/0 also work)'],
      ['postgresqlParameters.wal_compression', 'one of "pglz", "lz4", "zstd", "on", "off" (any case)'],
      ['postgresqlParameters.work_mme', 'a parameter of PostgreSQL 17 (custom ones are named "prefix.name")'],
    ]);
  });

  test('takes good values of every kind, custom names, and backslashes (Patroni escapes them)', () => {
    expect(() =>
      validatePatroniClusterSpec({
        clusterName: 'orders',
        archiveId: 'bucket-1',
        postgresqlParameters: { work_mem: '16MB', shared_buffers: 16384, jit: false, random_page_cost: 1.1, wal_compression: 'ZSTD', 'myapp.tenant': 'a\\b', max_wal_senders: 10, wal_keep_size: '2GB', seq_page_cost: 1e-7 },
      }),
    ).not.toThrow();
  });
});

describe('PrimaryWithReplicas postgresqlParameters', () => {
  test.each([
    ['archive_mode', 'off', 'give the archive prop (a WalArchiveBucket): the primary then archives'],
    ['password_encryption', 'md5', 'scram-sha-256 is set, as pg_hba requires; remove it'],
    ['archive_timeout', 30, 'use the archiveTimeoutSeconds prop (with an archive)'],
  ])('fails on %s, which the construct sets', (name, value, fix) => {
    expect(replicas({ [name]: value })).toEqual([{ path: `postgresqlParameters.${name}`, given: value, expected: `no "${name}" (PrimaryWithReplicas sets it)`, fix }]);
  });

  test('fails on a number JavaScript prints with a bare exponent, which its postgresql.conf cannot hold unquoted', () => {
    expect(replicas({ seq_page_cost: 1e-7 })).toEqual([
      {
        path: 'postgresqlParameters.seq_page_cost',
        given: 1e-7,
        expected: "a number postgresql.conf can hold: JavaScript prints this one as 1e-7, which PostgreSQL's config parser refuses",
        fix: 'write it as a string, e.g. "0.0000001"',
      },
    ]);
    expect(() => validatePrimaryWithReplicasSpec({ clusterName: 'orders', postgresqlParameters: { seq_page_cost: '0.0000001', cpu_tuple_cost: 1.5e-7 } })).not.toThrow();
  });

  test('fails on a backslash, which its postgresql.conf would read as an escape', () => {
    expect(replicas({ 'myapp.path': 'C:\\data' })).toEqual([
      {
        path: 'postgresqlParameters.myapp.path',
        given: 'C:\\data',
        expected: 'a value without backslashes: PrimaryWithReplicas writes it into postgresql.conf as it is, where a backslash starts an escape',
        fix: 'remove the backslashes',
      },
    ]);
  });

  test('checks names and values against the nodes\' PostgreSQL', () => {
    expect(replicas({ work_mem: '16mb', wrok_mem: '4MB' })).toEqual([
      {
        path: 'postgresqlParameters.work_mem',
        given: '16mb',
        expected: 'an amount of memory from 64kB to 2147483647kB, e.g. "16MB"; a bare number counts kB',
        fix: 'write a number and one of the units B, kB, MB, GB, TB (case matters: "MB", not "mb"), e.g. "16MB"',
      },
      {
        path: 'postgresqlParameters.wrok_mem',
        given: '4MB',
        expected: 'a parameter of PostgreSQL 17 (custom ones are named "prefix.name")',
        fix: 'correct the name (did you mean work_mem?) or remove it',
      },
    ]);
  });

  test('fails on logical workers below what the subscriptions need, and reserved connections that fill maxConnections', () => {
    expect(replicas({ max_logical_replication_workers: 5, reserved_connections: 20 }, { ...twoSubscriptions, maxConnections: 20 }).map((p) => [p.path, p.expected])).toEqual([
      ['postgresqlParameters.max_logical_replication_workers', 'at least 7 for 2 subscription(s): an apply worker and up to 2 table-sync workers each, plus the launcher'],
      ['postgresqlParameters.reserved_connections', 'superuser_reserved_connections + reserved_connections (3 + 20) below maxConnections (20): PostgreSQL refuses to start otherwise'],
    ]);
  });

  test('takes good values', () => {
    expect(() => validatePrimaryWithReplicasSpec({ clusterName: 'orders', postgresqlParameters: { work_mem: '16MB', jit: true, log_min_duration_statement: '250ms', 'myapp.tenant': "o'brien" } })).not.toThrow();
  });
});
