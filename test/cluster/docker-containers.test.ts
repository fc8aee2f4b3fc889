/**
 * The Docker platform's containers, run for real without a Docker engine (test/support/docker-simulation.ts):
 * the local-docker stack on a loopback subnet (127.72.0.0/24), without its archive (MinIO is an image
 * this machine cannot pull), each service and job container started with exactly its synthesized
 * command, environment, uploads and volumes, from the node runtime root (Debian 13: the image's
 * release, holding every package the image installs: PostgreSQL 17, Patroni 4, etcd 3.5, HAProxy
 * 3.0, the exporters, systemd's calendar parser), with that root's users. What it proves:
 * container-start gives the planned owners and drops to the plan's user, the node's containers
 * share PostgreSQL's socket and data through the volumes, the secrets passed as environment
 * variables work, the cluster forms, HAProxy routes, the health checks pass, the after-start job
 * runs from its schedule container, and `docker stop` stops every container within its stop timeout.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { App } from '../../src/cdktf';
import { LAYOUT, POSTGRES_MAJOR, POSTGRES_PACKAGE, postgresDataDir } from '../../src/model/layout';
import { DEBIAN_BASE_IMAGE, dockerImagePackages, dockerRuntimePackages } from '../../src/platform/docker/dockerfile';
import { nodeRootVersions } from '../../src/runner/node-root';
import { PATRONI_USERS } from '../../src/render/patroni-config';
import { clusterHealth, http, inRecovery } from '../../src/runner/cluster-checks';
import { LocalDockerStack } from '../../stacks/local-docker';
import { synthesize } from '../support/aws-stack';
import { DockerSimulation, simulateDockerStack, statInNamespace } from '../support/docker-simulation';
import { eventually } from '../support/local-cluster';
import { isAlive } from '../../src/runner/processes';
import { makeTempDir, ownerIdsInRoot, removeTempDir, requireBinaries, requireNodeBinaries, testNodeRoot, userIds } from '../support/processes';
import { collectRenderedNodes } from '../../src/platform/rendered-node';

const SUBNET = '127.72.0.0/24';
const PG = ['main-pg-1', 'main-pg-2', 'main-pg-3'];
const address = (host: number) => `127.72.0.${host}`;

describe('Docker platform containers, run without Docker', () => {
  requireBinaries(['/usr/bin/unshare', '/usr/bin/nsenter']);
  requireNodeBinaries([
    '/usr/bin/setpriv',
    '/usr/bin/patroni',
    '/usr/bin/etcd',
    '/usr/bin/etcdctl',
    '/usr/sbin/haproxy',
    '/usr/bin/prometheus-postgres-exporter',
    '/usr/bin/prometheus-node-exporter',
    '/usr/bin/python3',
    '/usr/bin/systemd-analyze',
  ]);
  const dir = makeTempDir('pgha-docker-sim');
  const app = new App({ outdir: dir });
  const stack = new LocalDockerStack(app, 'docker-sim', { archive: false, platform: { subnet: SUBNET, name: 'sim' } });
  const synth = synthesize(stack);
  const nodes = collectRenderedNodes(app);
  let sim: DockerSimulation | undefined;
  const superuser = () => ({ user: PATRONI_USERS.superuser, password: sim!.container('sim-main-pg-1-pgha-patroni').env.PATRONI_SUPERUSER_PASSWORD });

  afterAll(async () => {
    if (sim) await sim.stop();
    removeTempDir(dir);
  }, 120_000);

  test('THEN the node runtime root the containers run from is the image: Debian 13 as its base, and every package its Dockerfile installs', () => {
    const plans = nodes.map((n) => n.plan);
    const installed = [...dockerImagePackages(plans), ...dockerRuntimePackages(plans).map((extra) => extra.name)].sort();
    expect(installed).toEqual(expect.arrayContaining(['etcd-server', 'haproxy', 'patroni', POSTGRES_PACKAGE, 'python3-etcd', 'systemd']));
    const inRoot = Object.keys(nodeRootVersions(testNodeRoot()) ?? {});
    expect({ missingFromTheRoot: installed.filter((name) => !inRoot.includes(name)) }).toEqual({ missingFromTheRoot: [] });
    const release = readFileSync(join(testNodeRoot(), 'etc', 'debian_version'), 'utf8').trim();
    expect({ base: DEBIAN_BASE_IMAGE.replace(/^debian:(\d+)\..*$/, '$1'), root: release.split('.')[0] }).toEqual({ base: '13', root: '13' });
  });

  test('THEN the stack on a loopback subnet has the reference nodes, no archive, and the monitoring job', () => {
    expect(nodes.map((n) => [n.plan.name, n.plan.address])).toEqual([...PG, 'main-proxy-1', 'main-proxy-2'].map((name, i) => [name, address(10 + i)]));
    expect(JSON.stringify(synth.resource.docker_container)).not.toContain('minio');
    expect(nodes[0].plan.jobs?.map((j) => j.name)).toEqual(['pgha-monitoring-role']);
  });

  test('WHEN every service and job container starts THEN the cluster forms: a leader and 2 streaming replicas, one synchronous', async () => {
    sim = simulateDockerStack(synth, dir);
    expect(sim.containers).toHaveLength(3 * (4 + 1) + 2 * 2);
    const apis = PG.map((_, i) => `${address(10 + i)}:8008`);
    // A container that exits fails the test at once (a restart policy would only hide it).
    const outcome = await eventually('the Patroni cluster to be healthy', 120_000, async () => {
      const dead = sim!.containers.find((c) => c.process.hasExited());
      if (dead) return { dead, health: undefined };
      const state = await clusterHealth(apis, 1);
      return state.healthy ? { dead: undefined, health: state } : undefined;
    });
    if (outcome.dead) throw new Error(`container ${outcome.dead.name} exited:\n${outcome.dead.process.logTail(40)}`);
    const health = outcome.health!;
    expect(PG).toContain(health.leader);
    expect(health.streaming).toHaveLength(2);
    expect(health.synchronous).toHaveLength(1);
  }, 150_000);

  test("THEN each container's process is its plan's command, run as its plan's user and group, with no capability left", () => {
    let checked = 0;
    for (const { plan } of nodes) {
      for (const runnable of [...plan.services, ...(plan.jobs ?? [])]) {
        const container = sim!.container(`sim-${plan.name}-${runnable.name}`);
        const status = readFileSync(`/proc/${container.process.pid}/status`, 'utf8');
        // It runs from the node runtime root (chrooted there), as a container runs from its image.
        expect({ container: container.name, root: readlinkSync(`/proc/${container.process.pid}/root`) }).toEqual({ container: container.name, root: testNodeRoot() });
        const ids = userIds(runnable.user);
        const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)![1].split(/\s+/);
        expect({ container: container.name, uid: field('Uid'), gid: field('Gid')[0] }).toEqual({
          container: container.name,
          uid: [ids.uid, ids.uid, ids.uid, ids.uid].map(String),
          gid: String(ownerIdsInRoot(`${runnable.user}:${runnable.group}`).gid),
        });
        for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect({ container: container.name, cap, value: field(cap)[0] }).toEqual({ container: container.name, cap, value: '0000000000000000' });
        // The argv after container-start (a job's runs under bash, the runner's interpreter).
        const cmdline = readFileSync(`/proc/${container.process.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
        const argv = container.command.slice(container.command.indexOf('--') + 1);
        expect({ container: container.name, cmdline: cmdline.slice(-argv.length) }).toEqual({ container: container.name, cmdline: argv });
        checked++;
      }
    }
    expect(checked).toBe(3 * 5 + 2 * 2);
  });

  test('THEN inside a container every planned directory and file has its planned owner and mode (uploads arrive root-owned)', () => {
    for (const { plan } of nodes) {
      const pid = sim!.container(`sim-${plan.name}-${plan.services[0].name}`).process.pid;
      for (const entry of [...plan.directories, ...plan.files]) {
        expect({ node: plan.name, path: entry.path, ...statInNamespace(pid, entry.path) }).toEqual({ node: plan.name, path: entry.path, owner: entry.owner, mode: entry.mode });
      }
    }
  });

  test("THEN the node's containers share PostgreSQL's socket directory: the exporter's container sees Patroni's socket", () => {
    for (const name of PG) {
      const exporter = sim!.container(`sim-${name}-pgha-postgres-exporter`).process.pid;
      expect(statInNamespace(exporter, '/run/postgresql/.s.PGSQL.5432').owner).toBe('postgres:postgres');
    }
  });

  test('THEN the health checks pass: Patroni REST /health, etcdctl endpoint health, HAProxy /healthz', async () => {
    const checked = sim!.containers.filter((c) => c.healthcheck);
    expect(checked.map((c) => c.name).sort()).toEqual(
      [...PG.flatMap((n) => [`sim-${n}-pgha-etcd`, `sim-${n}-pgha-patroni`]), 'sim-main-proxy-1-pgha-haproxy', 'sim-main-proxy-2-pgha-haproxy'].sort(),
    );
    for (const container of checked) {
      const result = await sim!.healthcheck(container.name);
      expect({ container: container.name, code: result.code, stderr: result.stderr.slice(-400) }).toEqual({ container: container.name, code: 0, stderr: expect.any(String) });
    }
  });

  test('THEN HAProxy routes: the read-write port reaches the primary, the read-only port a replica', async () => {
    const proxy = address(13);
    expect(await inRecovery(proxy, 5000, superuser())).toBe(false);
    await eventually('the read-only port to reach a replica', 30_000, async () => (await inRecovery(proxy, 5001, superuser()).catch(() => false)) || undefined);
  }, 45_000);

  test('THEN the after-start job runs from its schedule container: the monitoring role exists and postgres_exporter logs in', async () => {
    const job = sim!.container('sim-main-pg-1-pgha-monitoring-role');
    await eventually('the monitoring-role job to run once (30 s after start)', 90_000, async () => /result=ok/.test(job.process.logTail(50)) || undefined);
    await eventually('postgres_exporter on main-pg-1 to report pg_up 1', 60_000, async () => {
      const answer = await http(`http://${address(10)}:9187/metrics`).catch(() => undefined);
      return answer && /^pg_up 1$/m.test(answer.body) ? true : undefined;
    });
  }, 160_000);

  test('WHEN docker stop THEN every container stops on SIGTERM within its stop timeout, and Patroni stops its PostgreSQL', async () => {
    // The data volume is mounted at the data mount: PostgreSQL 17's data directory is under it.
    const dataDir = postgresDataDir('main').slice(LAYOUT.dataMount.length);
    const postmasters = PG.map((name) => Number(readFileSync(`${dir}/volumes/sim-${name}-data${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]));
    for (const name of PG) expect({ name, version: readFileSync(`${dir}/volumes/sim-${name}-data${dataDir}/PG_VERSION`, 'utf8') }).toEqual({ name, version: `${POSTGRES_MAJOR}\n` });
    for (const pid of postmasters) expect(isAlive(pid)).toBe(true);
    const stopped = await sim!.stop();
    expect(stopped.filter((s) => s.killed)).toEqual([]);
    for (const pid of postmasters) expect(isAlive(pid)).toBe(false);
  }, 120_000);
});

