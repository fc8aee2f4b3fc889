import { parse } from 'yaml';
import { PATRONI_SECRET_VARIABLES, PATRONI_USERS, PatroniConfigInput, renderPatroniConfig } from '../../../src/render/patroni-config';
import { PatroniClusterSpecInput, validatePatroniClusterSpec } from '../../../src/spec/patroni-cluster';

const ETCD_HOSTS = ['10.0.1.11:2379', '10.0.2.11:2379', '10.0.3.11:2379'];

function input(specInput: Partial<PatroniClusterSpecInput> = {}, overrides: Partial<PatroniConfigInput> = {}): PatroniConfigInput {
  return {
    spec: validatePatroniClusterSpec({ clusterName: 'orders', ...specInput }),
    nodeName: 'orders-1',
    address: '10.0.1.11',
    etcdHosts: ETCD_HOSTS,
    hbaCidrs: ['10.0.0.0/16', '10.9.0.0/24'],
    dataDir: '/var/lib/pgha/postgresql/17/orders',
    socketDir: '/run/postgresql',
    binDir: '/usr/lib/postgresql/17/bin',
    ...overrides,
  };
}

/** Reads the text the way Patroni does: PyYAML is a YAML 1.1 parser ("off" unquoted would be false). */
const read = (text: string): any => parse(text, { version: '1.1' });

const render = (specInput: Partial<PatroniClusterSpecInput> = {}, overrides: Partial<PatroniConfigInput> = {}) =>
  read(renderPatroniConfig(input(specInput, overrides)));

function allKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => allKeys(item, `${path}.${index}`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => [`${path}.${key}`, ...allKeys(child, `${path}.${key}`)]);
  }
  return [];
}

describe('renderPatroniConfig: identity and addresses', () => {
  test('names the cluster, the member, etcd and the node addresses', () => {
    // GIVEN a spec with custom ports
    // WHEN rendering node orders-1
    const config = render({ postgresPort: 6432, restApiPort: 8009 });

    // THEN every address is the node's own, with the spec's ports
    expect(config.scope).toBe('orders');
    expect(config.name).toBe('orders-1');
    expect(config.etcd3).toEqual({ hosts: ETCD_HOSTS });
    expect(config.restapi.listen).toBe('10.0.1.11:8009');
    expect(config.restapi.connect_address).toBe('10.0.1.11:8009');
    expect(config.postgresql.listen).toBe('10.0.1.11:6432');
    expect(config.postgresql.connect_address).toBe('10.0.1.11:6432');
    expect(config.postgresql.data_dir).toBe('/var/lib/pgha/postgresql/17/orders');
    expect(config.postgresql.bin_dir).toBe('/usr/lib/postgresql/17/bin');
    expect(config.postgresql.parameters).toEqual({ unix_socket_directories: '/run/postgresql', password_encryption: 'scram-sha-256' });
    expect(config.postgresql.pgpass).toBe('/run/postgresql/patroni.pgpass');
  });

  test('protects the REST API with a user and an allowlist of the hba networks', () => {
    const config = render();

    expect(config.restapi.authentication).toEqual({ username: PATRONI_USERS.restApi });
    expect(config.restapi.allowlist).toEqual(['127.0.0.1/32', '10.0.0.0/16', '10.9.0.0/24']);
    expect(config.restapi.allowlist_include_members).toBe(true);
  });

  test('names the superuser, replication and rewind users', () => {
    const config = render();

    expect(config.postgresql.authentication).toEqual({
      superuser: { username: 'postgres' },
      replication: { username: 'replicator' },
      rewind: { username: 'rewinder' },
    });
  });

  test('sets the tags and turns the watchdog off as the string "off" under YAML 1.1', () => {
    // GIVEN the text as PyYAML reads it
    const text = renderPatroniConfig(input());
    const config = read(text);

    // THEN watchdog.mode is quoted: unquoted, PyYAML would read false and Patroni would reject it
    expect(config.watchdog).toEqual({ mode: 'off' });
    expect(text).toContain('mode: "off"');
    expect(config.tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
  });

  test.each([
    ['default', 30, 10, 10, 5],
    ['fast', 20, 2, 6, 5],
    [{ ttlSeconds: 20, loopWaitSeconds: 2, retryTimeoutSeconds: 9 }, 20, 2, 9, 5],
    [{ ttlSeconds: 20, loopWaitSeconds: 12, retryTimeoutSeconds: 4 }, 20, 12, 4, 4],
    [{ ttlSeconds: 20, loopWaitSeconds: 14, retryTimeoutSeconds: 3 }, 20, 14, 3, 3],
  ] as const)('GIVEN a watchdog device and failover %j THEN the watchdog is required, and resets a stalled leader after loop_wait + retry_timeout at the earliest, before its key expires', (failover, ttl, loopWait, retry, margin) => {
    const config = render({ failover: failover as PatroniClusterSpecInput['failover'] }, { watchdogDevice: '/dev/watchdog' });
    expect(config.watchdog).toEqual({ mode: 'required', device: '/dev/watchdog', safety_margin: margin });
    // Patroni arms the device for ttl - safety_margin: after a whole loop, before the key expires.
    expect(ttl - margin).toBeGreaterThanOrEqual(loopWait + retry);
    expect(margin).toBeGreaterThanOrEqual(3);
  });

  test('starts with a header saying it is generated and naming every password variable', () => {
    const text = renderPatroniConfig(input());

    expect(text.startsWith('# patroni.yml: generated by cdktf-postgres-ha')).toBe(true);
    for (const variable of Object.keys(PATRONI_SECRET_VARIABLES)) {
      expect(text).toMatch(new RegExp(`^# .*${variable}`, 'm'));
    }
  });
});

describe('renderPatroniConfig: bootstrap.dcs', () => {
  test.each([
    ['default', 30, 10, 10],
    ['fast', 20, 2, 6],
  ] as const)('failover profile "%s" gives ttl %i, loop_wait %i, retry_timeout %i', (profile, ttl, loopWait, retryTimeout) => {
    const dcs = render({ failover: profile }).bootstrap.dcs;

    expect(dcs.ttl).toBe(ttl);
    expect(dcs.loop_wait).toBe(loopWait);
    expect(dcs.retry_timeout).toBe(retryTimeout);
  });

  test('custom timings are copied as given', () => {
    const dcs = render({ failover: { ttlSeconds: 20, loopWaitSeconds: 4, retryTimeoutSeconds: 8 } }).bootstrap.dcs;

    expect([dcs.ttl, dcs.loop_wait, dcs.retry_timeout]).toEqual([20, 4, 8]);
  });

  test.each([
    ['async', false, false],
    ['sync', true, false],
    ['sync-strict', true, true],
  ] as const)('replication mode "%s" sets synchronous_mode %s and synchronous_mode_strict %s', (mode, sync, strict) => {
    const dcs = render({ replicationMode: mode }).bootstrap.dcs;

    expect(dcs.synchronous_mode).toBe(sync);
    expect(dcs.synchronous_mode_strict).toBe(strict);
  });

  test('copies synchronous_node_count and maximum_lag_on_failover from the spec', () => {
    const dcs = render({ nodeCount: 5, synchronousNodeCount: 2, maximumLagOnFailoverBytes: 4096 }).bootstrap.dcs;

    expect(dcs.synchronous_node_count).toBe(2);
    expect(dcs.maximum_lag_on_failover).toBe(4096);
  });

  test('enables pg_rewind and replication slots', () => {
    const { postgresql } = render().bootstrap.dcs;

    expect(postgresql.use_pg_rewind).toBe(true);
    expect(postgresql.use_slots).toBe(true);
  });

  test('sets the replication parameters and max_connections from the spec', () => {
    const parameters = render({ maxConnections: 350 }).bootstrap.dcs.postgresql.parameters;

    expect(parameters).toMatchObject({
      wal_level: 'replica',
      hot_standby: 'on',
      max_wal_senders: 10,
      wal_keep_size: '1GB',
      max_replication_slots: 10,
      wal_log_hints: 'on',
      wal_retrieve_retry_interval: '1s',
      max_connections: 350,
    });
  });

  test('logs slow queries above the spec threshold, with who ran them, lock waits, temp files and checkpoints', () => {
    const parameters = render({ slowQueryThresholdMs: 250 }).bootstrap.dcs.postgresql.parameters;

    expect(parameters.log_min_duration_statement).toBe(250);
    for (const escape of ['%m', '%p', '%u', '%d', '%a', '%h']) expect(parameters.log_line_prefix).toContain(escape);
    expect(parameters).toMatchObject({ log_lock_waits: 'on', log_temp_files: 0, log_checkpoints: 'on' });
    expect(parameters.log_autovacuum_min_duration).toBeDefined();
  });

  test('runs autovacuum earlier than PostgreSQL defaults', () => {
    const parameters = render().bootstrap.dcs.postgresql.parameters;

    expect(parameters.autovacuum).toBe('on');
    expect(parameters.autovacuum_vacuum_scale_factor).toBeLessThan(0.2);
    expect(parameters.autovacuum_analyze_scale_factor).toBeLessThan(0.1);
    expect(parameters.autovacuum_naptime).toBe('30s');
  });

  test('merges the user parameters last, booleans written as on/off', () => {
    // GIVEN user parameters, one of them overriding a default
    const parameters = render({ postgresqlParameters: { work_mem: '16MB', wal_level: 'logical', jit: false, track_io_timing: true } })
      .bootstrap.dcs.postgresql.parameters;

    // THEN the user's values win and the rest stay
    expect(parameters.work_mem).toBe('16MB');
    expect(parameters.wal_level).toBe('logical');
    expect(parameters.jit).toBe('off');
    expect(parameters.track_io_timing).toBe('on');
    expect(parameters.max_wal_senders).toBe(10);
  });
});

describe('renderPatroniConfig: initdb and pg_hba', () => {
  test('initialises UTF8 with checksums, scram for host and peer for local', () => {
    const { initdb } = render().bootstrap;

    expect(initdb).toEqual(expect.arrayContaining([{ encoding: 'UTF8' }, 'data-checksums', { 'auth-host': 'scram-sha-256' }, { 'auth-local': 'peer' }]));
  });

  test('writes the same pg_hba lines to bootstrap and postgresql', () => {
    const config = render();

    expect(config.bootstrap.pg_hba).toEqual(config.postgresql.pg_hba);
  });

  test('allows the postgres OS user locally and replication plus clients from loopback and each network, with scram', () => {
    const hba: string[] = render().bootstrap.pg_hba;

    expect(hba).toEqual([
      'local all postgres peer',
      'host replication replicator 127.0.0.1/32 scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      'host replication replicator 10.0.0.0/16 scram-sha-256',
      'host all all 10.0.0.0/16 scram-sha-256',
      'host replication replicator 10.9.0.0/24 scram-sha-256',
      'host all all 10.9.0.0/24 scram-sha-256',
    ]);
  });

  test('has no trust line and no 0.0.0.0/0 anywhere', () => {
    const text = renderPatroniConfig(input());
    const hba: string[] = read(text).postgresql.pg_hba;

    expect(hba.filter((line) => /\btrust\b/.test(line))).toEqual([]);
    expect(text).not.toMatch(/(^|[^\d.])0\.0\.0\.0/m);
  });

  test('lists a loopback network only once when the caller also gives it', () => {
    const hba: string[] = render({}, { hbaCidrs: ['127.0.0.1/32', '127.0.0.0/8'] }).bootstrap.pg_hba;

    expect(hba.filter((line) => line.includes('127.0.0.1/32'))).toHaveLength(2);
    expect(hba.filter((line) => line.includes('127.0.0.0/8'))).toHaveLength(2);
  });

  test('admits 0.0.0.0/0 when the spec allows any client', () => {
    const hba: string[] = render({ allowAnyClient: true }, { hbaCidrs: ['0.0.0.0/0'] }).bootstrap.pg_hba;

    expect(hba).toContain('host all all 0.0.0.0/0 scram-sha-256');
  });

  test('fails when 0.0.0.0/0 is given without allowAnyClient', () => {
    expect(() => renderPatroniConfig(input({}, { hbaCidrs: ['10.0.0.0/16', '0.0.0.0/0'] }))).toThrow(/hbaCidrs\.1: got "0\.0\.0\.0\/0".*allowAnyClient/s);
  });
});

describe('renderPatroniConfig: secrets', () => {
  test('holds no password: no password key anywhere and no secret-looking value', () => {
    // GIVEN the passwords Patroni will read from the environment are not part of the input at all
    const text = renderPatroniConfig(input());

    // THEN no key is named password, and the only "password" words are the header and password_encryption
    const keys = allKeys(read(text));
    expect(keys.filter((key) => /password/i.test(key.split('.').pop() ?? '') && !key.endsWith('password_encryption'))).toEqual([]);
    const lines = text.split('\n').filter((line) => /password/i.test(line) && !line.startsWith('#'));
    expect(lines.map((line) => line.trim())).toEqual(['password_encryption: scram-sha-256']);
  });

  test('maps one env variable to each secret key', () => {
    expect(PATRONI_SECRET_VARIABLES).toEqual({
      PATRONI_SUPERUSER_PASSWORD: 'superuser_password',
      PATRONI_REPLICATION_PASSWORD: 'replication_password',
      PATRONI_REWIND_PASSWORD: 'rewind_password',
      PATRONI_RESTAPI_PASSWORD: 'restapi_password',
    });
  });
});

describe('renderPatroniConfig: determinism', () => {
  test('renders the same text twice', () => {
    expect(renderPatroniConfig(input({ replicationMode: 'sync-strict' }))).toBe(renderPatroniConfig(input({ replicationMode: 'sync-strict' })));
  });

  test('does not depend on the order of the user parameters', () => {
    const a = renderPatroniConfig(input({ postgresqlParameters: { work_mem: '16MB', jit: false } }));
    const b = renderPatroniConfig(input({ postgresqlParameters: { jit: false, work_mem: '16MB' } }));

    expect(a).toBe(b);
  });

  test('differs between nodes only in the name and the addresses', () => {
    const one = renderPatroniConfig(input());
    const two = renderPatroniConfig(input({}, { nodeName: 'orders-2', address: '10.0.2.11' }));

    expect(two).toBe(one.replace('name: orders-1', 'name: orders-2').replace(/10\.0\.1\.11:(5432|8008)/g, '10.0.2.11:$1'));
  });
});

describe('renderPatroniConfig: refused input', () => {
  test.each(['127.0.0.1', 'localhost', '0.0.0.0'])('fails when the address is %s', (address) => {
    expect(() => renderPatroniConfig(input({}, { address }))).toThrow(/address: got ".*", expected the node's own address/);
  });

  test('fails when no hba network is given', () => {
    expect(() => renderPatroniConfig(input({}, { hbaCidrs: [] }))).toThrow(/hbaCidrs: got none/);
  });

  test('fails when an hba network is not a CIDR', () => {
    expect(() => renderPatroniConfig(input({}, { hbaCidrs: ['10.0.0.0'] }))).toThrow(/hbaCidrs\.0: got "10\.0\.0\.0", expected an IPv4 CIDR/);
  });

  test('fails when there is no etcd host, or one without a port', () => {
    expect(() => renderPatroniConfig(input({}, { etcdHosts: [] }))).toThrow(/etcdHosts: got none/);
    expect(() => renderPatroniConfig(input({}, { etcdHosts: ['10.0.1.11'] }))).toThrow(/etcdHosts\.0: got "10\.0\.1\.11", expected "host:port"/);
  });

  test('fails when a directory is relative', () => {
    expect(() => renderPatroniConfig(input({}, { dataDir: 'data' }))).toThrow(/dataDir: got "data", expected an absolute path/);
  });
});

describe('renderPatroniConfig: archiving and restores', () => {
  const archive = { stanza: 'orders', postBootstrapScript: '/usr/local/lib/pgha/pgha-stanza-create' };
  const pgbackrest = '/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=orders';

  test('without an archive: no archiving, replicas only from pg_basebackup', () => {
    const config = render();
    expect(config.bootstrap.dcs.postgresql.parameters.archive_mode).toBeUndefined();
    expect(config.postgresql.create_replica_methods).toBeUndefined();
    expect(config.postgresql.recovery_conf).toBeUndefined();
    expect(config.bootstrap.post_bootstrap).toBeUndefined();
  });

  test('with an archive: archive mode and timeout cluster-wide, the command per node, restore_command, replicas from backups first', () => {
    const config = render({ archiveTimeoutSeconds: 30 }, { archive });
    expect(config.bootstrap.dcs.postgresql.parameters).toMatchObject({ archive_mode: 'on', archive_timeout: '30s' });
    expect(config.bootstrap.dcs.postgresql.parameters.archive_command).toBeUndefined();
    expect(config.postgresql.parameters.archive_command).toBe(`${pgbackrest} archive-push %p`);
    expect(config.postgresql.recovery_conf).toEqual({ restore_command: `${pgbackrest} archive-get %f "%p"` });
    expect(config.postgresql.create_replica_methods).toEqual(['pgbackrest', 'basebackup']);
    expect(config.postgresql.pgbackrest).toEqual({ command: `${pgbackrest} restore`, keep_data: true, no_params: true });
    expect(config.bootstrap.post_bootstrap).toBe('/usr/local/lib/pgha/pgha-stanza-create');
    expect(config.bootstrap.method).toBeUndefined();
  });

  test('with a restore: a custom bootstrap whose recovery settings live in recovery_conf only', () => {
    const restore = {
      command: ['/usr/local/lib/pgha/pgha-bootstrap-restore'],
      recoveryConf: { restore_command: 'pgbackrest --stanza=old archive-get %f "%p"', recovery_target_time: '2026-11-20 14:30:00+00', recovery_target_action: 'promote' },
    };
    const config = render({}, { archive, restore });
    expect(config.bootstrap.method).toBe('pgbackrest_restore');
    expect(config.bootstrap.pgbackrest_restore).toEqual({
      command: '/usr/local/lib/pgha/pgha-bootstrap-restore',
      no_params: true,
      keep_existing_recovery_conf: false,
      recovery_conf: restore.recoveryConf,
    });
    // The restored cluster's own archiving is unaffected by the source.
    expect(config.postgresql.parameters.archive_command).toBe(`${pgbackrest} archive-push %p`);
  });

  test('Patroni connects through the socket', () => {
    expect(render().postgresql.use_unix_socket).toBe(true);
  });
});

describe('renderPatroniConfig: cascading replicas (replicateFrom)', () => {
  const cascading = { replicationMode: 'async' as const, replicateFrom: { 'orders-pg-3': 'orders-pg-2' } };
  const node = (n: number) => ({ nodeName: `orders-pg-${n}`, address: `10.0.${n}.11` });

  test('the cascading member gets replicatefrom its upstream, and stays a possible synchronous standby (nosync false)', () => {
    const config = render(cascading, node(3));
    expect(config.tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, replicatefrom: 'orders-pg-2' });
  });

  test('the upstream and the other members keep the default tags', () => {
    for (const n of [1, 2]) {
      expect(render(cascading, node(n)).tags).toEqual({ nofailover: false, noloadbalance: false, clonefrom: false, nosync: false });
    }
  });

  test('the same in the sync modes: not nosync, so that it can cover as synchronous standby while its upstream is down', () => {
    for (const replicationMode of ['sync', 'sync-strict'] as const) {
      const config = render({ ...cascading, replicationMode }, node(3));
      expect(config.tags).toMatchObject({ nosync: false, replicatefrom: 'orders-pg-2' });
      expect(config.bootstrap.dcs.synchronous_node_count).toBe(1);
    }
  });

  test('a chain: each member names its own upstream', () => {
    const spec = { nodeCount: 5, replicationMode: 'async' as const, replicateFrom: { 'orders-pg-5': 'orders-pg-4', 'orders-pg-4': 'orders-pg-2' } };
    expect([1, 2, 3, 4, 5].map((n) => render(spec, node(n)).tags.replicatefrom)).toEqual([undefined, undefined, undefined, 'orders-pg-2', 'orders-pg-4']);
  });

  test('the cascading node differs from a plain one only in the replicatefrom tag', () => {
    const plain = renderPatroniConfig(input({ replicationMode: 'async' }, node(3)));
    const text = renderPatroniConfig(input(cascading, node(3)));
    expect(text).toBe(plain.replace('  nosync: false\n', '  nosync: false\n  replicatefrom: orders-pg-2\n'));
  });

  test('refuses a spec whose member replicates from itself (specs built without validation)', () => {
    const spec = { ...validatePatroniClusterSpec({ clusterName: 'orders' }), replicateFrom: { 'orders-pg-3': 'orders-pg-3' } };
    expect(() => renderPatroniConfig({ ...input(), ...node(3), spec })).toThrow(/spec\.replicateFrom\.orders-pg-3: got "orders-pg-3", expected another member to stream from/);
  });
});
