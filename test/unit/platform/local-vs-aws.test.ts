/**
 * The local platform runs what the AWS nodes run: laid out under a node directory, each node's
 * files differ from the AWS node's only in addresses, networks and paths.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RootConstruct } from 'constructs';
import { App } from '../../../src/cdktf';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { generateSecrets, layOutNode } from '../../../src/platform/local/node-directory';
import { LAYOUT } from '../../../src/node-plan/layout';
import { RenderedNode } from '../../../src/platform/rendered-node';
import { collectRenderedNodes } from '../../../src/review/node-files';
import { AwsHaStack } from '../../../stacks/aws-ha';
import { haTopology } from '../../../stacks/ha-topology';

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

const BOOT_ONLY_ON_AWS = ['/usr/local/sbin/pgha-boot', '/var/lib/cloud/instance/user-data.txt'];

describe('local platform against AWS', () => {
  let dir: string;
  let aws: RenderedNode[];
  let local: RenderedNode[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-local-vs-aws-'));
    aws = collectRenderedNodes(new AwsHaStack(new App({ outdir: dir }), 'aws-ha'));
    const root = new RootConstruct('local');
    haTopology(root, new LocalPlatform(root, 'Platform', { addressBlock: 99 }));
    local = collectRenderedNodes(root);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('THEN the same nodes exist, at the same host numbers in the same subnets', () => {
    expect(local.map((n) => n.plan.name)).toEqual(aws.map((n) => n.plan.name));
    const hostPart = (address: string) => address.split('.').slice(2).join('.');
    expect(local.map((n) => hostPart(n.plan.address))).toEqual(aws.map((n) => hostPart(n.plan.address)));
  });

  test('WHEN laid out under node directories THEN every file equals the AWS one but for addresses, networks and paths', () => {
    const secrets = generateSecrets([{ name: 'main/patroni', keys: ['superuser_password', 'replication_password', 'rewind_password', 'restapi_password'] }, { name: 'main/haproxy', keys: ['stats_password'] }]);
    const nodeRoot = (name: string) => join(dir, 'nodes', name);
    const laidOut = local.map((node) => layOutNode(node, nodeRoot(node.plan.name), secrets));
    let compared = 0;
    for (const awsNode of aws) {
      const localNode = laidOut.find((n) => n.name === awsNode.plan.name)!;
      const awsFiles = awsNode.files.filter((f) => !BOOT_ONLY_ON_AWS.includes(f.path));
      expect(localNode.files.map((f) => f.path)).toEqual(awsFiles.map((f) => join(nodeRoot(awsNode.plan.name), f.path)));
      for (const awsFile of awsFiles) {
        const onDisk = readFileSync(join(nodeRoot(awsNode.plan.name), awsFile.path), 'utf8');
        // Every node-owned path in the local file was moved under the node directory...
        const unmoved = new RegExp(`(?<!${escape(nodeRoot(awsNode.plan.name))})(${NODE_PATHS.map(escape).join('|')})(?=[/\\s"':,]|$)`, 'm');
        expect({ file: awsFile.path, unmoved: unmoved.exec(onDisk)?.[0] }).toEqual({ file: awsFile.path, unmoved: undefined });
        // ...and apart from that, and addresses and networks, it is the AWS file.
        expect({ file: awsFile.path, text: normalize(onDisk, local, '127.99', nodeRoot(awsNode.plan.name)) }).toEqual({
          file: awsFile.path,
          text: normalize(awsFile.content, aws, '10.40'),
        });
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(5 * 2);
  });

  test('THEN paths inside the configs point into the node directory, and programs stay where Debian put them', () => {
    const root = join(dir, 'nodes', 'main-pg-1');
    const patroni = readFileSync(join(root, 'etc/patroni/patroni.yml'), 'utf8');
    expect(patroni).toContain(`data_dir: ${root}/var/lib/pgha/postgresql/15/main`);
    expect(patroni).toContain(`unix_socket_directories: ${root}/run/postgresql`);
    expect(patroni).toContain('bin_dir: /usr/lib/postgresql/15/bin');
    const unit = readFileSync(join(root, 'etc/systemd/system/pgha-patroni.service'), 'utf8');
    expect(unit).toContain(`ExecStart=/usr/bin/patroni ${root}/etc/patroni/patroni.yml`);
    expect(unit).toContain(`EnvironmentFile=${root}/etc/patroni/patroni.env`);
  });
});
