/**
 * The local platform runs what the AWS nodes run: laid out under a node directory, each node's
 * files differ from the AWS node's only in addresses, networks and paths. The compared topology
 * has a WAL archive and a BackupJob, so pgbackrest.conf, the job scripts, units and timers are
 * compared too. The one other difference allowed is where the archive is: pgbackrest.conf's
 * repository location lines (an S3 bucket on AWS, a directory of the local posix store).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootConstruct } from 'constructs';
import { App } from '../../../src/cdktf';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { generateSecrets, layOutNode } from '../../../src/runner/node-directory';
import { LAYOUT } from '../../../src/model/layout';
import { RenderedNode } from '../../../src/platform/rendered-node';
import { AwsHaStack } from '../../../stacks/aws-ha';
import { HaTopologyProps, haTopology } from '../../../stacks/ha-topology';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Node addresses become node names, subnets (`<prefix>.K.0/24`) `<subnet K>`, and `root` is cut out. */
function normalize(text: string, nodes: RenderedNode[], prefix: string, root = ''): string {
  let result = root ? text.split(root).join('') : text;
  const byLength = [...nodes].sort((a, b) => b.plan.address.length - a.plan.address.length);
  for (const node of byLength) result = result.split(node.plan.address).join(`<${node.plan.name}>`);
  return result.replace(new RegExp(`${escape(prefix)}\\.(\\d+)\\.0/24`, 'g'), '<subnet $1>');
}

/** Where the node layout puts things (all but the programs): none may stay outside a node's directory. */
const NODE_PATHS = Object.entries(LAYOUT)
  .filter(([key]) => key !== 'postgresBinDir')
  .map(([, path]) => path);

/** What only an EC2 node has: its boot script and user data (the softdog watchdog is set up by its bootcmd). */
const BOOT_ONLY_ON_AWS = ['/usr/local/sbin/pgha-boot', '/var/lib/cloud/instance/user-data.txt'];
/** The other allowed difference, in patroni.yml: EC2 nodes have a watchdog (softdog), local nodes none. */
const AWS_WATCHDOG = "watchdog:\n  mode: required\n  device: /dev/watchdog\n  safety_margin: 5\n";
const LOCAL_WATCHDOG = 'watchdog:\n  mode: "off"\n';

/** The topology on both platforms: the reference one with an archive, every kind of backup job, and monitoring. */
const TOPOLOGY: HaTopologyProps = {
  archive: {},
  backup: { incrementalSchedule: '*-*-* 07..23/6:00:00', logicalDump: {} },
  monitoring: {},
};

/**
 * The only lines allowed to differ between the platforms, and only in pgbackrest.conf: where
 * repository 1 is. AWS: an S3 bucket (its name and region come from the environment at boot),
 * signed by the instance role. Local (posix store): a directory in the store.
 */
const PGBACKREST_CONFIG = '/etc/pgbackrest/pgbackrest.conf';
const REPO_LOCATION = /^repo1-(type|path|s3-key-type|s3-uri-style)=/;
const awsLocation = ['repo1-path=/pgbackrest', 'repo1-s3-key-type=auto', 'repo1-s3-uri-style=host', 'repo1-type=s3'];
const localLocation = (storeDir: string) => [`repo1-path=${storeDir}/main/pgbackrest`, 'repo1-type=posix'];

/**
 * The repository location lines of a pgbackrest.conf, and the file with each run of consecutive
 * location lines as one placeholder line: the two sides must still agree on where the runs are.
 */
function splitLocation(text: string): { location: string[]; rest: string } {
  const lines = text.split('\n');
  const location = lines.filter((line) => REPO_LOCATION.test(line));
  const rest = lines
    .map((line) => (REPO_LOCATION.test(line) ? '<repo1 location>' : line))
    .filter((line, index, all) => !(line === '<repo1 location>' && all[index - 1] === '<repo1 location>'));
  return { location, rest: rest.join('\n') };
}

describe('local platform against AWS', () => {
  let dir: string;
  let storeDir: string;
  let aws: RenderedNode[];
  let local: RenderedNode[];
  let platform: LocalPlatform;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-local-vs-aws-'));
    storeDir = join(dir, 'archive-store');
    aws = collectRenderedNodes(new AwsHaStack(new App({ outdir: dir }), 'aws-ha', TOPOLOGY));
    const root = new RootConstruct('local');
    platform = new LocalPlatform(root, 'Platform', { addressBlock: 99, archiveStore: { type: 'posix', dir: storeDir } });
    haTopology(root, platform, TOPOLOGY);
    local = collectRenderedNodes(root);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('THEN the same nodes exist, at the same host numbers in the same subnets', () => {
    expect(local.map((n) => n.plan.name)).toEqual(aws.map((n) => n.plan.name));
    const hostPart = (address: string) => address.split('.').slice(2).join('.');
    expect(local.map((n) => hostPart(n.plan.address))).toEqual(aws.map((n) => hostPart(n.plan.address)));
  });

  test('THEN both have the archive and the backup jobs on every PostgreSQL node, so the comparison covers them', () => {
    for (const nodes of [aws, local]) {
      for (const node of nodes.filter((n) => n.plan.name.includes('-pg-'))) {
        const paths = node.files.map((f) => f.path);
        expect(paths).toEqual(
          expect.arrayContaining([
            PGBACKREST_CONFIG,
            ...['pgha-stanza-create', 'pgha-backup', 'pgha-check', 'pgha-verify', 'pgha-restore-drill', 'pgha-dump'].map((name) => `/usr/local/lib/pgha/${name}`),
            ...['pgha-backup-full', 'pgha-backup-diff', 'pgha-backup-incr', 'pgha-check', 'pgha-verify', 'pgha-restore-drill', 'pgha-dump'].flatMap((job) => [
              `/etc/systemd/system/${job}.service`,
              `/etc/systemd/system/${job}.timer`,
            ]),
          ]),
        );
      }
    }
  });

  test('WHEN laid out under node directories THEN every file equals the AWS one but for addresses, networks and paths', () => {
    const secrets = generateSecrets(platform.secrets);
    const nodeRoot = (name: string) => join(dir, 'nodes', name);
    const laidOut = local.map((node) => layOutNode(node, nodeRoot(node.plan.name), secrets));
    let compared = 0;
    let locations = 0;
    let watchdogs = 0;
    for (const awsNode of aws) {
      const localNode = laidOut.find((n) => n.name === awsNode.plan.name)!;
      const awsFiles = awsNode.files.filter((f) => !BOOT_ONLY_ON_AWS.includes(f.path));
      expect(localNode.files.map((f) => f.path)).toEqual(awsFiles.map((f) => join(nodeRoot(awsNode.plan.name), f.path)));
      for (const awsFile of awsFiles) {
        let onDisk = readFileSync(join(nodeRoot(awsNode.plan.name), awsFile.path), 'utf8');
        let awsText = awsFile.content;
        // Where the repository is: the one allowed difference, in pgbackrest.conf only; each side exactly as expected.
        if (awsFile.path === PGBACKREST_CONFIG) {
          const awsSplit = splitLocation(awsText);
          const localSplit = splitLocation(onDisk);
          expect({ node: awsNode.plan.name, aws: awsSplit.location, local: localSplit.location }).toEqual({
            node: awsNode.plan.name,
            aws: awsLocation,
            local: localLocation(storeDir),
          });
          awsText = awsSplit.rest;
          onDisk = localSplit.rest;
          locations++;
        }
        if (awsFile.path === LAYOUT.patroniConfig) {
          expect({ node: awsNode.plan.name, aws: awsText.includes(AWS_WATCHDOG), local: onDisk.includes(LOCAL_WATCHDOG) }).toEqual({ node: awsNode.plan.name, aws: true, local: true });
          awsText = awsText.replace(AWS_WATCHDOG, LOCAL_WATCHDOG);
          watchdogs++;
        }
        // Every node-owned path in the local file was moved under the node directory...
        const unmoved = new RegExp(`(?<!${escape(nodeRoot(awsNode.plan.name))})(${NODE_PATHS.map(escape).join('|')})(?=[/\\s"':,]|$)`, 'm');
        expect({ file: awsFile.path, unmoved: unmoved.exec(onDisk)?.[0] }).toEqual({ file: awsFile.path, unmoved: undefined });
        // ...and apart from that, and addresses and networks, it is the AWS file.
        expect({ file: awsFile.path, text: normalize(onDisk, local, '127.99', nodeRoot(awsNode.plan.name)) }).toEqual({
          file: awsFile.path,
          text: normalize(awsText, aws, '10.40'),
        });
        compared++;
      }
    }
    expect(watchdogs).toBe(aws.filter((node) => node.plan.watchdog).length);
    expect(watchdogs).toBeGreaterThan(0);
    expect(locations).toBe(3);
    // Per PostgreSQL node: createcluster drop-in, patroni.yml, etcd config, pgbackrest.conf, the
    // exporter queries, 7 scripts, 8 jobs (service + timer), etcd, Patroni and the two exporters'
    // units; per proxy: haproxy.cfg, its unit and node_exporter's.
    expect(compared).toBe(3 * (5 + 7 + 8 * 2 + 4) + 2 * 3);
  });

  test('negative control: any other difference in pgbackrest.conf stays a difference: another repo1-* line changed, a location line moved to another section', () => {
    const awsConfig = aws[0].files.find((f) => f.path === PGBACKREST_CONFIG)!.content;
    const changed = awsConfig.replace('repo1-cipher-type=aes-256-cbc', 'repo1-cipher-type=none');
    expect(changed).not.toBe(awsConfig);
    expect(splitLocation(changed).rest).not.toBe(splitLocation(awsConfig).rest);
    const moved = awsConfig.replace('repo1-type=s3\n', '').replace('[main]\n', '[main]\nrepo1-type=s3\n');
    expect(splitLocation(moved).location).toEqual(awsLocation);
    expect(splitLocation(moved).rest).not.toBe(splitLocation(awsConfig).rest);
  });

  test('THEN paths inside the configs point into the node directory, and programs stay where Debian put them', () => {
    const root = join(dir, 'nodes', 'main-pg-1');
    const patroni = readFileSync(join(root, 'etc/patroni/patroni.yml'), 'utf8');
    expect(patroni).toContain(`data_dir: ${root}/var/lib/pgha/postgresql/17/main`);
    expect(patroni).toContain(`unix_socket_directories: ${root}/run/postgresql`);
    expect(patroni).toContain('bin_dir: /usr/lib/postgresql/17/bin');
    const unit = readFileSync(join(root, 'etc/systemd/system/pgha-patroni.service'), 'utf8');
    expect(unit).toContain(`ExecStart=/usr/bin/patroni ${root}/etc/patroni/patroni.yml`);
    expect(unit).toContain(`EnvironmentFile=${root}/etc/patroni/patroni.env`);
    const pgbackrest = readFileSync(join(root, 'etc/pgbackrest/pgbackrest.conf'), 'utf8');
    expect(pgbackrest).toContain(`spool-path=${root}/var/lib/pgha/pgbackrest/spool`);
    expect(pgbackrest).toContain(`pg1-path=${root}/var/lib/pgha/postgresql/17/main`);
    expect(pgbackrest).toContain(`repo1-path=${storeDir}/main/pgbackrest`);
    const job = readFileSync(join(root, 'etc/systemd/system/pgha-backup-full.service'), 'utf8');
    expect(job).toContain(`ExecStart=${root}/usr/local/lib/pgha/pgha-backup full`);
    expect(job).toContain(`EnvironmentFile=${root}/etc/pgbackrest/pgbackrest.env`);
  });
});
