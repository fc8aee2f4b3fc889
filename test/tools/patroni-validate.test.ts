/**
 * The rendered patroni.yml and etcd config, checked by the real programs of the node runtime root
 * (Debian 13): a 3-member etcd 3.5.16 cluster started from renderEtcdConfig's files, and
 * `patroni --validate-config` (Patroni 4.0.7) on each node's rendered patroni.yml, for every
 * replication mode and failover profile.
 *
 * Patroni's validator needs etcd reachable and the node's ports free, and refuses 127.0.0.1 as a
 * connect address: nodes use 127.0.0.21..23 with ports nothing else here uses.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Document, parse } from 'yaml';
import { LAYOUT } from '../../src/model/layout';
import { EtcdMember, renderEtcdConfig } from '../../src/render/etcd-config';
import { PATRONI_SECRET_VARIABLES, PatroniConfigInput, renderPatroniConfig } from '../../src/render/patroni-config';
import { PatroniClusterSpecInput, validatePatroniClusterSpec } from '../../src/spec/patroni-cluster';
import {
  canConnect,
  chownTo,
  CommandResult,
  makeTempDir,
  removeTempDir,
  requireNodeBinaries,
  runCommand,
  RunningProcess,
  startProcess,
  stopProcess,
  waitForPort,
  waitUntil,
} from '../support/processes';

const BIN_DIR = LAYOUT.postgresBinDir;
const BINARIES = ['/usr/bin/etcd', '/usr/bin/etcdctl', '/usr/bin/patroni', '/usr/bin/python3', '/usr/bin/setpriv', `${BIN_DIR}/postgres`];

const ADDRESSES = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
const PORTS = { etcdClient: 42379, etcdPeer: 42380, postgres: 45432, restApi: 48008 } as const;
const ETCD_MEMBERS: EtcdMember[] = ADDRESSES.map((address, i) => ({ name: `pv-etcd-${i + 1}`, address }));
const ETCD_HOSTS = ADDRESSES.map((address) => `${address}:${PORTS.etcdClient}`);
const ETCD_ENDPOINTS = ETCD_HOSTS.map((host) => `http://${host}`).join(',');
const POSTGRES = { user: 'postgres' } as const;

/** Stand-ins for the cluster secret: Patroni reads them from the environment, as on a real node. */
const SECRET_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(PATRONI_SECRET_VARIABLES).map(([variable, key]) => [variable, `test-only-${key.replace(/_/g, '-')}`]),
);

let etcdDir: string | undefined;
let nodeDir: string | undefined;
const etcds: RunningProcess[] = [];

beforeAll(async () => {
  requireNodeBinaries(BINARIES);
  const busy: string[] = [];
  for (const address of ADDRESSES) {
    for (const port of Object.values(PORTS)) if (await canConnect(address, port, 300)) busy.push(`${address}:${port}`);
  }
  if (busy.length > 0) throw new Error(`Ports already in use: ${busy.join(', ')}. Stop what holds them (another run of this test?) and retry.`);

  etcdDir = makeTempDir('pgha-validate-etcd');
  for (const member of ETCD_MEMBERS) {
    const file = path.join(etcdDir, `${member.name}.yml`);
    fs.writeFileSync(
      file,
      renderEtcdConfig({
        member,
        members: ETCD_MEMBERS,
        clientPort: PORTS.etcdClient,
        peerPort: PORTS.etcdPeer,
        dataDir: path.join(etcdDir, member.name),
        clusterToken: 'pgha-validate-test',
      }),
    );
    etcds.push(startProcess(member.name, '/usr/bin/etcd', { args: ['--config-file', file], inheritEnv: false, node: true }));
  }
  await Promise.all(etcds.map((etcd, i) => waitForPort(ADDRESSES[i], PORTS.etcdClient, { process: etcd, timeoutMs: 20_000 })));
  let lastHealth: CommandResult | undefined;
  await waitUntil(
    'etcd endpoint health on all 3 members',
    async () => {
      lastHealth = await runCommand('/usr/bin/etcdctl', { args: ['--endpoints', ETCD_ENDPOINTS, 'endpoint', 'health'], timeoutMs: 10_000, inheritEnv: false, node: true });
      return lastHealth.code === 0;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\netcdctl said: ${lastHealth?.stdout}${lastHealth?.stderr}\n${etcds.map((e) => `--- ${e.name} ---\n${e.logTail(10)}`).join('\n')}`);
  });

  nodeDir = makeTempDir('pgha-validate-patroni', { owner: POSTGRES.user });
}, 60_000);

afterAll(async () => {
  // One at a time: stopped all at once, a leader's shutdown waits ~7 s for a transfer to a member
  // that is itself stopping; one by one, all three are gone in 1-2 s (measured with etcd 3.5.16).
  for (const etcd of etcds) await stopProcess(etcd, 15_000);
  removeTempDir(etcdDir);
  removeTempDir(nodeDir);
}, 60_000);

/** One node's rendered patroni.yml; data dirs and sockets under the postgres-owned temp dir. */
function renderNode(index: number, specInput: Partial<PatroniClusterSpecInput> = {}, extra: Pick<PatroniConfigInput, 'archive' | 'restore'> = {}): string {
  const spec = validatePatroniClusterSpec({
    clusterName: 'pv',
    postgresPort: PORTS.postgres,
    restApiPort: PORTS.restApi,
    etcdClientPort: PORTS.etcdClient,
    etcdPeerPort: PORTS.etcdPeer,
    ...specInput,
  });
  const home = path.join(nodeDir!, `pv-${index + 1}`);
  if (!fs.existsSync(home)) {
    fs.mkdirSync(path.join(home, 'run'), { recursive: true });
    chownTo(home, POSTGRES.user);
  }
  return renderPatroniConfig({
    spec,
    nodeName: `pv-${index + 1}`,
    address: ADDRESSES[index],
    etcdHosts: ETCD_HOSTS,
    hbaCidrs: ['127.0.0.0/8'],
    dataDir: path.join(home, 'data'),
    socketDir: path.join(home, 'run'),
    binDir: BIN_DIR,
    ...extra,
  });
}

let fileCount = 0;

/** Runs `patroni --validate-config` as postgres, with the secret variables set as on a node. */
async function validate(text: string, env: Record<string, string> = SECRET_ENV): Promise<CommandResult> {
  const file = path.join(nodeDir!, `patroni-${++fileCount}.yml`);
  fs.writeFileSync(file, text, { mode: 0o600 });
  chownTo(file, POSTGRES.user);
  return runCommand('/usr/bin/patroni', { args: ['--validate-config', file], runAs: POSTGRES, env, inheritEnv: false, node: true, timeoutMs: 30_000 });
}

/** Edits a rendered config the way a YAML 1.1 reader (PyYAML) sees it, and writes it back. */
function edit(text: string, change: (config: Record<string, any>) => void): string {
  const config = parse(text, { version: '1.1' });
  change(config);
  return new Document(config, { version: '1.1' }).toString();
}

const outcome = (result: CommandResult) => ({ code: result.code, stderr: result.stderr });

describe('the programs checked are the node runtime root\'s', () => {
  test('Patroni 4 and a running etcd 3.5 cluster', async () => {
    const patroni = await runCommand('/usr/bin/patroni', { args: ['--version'], inheritEnv: false, node: true });
    expect(patroni.stdout.trim()).toMatch(/^patroni 4\.0\.\d+$/);

    const status = await runCommand('/usr/bin/etcdctl', { args: ['--endpoints', ETCD_ENDPOINTS, 'endpoint', 'status', '-w', 'json'], inheritEnv: false, node: true, timeoutMs: 10_000 });
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
    const members = JSON.parse(status.stdout) as { Endpoint: string; Status: { version: string } }[];
    expect(members.map((m) => m.Endpoint)).toEqual(ETCD_ENDPOINTS.split(','));
    for (const member of members) expect(member.Status.version).toMatch(/^3\.5\.\d+$/);
  });
});

describe('patroni --validate-config accepts the rendered config', () => {
  const cases = (['async', 'sync', 'sync-strict'] as const).flatMap((mode) => (['default', 'fast'] as const).map((profile) => [mode, profile] as const));

  test.each(cases)('on all 3 nodes in replication mode "%s" with the "%s" failover profile', async (replicationMode, failover) => {
    // GIVEN each node's patroni.yml for this mode and profile
    const texts = ADDRESSES.map((_, i) => renderNode(i, { replicationMode, failover }));

    // WHEN Patroni validates each one
    const results = await Promise.all(texts.map((text) => validate(text)));

    // THEN every node's config passes, silently
    expect(results.map(outcome)).toEqual(ADDRESSES.map(() => ({ code: 0, stderr: '' })));
  });

  test('with a pgBackRest archive (replicas from backups) and a point-in-time restore bootstrap', async () => {
    const text = renderNode(
      0,
      { archiveTimeoutSeconds: 30 },
      {
        archive: { stanza: 'pv', postBootstrapScript: '/usr/local/lib/pgha/pgha-stanza-create' },
        restore: {
          command: ['/usr/local/lib/pgha/pgha-bootstrap-restore'],
          recoveryConf: { restore_command: 'pgbackrest --stanza=old archive-get %f "%p"', recovery_target_time: '2026-11-20 14:30:00+00', recovery_target_action: 'promote' },
        },
      },
    );

    expect(outcome(await validate(text))).toEqual({ code: 0, stderr: '' });
  });

  test('with user parameters and several client networks', async () => {
    const text = renderNode(0, { postgresqlParameters: { work_mem: '16MB', jit: false, wal_level: 'logical' }, clientCidrs: ['10.0.0.0/16'] });

    expect(outcome(await validate(text))).toEqual({ code: 0, stderr: '' });
  });
});

describe('Patroni 4.0.7 reads the passwords from the environment', () => {
  test('each PATRONI_SECRET_VARIABLES entry fills its user password, and the usernames stay from the file', async () => {
    // GIVEN a rendered config with no passwords and the secret variables set
    const file = path.join(nodeDir!, 'patroni-env.yml');
    fs.writeFileSync(file, renderNode(0), { mode: 0o600 });
    chownTo(file, POSTGRES.user);
    const script = [
      'import json, sys',
      'from patroni.config import Config',
      'c = Config(sys.argv[1])',
      "print(json.dumps({'postgresql': c['postgresql']['authentication'], 'restapi': c['restapi']['authentication']}))",
    ].join('\n');

    // WHEN Patroni's own Config class loads it (what `patroni` does at start)
    const result = await runCommand('/usr/bin/python3', { args: ['-c', script, file], runAs: POSTGRES, env: SECRET_ENV, inheritEnv: false, node: true });

    // THEN each password is the variable's value
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      postgresql: {
        superuser: { username: 'postgres', password: SECRET_ENV.PATRONI_SUPERUSER_PASSWORD },
        replication: { username: 'replicator', password: SECRET_ENV.PATRONI_REPLICATION_PASSWORD },
        rewind: { username: 'rewinder', password: SECRET_ENV.PATRONI_REWIND_PASSWORD },
      },
      restapi: { username: 'patroni', password: SECRET_ENV.PATRONI_RESTAPI_PASSWORD },
    });
  });

  test('without PATRONI_RESTAPI_PASSWORD the validator refuses the config and Patroni stops at start (the REST API is never left open by accident)', async () => {
    const { PATRONI_RESTAPI_PASSWORD: _omitted, ...withoutRestApi } = SECRET_ENV;

    // Patroni 4.0.7's validator names the missing password (3.0.2 only crashed with a KeyError).
    const result = await validate(renderNode(0), withoutRestApi);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/restapi\.authentication\.password\s+is not defined/);

    // What a node does at start: Patroni builds its configuration (no validator) and stops there.
    const file = path.join(nodeDir!, 'patroni-no-restapi-password.yml');
    fs.writeFileSync(file, renderNode(0), { mode: 0o600 });
    chownTo(file, POSTGRES.user);
    const start = await runCommand('/usr/bin/patroni', { args: [file], runAs: POSTGRES, env: withoutRestApi, inheritEnv: false, node: true, timeoutMs: 30_000 });
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/KeyError: 'password'/);
    expect(fs.existsSync(path.join(nodeDir!, 'pv-1', 'data'))).toBe(false);
  });
});

describe('negative controls: the validator does reject bad configs', () => {
  test('fails when bootstrap.dcs.ttl is below 20 (Patroni 4 refuses it; 3.0.2 took any integer)', async () => {
    const text = edit(renderNode(0, { failover: 'fast' }), (config) => {
      config.bootstrap.dcs.ttl = 19;
    });

    const result = await validate(text);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bootstrap\.dcs\.ttl 19 didn't pass validation/);
  });

  test('accepts a config without bootstrap.pg_hba (optional in Patroni 4; 3.0.2 required it): postgresql.pg_hba is what a node gets', async () => {
    const text = edit(renderNode(0), (config) => delete config.bootstrap.pg_hba);

    const result = await validate(text);

    expect(outcome(result)).toEqual({ code: 0, stderr: '' });
  });

  test('fails when the rewind user is removed', async () => {
    const text = edit(renderNode(0), (config) => delete config.postgresql.authentication.rewind);

    const result = await validate(text);

    expect(result.code).toBe(1);
    // PATRONI_REWIND_PASSWORD is set, so Patroni has merged a rewind entry holding only the password
    expect(result.stderr).toMatch(/postgresql\.authentication\.rewind\.username\s+is not defined/);
  });

  test('takes watchdog.mode written unquoted (YAML 1.1 reads off as false) as off: Patroni 4 accepts false, 3.0.2 refused it', async () => {
    const rendered = renderNode(0);
    const text = rendered.replace('mode: "off"', 'mode: off');
    expect(text).not.toBe(rendered);

    expect(outcome(await validate(text))).toEqual({ code: 0, stderr: '' });

    // What Patroni makes of it: False, and the watchdog's mode off.
    const file = path.join(nodeDir!, 'patroni-watchdog-unquoted.yml');
    fs.writeFileSync(file, text, { mode: 0o600 });
    chownTo(file, POSTGRES.user);
    const script = [
      'import json, sys',
      'from patroni.config import Config',
      'from patroni.watchdog.base import parse_mode',
      'mode = Config(sys.argv[1])["watchdog"]["mode"]',
      'print(json.dumps([mode, parse_mode(mode)]))',
    ].join('\n');
    const result = await runCommand('/usr/bin/python3', { args: ['-c', script, file], runAs: POSTGRES, env: SECRET_ENV, inheritEnv: false, node: true });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual([false, 'off']);
  });

  test('fails when watchdog.mode is an unquoted on (YAML 1.1 reads it as true)', async () => {
    const text = renderNode(0).replace('mode: "off"', 'mode: on');

    const result = await validate(text);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/watchdog\.mode True didn't pass validation/);
  });

  test('fails when etcd is not reachable', async () => {
    const text = edit(renderNode(0), (config) => {
      config.etcd3.hosts = ADDRESSES.map((address) => `${address}:${PORTS.etcdClient + 50}`);
    });

    const result = await validate(text);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/etcd3\.hosts\.0 .* is not reachable/);
  });
});
