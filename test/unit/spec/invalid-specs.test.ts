import { validateHaproxyFrontendsSpec } from '../../../src/spec/haproxy-frontends';
import { validatePatroniClusterSpec } from '../../../src/spec/patroni-cluster';
import { SpecError } from '../../../src/spec/problems';
import { validateWalArchiveBucketSpec } from '../../../src/spec/wal-archive-bucket';

const base = { clusterName: 'orders' };
const zones3 = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];

function problemsOf(validate: (input: unknown) => unknown, input: unknown): SpecError {
  try {
    validate(input);
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(input)}`);
}

describe('PatroniCluster spec', () => {
  // [what is wrong, input, path named, words of the message]
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['no cluster name', {}, 'clusterName', /expected a name/],
    ['an upper-case cluster name', { clusterName: 'Orders' }, 'clusterName', /lower-case letters/],
    ['a cluster name with a dot', { clusterName: 'orders.db' }, 'clusterName', /DNS-safe/],
    ['2 nodes', { ...base, nodeCount: 2 }, 'nodeCount', /at least 3 nodes/],
    ['1 node without allowSingleNode', { ...base, nodeCount: 1, replicationMode: 'async' }, 'nodeCount', /allowSingleNode: true/],
    ['0 nodes', { ...base, nodeCount: 0 }, 'nodeCount', /at least 1 PostgreSQL nodes/],
    ['a fractional node count', { ...base, nodeCount: 3.5 }, 'nodeCount', /whole number/],
    ['a node count as text', { ...base, nodeCount: 'three' }, 'nodeCount', /whole number of PostgreSQL nodes/],
    ['an unknown replication mode', { ...base, replicationMode: 'quorum' }, 'replicationMode', /"async", "sync" or "sync-strict"/],
    ['sync standbys equal to the node count', { ...base, synchronousNodeCount: 3 }, 'synchronousNodeCount', /at most 2/],
    ['a sync single node', { ...base, nodeCount: 1, allowSingleNode: true, replicationMode: 'sync' }, 'replicationMode', /"async" for a single node/],
    ['loop_wait + 2*retry_timeout above ttl', { ...base, failover: { ttlSeconds: 20, loopWaitSeconds: 10, retryTimeoutSeconds: 10 } }, 'failover.ttlSeconds', /10 \+ 2 \* 10 = 30 > 20/],
    ['an unknown failover profile', { ...base, failover: 'turbo' }, 'failover', /"default", "fast" or/],
    ['a failover timing of zero', { ...base, failover: { ttlSeconds: 30, loopWaitSeconds: 0, retryTimeoutSeconds: 10 } }, 'failover.loopWaitSeconds', /loop_wait in whole seconds, at least 1/],
    ['a failover object missing ttl', { ...base, failover: { loopWaitSeconds: 10, retryTimeoutSeconds: 10 } }, 'failover.ttlSeconds', /ttl in whole seconds/],
    ['a privileged port', { ...base, postgresPort: 543 }, 'postgresPort', /1024 to 65535/],
    ['a port above 65535', { ...base, restApiPort: 70000 }, 'restApiPort', /1024 to 65535/],
    ['two services on one port', { ...base, restApiPort: 5432 }, 'restApiPort', /different from postgresPort/],
    ['etcd peer port on the client port', { ...base, etcdPeerPort: 2379 }, 'etcdPeerPort', /different from etcdClientPort/],
    ['an unknown etcd placement', { ...base, etcdPlacement: 'remote' }, 'etcdPlacement', /"colocated" or "dedicated"/],
    ['hot_standby set', { ...base, postgresqlParameters: { hot_standby: 'off' } }, 'postgresqlParameters.hot_standby', /Patroni or this library owns it/],
    ['wal_level minimal', { ...base, postgresqlParameters: { wal_level: 'minimal' } }, 'postgresqlParameters.wal_level', /at least "replica"/],
    ['listen_addresses set', { ...base, postgresqlParameters: { listen_addresses: '*' } }, 'postgresqlParameters.listen_addresses', /node address/],
    ['synchronous_standby_names set', { ...base, postgresqlParameters: { synchronous_standby_names: '*' } }, 'postgresqlParameters.synchronous_standby_names', /replicationMode/],
    ['max_connections as a parameter', { ...base, postgresqlParameters: { max_connections: 500 } }, 'postgresqlParameters.max_connections', /maxConnections prop/],
    ['too few WAL senders', { ...base, postgresqlParameters: { max_wal_senders: 3 } }, 'postgresqlParameters.max_wal_senders', /at least nodeCount \+ 2 \(5\)/],
    ['a parameter value that is an object', { ...base, postgresqlParameters: { work_mem: { size: 4 } } }, 'postgresqlParameters.work_mem', /string, number or boolean/],
    ['a malformed parameter name', { ...base, postgresqlParameters: { 'Work-Mem': '4MB' } }, 'postgresqlParameters.Work-Mem', /parameter name/],
    ['an invalid client CIDR', { ...base, clientCidrs: ['10.0.0.0/33'] }, 'clientCidrs.0', /an IPv4 network "address\/prefix"/],
    ['a client CIDR that is a bare address', { ...base, clientCidrs: ['10.0.0.1'] }, 'clientCidrs.0', /an IPv4 network "address\/prefix"/],
    ['the whole internet as a client range', { ...base, clientCidrs: ['10.0.0.0/8', '0.0.0.0/0'] }, 'clientCidrs.1', /allowAnyClient: true/],
    ['all nodes in one zone', { ...base, nodeZones: ['eu-west-1a', 'eu-west-1a', 'eu-west-1a'] }, 'subnets', /at least 2 availability zones/],
    ['a misspelt field', { ...base, nodecount: 3 }, 'nodecount', /only documented fields/],
    ['max connections below 10', { ...base, maxConnections: 5 }, 'maxConnections', /at least 10 connections/],
  ])('fails with %s', (_what, input, path, message) => {
    const error = problemsOf(validatePatroniClusterSpec, input);
    const problem = error.problems.find((p) => p.path === path);
    expect(problem).toBeDefined();
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${path}: got `);
    expect(problem!.fix.length).toBeGreaterThan(5);
  });

  test('reports every problem of one spec together', () => {
    const error = problemsOf(validatePatroniClusterSpec, {
      clusterName: 'Bad Name',
      nodeCount: 2,
      failover: { ttlSeconds: 20, loopWaitSeconds: 10, retryTimeoutSeconds: 6 },
      postgresqlParameters: { hot_standby: 'off' },
      restApiPort: 5432,
    });
    expect(error.problems.map((p) => p.path)).toEqual([
      'clusterName',
      'nodeCount',
      'failover.ttlSeconds',
      'restApiPort',
      'postgresqlParameters.hot_standby',
    ]);
    expect(error.message).toMatch(/^Invalid PatroniCluster spec \(5 problems\):/);
  });

  test.each([
    ['the defaults', base],
    ['one node with allowSingleNode, async', { ...base, nodeCount: 1, allowSingleNode: true, replicationMode: 'async' }],
    ['the fast profile', { ...base, failover: 'fast' }],
    ['wal_level logical', { ...base, postgresqlParameters: { wal_level: 'logical', work_mem: '16MB' } }],
    ['three zones', { ...base, nodeZones: zones3 }],
    ['one zone, allowed', { ...base, nodeZones: ['a', 'a', 'a'], allowSingleAvailabilityZone: true }],
    ['5 nodes with 2 sync standbys', { ...base, nodeCount: 5, synchronousNodeCount: 2 }],
  ])('accepts %s', (_what, input) => {
    expect(() => validatePatroniClusterSpec(input)).not.toThrow();
  });

  test('GIVEN the fast profile THEN the timings are 20/2/6, the shortest lease Patroni 4 takes', () => {
    expect(validatePatroniClusterSpec({ ...base, failover: 'fast' }).failover).toEqual({ ttlSeconds: 20, loopWaitSeconds: 2, retryTimeoutSeconds: 6 });
  });

  test.each([
    ['ttlSeconds', { ttlSeconds: 10, loopWaitSeconds: 2, retryTimeoutSeconds: 4 }, 10, 20],
    ['loopWaitSeconds', { ttlSeconds: 30, loopWaitSeconds: 0, retryTimeoutSeconds: 10 }, 0, 1],
    ['retryTimeoutSeconds', { ttlSeconds: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 2 }, 2, 3],
  ])('GIVEN failover.%s below what Patroni 4 takes THEN it is refused, naming the minimum', (field, failover, given, minimum) => {
    const error = problemsOf(validatePatroniClusterSpec, { ...base, failover });
    const problem = error.problems.find((p) => p.path === `failover.${field}`);
    expect(problem?.given).toBe(given);
    expect(problem?.expected).toContain(`at least ${minimum} (Patroni 4 raises a smaller one to ${minimum})`);
  });
});

describe('HaproxyFrontends spec', () => {
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['one proxy without allowSingleProxy', { proxyCount: 1 }, 'proxyCount', /at least 2 proxies/],
    ['nine proxies', { proxyCount: 9 }, 'proxyCount', /at most 8 proxies/],
    ['read-only on the read-write port', { readOnlyPort: 5000 }, 'readOnlyPort', /different from readWritePort/],
    ['stats on the sync port', { syncReplicaPort: 7000 }, 'statsPort', /different from syncReplicaPort/],
    ['a negative lag limit', { maxReplicaLagBytes: -1 }, 'maxReplicaLagBytes', /at least 0 bytes/],
    ['the whole internet as clients', { clientCidrs: ['0.0.0.0/0'] }, 'clientCidrs.0', /allowAnyClient/],
    ['a malformed client CIDR', { clientCidrs: ['10.0.0.0/-1'] }, 'clientCidrs.0', /an IPv4 network "address\/prefix"/],
    ['proxies in one zone', { proxyZones: ['a', 'a'] }, 'subnets', /at least 2 availability zones/],
    ['zero connections', { maxConnections: 0 }, 'maxConnections', /at least 1 connection/],
  ])('fails with %s', (_what, input, path, message) => {
    const error = problemsOf(validateHaproxyFrontendsSpec, input);
    expect(error.problems.map((p) => p.path)).toContain(path);
    expect(error.message).toMatch(message);
  });

  test('accepts the defaults: ports 5000/5001, stats 7000, 16 MiB lag limit', () => {
    expect(validateHaproxyFrontendsSpec({})).toMatchObject({
      proxyCount: 2,
      readWritePort: 5000,
      readOnlyPort: 5001,
      statsPort: 7000,
      maxReplicaLagBytes: 16 * 1024 * 1024,
    });
    expect(validateHaproxyFrontendsSpec({}).syncReplicaPort).toBeUndefined();
  });
});

describe('WalArchiveBucket spec: the offsite copy', () => {
  const archive = { name: 'orders' };
  // [what is wrong, input, path named, words of the message]
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an availability zone as the replica region', { replicaRegion: 'eu-central-1a' }, 'replicaRegion', /not an availability zone/],
    ['a display name as the replica region', { replicaRegion: 'Frankfurt' }, 'replicaRegion', /an AWS region code such as "eu-central-1"/],
    ['an upper-case region', { replicaRegion: 'EU-CENTRAL-1' }, 'replicaRegion', /an AWS region code/],
    ['a region without its number', { replicaRegion: 'eu-central' }, 'replicaRegion', /an AWS region code/],
    ['a region with underscores', { replicaRegion: 'eu_central_1' }, 'replicaRegion', /an AWS region code/],
    ['a region that is not text', { replicaRegion: 1 }, 'replicaRegion', /an AWS region code/],
    ['an archive storage class pgBackRest cannot read', { replicaRegion: 'eu-central-1', replicaStorageClass: 'GLACIER' }, 'replicaStorageClass', /without a restore request/],
    ['a one-zone storage class', { replicaRegion: 'eu-central-1', replicaStorageClass: 'ONEZONE_IA' }, 'replicaStorageClass', /"STANDARD_IA"/],
    ['a storage class without a replica region', { replicaStorageClass: 'STANDARD' }, 'replicaStorageClass', /only together with replicaRegion/],
  ])('fails with %s', (_what, input, path, message) => {
    const error = problemsOf(validateWalArchiveBucketSpec, { ...archive, ...input });
    const problem = error.problems.find((p) => p.path === path);
    expect(problem).toBeDefined();
    expect(problem!.given).toEqual(input[path]);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${path}: got `);
    expect(problem!.fix.length).toBeGreaterThan(5);
  });

  test('names the fix for a zone given as a region', () => {
    const error = problemsOf(validateWalArchiveBucketSpec, { ...archive, replicaRegion: 'eu-central-1a' });
    expect(error.message).toContain('replicaRegion: got "eu-central-1a"; expected an AWS region code such as "eu-central-1". Fix: use the region code');
  });

  test.each([
    ['a standard region', 'eu-central-1'],
    ['a two-part area', 'ap-southeast-2'],
    ['GovCloud', 'us-gov-west-1'],
    ['China', 'cn-northwest-1'],
    ['the European Sovereign Cloud', 'eusc-de-east-1'],
  ])('accepts %s (%s) and keeps it, with no storage class chosen in the spec', (_what, region) => {
    const spec = validateWalArchiveBucketSpec({ ...archive, replicaRegion: region });
    expect(spec.replicaRegion).toBe(region);
    expect(spec.replicaStorageClass).toBeUndefined();
  });

  test('accepts a storage class with a replica region', () => {
    expect(validateWalArchiveBucketSpec({ ...archive, replicaRegion: 'eu-central-1', replicaStorageClass: 'GLACIER_IR' })).toMatchObject({
      replicaRegion: 'eu-central-1',
      replicaStorageClass: 'GLACIER_IR',
    });
  });

  test('has no copy unless asked', () => {
    const spec = validateWalArchiveBucketSpec(archive);
    expect([spec.replicaRegion, spec.replicaStorageClass]).toEqual([undefined, undefined]);
  });
});
