/**
 * The Docker platform: the local-docker stack (the reference topology with its archive, backups and
 * monitoring) as containers. Synth assertions against the node plans (collectRenderedNodes): fixed
 * addresses, one container per service and per job running exactly the plan's command as the plan's
 * user (through container-start), the plan's files uploaded, volumes, health checks, only the
 * proxies' listener ports published and only on 127.0.0.1, secrets only as references, the MinIO archive.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../../../src/cdktf';
import { CONTAINER_LAYOUT_PATH, CONTAINER_START_PATH, renderContainerStart } from '../../../src/platform/docker/container-start';
import { MINIO_CLIENT_IMAGE, MINIO_IMAGE } from '../../../src/platform/docker/docker-archive';
import { DockerPlatform, DockerPlatformProps } from '../../../src/platform/docker/docker-platform';
import { JOB_RUNNER_PATH, jobRunnerCommand } from '../../../src/platform/docker/job-runner';
import { LocalDockerStack } from '../../../stacks/local-docker';
import { UNUSED_OUTDIR, logicalIdOf, resourcesOf, synthesize } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

function dockerStack(outdir = UNUSED_OUTDIR) {
  const app = new App({ outdir });
  const stack = new LocalDockerStack(app, 'local-docker');
  return { app, stack, platform: stack.platform };
}

type Resource = Record<string, unknown>;
type Upload = { file: string; content: string; permissions: string };

describe('DockerPlatform (the local-docker stack)', () => {
  const { app, stack, platform } = dockerStack();
  const synth = synthesize(stack);
  const json = JSON.stringify(synth);
  const nodes = collectRenderedNodes(app);
  const containers = synth.resource.docker_container as Record<string, Resource>;
  const byName = new Map<string, Resource>(Object.entries(containers).map(([id, c]) => [String(c.name), { id, ...c }]));
  const anchors = Object.entries(containers).filter(([, c]) => JSON.stringify(c.command) === '["sleep","infinity"]');
  const unescape = (text: string) => text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
  /** argv after container-start's `USER GROUP --`, and the user and group. */
  const started = (container: Resource) => {
    const command = container.command as string[];
    expect(command.slice(0, 4)).toEqual([CONTAINER_START_PATH, command[1], command[2], '--']);
    return { user: command[1], group: command[2], argv: command.slice(4) };
  };

  test('the reference topology with archive, backups and monitoring: 3 PostgreSQL nodes and 2 proxies, one network with the subnet', () => {
    expect(nodes.map((n) => n.plan.name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
    expect(nodes[0].plan.jobs?.map((j) => j.name)).toEqual(expect.arrayContaining(['pgha-backup-full', 'pgha-check', 'pgha-monitoring-role']));
    expect(resourcesOf(synth, 'docker_network')).toEqual([
      expect.objectContaining({ name: 'pgha-net', driver: 'bridge', internal: false, ipam_config: [{ subnet: '172.28.0.0/24' }] }),
    ]);
  });

  test('one node image, built from the generated Dockerfile, kept locally; MinIO and its client pinned by release tag', () => {
    const images = resourcesOf(synth, 'docker_image');
    expect(images.map((i) => i.name).sort()).toEqual(['pgha-node:local', MINIO_IMAGE, MINIO_CLIENT_IMAGE].sort());
    const node = images.find((i) => i.name === 'pgha-node:local')!;
    expect(node).toMatchObject({
      keep_locally: true,
      build: { context: expect.stringMatching(/^\$\{path\.module\}\/assets\/[^/]+\/[A-F0-9]+$/) },
      triggers: { dockerfile_sha256: createHash('sha256').update(platform.dockerfile()).digest('hex') },
    });
    expect(platform.dockerfile()).toContain('FROM debian:13.8-slim');
    for (const image of [MINIO_IMAGE, MINIO_CLIENT_IMAGE]) expect(image).toMatch(/:RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/);
  });

  test('an anchor per node at the plan address, with the node name as hostname, on the network', () => {
    const networkId = Object.keys(synth.resource.docker_network)[0];
    expect(anchors.map(([, c]) => [c.hostname, (c.networks_advanced as Resource[])[0].ipv4_address])).toEqual(nodes.map((n) => [n.plan.name, n.plan.address]));
    expect(nodes.map((n) => n.plan.address)).toEqual(['172.28.0.10', '172.28.0.11', '172.28.0.12', '172.28.0.13', '172.28.0.14']);
    for (const [, anchor] of anchors) {
      expect(anchor).toMatchObject({ user: 'nobody', restart: 'unless-stopped', init: true });
      expect((anchor.networks_advanced as Resource[])[0].name).toBe(`\${docker_network.${networkId}.name}`);
    }
  });

  test("one container per service and per job: exactly the plan's command (after container-start) as the plan's user, its environment names, every file of the plan uploaded", () => {
    const anchorIdOf = new Map(anchors.map(([id, c]) => [String(c.hostname), id]));
    let count = 0;
    for (const { plan } of nodes) {
      const runnables = [
        ...plan.services.map((service) => ({ name: service.name, user: service.user, group: service.group, argv: [...service.command], environment: service.environment, files: service.environmentFiles })),
        ...(plan.jobs ?? []).map((job) => ({ name: job.name, user: job.user, group: job.group, argv: jobRunnerCommand(job), environment: undefined, files: job.environmentFiles })),
      ];
      for (const runnable of runnables) {
        const container = byName.get(`pgha-${plan.name}-${runnable.name}`);
        expect(container).toBeDefined();
        count++;
        expect(started(container!)).toEqual({ user: runnable.user, group: runnable.group, argv: runnable.argv });
        expect(container!.user).toBe('root');
        expect(container!.network_mode).toBe(`container:\${docker_container.${anchorIdOf.get(plan.name)}.name}`);
        expect(container).toMatchObject({ restart: 'unless-stopped', init: true });
        const secretVariables = plan.secrets.filter((s) => (runnable.files ?? []).includes(s.environmentFile)).flatMap((s) => Object.keys(s.variables));
        const names = ((container!.env as string[] | undefined) ?? []).map((entry) => entry.split('=')[0]).sort();
        expect(names).toEqual([...Object.keys(runnable.environment ?? {}), ...secretVariables].sort());
        for (const [key, value] of Object.entries(runnable.environment ?? {})) expect(container!.env).toContain(`${key}=${value}`);
        // Every file of the plan uploaded with its content and mode; then container-start, its layout, the archive's CA (PostgreSQL nodes) and, for jobs, the runner.
        const uploads = container!.upload as Upload[];
        const platformFiles = [CONTAINER_START_PATH, CONTAINER_LAYOUT_PATH, ...(plan.name.includes('-pg-') ? ['/etc/pgbackrest/archive-main-ca.crt'] : []), ...(runnable.argv[0] === JOB_RUNNER_PATH ? [JOB_RUNNER_PATH] : [])];
        expect(uploads.map((u) => u.file)).toEqual([...plan.files.map((f) => f.path), ...(plan.secretFiles ?? []).map((f) => f.path), ...platformFiles]);
        for (const file of plan.files) {
          const upload = uploads.find((u) => u.file === file.path)!;
          expect(unescape(upload.content)).toBe(file.content);
          expect(upload.permissions).toBe(file.mode);
        }
        expect(unescape(uploads.find((u) => u.file === CONTAINER_START_PATH)!.content)).toBe(renderContainerStart());
        // The layout gives every planned directory and file its planned owner and mode.
        const layout = uploads.find((u) => u.file === CONTAINER_LAYOUT_PATH)!.content.trim().split('\n');
        expect(layout).toEqual([
          ...plan.directories.map((d) => `d ${d.mode} ${d.owner} ${d.path}`),
          ...plan.files.map((f) => `f ${f.mode} ${f.owner} ${f.path}`),
          ...(plan.secretFiles ?? []).map((f) => `f 0600 ${f.owner} ${f.path}`),
        ]);
      }
    }
    const jobs = nodes.reduce((sum, n) => sum + (n.plan.jobs ?? []).length, 0);
    expect(count).toBe(nodes.reduce((sum, n) => sum + n.plan.services.length, 0) + jobs);
    // Plus an anchor per node, and MinIO with its bucket-making container.
    expect(Object.keys(containers)).toHaveLength(count + nodes.length + 2);
    expect(count).toBe(3 * 4 + 2 * 2 + jobs);
    expect(jobs).toBe(3 * 6);
  });

  test('per PostgreSQL node a data volume at /var/lib/pgha and a volume for the socket directory, mounted in every container of the node but the anchor', () => {
    const volumes = synth.resource.docker_volume as Record<string, Resource>;
    expect(Object.values(volumes).map((v) => v.name).sort()).toEqual(
      ['pgha-archive-main-data', ...[1, 2, 3].flatMap((i) => [`pgha-main-pg-${i}-data`, `pgha-main-pg-${i}-run-postgresql`])].sort(),
    );
    for (const { plan } of nodes) {
      const own = [...plan.services, ...(plan.jobs ?? [])].map((s) => byName.get(`pgha-${plan.name}-${s.name}`)!);
      for (const container of own) {
        if (plan.dataVolume) {
          const mounts = (container.volumes as Resource[]).map((m) => [volumes[logicalIdOf(m.volume_name)].name, m.container_path]);
          expect(mounts).toEqual([
            [`pgha-${plan.name}-data`, '/var/lib/pgha'],
            [`pgha-${plan.name}-run-postgresql`, '/run/postgresql'],
          ]);
        } else {
          expect(container.volumes).toBeUndefined();
        }
      }
    }
  });

  test("only the proxies' read-write and read-only ports are published, on 127.0.0.1, on the first proxy", () => {
    const published = Object.values(containers).flatMap((c) => ((c.ports as Resource[] | undefined) ?? []).map((p) => ({ name: c.name, ...p })));
    const { readWritePort, readOnlyPort } = stack.frontends.spec;
    expect(published).toEqual([
      { name: 'pgha-main-proxy-1', internal: readWritePort, external: readWritePort, ip: '127.0.0.1', protocol: 'tcp' },
      { name: 'pgha-main-proxy-1', internal: readOnlyPort, external: readOnlyPort, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
  });

  test('health checks: Patroni REST /health, etcdctl endpoint health, HAProxy /healthz; none for the exporters', () => {
    const health = (name: string) => (byName.get(name)!.healthcheck as { test: string[] } | undefined)?.test;
    expect(health('pgha-main-pg-1-pgha-patroni')).toEqual(['CMD', '/usr/bin/python3', '-c', "import urllib.request; urllib.request.urlopen('http://172.28.0.10:8008/health', timeout=4)"]);
    expect(health('pgha-main-pg-2-pgha-etcd')).toEqual(['CMD', '/usr/bin/etcdctl', '--endpoints=http://172.28.0.11:2379', 'endpoint', 'health']);
    expect(health('pgha-main-proxy-2-pgha-haproxy')?.join(' ')).toContain(`http://172.28.0.14:${stack.frontends.spec.healthPort}/healthz`);
    expect(health('pgha-main-pg-1-pgha-node-exporter')).toBeUndefined();
  });

  test('secrets: random passwords (letters and digits) reaching the containers only as references; no secret literal anywhere in the JSON', () => {
    const passwords = resourcesOf(synth, 'random_password');
    expect(passwords.length).toBeGreaterThan(0);
    for (const password of passwords) {
      expect(password).toMatchObject({ special: false, numeric: true });
      expect(password.length).toBeGreaterThanOrEqual(20);
    }
    expect(Object.keys(synth.resource)).not.toContain('random_string');
    // Every variable of every plan secret, and MinIO's credentials.
    const secretVariables = new Set([...nodes.flatMap((n) => n.plan.secrets.flatMap((s) => Object.keys(s.variables))), 'MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD']);
    const seen = new Set<string>();
    for (const container of Object.values(containers)) {
      for (const entry of (container.env as string[] | undefined) ?? []) {
        const [name, ...rest] = entry.split('=');
        if (!secretVariables.has(name)) continue;
        seen.add(name);
        expect({ name, value: rest.join('=') }).toEqual({ name, value: expect.stringMatching(/^\$\{random_password\.[A-Za-z0-9_-]+\.result\}$/) });
      }
    }
    expect([...secretVariables].filter((name) => !seen.has(name) && !/_S3_(BUCKET|REGION|ENDPOINT)$/.test(name))).toEqual([]);
    // Outside the random_password and tls resources, no key, certificate or password literal.
    const { random_password: _passwords, tls_private_key: _keys, ...others } = synth.resource as Record<string, unknown>;
    const rest = JSON.stringify({ ...synth, resource: others });
    expect(rest).not.toContain('-----BEGIN');
    const secretLooking = Object.values(containers).flatMap((c) => ((c.env as string[] | undefined) ?? []).filter((e) => /^[A-Z0-9_]*(PASSWORD|PASS|SECRET|_KEY|MINIO_ROOT_USER)=/.test(e)));
    expect(secretLooking.length).toBeGreaterThan(10);
    for (const entry of secretLooking) expect(entry).toMatch(/^[A-Z0-9_]+=\$\{random_password\.[A-Za-z0-9_-]+\.result\}$/);
    expect(json).toContain('random_password');
    expect((synth as unknown as { provider: Record<string, unknown> }).provider).toHaveProperty('random');
  });

  test('with a Prometheus server, its UI is published too, on 127.0.0.1, and the stack says where', () => {
    const app = new App({ outdir: UNUSED_OUTDIR });
    const withPrometheus = new LocalDockerStack(app, 'with-prometheus', { archive: false, prometheusServer: {} });
    const synthesized = synthesize(withPrometheus);
    const published = Object.values(synthesized.resource.docker_container as Record<string, Resource>).flatMap((c) =>
      ((c.ports as Resource[] | undefined) ?? []).map((p) => [c.name, p.internal, p.external, p.ip]),
    );
    expect(published).toEqual([
      ['pgha-main-proxy-1', 5000, 5000, '127.0.0.1'],
      ['pgha-main-proxy-1', 5001, 5001, '127.0.0.1'],
      ['pgha-monitoring-1', 9090, 9090, '127.0.0.1'],
    ]);
    expect((synthesized as unknown as { output: Record<string, { value: string }> }).output.prometheus_url.value).toBe('http://127.0.0.1:9090');
  });

  test('the archive: MinIO with TLS at the top of the subnet, its bucket made before any PostgreSQL container starts, pgBackRest pointed at it', () => {
    const minio = byName.get('pgha-archive-main')!;
    expect((minio.networks_advanced as Resource[])[0].ipv4_address).toBe('172.28.0.254');
    expect(minio.command).toEqual(['server', '/data', '--address', ':9000', '--certs-dir', '/certs']);
    expect((minio.upload as Upload[]).map((u) => [u.file, u.permissions])).toEqual([
      ['/certs/public.crt', '0644'],
      ['/certs/private.key', '0600'],
    ]);
    expect((minio.upload as Upload[])[1].content).toMatch(/^\$\{tls_private_key\.[A-Za-z0-9_-]+\.private_key_pem\}$/);
    const bucket = byName.get('pgha-archive-main-create-bucket')!;
    expect(bucket).toMatchObject({ attach: true, must_run: false, restart: 'no', entrypoint: ['/bin/sh', '-c'] });
    expect(String((bucket.command as string[])[0])).toContain('mb --ignore-existing archive/main-archive');
    expect(bucket.depends_on).toEqual([`docker_container.${minio.id}`]);
    for (const { plan } of nodes.filter((n) => n.plan.name.includes('-pg-'))) {
      const patroni = byName.get(`pgha-${plan.name}-pgha-patroni`)!;
      expect(patroni.depends_on).toEqual([`docker_container.${bucket.id}`]);
      const config = unescape((patroni.upload as Upload[]).find((u) => u.file === '/etc/pgbackrest/pgbackrest.conf')!.content);
      for (const line of ['repo1-type=s3', 'repo1-s3-endpoint=172.28.0.254', 'repo1-storage-port=9000', 'repo1-s3-bucket=main-archive', 'repo1-s3-uri-style=path', 'repo1-storage-ca-file=/etc/pgbackrest/archive-main-ca.crt']) {
        expect(config.split('\n')).toContain(line);
      }
      const env = patroni.env as string[];
      expect(env.find((e) => e.startsWith('PGBACKREST_REPO1_S3_KEY='))).toMatch(/=\$\{random_password\.[A-Za-z0-9_-]+\.result\}$/);
      expect(env.find((e) => e.startsWith('PGBACKREST_REPO1_S3_KEY_SECRET='))).toMatch(/=\$\{random_password\.[A-Za-z0-9_-]+\.result\}$/);
    }
    // The proxies do not use the archive.
    expect(byName.get('pgha-main-proxy-1-pgha-haproxy')!.depends_on).toBeUndefined();
  });

  test.each<[DockerPlatformProps, RegExp]>([
    [{ subnet: '172.28.0.0' }, /subnet: got "172\.28\.0\.0"; expected an IPv4 network/],
    [{ subnet: '172.28.0.5/24' }, /Fix: write "172\.28\.0\.0\/24" \("172\.28\.0\.5\/24" has host bits set/],
    [{ subnet: '10.0.0.0/30' }, /expected a bridge network of \/8 to \/29/],
    [{ firstHostNumber: 1 }, /firstHostNumber: got 1; expected a host number from 2/],
    [{ firstHostNumber: 300 }, /firstHostNumber: got 300; expected a host number from 2 to 254/],
    [{ publishAddress: 'localhost' }, /publishAddress: got "localhost"; expected an IPv4 address/],
    [{ publishAddress: '0.0.0.0' }, /publishAddress: got "0\.0\.0\.0"; expected one address of the Docker host.*allowPublishOnEveryInterface/],
    [{ name: 'Bad Name' }, /name: got "Bad Name"; expected 1-40 lowercase/],
  ])('rejects %j', (props, message) => {
    expect(() => new DockerPlatform(new App({ outdir: UNUSED_OUTDIR }), 'P', props)).toThrow(message);
  });

  test('places nodes in turn from the first host number; no zones', () => {
    const p = new DockerPlatform(new App({ outdir: UNUSED_OUTDIR }), 'P', { subnet: '10.9.0.0/29', firstHostNumber: 4 });
    expect(p.previewZones(2)).toEqual([undefined, undefined]);
    expect(p.placeNodes('g', 3)).toEqual([
      { name: 'g-1', address: '10.9.0.4', zone: undefined, network: '10.9.0.0/29' },
      { name: 'g-2', address: '10.9.0.5', zone: undefined, network: '10.9.0.0/29' },
      { name: 'g-3', address: '10.9.0.6', zone: undefined, network: '10.9.0.0/29' },
    ]);
    expect(() => p.placeNodes('h', 1)).toThrow(/Invalid DockerPlatform spec of P .*\n.*subnet: got "10\.9\.0\.0\/29"; expected room for node h-1/);
    expect(p.peerPath('g-2', '/var/lib/pgha/x')).toBe('/var/lib/pgha/x');
    expect(p.scrapeDiscovery).toEqual({ kind: 'static' });
  });

  test('app.synth writes the Dockerfile into the build context (an asset beside cdk.tf.json)', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'pgha-docker-'));
    try {
      const built = dockerStack(outdir);
      built.app.synth();
      const written = JSON.parse(readFileSync(join(outdir, 'stacks', 'local-docker', 'cdk.tf.json'), 'utf8'));
      const built_ = Object.values(written.resource.docker_image as Record<string, { build?: { context: string } }>).find((image) => image.build)!;
      const context = built_.build!.context.replace('${path.module}/', '');
      const dockerfile = join(outdir, 'stacks', 'local-docker', context, 'Dockerfile');
      expect(existsSync(dockerfile)).toBe(true);
      expect(readFileSync(dockerfile, 'utf8')).toBe(built.platform.dockerfile());
      expect(Object.keys(written.resource.docker_container)).toHaveLength(3 * (4 + 6) + 2 * 2 + 5 + 2);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
