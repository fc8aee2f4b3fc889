/**
 * No raw TypeError or RangeError reaches a user (issue 15): random props, of random JSON shapes and
 * of plausible-but-wrong values, go to every construct and platform of the public API and to `pgha
 * validate`; each either builds or is refused with a SpecError. Seeded, so that CI runs the same
 * cases every time; FUZZ_SEED=<n> (and FUZZ_RUNS) explore others.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  AwsPlatform,
  AwsVpc,
  BackupJob,
  ClusterMonitoring,
  DockerPlatform,
  HaproxyFrontends,
  LocalPlatform,
  PatroniCluster,
  PrimaryWithReplicas,
  PrometheusServer,
  SpecError,
  WalArchiveBucket,
} from '../../src/index';
import { VALIDATE_KINDS, validateCommand } from '../../src/cli/validate-command';
import { ConstructEnv, constructEnv, loose } from '../support/construct-env';

const SEED = Number(process.env.FUZZ_SEED ?? 20261208);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

/** Values that are nearly right: the edges the schemas must hold. */
const plausible = fc.constantFrom<unknown>(
  '0.0.0.0/0', '0.0.0.0/00', '010.0.0.0/8', '10.0.0.5/16', '10.0.0.0/16', '127.0.0.1', '0.0.0.0', '-1MB', 'lots', "x'\ny",
  '*-02-30', 'daily', 'Sun *-*-* 01:00:00', 'main', 'Main', '', ' ', 'constructor', '__proto__', 'toString',
  0, -1, 1, 3, 2.5, 65536, 1024, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY, -0,
  true, false, null, undefined, [], {}, [[]], { cidr: '0.0.0.0/0' }, { group: 'x' }, ['10.0.0.0/8'],
);
const value: fc.Arbitrary<unknown> = fc.oneof(plausible, fc.jsonValue({ maxDepth: 3 }), fc.string(), fc.integer(), fc.double());

/** Props: each known key maybe set to a random value, plus maybe a few unknown keys. */
function propsOf(keys: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(
      fc.record(Object.fromEntries(keys.map((key) => [key, value])), { requiredKeys: [] }),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('constructor', 'toString', 'valueOf', 'hasOwnProperty')), value, { maxKeys: 2 }),
    )
    .map(([known, unknown]) => ({ ...unknown, ...known }));
}

/** A reference prop: the right construct, a wrong one, or plain data. */
const reference = fc.constantFrom('aws', 'local', 'docker', 'cluster', 'replicas', 'archive', 'frontends', 'monitoring', 'nothing', 'text', 'object');
function referenceOf(env: ConstructEnv, choice: string): unknown {
  switch (choice) {
    case 'aws': return env.aws();
    case 'local': return env.local();
    case 'docker': return env.docker();
    case 'cluster': return env.cluster();
    case 'replicas': return env.replicas();
    case 'archive': return env.archive();
    case 'frontends': return env.frontends();
    case 'monitoring': return env.monitoring();
    case 'nothing': return undefined;
    case 'text': return 'main';
    default: return {};
  }
}

interface Target {
  readonly name: string;
  /** Data props to fuzz (valid values sit in `base`). */
  readonly keys: readonly string[];
  readonly base: Record<string, unknown>;
  /** Reference props, each filled with a random choice. */
  readonly references: readonly string[];
  /** The choice of referenceOf that is right for each reference. */
  readonly rightReferences: readonly string[];
  build(env: ConstructEnv, props: Record<string, unknown>): unknown;
}

const SUBNETS = [{ subnetId: 'subnet-01111111111111111', availabilityZone: 'eu-west-1a', cidrBlock: '10.0.1.0/24' }];
const TARGETS: Target[] = [
  { name: 'AwsPlatform', keys: ['vpcId', 'subnets', 'amiId', 'secretNamePrefix', 'firstHostNumber', 'defaultInstanceType', 'kmsKeyArn'], base: { vpcId: 'vpc-0123456789abcdef0', subnets: SUBNETS }, references: [], rightReferences: [], build: (e, p) => new AwsPlatform(e.stack, 'Fuzzed', loose(p)) },
  { name: 'AwsVpc', keys: ['cidrBlock', 'availabilityZones', 'name'], base: { name: 'x', availabilityZones: ['eu-west-1a'] }, references: [], rightReferences: [], build: (e, p) => new AwsVpc(e.stack, 'Fuzzed', loose(p)) },
  { name: 'LocalPlatform', keys: ['addressBlock', 'subnets', 'firstHostNumber', 'archiveStore', 'nodesDir', 'failover'], base: {}, references: [], rightReferences: [], build: (e, p) => new LocalPlatform(e.stack, 'Fuzzed', loose(p)) },
  { name: 'DockerPlatform', keys: ['subnet', 'firstHostNumber', 'publishAddress', 'allowPublishOnEveryInterface', 'name'], base: {}, references: [], rightReferences: [], build: (e, p) => new DockerPlatform(e.stack, 'Fuzzed', loose(p)) },
  {
    name: 'PatroniCluster',
    keys: ['clusterName', 'nodeCount', 'replicationMode', 'synchronousNodeCount', 'failover', 'postgresPort', 'restApiPort', 'postgresqlParameters', 'clientCidrs', 'allowAnyClient', 'restoreFrom', 'replicateFrom', 'publications', 'subscriptions', 'instanceType', 'etcdPlacement'],
    base: { clusterName: 'fuzzed' },
    references: ['platform', 'archive'], rightReferences: ['aws', 'archive'],
    build: (e, p) => new PatroniCluster(e.stack, 'Fuzzed', loose(p)),
  },
  {
    name: 'PrimaryWithReplicas',
    keys: ['clusterName', 'standbyCount', 'replicationMode', 'postgresqlParameters', 'clientCidrs', 'replicateFrom', 'agentPort', 'dataVolumeSizeGiB'],
    base: { clusterName: 'fuzzed' },
    references: ['platform', 'archive'], rightReferences: ['aws', 'archive'],
    build: (e, p) => new PrimaryWithReplicas(e.stack, 'Fuzzed', loose(p)),
  },
  { name: 'HaproxyFrontends', keys: ['proxyCount', 'readWritePort', 'statsPort', 'clientCidrs', 'pooling', 'outputPrefix', 'maxReplicaLagBytes'], base: {}, references: ['platform', 'cluster'], rightReferences: ['aws', 'cluster'], build: (e, p) => new HaproxyFrontends(e.stack, 'Fuzzed', loose(p)) },
  { name: 'WalArchiveBucket', keys: ['name', 'repositoryPath', 'retentionDays', 'objectLockDays', 'replicaRegion'], base: { name: 'fuzzed-archive' }, references: ['platform'], rightReferences: ['aws'], build: (e, p) => new WalArchiveBucket(e.stack, 'Fuzzed', loose(p)) },
  { name: 'BackupJob', keys: ['fullSchedule', 'differentialSchedule', 'incrementalSchedule', 'checkSchedule', 'retentionFull', 'logicalDump', 'backupStandby'], base: {}, references: ['cluster'], rightReferences: ['cluster'], build: (e, p) => new BackupJob(e.stack, 'Fuzzed', loose(p)) },
  { name: 'ClusterMonitoring', keys: ['cacheHitPercent', 'exporterPort', 'nodeExporterPort', 'scrapers', 'backupMaxAgeHours'], base: {}, references: ['cluster', 'frontends'], rightReferences: ['cluster', 'frontends'], build: (e, p) => new ClusterMonitoring(e.stack, 'Fuzzed', loose(p)) },
  { name: 'PrometheusServer', keys: ['port', 'retentionDays', 'clientCidrs', 'name', 'monitoring'], base: {}, references: ['platform'], rightReferences: ['aws'], build: (e, p) => new PrometheusServer(e.stack, 'Fuzzed', loose(p)) },
];

/** A SpecError, or nothing: anything else thrown is the failure this test exists to find. */
function outcome(build: () => unknown): 'built' | 'refused' {
  try {
    build();
    return 'built';
  } catch (error) {
    if (error instanceof SpecError) return 'refused';
    throw error;
  }
}

describe.each(TARGETS)('$name: random props give a SpecError or a construct', (target) => {
  test(`${RUNS} seeded cases`, () => {
    const seen = { built: 0, refused: 0 };
    fc.assert(
      fc.property(propsOf(target.keys), fc.array(reference, { minLength: target.references.length, maxLength: target.references.length }), fc.boolean(), (fuzzed, choices, onBase) => {
        const env = constructEnv();
        const props: Record<string, unknown> = { ...(onBase ? target.base : {}), ...fuzzed };
        target.references.forEach((name, index) => (props[name] = referenceOf(env, choices[index])));
        if (target.name === 'PrometheusServer' && !Object.hasOwn(fuzzed, 'monitoring')) props.monitoring = [env.monitoring()];
        seen[outcome(() => target.build(env, props))]++;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(seen.refused).toBeGreaterThan(0);
    // Control: the harness builds the target from its base props and the right references.
    const env = constructEnv();
    const props: Record<string, unknown> = { ...target.base };
    target.references.forEach((name, index) => (props[name] = referenceOf(env, target.rightReferences[index])));
    if (target.name === 'PrometheusServer') props.monitoring = [env.monitoring()];
    expect(outcome(() => target.build(env, props))).toBe('built');
  });
});

describe('pgha validate: random JSON files give exit 0 or 1, never an error no rule foresaw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(Object.keys(VALIDATE_KINDS))('%s', (kind) => {
    fc.assert(
      fc.property(fc.oneof(propsOf(['clusterName', 'subnets', 'postgresqlParameters', 'clientCidrs', 'fullSchedule', 'pooling', 'restoreFrom']), fc.jsonValue({ maxDepth: 4 })), (input) => {
        const file = join(dir, `${kind}.json`);
        writeFileSync(file, JSON.stringify(input) ?? 'null');
        let errors = '';
        const code = validateCommand([kind, file], { out: () => undefined, err: (text) => (errors += text) });
        // The file is always JSON: 2 here would be validate's catch-all for an error no rule foresaw.
        expect([0, 1]).toContain(code);
        expect(errors).not.toMatch(/could not be checked/);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('a 300,000-entry list and a 100,000-deep value are refused in a bounded message', () => {
    const big = join(dir, 'big.json');
    writeFileSync(big, JSON.stringify({ clusterName: 'a', clientCidrs: Array.from({ length: 300_000 }, (_, i) => ({ x: i })) }));
    let errors = '';
    expect(validateCommand(['patroni-cluster', big], { out: () => undefined, err: (text) => (errors += text) })).toBe(1);
    expect(errors).toMatch(/\(300000 problems\)/);
    expect(errors).toMatch(/and 299950 more problems/);
    expect(errors.length).toBeLessThan(20_000);

    const deep = join(dir, 'deep.json');
    writeFileSync(deep, `{"clusterName":"a","restoreFrom":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`);
    errors = '';
    expect(validateCommand(['patroni-cluster', deep], { out: () => undefined, err: (text) => (errors += text) })).toBe(1);
    expect(errors).toMatch(/restoreFrom: got "a"; expected only documented fields/);
    expect(errors).not.toMatch(/RangeError|\n\s+at /);
  });
});
