/**
 * The two logical-replication job scripts, run for real as postgres against one standalone
 * PostgreSQL 17 on 127.84.0.2 that plays both sides: database "shop" publishes, database "copy"
 * subscribes (the test creates the slot, as Patroni does on a publisher). The publisher's password
 * has a quote, a backslash and spaces, so the conninfo quoting is proven, not assumed; the first
 * publisher host does not answer, so libpq's multi-host fallback is used. And shellcheck.
 * PostgreSQL, the scripts and the DCS merge's python3 run from the node runtime root (Debian 13);
 * shellcheck is this machine's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DCS_MERGE_PY, LOGICAL_PASSWORD_VARIABLE, SubscriptionTarget, publisherPasswordVariable, renderPublicationsScript, renderSubscriptionsScript } from '../../src/render/logical-replication';
import { PublicationSpec } from '../../src/spec/logical-replication';
import { CommandResult, RunningProcess, chownTo, makeTempDir, removeTempDir, requireBinaries, requireNodeBinaries, runCommand, waitUntil } from '../support/processes';
import * as standalone from '../support/standalone-postgres';
import { StandalonePostgres } from '../support/standalone-postgres';

const SHELLCHECK = '/usr/bin/shellcheck';
const ADDRESS = '127.84.0.2';
/** Nothing listens here: libpq moves on to the next host. */
const DEAD_ADDRESS = '127.84.0.9';
const PORT = 5693;
const PASSWORD = `it's a \\ "pass word"`;
const NEW_PASSWORD = 'Rotated-pw_8812';
const PUBLICATION: PublicationSpec = { name: 'shop_pub', database: 'shop', tables: ['orders'] };
const SLOT = 'sub_copy_shop_sub';
/** A slot the publications job keeps itself (a publisher without Patroni). */
const KEPT_SLOT = 'sub_other_shop_sub';

const target = (hosts: string[]): SubscriptionTarget => ({
  name: 'shop_sub',
  database: 'copy',
  publication: PUBLICATION.name,
  publisherDatabase: PUBLICATION.database,
  publisherCluster: 'shop',
  publisherHosts: hosts.map((host) => ({ host, port: PORT })),
  slotName: SLOT,
  copyExistingData: true,
});

describe('the logical replication jobs against a real PostgreSQL 17 (127.84.0.2)', () => {
  let root: string;
  let postgres: RunningProcess | undefined;
  const pg = (): StandalonePostgres => ({ name: 'server', address: ADDRESS, port: PORT, dataDir: `${root}/data`, socketDir: `${root}/socket` });
  const query = (sql: string, database = 'postgres') => standalone.query(pg(), sql, database);
  const script = (name: string) => join(root, name);
  const run = (name: string, env: Record<string, string>): Promise<CommandResult> => runCommand(script(name), { runAs: { user: 'postgres' }, node: true, inheritEnv: false, env, timeoutMs: 60_000 });
  const publish = (password = PASSWORD) => run('publications', { [LOGICAL_PASSWORD_VARIABLE]: password });
  const subscribe = (name = 'subscriptions', password = PASSWORD) => run(name, { [publisherPasswordVariable('shop')]: password });
  const count = async (sql: string, database: string) => Number(await query(sql, database));

  beforeAll(async () => {
    requireBinaries([SHELLCHECK]);
    requireNodeBinaries([`${standalone.POSTGRES_BIN_DIR}/postgres`, `${standalone.POSTGRES_BIN_DIR}/psql`, '/usr/bin/python3']);
    root = makeTempDir('pgha-logical-tools');
    const local = { socketDir: `${root}/socket`, port: PORT, binDir: standalone.POSTGRES_BIN_DIR };
    writeFileSync(script('publications'), renderPublicationsScript({ ...local, publications: [PUBLICATION] }), { mode: 0o755 });
    writeFileSync(script('subscriptions'), renderSubscriptionsScript({ ...local, subscriptions: [target([DEAD_ADDRESS, ADDRESS])] }), { mode: 0o755 });
    writeFileSync(script('publications-keeping-slots'), renderPublicationsScript({ ...local, publications: [PUBLICATION], slots: [{ name: KEPT_SLOT, database: 'shop', publication: PUBLICATION.name }] }), { mode: 0o755 });
    writeFileSync(script('unreachable'), renderSubscriptionsScript({ ...local, subscriptions: [target([DEAD_ADDRESS])] }), { mode: 0o755 });
    mkdirSync(`${root}/socket`);
    chownTo(root, 'postgres');
    await standalone.initPostgres(pg(), {
      authHost: 'scram-sha-256',
      title: '# pgha logical replication test',
      settings: ['wal_level = logical', 'max_connections = 30', 'shared_buffers = 16MB', "password_encryption = 'scram-sha-256'", "log_statement = 'all'"],
      hba: 'host all all 127.84.0.0/16 scram-sha-256',
    });
    const proc = (postgres = standalone.startPostgres(pg()));
    await standalone.waitAccepting(pg(), proc);
  }, 120_000);

  afterAll(async () => {
    await standalone.stopPostgres(postgres);
    removeTempDir(root);
  }, 60_000);

  test('WHEN the databases do not exist yet THEN both scripts wait and exit 0', async () => {
    expect(await publish()).toMatchObject({ code: 0, stderr: expect.stringContaining('database shop does not exist yet: publication shop_pub waits for it') });
    expect(await subscribe()).toMatchObject({ code: 0, stderr: expect.stringContaining('subscription shop_sub: database copy does not exist here yet') });
    // A subscriber's slot waits for its publication: a slot older than it would fail the subscription.
    expect(await run('publications-keeping-slots', { [LOGICAL_PASSWORD_VARIABLE]: PASSWORD })).toMatchObject({ code: 0, stderr: expect.stringContaining(`publication shop_pub is not in place in database shop: slot ${KEPT_SLOT} waits for it`) });
    expect(await query('SELECT count(*) FROM pg_replication_slots')).toBe('0');
  }, 60_000);

  test('WHEN shop has its table THEN the publication holds it and the role logs in with the password as given, which is not in the server log', async () => {
    await query('CREATE DATABASE shop');
    await query("CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'first' FROM generate_series(1, 20) g", 'shop');
    expect(await publish()).toMatchObject({ code: 0, stderr: expect.stringContaining('publication shop_pub in place in database shop') });
    expect(await query("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'shop_pub'", 'shop')).toBe('public.orders');
    expect(await query("SELECT rolreplication AND pg_has_role('pgha_logical', 'pg_read_all_data', 'member') FROM pg_roles WHERE rolname = 'pgha_logical'")).toBe('t');
    const login = await runCommand(`${standalone.POSTGRES_BIN_DIR}/psql`, {
      args: ['-XAtq', '-h', ADDRESS, '-p', String(PORT), '-U', 'pgha_logical', '-d', 'shop', '-c', 'SELECT count(*) FROM orders'],
      env: { PGPASSWORD: PASSWORD },
      node: true,
      inheritEnv: false,
    });
    expect({ code: login.code, out: login.stdout.trim() }).toEqual({ code: 0, out: '20' });
    // Every statement is logged (log_statement all): the job's own statements are, its password is not.
    const log = postgres!.logTail(100_000);
    expect(log).toContain('CREATE PUBLICATION shop_pub');
    expect(log).not.toContain('pass word');
  }, 60_000);

  test('WHEN the subscriber database lacks the table THEN the script names it and waits; once it exists, it subscribes through the second host and the rows arrive', async () => {
    await query('CREATE DATABASE copy');
    // Patroni's part on a publisher: the permanent slot.
    await query(`SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput')`, 'shop');
    expect(await subscribe()).toMatchObject({ code: 0, stderr: expect.stringContaining('tables public.orders are published but do not exist in database copy here: create them first') });
    await query('CREATE TABLE orders (id int PRIMARY KEY, note text)', 'copy');
    expect(await subscribe()).toMatchObject({ code: 0, stderr: expect.stringContaining(`subscription shop_sub: created in database copy on slot ${SLOT} (copy_data = true)`) });
    await waitUntil('the 20 rows copied', async () => (await count('SELECT count(*) FROM orders', 'copy')) === 20, { timeoutMs: 30_000 });
    await query("INSERT INTO orders SELECT g, 'streamed' FROM generate_series(21, 30) g", 'shop');
    await waitUntil('the 10 new rows streamed', async () => (await count("SELECT count(*) FROM orders WHERE note = 'streamed'", 'copy')) === 10, { timeoutMs: 30_000 });
    expect(await query(`SELECT active FROM pg_replication_slots WHERE slot_name = '${SLOT}'`)).toBe('t');
    const again = await subscribe();
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/created|updated|refreshed/);
  }, 90_000);

  test('WHEN the password is rotated THEN the publisher job sets it and the subscriber job updates the connection; rows still stream', async () => {
    expect((await publish(NEW_PASSWORD)).code).toBe(0);
    expect(await subscribe('subscriptions', NEW_PASSWORD)).toMatchObject({ code: 0, stderr: expect.stringContaining('subscription shop_sub: connection updated') });
    await query("INSERT INTO orders SELECT g, 'after rotation' FROM generate_series(31, 35) g", 'shop');
    await waitUntil('rows after the rotation', async () => (await count("SELECT count(*) FROM orders WHERE note = 'after rotation'", 'copy')) === 5, { timeoutMs: 30_000 });
  }, 60_000);

  test('WHEN no publisher host answers THEN the script exits 1 saying so; without a password it exits 1 too', async () => {
    await query('DROP SUBSCRIPTION shop_sub', 'copy');
    await query(`SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput')`, 'shop');
    expect(await subscribe('unreachable', NEW_PASSWORD)).toMatchObject({ code: 1, stderr: expect.stringContaining('the publisher does not answer as a writable primary') });
    expect(await subscribe('subscriptions', '')).toMatchObject({ code: 1, stderr: expect.stringContaining('PGHA_LOGICAL_PASSWORD_SHOP is not set or empty') });
    expect(await publish('')).toMatchObject({ code: 2, stderr: expect.stringContaining('PGHA_LOGICAL_PASSWORD is not set or empty') });
  }, 60_000);

  test('WHEN the job keeps a slot THEN it makes it once and records it; a recorded slot that is gone (a promotion) is refused until the record is removed', async () => {
    const keep = () => run('publications-keeping-slots', { [LOGICAL_PASSWORD_VARIABLE]: NEW_PASSWORD });
    expect(await keep()).toMatchObject({ code: 0, stderr: expect.stringContaining(`slot ${KEPT_SLOT} created in database shop`) });
    expect(await query(`SELECT plugin || ' ' || database FROM pg_replication_slots WHERE slot_name = '${KEPT_SLOT}'`)).toBe('pgoutput shop');
    expect(await query(`SELECT count(*) FROM pgha.logical_slots WHERE slot_name = '${KEPT_SLOT}'`)).toBe('1');
    const again = await keep();
    expect({ code: again.code, created: again.stderr.includes('created') }).toEqual({ code: 0, created: false });
    // What a promotion leaves: the record (replicated) without the slot (which stayed on the old primary).
    await query(`SELECT pg_drop_replication_slot('${KEPT_SLOT}')`);
    expect(await keep()).toMatchObject({ code: 1, stderr: expect.stringContaining(`slot ${KEPT_SLOT} was made on this cluster's primary before`) });
    expect(await query(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${KEPT_SLOT}'`)).toBe('0');
    await query(`DELETE FROM pgha.logical_slots WHERE slot_name = '${KEPT_SLOT}'`);
    expect(await keep()).toMatchObject({ code: 0, stderr: expect.stringContaining(`slot ${KEPT_SLOT} created in database shop`) });
    await query(`SELECT pg_drop_replication_slot('${KEPT_SLOT}')`);
  }, 60_000);

  describe("the DCS merge of a Patroni publisher's job (python3 with PyYAML, as on the nodes)", () => {
    const wanted = {
      slots: [
        { name: 'sub_r_s', database: 'app', publication: 'p' },
        { name: 'sub_r_later', database: 'app', publication: 'later' },
      ],
      ignoreDatabases: ['app'],
      walLevel: 'logical',
      maxWalSenders: 12,
      maxReplicationSlots: 12,
    };
    /** Publication "p" of database app is in place; "later" is not (yet). */
    const merge = async (current: string, published = 'app/p other/q') => {
      const path = join(root, 'current.yml');
      writeFileSync(path, current);
      const result = await runCommand('/bin/sh', { args: ['-c', `python3 -c "$MERGE" < ${path}`], env: { MERGE: DCS_MERGE_PY, PGHA_WANTED: JSON.stringify(wanted), PGHA_PUBLISHED: published }, node: true, inheritEnv: false });
      expect(result.stderr).toBe('');
      return result.stdout;
    };

    test('a DCS without them gets the slot whose publication is in place, ignore_slots, wal_level and the raised limits', async () => {
      expect(parse(await merge('ttl: 30\npostgresql:\n  parameters:\n    wal_level: replica\n    max_wal_senders: 10\n'))).toEqual({
        slots: { sub_r_s: { type: 'logical', database: 'app', plugin: 'pgoutput' } },
        ignore_slots: [{ type: 'logical', database: 'app', plugin: 'pgoutput' }],
        postgresql: { parameters: { wal_level: 'logical', max_wal_senders: 12, max_replication_slots: 12 } },
      });
    });

    test('a DCS that has them (limits raised further by hand, other slots and matchers kept) gets nothing', async () => {
      const current = [
        'slots:',
        '  sub_r_s: {type: logical, database: app, plugin: pgoutput}',
        '  other: {type: physical}',
        'ignore_slots:',
        '  - {name: manual}',
        '  - {type: logical, database: app, plugin: pgoutput}',
        'postgresql:',
        '  parameters: {wal_level: logical, max_wal_senders: 30, max_replication_slots: 12}',
        '',
      ].join('\n');
      expect(await merge(current)).toBe('');
    });

    test('while no publication is in place, no slot goes in; the settings do', async () => {
      expect(parse(await merge('ttl: 30\n', ''))).toEqual({
        ignore_slots: [{ type: 'logical', database: 'app', plugin: 'pgoutput' }],
        postgresql: { parameters: { wal_level: 'logical', max_wal_senders: 12, max_replication_slots: 12 } },
      });
      expect(parse(await merge('ttl: 30\n', 'app/later'))).toMatchObject({ slots: { sub_r_later: { type: 'logical', database: 'app', plugin: 'pgoutput' } } });
    });

    test('an ignore_slots list of its own is kept and extended, never replaced', async () => {
      const patch = parse(await merge('ignore_slots:\n  - {name: manual}\npostgresql: {parameters: {wal_level: logical, max_wal_senders: 12, max_replication_slots: 12}}\nslots: {sub_r_s: {type: logical, database: app, plugin: pgoutput}}\n'));
      expect(patch).toEqual({ ignore_slots: [{ name: 'manual' }, { type: 'logical', database: 'app', plugin: 'pgoutput' }] });
    });
  });

  describe('shellcheck', () => {
    const check = async (name: string, content: string) => {
      const path = join(root, `${name}.sh`);
      writeFileSync(path, content);
      return runCommand(SHELLCHECK, { args: ['-s', 'bash', '--severity=style', path] });
    };
    test.each([
      ['publications, all tables', () => renderPublicationsScript({ publications: [{ name: 'p', database: 'app', tables: 'all' }] })],
      ['publications, two', () => renderPublicationsScript({ publications: [PUBLICATION, { name: 'q', database: 'app', tables: ['a', 's.b'] }] })],
      [
        'publications of a Patroni cluster (the DCS step)',
        () =>
          renderPublicationsScript({
            publications: [PUBLICATION],
            patroni: { configPath: '/etc/patroni/patroni.yml', clusterName: 'main', settings: { slots: [{ name: 's', database: 'app', publication: PUBLICATION.name }], ignoreDatabases: ['app'], walLevel: 'logical', maxWalSenders: 10, maxReplicationSlots: 10 } },
          }),
      ],
      ['publications keeping slots', () => renderPublicationsScript({ publications: [PUBLICATION], slots: [{ name: 'a', database: 'app', publication: PUBLICATION.name }, { name: 'b', database: 'app', publication: PUBLICATION.name }] })],
      ['subscriptions, two', () => renderSubscriptionsScript({ subscriptions: [target([ADDRESS]), { ...target([ADDRESS, DEAD_ADDRESS]), name: 'other', publisherCluster: 'other-cluster' }] })],
    ])('%s: nothing at style severity', async (name, render) => {
      const result = await check(name.replace(/\W+/g, '-'), render());
      expect({ out: result.stdout, code: result.code }).toEqual({ out: '', code: 0 });
    });
    test('negative control: an unquoted expansion is found', async () => {
      const text = renderSubscriptionsScript({ subscriptions: [target([ADDRESS])] });
      expect(text).toContain('-d "$database"');
      const result = await check('unquoted', text.replace('-d "$database"', '-d $database'));
      expect(result.stdout).toContain('SC2086');
    });
  });
});
