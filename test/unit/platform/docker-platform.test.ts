/**
 * The Docker platform: the reference topology as containers. Synth assertions against the node plans
 * (collectRenderedNodes): fixed addresses, one container per service with exactly the plan's command,
 * user and environment names, one data volume per node, only the proxies' listener ports published
 * and only on 127.0.0.1, secrets only as random_password references.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { App, TerraformStack } from '../../../src/cdktf';
import { DockerPlatform, DockerPlatformProps } from '../../../src/platform/docker/docker-platform';
import { collectRenderedNodes } from '../../../src/review/node-files';
import { haTopology } from '../../../stacks/ha-topology';
import { UNUSED_OUTDIR, logicalIdOf, resourcesOf, synthesize } from '../../support/aws-stack';

function dockerTopology(outdir = UNUSED_OUTDIR) {
  const app = new App({ outdir });
  const stack = new TerraformStack(app, 'docker-test');
  new DockerProvider(stack, 'docker', {});
  const platform = new DockerPlatform(stack, 'Platform');
  const topology = haTopology(stack, platform, { cluster: { allowSingleAvailabilityZone: true }, monitoring: {} });
  return { app, stack, platform, topology };
}

type Resource = Record<string, unknown>;

describe('DockerPlatform', () => {
  const { app, stack, platform, topology } = dockerTopology();
  const synth = synthesize(stack);
  const json = JSON.stringify(synth);
  const nodes = collectRenderedNodes(app);
  const containers = synth.resource.docker_container as Record<string, Resource>;
  const byName = new Map<string, Resource>(Object.entries(containers).map(([id, c]) => [String(c.name), { id, ...c }]));
  const anchors = Object.entries(containers).filter(([, c]) => JSON.stringify(c.command) === '["sleep","infinity"]');
  const unescape = (text: string) => text.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');

  test('the reference topology: 3 PostgreSQL nodes and 2 proxies, one network with the subnet', () => {
    expect(nodes.map((n) => n.plan.name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
    expect(resourcesOf(synth, 'docker_network')).toEqual([
      expect.objectContaining({ name: 'pgha-net', driver: 'bridge', internal: false, ipam_config: [{ subnet: '172.28.0.0/24' }] }),
    ]);
  });

  test('one image, built from the generated Dockerfile, kept locally', () => {
    const images = resourcesOf(synth, 'docker_image');
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({
      name: 'pgha-node:local',
      keep_locally: true,
      build: { context: expect.stringMatching(/^\$\{path\.module\}\/assets\/[^/]+\/[A-F0-9]+$/) },
      triggers: { dockerfile_sha256: createHash('sha256').update(platform.dockerfile()).digest('hex') },
    });
    expect(platform.dockerfile()).toContain('FROM debian:12.15-slim');
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

  test("one container per service: exactly the plan's command, user and environment names, in the anchor's network namespace", () => {
    const anchorIdOf = new Map(anchors.map(([id, c]) => [String(c.hostname), id]));
    let count = 0;
    for (const { plan } of nodes) {
      for (const service of plan.services) {
        const container = byName.get(`pgha-${plan.name}-${service.name}`);
        expect(container).toBeDefined();
        count++;
        expect(container!.command).toEqual(service.command);
        expect(container!.user).toBe(`${service.user}:${service.group}`);
        expect(container!.network_mode).toBe(`container:\${docker_container.${anchorIdOf.get(plan.name)}.name}`);
        expect(container).toMatchObject({ restart: 'unless-stopped', init: true });
        const secretVariables = plan.secrets.filter((s) => (service.environmentFiles ?? []).includes(s.environmentFile)).flatMap((s) => Object.keys(s.variables));
        const names = ((container!.env as string[] | undefined) ?? []).map((entry) => entry.split('=')[0]).sort();
        expect(names).toEqual([...Object.keys(service.environment ?? {}), ...secretVariables].sort());
        for (const [key, value] of Object.entries(service.environment ?? {})) expect(container!.env).toContain(`${key}=${value}`);
        // Every file of the plan uploaded, with its content; executables marked.
        const uploads = container!.upload as { file: string; content: string; executable: boolean }[];
        expect(uploads.map((u) => u.file)).toEqual(plan.files.map((f) => f.path));
        for (const file of plan.files) {
          const upload = uploads.find((u) => u.file === file.path)!;
          expect(unescape(upload.content)).toBe(file.content);
          expect(upload.executable).toBe(file.mode === '0755');
        }
      }
    }
    expect(count).toBe(nodes.reduce((sum, n) => sum + n.plan.services.length, 0));
    expect(Object.keys(containers)).toHaveLength(count + nodes.length);
    expect(count).toBe(3 * 4 + 2 * 2);
  });

  test('one volume per PostgreSQL node, mounted at /var/lib/pgha in every container of the node', () => {
    const volumes = synth.resource.docker_volume as Record<string, Resource>;
    expect(Object.values(volumes).map((v) => v.name)).toEqual(['pgha-main-pg-1-data', 'pgha-main-pg-2-data', 'pgha-main-pg-3-data']);
    for (const { plan } of nodes) {
      const own = [`pgha-${plan.name}`, ...plan.services.map((s) => `pgha-${plan.name}-${s.name}`)].map((name) => byName.get(name)!);
      for (const container of own) {
        if (plan.dataVolume) {
          const mounts = container.volumes as Resource[];
          expect(mounts).toHaveLength(1);
          expect(mounts[0].container_path).toBe('/var/lib/pgha');
          expect(volumes[logicalIdOf(mounts[0].volume_name)].name).toBe(`pgha-${plan.name}-data`);
        } else {
          expect(container.volumes).toBeUndefined();
        }
      }
    }
  });

  test("only the proxies' read-write and read-only ports are published, on 127.0.0.1, on the first proxy", () => {
    const published = Object.values(containers).flatMap((c) => ((c.ports as Resource[] | undefined) ?? []).map((p) => ({ name: c.name, ...p })));
    const { readWritePort, readOnlyPort } = topology.frontends.spec;
    expect(published).toEqual([
      { name: 'pgha-main-proxy-1', internal: readWritePort, external: readWritePort, ip: '127.0.0.1', protocol: 'tcp' },
      { name: 'pgha-main-proxy-1', internal: readOnlyPort, external: readOnlyPort, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
  });

  test('health checks: Patroni REST /health, etcdctl endpoint health, HAProxy /healthz; none for the exporters', () => {
    const health = (name: string) => (byName.get(name)!.healthcheck as { test: string[] } | undefined)?.test;
    expect(health('pgha-main-pg-1-pgha-patroni')).toEqual(['CMD', '/usr/bin/python3', '-c', "import urllib.request; urllib.request.urlopen('http://172.28.0.10:8008/health', timeout=4)"]);
    expect(health('pgha-main-pg-2-pgha-etcd')).toEqual(['CMD', '/usr/bin/etcdctl', '--endpoints=http://172.28.0.11:2379', 'endpoint', 'health']);
    expect(health('pgha-main-proxy-2-pgha-haproxy')?.join(' ')).toContain(`http://172.28.0.14:${topology.frontends.spec.healthPort}/healthz`);
    expect(health('pgha-main-pg-1-pgha-node-exporter')).toBeUndefined();
  });

  test('secrets: random passwords (letters and digits, 32) reaching the containers only as references', () => {
    const passwords = resourcesOf(synth, 'random_password');
    expect(passwords.length).toBeGreaterThan(0);
    for (const password of passwords) expect(password).toMatchObject({ length: 32, special: false, upper: true, lower: true, numeric: true });
    expect(Object.keys(synth.resource)).not.toContain('random_string');
    const secretVariables = new Set(nodes.flatMap((n) => n.plan.secrets.flatMap((s) => Object.keys(s.variables))));
    let seen = 0;
    for (const container of Object.values(containers)) {
      for (const entry of (container.env as string[] | undefined) ?? []) {
        const [name, ...rest] = entry.split('=');
        if (!secretVariables.has(name)) continue;
        seen++;
        expect(rest.join('=')).toMatch(/^\$\{random_password\.[A-Za-z0-9_-]+\.result\}$/);
      }
    }
    expect(seen).toBeGreaterThan(0);
    // No value anywhere but through a reference: no password-looking assignment with a literal.
    expect(json).not.toMatch(/PASSWORD=(?!\$\{random_password\.)/);
    expect(json).not.toMatch(/DATA_SOURCE_PASS=(?!\$\{random_password\.)/);
    expect((synth as unknown as { provider: Record<string, unknown> }).provider).toHaveProperty('random');
  });

  test('createArchiveRepository throws: archives are not available yet, and how to fix the stack', () => {
    const other = new TerraformStack(new App({ outdir: UNUSED_OUTDIR }), 'archive-test');
    expect(() => haTopology(other, new DockerPlatform(other, 'Platform'), { archive: {} })).toThrow(
      /archives are not available on the Docker platform yet.*Fix: leave the archive/,
    );
  });

  test.each<[DockerPlatformProps, RegExp]>([
    [{ subnet: '172.28.0.0' }, /subnet: got "172\.28\.0\.0"; expected an IPv4 CIDR/],
    [{ subnet: '172.28.0.5/24' }, /host bits set.*Fix: use "172\.28\.0\.0\/24"/],
    [{ subnet: '10.0.0.0/30' }, /expected an IPv4 CIDR block from \/8 to \/29/],
    [{ firstHostNumber: 1 }, /firstHostNumber: got 1; expected an integer from 2 to 254/],
    [{ publishAddress: 'localhost' }, /publishAddress: got "localhost"; expected an IPv4 address/],
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
    expect(() => p.placeNodes('h', 1)).toThrow(/subnet 10\.9\.0\.0\/29 is full/);
    expect(p.peerPath('g-2', '/var/lib/pgha/x')).toBe('/var/lib/pgha/x');
    expect(p.scrapeDiscovery).toEqual({ kind: 'static' });
  });

  test('app.synth writes the Dockerfile into the build context (an asset beside cdk.tf.json)', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'pgha-docker-'));
    try {
      const built = dockerTopology(outdir);
      built.app.synth();
      const written = JSON.parse(readFileSync(join(outdir, 'stacks', 'docker-test', 'cdk.tf.json'), 'utf8'));
      const context = String(Object.values(written.resource.docker_image as Record<string, { build: { context: string } }>)[0].build.context).replace('${path.module}/', '');
      const dockerfile = join(outdir, 'stacks', 'docker-test', context, 'Dockerfile');
      expect(existsSync(dockerfile)).toBe(true);
      expect(readFileSync(dockerfile, 'utf8')).toBe(built.platform.dockerfile());
      expect(Object.keys(written.resource.docker_container)).toHaveLength(16 + 5);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
