/**
 * The Docker platform runs what the local platform runs (and the local-cluster tests run that for
 * real): the same reference topology, with archive, backups and monitoring, on both. For every node,
 * each service's and job's container runs the command the local platform starts, as the same user
 * and group, with the same environment names (and values, secrets apart), and carries every file the
 * local node directory holds, with the same content and mode. Allowed differences: addresses,
 * networks and paths (the local platform moves a node's paths under its directory), and where the
 * repository is (pgbackrest.conf's repo1 location lines: MinIO in a container, or the local S3 server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootConstruct } from 'constructs';
import { App } from '../../../src/cdktf';
import { CONTAINER_START_PATH } from '../../../src/platform/docker/container-start';
import { JOB_RUNNER_PATH, jobRunnerCommand } from '../../../src/platform/docker/job-runner';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { LocalNode, generateSecrets, layOutNode, serviceEnvironment } from '../../../src/runner/node-directory';
import { NodeJob } from '../../../src/model/node-plan';
import { RenderedNode } from '../../../src/platform/rendered-node';
import { withReferenceDefaults } from '../../../stacks/aws-ha';
import { haTopology } from '../../../stacks/ha-topology';
import { LocalDockerStack } from '../../../stacks/local-docker';
import { synthesize } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

type Resource = Record<string, unknown>;
type Upload = { file: string; content: string; permissions: string };

/** Both stacks get the same client networks: they are not platform addresses, so they must match as they are. */
const CLIENTS = ['10.99.0.0/16'];
const PGBACKREST_CONFIG = '/etc/pgbackrest/pgbackrest.conf';
const REPO_LOCATION = /^repo1-(type|path|s3-[a-z-]+|storage-[a-z-]+)=/;
/** What systemd (and so the local platform) adds to every unit's environment; container-start sets HOME, USER and LOGNAME itself. */
const SYSTEMD_ENVIRONMENT = ['PATH', 'LANG', 'HOME', 'USER'];

/** Node addresses become node names; the network becomes <subnet>; the node directory is cut out. */
function normalizer(nodes: readonly RenderedNode[], network: string, root = ''): (text: string) => string {
  const byLength = [...nodes].sort((a, b) => b.plan.address.length - a.plan.address.length);
  return (text) => {
    let result = root ? text.split(root).join('') : text;
    result = result.split(network).join('<subnet>').split('172.28.0.254').join('<archive-main>');
    for (const node of byLength) result = result.split(node.plan.address).join(`<${node.plan.name}>`);
    return result;
  };
}

/** pgbackrest.conf without its repo1 location lines (each run of them one placeholder), and those lines. */
function splitLocation(text: string): { location: string[]; rest: string } {
  const lines = text.split('\n');
  return {
    location: lines.filter((line) => REPO_LOCATION.test(line)),
    rest: lines
      .map((line) => (REPO_LOCATION.test(line) ? '<repo1 location>' : line))
      .filter((line, index, all) => !(line === '<repo1 location>' && all[index - 1] === '<repo1 location>'))
      .join('\n'),
  };
}

/** The MinIO container of the archive, at the top of the Docker subnet, with its own bucket. */
const DOCKER_LOCATION = [
  'repo1-path=/pgbackrest',
  'repo1-s3-bucket=main-archive',
  'repo1-s3-endpoint=<archive-main>',
  'repo1-s3-region=us-east-1',
  'repo1-s3-uri-style=path',
  'repo1-storage-ca-file=/etc/pgbackrest/archive-main-ca.crt',
  'repo1-storage-port=9000',
  'repo1-type=s3',
];

const unescape = (text: string) => text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');

describe('Docker platform against the local platform', () => {
  let dir: string;
  let docker: RenderedNode[];
  let containers: Map<string, Resource>;
  let local: LocalNode[];
  let localRendered: RenderedNode[];
  const dockerNetwork = '172.28.0.0/24';
  let localNetwork: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-docker-vs-local-'));
    const app = new App({ outdir: dir });
    const stack = new LocalDockerStack(app, 'local-docker', { clientCidrs: CLIENTS });
    docker = collectRenderedNodes(app);
    const synth = synthesize(stack);
    containers = new Map(Object.values(synth.resource.docker_container as Record<string, Resource>).map((c) => [String(c.name), c]));

    const root = new RootConstruct('local');
    // One pseudo-subnet, as the Docker network is one; an S3 store, as MinIO is S3. Nothing is started.
    const platform = new LocalPlatform(root, 'Platform', { addressBlock: 96, subnets: 1, archiveStore: { type: 's3', dir: join(dir, 'store'), port: 9000 } });
    // One zone, as on one Docker host (where zones are unknown, so nothing is checked): the opt-ins change no rendered file.
    haTopology(root, platform, { ...withReferenceDefaults({}), cluster: { allowSingleAvailabilityZone: true }, frontends: { allowSingleProxy: true }, clientCidrs: CLIENTS });
    localRendered = collectRenderedNodes(root);
    localNetwork = platform.placeNodes('probe', 1)[0].network;
    const secrets = generateSecrets(platform.secrets);
    local = localRendered.map((node) => layOutNode(node, join(dir, 'nodes', node.plan.name), secrets));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('THEN the same nodes, with the same services and jobs', () => {
    expect(docker.map((n) => n.plan.name)).toEqual(local.map((n) => n.name));
    expect(docker.map((n) => n.plan.services.map((s) => s.name))).toEqual(local.map((n) => n.plan.services.map((s) => s.name)));
    expect(docker.map((n) => (n.plan.jobs ?? []).map((j) => j.name))).toEqual(local.map((n) => (n.plan.jobs ?? []).map((j) => j.name)));
    // Every local node in the one pseudo-subnet, every Docker node in the network.
    expect(local.map((n) => `${n.address.split('.').slice(0, 3).join('.')}.0/24`)).toEqual(local.map(() => localNetwork));
    expect(docker.map((n) => `${n.plan.address.split('.').slice(0, 3).join('.')}.0/24`)).toEqual(docker.map(() => dockerNetwork));
  });

  test('THEN every service and job container runs the local command, as the same user and group, with the same environment', () => {
    let compared = 0;
    for (const node of local) {
      const dockerText = normalizer(docker, dockerNetwork);
      const localText = normalizer(localRendered, localNetwork, node.root);
      const runnables = [
        ...node.plan.services.map((service) => ({ name: service.name, user: service.user, group: service.group, command: service.command, env: serviceEnvironment(node, service, '/'), job: undefined as NodeJob | undefined })),
        ...(node.plan.jobs ?? []).map((job) => ({ name: job.name, user: job.user, group: job.group, command: job.command, env: serviceEnvironment(node, { ...job }, '/'), job: job as NodeJob | undefined })),
      ];
      for (const runnable of runnables) {
        const container = containers.get(`pgha-${node.name}-${runnable.name}`)!;
        expect(container).toBeDefined();
        const command = container.command as string[];
        // container-start USER GROUP -- argv; a job's argv is the runner's, whose own argv ends with the job's command.
        expect(command.slice(0, 4)).toEqual([CONTAINER_START_PATH, runnable.user, runnable.group, '--']);
        let argv = command.slice(4);
        if (runnable.job) {
          expect(argv.slice(0, argv.indexOf('--') + 1)).toEqual(jobRunnerCommand(runnable.job).slice(0, 6));
          expect(argv[0]).toBe(JOB_RUNNER_PATH);
          argv = argv.slice(argv.indexOf('--') + 1);
        }
        expect({ name: runnable.name, argv: argv.map(dockerText) }).toEqual({ name: runnable.name, argv: runnable.command.map(node.localPath).map(localText) });

        const dockerEnv = Object.fromEntries(((container.env as string[] | undefined) ?? []).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
        const localEnv = Object.fromEntries(Object.entries(runnable.env).filter(([name]) => !SYSTEMD_ENVIRONMENT.includes(name)));
        expect({ name: runnable.name, env: Object.keys(dockerEnv).sort() }).toEqual({ name: runnable.name, env: Object.keys(localEnv).sort() });
        const secretNames = new Set(node.plan.secrets.flatMap((s) => Object.keys(s.variables)));
        for (const [name, value] of Object.entries(localEnv)) {
          if (secretNames.has(name)) continue;
          expect({ name, value: dockerText(unescape(dockerEnv[name])) }).toEqual({ name, value: localText(value) });
        }
        compared++;
      }
    }
    // 3 PostgreSQL nodes: 4 services and 6 jobs; 2 proxies: 2 services.
    expect(compared).toBe(3 * (4 + 6) + 2 * 2);
  });

  test('THEN every container of a node carries every file of the local node, with the same content and mode; pgbackrest.conf differs only in where the repository is', () => {
    let compared = 0;
    let locations = 0;
    for (const node of local) {
      const dockerText = normalizer(docker, dockerNetwork);
      const localText = normalizer(localRendered, localNetwork, node.root);
      const names = [...node.plan.services, ...(node.plan.jobs ?? [])].map((r) => `pgha-${node.name}-${r.name}`);
      for (const name of names) {
        const uploads = new Map((containers.get(name)!.upload as Upload[]).map((u) => [u.file, u]));
        for (const file of node.files) {
          const path = localText(file.path);
          const upload = uploads.get(path);
          expect({ container: name, path, uploaded: upload !== undefined }).toEqual({ container: name, path, uploaded: true });
          expect({ path, mode: upload!.permissions }).toEqual({ path, mode: file.mode });
          let dockerContent = dockerText(unescape(upload!.content));
          let localContent = localText(file.content);
          if (path === PGBACKREST_CONFIG) {
            const d = splitLocation(dockerContent);
            const l = splitLocation(localContent);
            // Both S3, path-style; the server, its CA, the bucket and the folder differ.
            expect(d.location).toEqual(DOCKER_LOCATION);
            expect(l.location).toEqual(expect.arrayContaining(['repo1-type=s3', 'repo1-s3-uri-style=path', 'repo1-path=/main/pgbackrest']));
            dockerContent = d.rest;
            localContent = l.rest;
            locations++;
          }
          expect({ container: name, path, content: dockerContent }).toEqual({ container: name, path, content: localContent });
          compared++;
        }
      }
    }
    expect(locations).toBe(3 * (4 + 6));
    // Every file of every node, in each of the node's service and job containers: on a PostgreSQL node
    // 27 files (configs, scripts, units and timers) in 10 containers; on a proxy 3 files in 2.
    expect(local.map((n) => n.files.length)).toEqual([27, 27, 27, 3, 3]);
    expect(compared).toBe(3 * 27 * 10 + 2 * 3 * 2);
  });

  test('negative control: a changed line outside the repository location, or an address not normalized, stays a difference', () => {
    const node = docker[0];
    const config = node.plan.files.find((f) => f.path === PGBACKREST_CONFIG)!.content;
    expect(splitLocation(config.replace('repo1-cipher-type=aes-256-cbc', 'repo1-cipher-type=none')).rest).not.toBe(splitLocation(config).rest);
    const text = normalizer(docker, dockerNetwork);
    expect(text('listen: 172.28.0.10:5432')).toBe('listen: <main-pg-1>:5432');
    expect(text('listen: 172.28.0.99:5432')).not.toBe(text('listen: 172.28.0.10:5432'));
  });
});
