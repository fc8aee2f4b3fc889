/**
 * What lands on every node of the reference stack, checked by the real tools: boot scripts by
 * shellcheck (and run, with stand-ins for the AWS CLI), cloud-config by `cloud-init schema`,
 * systemd units by `systemd-analyze verify`. Each check has a negative control proving it can fail.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../../src/cdktf';
import { BOOT_FUNCTIONS } from '../../src/platform/aws/boot-script';
import { RenderedNode } from '../../src/platform/rendered-node';
import { collectRenderedNodes } from '../../src/review/node-files';
import { AwsHaStack } from '../../stacks/aws-ha';
import { requireBinaries, runCommand } from '../support/processes';

const SHELLCHECK = '/usr/bin/shellcheck';
const CLOUD_INIT = '/usr/bin/cloud-init';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

let work: string;
let nodes: RenderedNode[];
beforeAll(() => {
  requireBinaries([SHELLCHECK, CLOUD_INIT, SYSTEMD_ANALYZE, '/usr/bin/patroni', '/usr/bin/etcd', '/usr/sbin/haproxy']);
  work = mkdtempSync(join(tmpdir(), 'pgha-node-files-'));
  const stack = new AwsHaStack(new App({ outdir: work }), 'aws-ha', { cluster: { etcdPlacement: 'colocated' } });
  nodes = collectRenderedNodes(stack);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fileOf = (node: RenderedNode, path: string) => {
  const file = node.files.find((f) => f.path === path);
  if (!file) throw new Error(`${node.plan.name} has no ${path}`);
  return file.content;
};

function writeTemp(name: string, content: string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

describe('boot scripts', () => {
  test('every node has one and shellcheck finds nothing in it', async () => {
    expect(nodes.map((n) => n.plan.name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
    for (const node of nodes) {
      const script = writeTemp(`${node.plan.name}-boot.sh`, fileOf(node, '/usr/local/sbin/pgha-boot'));
      const result = await runCommand(SHELLCHECK, { args: ['--severity=style', script] });
      expect({ node: node.plan.name, out: result.stdout, code: result.code }).toEqual({ node: node.plan.name, out: '', code: 0 });
    }
  });

  test('negative control: shellcheck flags an unquoted expansion', async () => {
    const script = writeTemp('bad-boot.sh', '#!/bin/bash\nfile=$1\nrm $file\n');
    const result = await runCommand(SHELLCHECK, { args: [script] });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('SC2086');
  });

  test('fetch_secret turns the JSON secret into a 0600 KEY=value file, with stand-ins for curl and the AWS CLI', async () => {
    const bin = mkdtempSync(join(work, 'bin-'));
    writeFileSync(join(bin, 'curl'), '#!/bin/sh\ncase "$*" in *api/token*) echo token ;; *placement/region*) echo eu-west-1 ;; *) exit 22 ;; esac\n');
    writeFileSync(
      join(bin, 'aws'),
      '#!/bin/sh\necho "$*" >> "$AWS_CALLS"\necho \'{"superuser_password":"Su9er","replication_password":"Rep1","rewind_password":"Rew1","restapi_password":"Api1"}\'\n',
    );
    chmodSync(join(bin, 'curl'), 0o755);
    chmodSync(join(bin, 'aws'), 0o755);
    const target = join(work, 'patroni.env');
    const calls = join(work, 'aws-calls');
    const script = writeTemp(
      'fetch.sh',
      `#!/bin/bash\nset -euo pipefail\n${BOOT_FUNCTIONS}\nfetch_secret pgha/aws-ha/main/patroni '${target}' root:root PATRONI_SUPERUSER_PASSWORD=superuser_password PATRONI_REWIND_PASSWORD=rewind_password\n`,
    );
    const result = await runCommand('/bin/bash', { args: [script], env: { PATH: `${bin}:/usr/bin:/bin`, AWS_CALLS: calls } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('PATRONI_SUPERUSER_PASSWORD=Su9er\nPATRONI_REWIND_PASSWORD=Rew1\n');
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(readFileSync(calls, 'utf8')).toContain('secretsmanager get-secret-value --region eu-west-1 --secret-id pgha/aws-ha/main/patroni');
  });
});

describe('cloud-config user data', () => {
  test('cloud-init schema accepts every node\'s user data', async () => {
    for (const node of nodes) {
      const file = writeTemp(`${node.plan.name}-user-data.yaml`, fileOf(node, '/var/lib/cloud/instance/user-data.txt'));
      const result = await runCommand(CLOUD_INIT, { args: ['schema', '--config-file', file] });
      expect({ node: node.plan.name, code: result.code, err: result.stderr }).toEqual({ node: node.plan.name, code: 0, err: '' });
      expect(result.stdout).toContain('Valid cloud-config');
    }
  });

  test('negative control: cloud-init schema refuses a wrongly typed key', async () => {
    const file = writeTemp('bad-user-data.yaml', '#cloud-config\npackages: postgresql-15\nwrite_files:\n  - path: 3\n');
    const result = await runCommand(CLOUD_INIT, { args: ['schema', '--config-file', file] });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/is not of type/);
  });
});

describe('systemd units', () => {
  test('systemd-analyze verify accepts every unit without a warning', async () => {
    const units = nodes.flatMap((node) => node.files.filter((f) => f.path.startsWith('/etc/systemd/system/')).map((f) => ({ node, f })));
    expect(units.map(({ f }) => f.path.split('/').pop())).toEqual(
      expect.arrayContaining(['pgha-etcd.service', 'pgha-patroni.service', 'pgha-haproxy.service']),
    );
    for (const { node, f } of units) {
      const dir = mkdtempSync(join(work, `${node.plan.name}-units-`));
      const path = join(dir, f.path.split('/').pop()!);
      writeFileSync(path, f.content);
      const result = await runCommand(SYSTEMD_ANALYZE, { args: ['verify', path] });
      expect({ unit: path, code: result.code, err: result.stderr }).toEqual({ unit: path, code: 0, err: '' });
    }
  });

  test('negative control: systemd-analyze verify refuses a relative ExecStart', async () => {
    const path = writeTemp('bad.service', '[Unit]\nDescription=x\n[Service]\nExecStart=relative/patroni\n');
    const result = await runCommand(SYSTEMD_ANALYZE, { args: ['verify', path] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Neither a valid executable name nor an absolute path/);
  });
});
