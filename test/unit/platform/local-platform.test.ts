import { RootConstruct } from 'constructs';
import { NodePlan } from '../../../src/model/node-plan';
import { LocalPlatform } from '../../../src/platform/local/local-platform';
import { ownedPaths, pathMapper } from '../../../src/runner/path-map';

const plan = (over: Partial<NodePlan> = {}): NodePlan => ({
  name: 'n1',
  group: 'g',
  address: '127.42.1.10',
  packages: [],
  directories: [{ path: '/run/postgresql', mode: '2775', owner: 'postgres:postgres' }],
  files: [{ path: '/etc/patroni/patroni.yml', mode: '0640', owner: 'postgres:postgres', content: '' }],
  services: [],
  replacesServices: [],
  ports: [],
  secrets: [],
  dataVolume: { mountPath: '/var/lib/pgha', sizeGiB: 1 },
  ...over,
});

describe('LocalPlatform', () => {
  test('places nodes like AWS: subnet by subnet in turn, host 10 upward in each', () => {
    const platform = new LocalPlatform(new RootConstruct('t'), 'P', { addressBlock: 77 });
    expect(platform.previewZones(4)).toEqual(['local-1', 'local-2', 'local-3', 'local-1']);
    expect(platform.placeNodes('db-pg', 4).map((p) => [p.name, p.address, p.network])).toEqual([
      ['db-pg-1', '127.77.1.10', '127.77.1.0/24'],
      ['db-pg-2', '127.77.2.10', '127.77.2.0/24'],
      ['db-pg-3', '127.77.3.10', '127.77.3.0/24'],
      ['db-pg-4', '127.77.1.11', '127.77.1.0/24'],
    ]);
    expect(platform.placeNodes('db-proxy', 1)[0].address).toBe('127.77.2.11');
  });

  test.each([0, 255, 1.5])('fails when the address block is %s', (addressBlock) => {
    expect(() => new LocalPlatform(new RootConstruct('t'), 'P', { addressBlock })).toThrow(/Invalid LocalPlatform spec of t\/P .*\n.*addressBlock: got .*; expected the second octet .*a whole number from 1 to 254/);
  });
});

describe('pathMapper', () => {
  test('owns the outermost folders of files, directories, secrets and the data volume', () => {
    expect(ownedPaths(plan({ directories: [{ path: '/var/lib/pgha/etcd', mode: '0700', owner: 'etcd:etcd' }] }))).toEqual(['/etc/patroni', '/var/lib/pgha']);
  });

  test('moves whole owned paths under the node root, and nothing else', () => {
    const map = pathMapper(plan(), '/tmp/c/nodes/n1');
    expect(map('data_dir: /var/lib/pgha/postgresql/17/main')).toBe('data_dir: /tmp/c/nodes/n1/var/lib/pgha/postgresql/17/main');
    expect(map('ExecStart=/usr/bin/patroni /etc/patroni/patroni.yml')).toBe('ExecStart=/usr/bin/patroni /tmp/c/nodes/n1/etc/patroni/patroni.yml');
    expect(map('sockets: "/run/postgresql",/run/postgresql')).toBe('sockets: "/tmp/c/nodes/n1/run/postgresql",/tmp/c/nodes/n1/run/postgresql');
    // Look-alikes stay: another folder with the same prefix, a path inside a longer one, a URL path.
    expect(map('/etc/patroni2/x /opt/etc/patroni http://h/var/lib/pgha')).toBe('/etc/patroni2/x /opt/etc/patroni http://h/var/lib/pgha');
  });
});
