import { PgbackrestConfigInput, asRepo2Variables, renderPgbackrestConfig } from '../../../src/render/pgbackrest-config';

const S3 = { type: 's3', path: '/pgbackrest', 's3-key-type': 'auto', 's3-uri-style': 'host' };

function render(overrides: Partial<PgbackrestConfigInput> = {}) {
  return renderPgbackrestConfig({
    stanza: 'orders',
    repository: S3,
    processMax: 2,
    dataDir: '/var/lib/pgha/postgresql/17/orders',
    postgresPort: 5432,
    socketDir: '/run/postgresql',
    ...overrides,
  });
}

/** section -> key -> value, the way pgBackRest reads the INI file. */
function sections(text: string): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  let current = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1];
    else if (/^[a-z0-9-]+=/.test(line)) {
      const [key, ...value] = line.split('=');
      expect(result[current]?.[key]).toBeUndefined(); // no option twice in a section
      (result[current] ??= {})[key] = value.join('=');
    }
  }
  return result;
}

describe('renderPgbackrestConfig', () => {
  test('the repository, encrypted, with asynchronous archiving and per-node paths', () => {
    const { global, orders } = sections(render());
    expect(global).toMatchObject({
      'repo1-type': 's3',
      'repo1-path': '/pgbackrest',
      'repo1-s3-key-type': 'auto',
      'repo1-s3-uri-style': 'host',
      'repo1-cipher-type': 'aes-256-cbc',
      'archive-async': 'y',
      'spool-path': '/var/lib/pgha/pgbackrest/spool',
      'lock-path': '/var/lib/pgha/pgbackrest/lock',
      'log-path': '/var/log/pgbackrest',
      'compress-type': 'zst',
      'process-max': '2',
      // pgBackRest 2.53+ prints warnings and errors on stdout unless told otherwise.
      'log-level-stderr': 'warn',
    });
    expect(orders).toEqual({
      'pg1-path': '/var/lib/pgha/postgresql/17/orders',
      'pg1-port': '5432',
      'pg1-socket-path': '/run/postgresql',
      'pg1-user': 'postgres',
    });
  });

  test('no passphrase, bucket or key in the file: they come from the environment', () => {
    const text = render();
    expect(text).not.toMatch(/cipher-pass|s3-bucket|s3-key=|s3-key-secret/);
    expect(text).toMatch(/PGBACKREST_REPO1_CIPHER_PASS/); // named in the header, for the reader
  });

  test('retention from the backup job', () => {
    expect(sections(render({ retention: { full: 14, fullType: 'time' } })).global).toMatchObject({
      'repo1-retention-full-type': 'time',
      'repo1-retention-full': '14',
    });
    const counted = sections(render({ retention: { full: 2, fullType: 'count', diff: 6 } })).global;
    expect(counted).toMatchObject({ 'repo1-retention-full-type': 'count', 'repo1-retention-full': '2', 'repo1-retention-diff': '6' });
    expect(sections(render()).global['repo1-retention-full']).toBeUndefined();
  });

  test('a restore source in the same repository: its stanza with the same data directory, no other repository', () => {
    const parsed = sections(render({ source: { stanza: 'orders-old', repo: 1 } }));
    expect(parsed['orders-old']).toEqual(parsed.orders);
    expect(JSON.stringify(parsed)).not.toMatch(/repo2/);
  });

  test('a restore source in another repository is repo2 of the source stanza only, so nothing is archived there', () => {
    const parsed = sections(render({ source: { stanza: 'prod', repo: 2, repository: { type: 's3', path: '/prod' } } }));
    expect(parsed.prod).toMatchObject({ 'repo2-type': 's3', 'repo2-path': '/prod', 'repo2-cipher-type': 'aes-256-cbc' });
    expect(Object.keys(parsed.global).filter((k) => k.startsWith('repo2'))).toEqual([]);
    expect(Object.keys(parsed.orders).filter((k) => k.startsWith('repo'))).toEqual([]);
  });

  test('a restored cluster without an archive of its own: the source is repo1 of its stanza, the global section has none', () => {
    const parsed = sections(render({ repository: undefined, source: { stanza: 'prod', repo: 1, repository: { type: 'posix', path: '/srv/repo' } } }));
    expect(Object.keys(parsed.global).filter((k) => k.startsWith('repo'))).toEqual([]);
    expect(parsed.prod).toMatchObject({ 'repo1-type': 'posix', 'repo1-path': '/srv/repo' });
  });

  test('repository 2 variables', () => {
    expect(asRepo2Variables({ PGBACKREST_REPO1_CIPHER_PASS: 'cipher_pass', PGBACKREST_REPO1_S3_BUCKET: 'repo1_s3_bucket' })).toEqual({
      PGBACKREST_REPO2_CIPHER_PASS: 'cipher_pass',
      PGBACKREST_REPO2_S3_BUCKET: 'repo1_s3_bucket',
    });
  });
});
