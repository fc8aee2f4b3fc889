/**
 * `watchdog: required`, as the AWS platform renders it, against the real Patroni 4.0.7 and etcd
 * 3.5.16 of the node runtime root: a node whose watchdog device cannot be opened never takes the
 * leader key (so a member that could not be reset when it stalls never leads), while the same
 * node with the watchdog off leads at once (the control). This machine has no watchdog device, and
 * none is ever opened here: opening /dev/watchdog would arm a reset of the machine.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LAYOUT } from '../../src/model/layout';
import { renderEtcdConfig } from '../../src/render/etcd-config';
import { PATRONI_SECRET_VARIABLES, renderPatroniConfig } from '../../src/render/patroni-config';
import { validatePatroniClusterSpec } from '../../src/spec/patroni-cluster';
import { chownTo, makeTempDir, removeTempDir, requireNodeBinaries, RunningProcess, sleep, startProcess, stopProcess, waitForPort, waitUntil } from '../support/processes';

const ADDRESS = '127.92.0.1';
const PORTS = { etcdClient: 2379, etcdPeer: 2380, postgres: 5432, restApi: 8008 } as const;
/** A device path that does not exist: Patroni cannot open a watchdog there. */
const NO_DEVICE = '/dev/pgha-test-no-watchdog';
const SECRET_ENV: Record<string, string> = Object.fromEntries(Object.entries(PATRONI_SECRET_VARIABLES).map(([variable, key]) => [variable, `test-only-${key.replace(/_/g, '-')}`]));

let dir: string | undefined;
let etcd: RunningProcess | undefined;
const patronis: RunningProcess[] = [];

beforeAll(async () => {
  requireNodeBinaries(['/usr/bin/etcd', '/usr/bin/patroni', `${LAYOUT.postgresBinDir}/postgres`]);
  expect(fs.existsSync(NO_DEVICE)).toBe(false);
  dir = makeTempDir('pgha-watchdog', { owner: 'postgres' });
  const config = path.join(dir, 'etcd.yml');
  const member = { name: 'wd-etcd', address: ADDRESS };
  fs.writeFileSync(config, renderEtcdConfig({ member, members: [member], clientPort: PORTS.etcdClient, peerPort: PORTS.etcdPeer, dataDir: path.join(dir, 'etcd'), clusterToken: 'pgha-watchdog-test' }));
  etcd = startProcess('etcd', '/usr/bin/etcd', { args: ['--config-file', config], inheritEnv: false, node: true });
  await waitForPort(ADDRESS, PORTS.etcdClient, { process: etcd, timeoutMs: 20_000 });
}, 60_000);

afterAll(async () => {
  for (const patroni of patronis) await stopProcess(patroni, 30_000);
  if (etcd) await stopProcess(etcd, 15_000);
  if (!process.env.PGHA_KEEP_DIR) removeTempDir(dir);
}, 90_000);

/** The cluster's leader key in etcd (Patroni's etcd3 layout: /service/<cluster>/leader), or undefined. */
async function leaderKey(cluster: string): Promise<string | undefined> {
  const key = Buffer.from(`/service/${cluster}/leader`).toString('base64');
  const response = await fetch(`http://${ADDRESS}:${PORTS.etcdClient}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key }), signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { kvs?: { value: string }[] };
  return body.kvs?.[0] ? Buffer.from(body.kvs[0].value, 'base64').toString() : undefined;
}

/** A one-node cluster's Patroni, its data under DIR/<cluster>, with the watchdog on NO_DEVICE or off. */
function startPatroni(cluster: string, watchdogDevice: string | undefined): RunningProcess {
  const home = path.join(dir!, cluster);
  fs.mkdirSync(path.join(home, 'run'), { recursive: true });
  chownTo(home, 'postgres');
  const spec = validatePatroniClusterSpec({ clusterName: cluster, nodeCount: 1, allowSingleNode: true, replicationMode: 'async', failover: 'fast', postgresPort: PORTS.postgres, restApiPort: PORTS.restApi, etcdClientPort: PORTS.etcdClient, etcdPeerPort: PORTS.etcdPeer });
  const file = path.join(home, 'patroni.yml');
  fs.writeFileSync(
    file,
    renderPatroniConfig({
      spec,
      nodeName: `${cluster}-1`,
      address: ADDRESS,
      etcdHosts: [`${ADDRESS}:${PORTS.etcdClient}`],
      hbaCidrs: ['127.0.0.0/8'],
      dataDir: path.join(home, 'data'),
      socketDir: path.join(home, 'run'),
      binDir: LAYOUT.postgresBinDir,
      watchdogDevice,
    }),
  );
  chownTo(file, 'postgres');
  const patroni = startProcess(`patroni-${cluster}`, '/usr/bin/patroni', { args: [file], runAs: { user: 'postgres' }, inheritEnv: false, env: SECRET_ENV, node: true });
  patronis.push(patroni);
  return patroni;
}

describe('Patroni 4.0.7 with watchdog: required', () => {
  test('GIVEN no usable watchdog device THEN the node never takes the leader key, and says why', async () => {
    const patroni = startPatroni('wdreq', NO_DEVICE);
    // Bootstrap runs initdb, then tries the watchdog before it would take the key: watch it long
    // enough for several HA loops (fast profile: loop_wait 2 s).
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline) {
      expect(await leaderKey('wdreq')).toBeUndefined();
      await sleep(500);
    }
    expect(patroni.logTail(400)).toMatch(/watchdog activation failed|Watchdog device is not usable/i);
    expect(await leaderKey('wdreq')).toBeUndefined();
  }, 90_000);

  test('GIVEN the same node with the watchdog off (the control) THEN it takes the leader key', async () => {
    const patroni = startPatroni('wdoff', undefined);
    await waitUntil('the leader key of wdoff', async () => (await leaderKey('wdoff')) === 'wdoff-1', { timeoutMs: 60_000, intervalMs: 500, process: patroni });
  }, 90_000);
});
