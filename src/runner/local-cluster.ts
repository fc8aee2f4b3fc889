import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Construct, RootConstruct } from 'constructs';
import { FrontendsDescription, PatroniClusterDescription, PrimaryWithReplicasDescription, StackDescription, describeStack } from '../constructs/stack-description';
import { NodePlacement } from '../model/placement';
import { POSTGRES_SERVICE, ROLE_AGENT_SERVICE } from '../node-plan/primary-with-replicas-plan';
import { ETCD_SERVICE } from '../node-plan/etcd-member';
import { HAPROXY_SERVICE, HAPROXY_STATS_USER } from '../node-plan/haproxy-plan';
import { LAYOUT, postgresDataDir } from '../model/layout';
import { PATRONI_SERVICE } from '../node-plan/patroni-cluster-plan';
import { HAPROXY_LISTENERS } from '../render/haproxy-config';
import { PATRONI_USERS } from '../render/patroni-config';
import { Credentials, clusterHealth, etcdHealthy, haproxyServers, http, inRecovery, patroniCluster, replicationRows, walReceiverStreaming } from './cluster-checks';
import { issueCertificate } from './certificates';
import { LocalPlatform, LocalPlatformDescription, LocalPlatformProps } from '../platform/local/local-platform';
import { SecretValues, generateSecrets, layOutNode, logPath, ownerIds, serviceEnvironment } from './node-directory';
import { JobResult, StartRequest, TrackedProcess, detachedPid, isAlive, killProcess, logTail, runJob, startProcess, stopProcess } from './processes';
import { LOCAL_S3_BUCKET, LocalArchiveStore, archiveSecretsPath } from '../platform/local/archive-store';
import { s3ServerAnswers, startLocalS3Server } from './s3-server';
import { NodeRuntime, ensureNodeRoot } from './node-root';

/**
 * Builds a topology on the local platform: clusters (PatroniCluster or PrimaryWithReplicas) and
 * HaproxyFrontends in front of at least one of them. What it returns is not used.
 */
export type TopologyBuilder = (scope: Construct, platform: LocalPlatform) => unknown;

export interface LocalUpOptions {
  readonly dir: string;
  /** Builds the topology here, in this process, on a LocalPlatform under `dir`. Give this or `stack`. */
  readonly build?: TopologyBuilder;
  /**
   * Or a stack synthesized on the local platform (its pgha.json, read back with readStackOutput):
   * what `pgha local up --stack` runs, the user's app having built it with stackPlatform().
   */
  readonly stack?: StackDescription;
  /** The local platform's settings, with `build`. */
  readonly platform?: LocalPlatformProps;
  /** One line per step reached. */
  readonly progress?: (line: string) => void;
  /** How long each step may take. @default 120000 */
  readonly stepTimeoutMs?: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** DIR/endpoints.json: how to reach the running cluster. */
export interface LocalEndpoints {
  readonly writer: HostPort;
  readonly reader: HostPort;
  /** PgBouncer's read-write and read-only pools, when the frontends have `pooling`. */
  readonly pooledWriter?: HostPort;
  readonly pooledReader?: HostPort;
  readonly members: { name: string; host: string; port: number; restApi: string }[];
  readonly etcd: string[];
  readonly superuser: { user: string; password: string };
  readonly pids: Record<string, number>;
}

/** DIR/state.json: what `down` and `status` need, written as processes start. */
interface LocalState {
  readonly processes: TrackedProcess[];
  /** How to run each node's scheduled jobs (`pgha local run-job`). */
  readonly jobs?: StartRequest[];
  readonly restApis: string[];
  readonly stats: { address: string; auth: string }[];
}

/** A step of `up` that failed: which, why, and the end of the log of the service concerned. */
export class LocalUpError extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
    readonly log?: { file: string; tail: string },
  ) {
    super(`pgha local up failed at "${step}": ${reason}${log ? `\n--- last lines of ${log.file} ---\n${log.tail}` : ''}`);
    this.name = 'LocalUpError';
  }
}

/** sun_path holds 108 bytes, the last one a NUL. */
const MAX_SOCKET_PATH = 107;
const statePath = (dir: string) => join(dir, 'state.json');
export const endpointsPath = (dir: string) => join(dir, 'endpoints.json');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function readState(dir: string): LocalState | undefined {
  return existsSync(statePath(dir)) ? (JSON.parse(readFileSync(statePath(dir), 'utf8')) as LocalState) : undefined;
}

/** 0600: the start requests hold the services' environments, passwords included. */
function writeState(dir: string, state: LocalState): void {
  writeJson(statePath(dir), state, 0o600);
}

function writeJson(path: string, value: unknown, mode = 0o644): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(path, mode);
}

/** Services run as other users: they must be able to reach their node directories. */
function checkReachable(dir: string): void {
  if (process.getuid?.() !== 0) return;
  for (let path = dirname(dir); path !== dirname(path); path = dirname(path)) {
    if ((statSync(path).mode & 0o001) === 0) {
      throw new LocalUpError('prepare directory', `${path} is not searchable by other users, so postgres and etcd cannot reach ${dir}; use a directory under /tmp or /var/tmp`);
    }
  }
}

/**
 * Builds the topology on the local platform under `dir` and starts it: etcd, then Patroni, then
 * HAProxy, each step waiting for health. Returns once the cluster is healthy and both proxy ports
 * route correctly. On failure it stops everything it started and throws a LocalUpError.
 */
export async function localUp(options: LocalUpOptions): Promise<LocalEndpoints> {
  const dir = resolve(options.dir);
  const progress = options.progress ?? (() => undefined);
  const timeout = options.stepTimeoutMs ?? 120_000;
  const previous = readState(dir);
  if (previous?.processes.some((p) => isAlive(p.pid))) {
    throw new LocalUpError('prepare directory', `a cluster from ${dir} is still running; run \`pgha local down --dir ${dir}\` first`);
  }

  const description = options.stack ?? buildHere(dir, options);
  const { platform, archiveStore, cluster, frontends } = localTopology(dir, description);
  const rendered = description.nodes;
  const longestSocket = Math.max(...rendered.map((n) => join(dir, 'nodes', n.plan.name, LAYOUT.postgresSocketDir, '.s.PGSQL.65535').length));
  if (longestSocket > MAX_SOCKET_PATH) {
    throw new LocalUpError('prepare directory', `${dir} is too long: PostgreSQL's socket path under it would be ${longestSocket} characters, over the ${MAX_SOCKET_PATH} a unix socket allows; use a shorter directory such as /tmp/pgha-local`);
  }
  if (process.getuid?.() !== 0) {
    throw new LocalUpError('prepare directory', 'the nodes run from the node runtime root (Debian 13) through unshare and chroot, which need root; run `pgha local up` as root (sudo)');
  }
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  checkReachable(dir);
  // The node programs run from the root, with the cluster's directory and its archive store bound in at their own paths.
  let runtimeRoot: string;
  try {
    runtimeRoot = ensureNodeRoot({ log: progress });
  } catch (error) {
    throw new LocalUpError('node runtime', (error as Error).message);
  }
  const runtime: NodeRuntime = { root: runtimeRoot, binds: [...new Set([dir, ...(platform.archives.length > 0 ? [archiveStore.dir] : [])])] };
  // A directory that ran a cluster before keeps its data: start it again with the same passwords.
  const secretsFile = join(dir, 'secrets.json');
  const secrets: SecretValues = { ...generateSecrets(platform.secrets), ...(existsSync(secretsFile) ? JSON.parse(readFileSync(secretsFile, 'utf8')) : {}) };
  // An archive's passphrase belongs to the archive: every cluster that uses the store reads it from there.
  if (platform.archives.length > 0) {
    // The services (postgres) reach the store through it: searchable, like the cluster's own directory.
    mkdirSync(archiveStore.dir, { recursive: true, mode: 0o755 });
    chmodSync(archiveStore.dir, 0o755);
    checkReachable(archiveStore.dir);
    const storeFile = archiveSecretsPath(archiveStore);
    const stored: SecretValues = existsSync(storeFile) ? JSON.parse(readFileSync(storeFile, 'utf8')) : {};
    for (const archive of platform.archives) stored[archive.secretName] ??= secrets[archive.secretName];
    writeJson(storeFile, stored, 0o600);
    for (const archive of platform.archives) secrets[archive.secretName] = stored[archive.secretName];
  }
  for (const request of platform.certificates) {
    secrets[`${request.name}/tls`] ??= issueCertificate({
      caName: `${request.name} CA`,
      commonName: request.commonName,
      dnsNames: request.nodes.flatMap((node) => [node.address, node.name]),
      ipAddresses: request.nodes.map((node) => node.address),
    });
  }
  writeJson(secretsFile, secrets, 0o600);
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o755 });
  const nodes = rendered.map((node) => layOutNode(node, join(dir, 'nodes', node.plan.name), secrets, runtimeRoot));

  const superuser: Credentials = { user: PATRONI_USERS.superuser, password: secrets[cluster.secret].superuser_password };
  const statsOf = (each: FrontendsDescription) => {
    const auth = `${HAPROXY_STATS_USER}:${secrets[each.secret].stats_password}`;
    return each.proxies.map((p) => ({ address: `${p.address}:${each.statsPort}`, auth }));
  };
  const clusterOfNode = new Map(description.clusters.flatMap((c) => c.members.map((m) => [m.name, c.clusterName] as const)));
  const state: LocalState = {
    processes: [],
    restApis: [...cluster.healthApis],
    stats: statsOf(frontends),
    jobs: nodes.flatMap((node) =>
      (node.plan.jobs ?? []).map((job) => ({
        node: node.name,
        service: job.name,
        argv: job.command.map(node.localPath),
        user: job.user,
        group: job.group,
        env: serviceEnvironment(node, { ...job, description: job.description }, job.user === 'postgres' ? '/var/lib/postgresql' : node.root),
        log: logPath(dir, node.name, job.name),
        cwd: node.root,
        runtime,
      })),
    ),
  };
  writeState(dir, state);

  const start = (serviceName: string) => {
    for (const node of nodes) {
      const service = node.plan.services.find((s) => s.name === serviceName);
      if (!service) continue;
      const home = service.user === 'postgres' ? '/var/lib/postgresql' : node.root;
      state.processes.push(
        startProcess({
          node: node.name,
          service: service.name,
          argv: service.command.map(node.localPath),
          user: service.user,
          group: service.group,
          env: serviceEnvironment(node, service, home),
          log: logPath(dir, node.name, service.name),
          cwd: node.root,
          detachedPidFile: service.name === PATRONI_SERVICE ? node.localPath(`${postgresDataDir(clusterOfNode.get(node.name) ?? cluster.clusterName)}/postmaster.pid`) : undefined,
          runtime,
          stopSignal: service.stopSignal,
        }),
      );
      writeState(dir, state);
    }
  };
  /**
   * Polls `check` until it returns a value. Fails the step at once when a process of `service`
   * has exited, or with `reason()` when time runs out, quoting the service's log either way.
   */
  const waitForStep = async <T>(step: string, service: string, check: () => Promise<T | undefined>, reason: () => string): Promise<T> => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await check().catch(() => undefined);
      if (value !== undefined) return value;
      const tracked = state.processes.filter((p) => p.service === service);
      const exited = tracked.find((p) => !isAlive(p.pid));
      if (exited) {
        throw new LocalUpError(step, `${exited.node}/${service} exited`, { file: exited.log, tail: logTail(exited.log) });
      }
      if (Date.now() > deadline) {
        const log = tracked[0]?.log;
        throw new LocalUpError(step, `${reason()} after ${Math.round(timeout / 1000)} s`, log ? { file: log, tail: logTail(log) } : undefined);
      }
      await sleep(500);
    }
  };

  // The nodes' services but `core` (exporters, agents, pgBouncer, pgBackRest's TLS server): running a second later counts as started.
  const startOthers = async (core: readonly string[]) => {
    const others = [...new Set(nodes.flatMap((node) => node.plan.services.map((service) => service.name)))].filter((name) => !core.includes(name));
    for (const name of others) start(name);
    if (others.length === 0) return;
    await sleep(1_000);
    const exited = state.processes.find((p) => others.includes(p.service) && !isAlive(p.pid));
    if (exited) throw new LocalUpError('services', `${exited.node}/${exited.service} exited`, { file: exited.log, tail: logTail(exited.log) });
    progress(`started: ${others.join(', ')}`);
  };

  // Jobs that systemd also runs right after boot (setup such as the monitoring role): run them once now.
  const runStartJobs = async () => {
    const startJobs = (state.jobs ?? []).filter((request) => nodes.some((node) => node.name === request.node && node.plan.jobs?.some((job) => job.name === request.service && job.afterStart)));
    for (const request of startJobs) {
      const result = await runJob(request, timeout);
      if (result.exitCode !== 0) throw new LocalUpError('jobs after start', `${request.node}/${request.service} exited ${result.exitCode}`, { file: request.log, tail: logTail(request.log) });
    }
    if (startJobs.length > 0) progress(`ran after start: ${[...new Set(startJobs.map((request) => request.service))].join(', ')}`);
  };

  try {
    if (platform.archives.length > 0) {
      await prepareArchiveStore(archiveStore, platform.archives.map((a) => a.path), state, runtimeRoot);
      writeState(dir, state);
      progress(`archive: ${platform.archives.map((a) => a.description).join(', ')}`);
    }
    // Every cluster built, the proxies' first: others in the topology (the subscriber of a
    // publication, say) start alongside and must be up before the jobs run.
    const clusters = [cluster, ...description.clusters.filter((c) => c !== cluster)];
    const patroniClusters = clusters.filter((c): c is PatroniClusterDescription => c.kind === 'patroni');
    const plainClusters = clusters.filter((c): c is PrimaryWithReplicasDescription => c.kind === 'primary-with-replicas');
    const etcdEndpoints = cluster.kind === 'patroni' ? cluster.etcdEndpoints : [];
    if (patroniClusters.length > 0) {
      const allEtcd = patroniClusters.flatMap((c) => c.etcdEndpoints);
      start(ETCD_SERVICE);
      await waitForStep(
        'etcd up',
        ETCD_SERVICE,
        async () => ((await Promise.all(allEtcd.map(etcdHealthy))).every(Boolean) ? true : undefined),
        () => `etcd members ${allEtcd.join(', ')} are not all healthy`,
      );
      progress(`etcd up: ${allEtcd.length} member(s)`);
    }

    // The rest of the nodes' services (pgBackRest's TLS server, role agents, exporters) before
    // PostgreSQL: Patroni's bootstrap may need them. Running a second later counts as started.
    await startOthers([ETCD_SERVICE, PATRONI_SERVICE, POSTGRES_SERVICE, HAPROXY_SERVICE]);

    // Without a DCS each node's start script initialises the primary, or copies its upstream onto
    // a standby (retrying until it answers), then runs postgres; with one, Patroni does.
    start(POSTGRES_SERVICE);
    start(PATRONI_SERVICE);
    for (const each of plainClusters) {
      const credentials: Credentials = { user: PATRONI_USERS.superuser, password: secrets[each.secret].superuser_password };
      const member = (name: string) => each.members.find((m) => m.name === name) as NodePlacement;
      const primary = member(each.primary);
      const standbys = each.standbys.map((s) => member(s.name));
      // Each upstream (the primary, or a standby with cascading ones) and the standbys streaming from it.
      const upstreams = [...new Set(each.standbys.map((s) => s.upstream))].map((upstream) => ({
        upstream: member(upstream),
        slots: each.standbys.filter((s) => s.upstream === upstream).map((s) => s.slot),
      }));
      const expectedSync = each.spec.replicationMode === 'async' ? 0 : each.spec.synchronousCount;
      await waitForStep(
        `standbys of ${each.clusterName} streaming`,
        POSTGRES_SERVICE,
        async () => {
          for (const { upstream, slots } of upstreams) {
            const rows = await replicationRows(upstream.address, each.spec.postgresPort, credentials);
            const streaming = rows.filter((r) => r.state === 'streaming' && slots.includes(r.application_name));
            const synchronous = streaming.filter((r) => r.sync_state === 'sync' || r.sync_state === 'quorum');
            if (streaming.length < slots.length || (upstream === primary && synchronous.length < expectedSync)) return undefined;
          }
          const receiving = await Promise.all(standbys.map((m) => walReceiverStreaming(m.address, each.spec.postgresPort, credentials).catch(() => false)));
          return receiving.every(Boolean) ? true : undefined;
        },
        () =>
          `not every standby streams from its upstream (${upstreams.map(({ upstream, slots }) => `${slots.join(', ')} from ${upstream.name}`).join('; ')})${expectedSync ? `, ${expectedSync} synchronous` : ''}`,
      );
      progress(`primary ${primary.name} up; standbys streaming: ${each.standbys.map((s) => (s.upstream === primary.name ? s.name : `${s.name} (from ${s.upstream})`)).join(', ')}`);
    }
    for (const each of patroniClusters) {
      const restApis = each.healthApis;
      const expectedSync = each.spec.replicationMode === 'async' ? 0 : Math.min(each.spec.synchronousNodeCount, each.members.length - 1);
      let last = '';
      const health = await waitForStep(
        `cluster ${each.clusterName} healthy`,
        PATRONI_SERVICE,
        async () => {
          const now = await clusterHealth(restApis, expectedSync);
          if (now.leader && !last) progress(`leader elected: ${now.leader}`);
          last = now.leader ?? last;
          return now.healthy ? now : undefined;
        },
        () => (last ? `leader ${last}, but not every replica is streaming or synchronous` : 'no leader was elected'),
      );
      progress(`replicas streaming: ${health.streaming.join(', ') || 'none'}${expectedSync ? `; synchronous: ${health.synchronous.join(', ')}` : ''}`);
    }
    await runStartJobs();

    start(HAPROXY_SERVICE);
    const replicas = cluster.members.length - 1;
    for (const stats of state.stats) {
      await waitForStep(
        'proxies routing',
        HAPROXY_SERVICE,
        async () => {
          const rw = Object.values(await haproxyServers(stats.address, stats.auth, HAPROXY_LISTENERS.readWrite));
          const ro = Object.values(await haproxyServers(stats.address, stats.auth, HAPROXY_LISTENERS.readOnly));
          return rw.filter((s) => s === 'UP').length === 1 && ro.filter((s) => s === 'UP').length === replicas ? true : undefined;
        },
        () => `HAProxy at ${stats.address} does not show 1 primary and ${replicas} replica(s) up`,
      );
    }
    for (const proxy of frontends.proxies) {
      const writerIsPrimary = !(await inRecovery(proxy.address, frontends.readWritePort, superuser));
      const readerIsReplica = replicas === 0 || (await inRecovery(proxy.address, frontends.readOnlyPort, superuser));
      if (!writerIsPrimary || !readerIsReplica) {
        throw new LocalUpError('proxies routing', `through ${proxy.name} the read-write port reached a ${writerIsPrimary ? 'primary' : 'replica'} and the read-only port a ${readerIsReplica ? 'replica' : 'primary'}`);
      }
    }
    progress(`proxies routing: ${frontends.proxies.map((p) => p.address).join(', ')} (rw ${frontends.readWritePort}, ro ${frontends.readOnlyPort})`);

    const endpoints: LocalEndpoints = {
      writer: { host: frontends.proxies[0].address, port: frontends.readWritePort },
      reader: { host: frontends.proxies[0].address, port: frontends.readOnlyPort },
      ...(frontends.pooling
        ? {
            pooledWriter: { host: frontends.proxies[0].address, port: frontends.pooling.readWritePort },
            pooledReader: { host: frontends.proxies[0].address, port: frontends.pooling.readOnlyPort },
          }
        : {}),
      members: cluster.members.map((m, index) => ({ name: m.name, host: m.address, port: cluster.spec.postgresPort, restApi: cluster.healthApis[index] })),
      etcd: [...etcdEndpoints],
      superuser: { user: superuser.user, password: superuser.password },
      pids: Object.fromEntries(state.processes.map((p) => [`${p.node}/${p.service}`, p.pid])),
    };
    writeJson(endpointsPath(dir), endpoints, 0o600);
    return endpoints;
  } catch (error) {
    await stopAll(state.processes, state.restApis);
    if (error instanceof LocalUpError) throw error;
    throw new LocalUpError('start', (error as Error).message);
  }
}

/** Builds the topology in this process, on a LocalPlatform whose nodes and archive live under `dir`. */
function buildHere(dir: string, options: LocalUpOptions): StackDescription {
  if (!options.build) throw new LocalUpError('prepare directory', 'nothing to run: give `build` (a topology to build here) or `stack` (a synthesized one)');
  const root = new RootConstruct('local');
  const archiveStore: LocalArchiveStore = options.platform?.archiveStore ?? { type: 'posix', dir: join(dir, 'archive') };
  const platform = new LocalPlatform(root, 'Platform', { ...options.platform, archiveStore, nodesDir: join(dir, 'nodes') });
  options.build(root, platform);
  return describeStack(root);
}

/**
 * The local platform of a described stack and the cluster to serve: the one its first
 * HaproxyFrontends route to. Refuses a stack built for another platform, or for another directory.
 */
function localTopology(dir: string, description: StackDescription) {
  const platforms = description.platforms;
  const platform = platforms.find((p): p is LocalPlatformDescription => p.kind === 'local');
  if (!platform || platforms.length > 1) {
    throw new LocalUpError(
      'prepare directory',
      `the stack is built on ${platforms.map((p) => `the ${p.kind} platform`).join(' and ') || 'no platform'}; expected the local platform alone. ` +
        'Fix: create its platform with stackPlatform(this, () => new AwsPlatform(...)), which `pgha local up` turns into a LocalPlatform',
    );
  }
  if (platform.nodesDir !== join(dir, 'nodes')) {
    throw new LocalUpError('prepare directory', `the stack was built for nodes under ${platform.nodesDir ?? '(no directory)'}, not ${join(dir, 'nodes')}: its configs name those paths. Build it again for ${dir}`);
  }
  const frontends = description.frontends[0];
  const cluster = description.clusters.find((c) => c.clusterName === frontends?.cluster);
  if (!frontends || !cluster) {
    throw new LocalUpError('prepare directory', 'the stack has no HaproxyFrontends in front of a cluster; expected one (its writer and reader are what `up` waits for and reports). Fix: add new HaproxyFrontends(scope, id, { platform, cluster })');
  }
  // A platform without a store has no archives (it refuses them): the default is never used then.
  const archiveStore: LocalArchiveStore = platform.archiveStore ?? { type: 'posix', dir: join(dir, 'archive') };
  return { platform, archiveStore, cluster, frontends };
}

/**
 * Makes the archives' storage ready: each repository directory owned by postgres, or the local
 * S3 server running (started here, and stopped with the cluster, unless one already answers).
 */
async function prepareArchiveStore(store: LocalArchiveStore, repositoryPaths: readonly string[], state: LocalState, runtimeRoot: string): Promise<void> {
  if (store.type === 'posix') {
    const postgres = ownerIds('postgres:postgres', runtimeRoot);
    for (const path of repositoryPaths) {
      mkdirSync(path, { recursive: true, mode: 0o755 });
      if (postgres) chownSync(path, postgres.uid, postgres.gid);
      chmodSync(path, 0o750);
    }
    return;
  }
  if (await s3ServerAnswers(store.port)) return;
  const server = await startLocalS3Server({ dir: store.dir, port: store.port, bucket: LOCAL_S3_BUCKET });
  state.processes.push(server.process);
}

/** A scheduled job of a node, run now (as its timer would), with optional extra environment for drills. */
export async function localRunJob(dir: string, node: string, job: string, options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<JobResult> {
  const state = readState(resolve(dir));
  if (!state) throw new Error(`${dir} holds no local cluster (no state.json)`);
  const request = (state.jobs ?? []).find((j) => j.node === node && j.service === job);
  if (!request) {
    const known = (state.jobs ?? []).filter((j) => j.node === node).map((j) => j.service);
    throw new Error(`no job ${job} on node ${node} in ${dir}; its jobs: ${known.join(', ') || 'none'}`);
  }
  return runJob(request, options.timeoutMs ?? 600_000, options.env);
}

export interface StopReport {
  readonly stopped: string[];
  readonly killed: string[];
  /** Processes still alive afterwards (should be none). */
  readonly leftBehind: number[];
}

/** The current leader's name, when a Patroni REST API answers. */
async function currentLeader(restApis: readonly string[]): Promise<string | undefined> {
  for (const api of restApis) {
    const members = await patroniCluster(api).catch(() => undefined);
    if (members) return members.find((m) => m.role === 'leader')?.name;
  }
  return undefined;
}

/**
 * Stops proxies, then Patroni (and its postgres), then etcd: each SIGTERM first, SIGKILL when
 * late. Replicas stop before the leader: a primary shutting down waits for its standbys to take
 * its last WAL, and a leader that left first would hand its role to a replica on its way out.
 */
async function stopAll(processes: readonly TrackedProcess[], restApis: readonly string[]): Promise<StopReport> {
  const stopped: string[] = [];
  const killed: string[] = [];
  const stopBatch = async (batch: readonly TrackedProcess[], graceMs: number) => {
    const results = await Promise.all(batch.map((p) => stopProcess(p, graceMs)));
    batch.forEach((p, i) => (results[i] === 'killed' ? killed : stopped).push(`${p.node}/${p.service}`));
  };
  await stopBatch(processes.filter((p) => p.service === HAPROXY_SERVICE), 10_000);
  const leader = await currentLeader(restApis);
  const patroni = processes.filter((p) => p.service === PATRONI_SERVICE);
  await stopBatch(patroni.filter((p) => p.node !== leader), 30_000);
  await stopBatch(patroni.filter((p) => p.node === leader), 30_000);
  // A primary with standbys (no Patroni): postgres itself, smart shutdown on SIGTERM.
  await stopBatch(processes.filter((p) => p.service === POSTGRES_SERVICE), 30_000);
  // etcd one member at a time: stopped all at once, a leader waits seconds to hand over to a
  // member that is stopping too (measured ~7 s against ~0.1 s each).
  for (const p of processes.filter((p) => p.service === ETCD_SERVICE)) await stopBatch([p], 10_000);
  // Last, what serves the cluster from outside it: the local S3 server of its archive.
  await stopBatch(processes.filter((p) => ![HAPROXY_SERVICE, PATRONI_SERVICE, POSTGRES_SERVICE, ETCD_SERVICE].includes(p.service)), 10_000);
  const leftBehind = processes.flatMap((p) => [p.pid, detachedPid(p.detachedPidFile) ?? 0]).filter((pid) => pid > 0 && isAlive(pid));
  return { stopped, killed, leftBehind };
}

/** `pgha local down`: stops everything `up` started from `dir`. */
export async function localDown(dir: string): Promise<StopReport> {
  const state = readState(resolve(dir));
  if (!state) throw new Error(`${dir} holds no local cluster (no state.json)`);
  return stopAll(state.processes, state.restApis);
}

function trackedService(dir: string, node: string, service: string): { state: LocalState; index: number } {
  const state = readState(resolve(dir));
  if (!state) throw new Error(`${dir} holds no local cluster (no state.json)`);
  const index = state.processes.findIndex((p) => p.node === node && p.service === service);
  if (index < 0) throw new Error(`no service ${service} on node ${node} in ${dir}`);
  return { state, index };
}

/** The running PIDs of a node's service: the program's own, and the child it detached (Patroni's postgres). */
export function localServicePids(dir: string, node: string, service: string): { main?: number; detached?: number } {
  const { state, index } = trackedService(dir, node, service);
  const tracked = state.processes[index];
  return { main: isAlive(tracked.pid) ? tracked.pid : undefined, detached: detachedPid(tracked.detachedPidFile) };
}

/** Kills a node's service at once (SIGKILL), with what it detached: Patroni's postgres. For failure drills. */
export function localKillService(dir: string, node: string, service: string): number[] {
  const { state, index } = trackedService(dir, node, service);
  const tracked = state.processes[index];
  const pids = [tracked.pid, detachedPid(tracked.detachedPidFile) ?? 0].filter((pid) => pid > 0);
  killProcess(tracked);
  return pids;
}

/** Stops a node's service cleanly (SIGTERM, SIGKILL after `graceMs`). */
export async function localStopService(dir: string, node: string, service: string, graceMs = 30_000): Promise<string> {
  const { state, index } = trackedService(dir, node, service);
  return stopProcess(state.processes[index], graceMs);
}

/** Starts a node's service again, as `up` did, and records its new PID. */
export function localStartService(dir: string, node: string, service: string): number {
  const { state, index } = trackedService(dir, node, service);
  const tracked = state.processes[index];
  if (isAlive(tracked.pid)) throw new Error(`${node}/${service} is still running (pid ${tracked.pid})`);
  const restarted = startProcess(tracked.request);
  state.processes[index] = restarted;
  writeState(resolve(dir), state);
  return restarted.pid;
}

/** `pgha local status`: each member's role, state, timeline and lag, and whether its processes run. */
export async function localStatus(dir: string): Promise<string> {
  const state = readState(resolve(dir));
  if (!state) throw new Error(`${dir} holds no local cluster (no state.json)`);
  const lines = [`${'member'.padEnd(14)}${'host'.padEnd(16)}${'role'.padEnd(14)}${'state'.padEnd(12)}${'timeline'.padEnd(10)}lag (bytes)`];
  let members;
  for (const api of state.restApis) {
    members = await patroniCluster(api).catch(() => undefined);
    if (members) break;
  }
  for (const m of members ?? []) {
    lines.push(`${m.name.padEnd(14)}${m.host.padEnd(16)}${m.role.padEnd(14)}${m.state.padEnd(12)}${String(m.timeline ?? '').padEnd(10)}${m.role === 'leader' ? '' : String(m.lag ?? '')}`);
  }
  if (!members) {
    // A primary with standbys: its role agents answer GET /health with the node's role and lag.
    const agents = await Promise.all(
      state.restApis.map(async (api) => {
        const answer = await http(`http://${api}/health`).catch(() => undefined);
        try {
          return { api, body: answer ? (JSON.parse(answer.body) as { role?: string; state?: string; lag_bytes?: number | null; wal_receiver?: string | null }) : undefined };
        } catch {
          return { api, body: undefined };
        }
      }),
    );
    if (agents.some((a) => a.body)) {
      for (const { api, body } of agents) {
        const node = state.processes.find((p) => p.service === ROLE_AGENT_SERVICE && p.request.argv.includes(api))?.node ?? api;
        lines.push(`${node.padEnd(14)}${api.split(':')[0].padEnd(16)}${(body?.role ?? '-').padEnd(14)}${(body?.state ?? 'no answer').padEnd(12)}${'-'.padEnd(10)}${body?.lag_bytes ?? ''}`);
      }
    } else {
      lines.push('(no Patroni REST API or role agent answers)');
    }
  }
  lines.push('', 'processes:');
  for (const p of state.processes) lines.push(`  ${`${p.node}/${p.service}`.padEnd(30)} pid ${String(p.pid).padEnd(8)} ${isAlive(p.pid) ? 'running' : 'stopped'}`);
  return `${lines.join('\n')}\n`;
}
