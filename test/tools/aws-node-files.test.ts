/**
 * What lands on every node of the reference stack, checked by the real tools: every script (the
 * boot script and the backup/archive scripts under /usr/local/lib/pgha) by shellcheck (the boot
 * functions also run, with stand-ins for the AWS CLI), cloud-config by `cloud-init schema`, every
 * systemd unit and timer by `systemd-analyze verify`. Besides the reference stack (archive and
 * backup jobs by default), a variant that bootstraps from the archive (restoreFrom) is checked the
 * same way, for its pgha-bootstrap-restore. Each check has a negative control proving it can fail.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { App } from '../../src/cdktf';
import { LAYOUT } from '../../src/model/layout';
import { BOOT_FUNCTIONS } from '../../src/platform/aws/boot-script';
import { RenderedNode } from '../../src/platform/rendered-node';
import { AwsHaStack } from '../../stacks/aws-ha';
import { requireBinaries,
  requireNodeBinaries, runCommand } from '../support/processes';
import { collectRenderedNodes } from '../../src/platform/rendered-node';

const SHELLCHECK = '/usr/bin/shellcheck';
const CLOUD_INIT = '/usr/bin/cloud-init';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

const BOOT_SCRIPT = '/usr/local/sbin/pgha-boot';
const USER_DATA = '/var/lib/cloud/instance/user-data.txt';
const UNIT_DIR = `${LAYOUT.systemdUnitDir}/`;
const SCRIPT_DIR = `${LAYOUT.scriptDir}/`;
/** The scripts every PostgreSQL node of the reference stack has under /usr/local/lib/pgha. */
const JOB_SCRIPTS = ['pgha-backup', 'pgha-check', 'pgha-monitoring-role', 'pgha-restore-drill', 'pgha-stanza-create', 'pgha-verify'];
/** The scheduled jobs of the reference stack: a .service and a .timer each. */
const JOBS = ['pgha-backup-full', 'pgha-backup-diff', 'pgha-check', 'pgha-verify', 'pgha-restore-drill', 'pgha-monitoring-role'];
/** The reference stack monitors its nodes: postgres_exporter on PostgreSQL nodes, node_exporter everywhere. */
const EXPORTERS = ['pgha-postgres-exporter.service', 'pgha-node-exporter.service'];

/** A node of one of the checked stacks. */
interface CheckedNode {
  /** "<stack>/<node>": node names repeat across stacks. */
  readonly label: string;
  readonly node: RenderedNode;
}

let work: string;
let nodes: RenderedNode[];
/** The reference stack's nodes and those of its restoreFrom variant. */
let checked: CheckedNode[];
beforeAll(() => {
  requireBinaries([SHELLCHECK, CLOUD_INIT]);
  // Units are verified by the nodes' own systemd, where the programs they start are.
  requireNodeBinaries([SYSTEMD_ANALYZE, '/usr/bin/patroni', '/usr/bin/etcd', '/usr/sbin/haproxy']);
  work = mkdtempSync(join(tmpdir(), 'pgha-node-files-'));
  const app = new App({ outdir: work });
  const stack = new AwsHaStack(app, 'aws-ha', { cluster: { etcdPlacement: 'colocated' } });
  // The same topology bootstrapped from another cluster's backups in the archive (point-in-time recovery).
  const restoring = new AwsHaStack(app, 'aws-ha-restored', {
    cluster: { etcdPlacement: 'colocated' },
    restoreFrom: { sourceCluster: 'orders', targetTime: '2025-01-01T00:00:00Z' },
  });
  nodes = collectRenderedNodes(stack);
  checked = [
    ...nodes.map((node) => ({ label: `aws-ha/${node.plan.name}`, node })),
    ...collectRenderedNodes(restoring).map((node) => ({ label: `aws-ha-restored/${node.plan.name}`, node })),
  ];
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const isPostgresNode = (node: RenderedNode) => node.plan.name.includes('-pg-');
const baseName = (path: string) => path.split('/').pop()!;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Files that are programs: a shebang. */
const scriptsOf = (node: RenderedNode) => node.files.filter((f) => f.content.startsWith('#!'));

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

describe('scripts', () => {
  test('the reference stack has these nodes, and every node its boot script; PostgreSQL nodes the job scripts too', () => {
    expect(nodes.map((n) => n.plan.name)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3', 'main-proxy-1', 'main-proxy-2']);
    expect(checked.map((c) => c.label)).toHaveLength(10);
    for (const { label, node } of checked) {
      const restored = label.startsWith('aws-ha-restored/');
      const expected = isPostgresNode(node)
        ? [BOOT_SCRIPT, ...[...JOB_SCRIPTS, ...(restored ? ['pgha-bootstrap-restore'] : [])].map((name) => `${SCRIPT_DIR}${name}`)].sort()
        : [BOOT_SCRIPT];
      expect({ label, scripts: scriptsOf(node).map((f) => f.path).sort() }).toEqual({ label, scripts: expected });
      // Programs and only programs are executable.
      expect({ label, executable: node.files.filter((f) => f.mode === '0755').map((f) => f.path).sort() }).toEqual({ label, executable: expected });
    }
  });

  test('shellcheck finds nothing in any script of any node (boot script and /usr/local/lib/pgha/*)', async () => {
    let checkedScripts = 0;
    for (const { label, node } of checked) {
      const dir = mkdtempSync(join(work, `${label.replace('/', '-')}-scripts-`));
      const paths = scriptsOf(node).map((f) => {
        const path = join(dir, baseName(f.path));
        writeFileSync(path, f.content);
        return path;
      });
      checkedScripts += paths.length;
      const result = await runCommand(SHELLCHECK, { args: ['--severity=style', ...paths] });
      expect({ label, out: result.stdout, err: result.stderr, code: result.code }).toEqual({ label, out: '', err: '', code: 0 });
    }
    // 3 x (boot + 6 job scripts) + 2 proxies' boot, and the same with pgha-bootstrap-restore.
    expect(checkedScripts).toBe(3 * 7 + 2 + 3 * 8 + 2);
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
    for (const { label, node } of checked) {
      const file = writeTemp(`${label.replace('/', '-')}-user-data.yaml`, fileOf(node, USER_DATA));
      const result = await runCommand(CLOUD_INIT, { args: ['schema', '--config-file', file] });
      expect({ label, code: result.code, err: result.stderr }).toEqual({ label, code: 0, err: '' });
      expect(result.stdout).toContain('Valid cloud-config');
    }
  });

  test('the user data the schema accepted writes every file of its node, as rendered, and runs the boot script', () => {
    for (const { label, node } of checked) {
      const config = parse(fileOf(node, USER_DATA)) as { write_files: Record<string, unknown>[]; runcmd: string[][] };
      // Files of users the packages create (postgres) are deferred until after the packages are installed.
      const expected = node.files
        .filter((f) => f.path !== USER_DATA)
        .map((f) => ({ path: f.path, owner: f.owner, permissions: f.mode, content: f.content, ...(f.owner === 'root:root' ? {} : { defer: true }) }));
      expect({ label, files: config.write_files }).toEqual({ label, files: expected });
      expect({ label, runcmd: config.runcmd }).toEqual({ label, runcmd: [[BOOT_SCRIPT]] });
      if (isPostgresNode(node)) {
        const paths = config.write_files.map((f) => f.path);
        expect(paths).toEqual(expect.arrayContaining(['/etc/pgbackrest/pgbackrest.conf', ...JOB_SCRIPTS.map((name) => `${SCRIPT_DIR}${name}`)]));
        expect(paths).toEqual(expect.arrayContaining(JOBS.flatMap((job) => [`${UNIT_DIR}${job}.service`, `${UNIT_DIR}${job}.timer`])));
      }
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
  /**
   * Writes the node's units into one directory, as on the node, and its /usr/local/lib/pgha
   * scripts (0755) into another, and points the units at the latter: systemd checks that ExecStart
   * names an existing executable, and those scripts exist only on the node.
   */
  function layOutUnits(label: string, node: RenderedNode): { scriptDir: string; units: string[] } {
    const dir = mkdtempSync(join(work, `${label.replace('/', '-')}-units-`));
    const scriptDir = join(dir, 'scripts');
    const unitDir = join(dir, 'units');
    mkdirSync(scriptDir);
    mkdirSync(unitDir);
    for (const f of node.files.filter((file) => file.path.startsWith(SCRIPT_DIR))) {
      writeFileSync(join(scriptDir, baseName(f.path)), f.content);
      chmodSync(join(scriptDir, baseName(f.path)), 0o755);
    }
    const units = node.files
      .filter((f) => f.path.startsWith(UNIT_DIR))
      .map((f) => {
        const path = join(unitDir, baseName(f.path));
        writeFileSync(path, f.content.split(SCRIPT_DIR).join(`${scriptDir}/`));
        return path;
      });
    return { scriptDir, units };
  }

  test('systemd-analyze verify accepts every unit and timer of every node without a warning', async () => {
    let verified = 0;
    for (const { label, node } of checked) {
      const names = node.files.filter((f) => f.path.startsWith(UNIT_DIR)).map((f) => baseName(f.path));
      const expected = isPostgresNode(node)
        ? ['pgha-etcd.service', 'pgha-patroni.service', ...EXPORTERS, ...JOBS.flatMap((job) => [`${job}.service`, `${job}.timer`])]
        : ['pgha-haproxy.service', 'pgha-node-exporter.service'];
      expect({ label, units: [...names].sort() }).toEqual({ label, units: [...expected].sort() });

      const { units, scriptDir } = layOutUnits(label, node);
      // systemd 252's verify does not look for a timer's unit: each timer must start its job's service, which is here.
      for (const timer of units.filter((path) => path.endsWith('.timer'))) {
        const service = /^Unit=(.+)$/m.exec(readFileSync(timer, 'utf8'))?.[1];
        expect({ timer: baseName(timer), service }).toEqual({ timer: baseName(timer), service: baseName(timer).replace(/\.timer$/, '.service') });
        expect(names).toContain(service);
      }
      for (const path of units) {
        // Every job runs one of the node's scripts, now at its temp copy, which verify finds executable.
        if (path.endsWith('.service') && JOBS.includes(baseName(path).replace(/\.service$/, ''))) {
          expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^ExecStart=${escapeRegExp(scriptDir)}/pgha-[a-z-]+( |$)`, 'm'));
        }
        const result = await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['verify', path] });
        expect({ label, unit: path, code: result.code, err: result.stderr }).toEqual({ label, unit: path, code: 0, err: '' });
        verified++;
      }
    }
    // (2 services + 2 exporters + 6 jobs x (service + timer)) x 3 + 2 x (proxy + node exporter), in each of the two stacks.
    expect(verified).toBe(2 * (3 * 16 + 2 * 2));
  });

  test('negative control: without the node\'s scripts, verify refuses a job unit whose ExecStart does not exist', async () => {
    const pg = nodes.find(isPostgresNode)!;
    const unit = pg.files.find((f) => f.path === `${UNIT_DIR}pgha-backup-full.service`)!;
    expect(unit.content).toContain(`ExecStart=${SCRIPT_DIR}pgha-backup full`);
    const dir = mkdtempSync(join(work, 'missing-script-'));
    const path = join(dir, 'pgha-backup-full.service');
    writeFileSync(path, unit.content.split(SCRIPT_DIR).join(`${dir}/absent/`));
    const result = await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['verify', path] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/absent\/pgha-backup is not executable: No such file or directory/);
  });

  test('negative control: systemd-analyze verify refuses a relative ExecStart', async () => {
    const path = writeTemp('bad.service', '[Unit]\nDescription=x\n[Service]\nExecStart=relative/patroni\n');
    const result = await runCommand(SYSTEMD_ANALYZE, { node: true, args: ['verify', path] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Neither a valid executable name nor an absolute path/);
  });
});
