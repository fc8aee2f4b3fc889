import { Construct } from 'constructs';
import { TerraformOutput } from '../cdktf';
import { HAPROXY_SECRET_VARIABLES, planHaproxyNodes } from '../node-plan/haproxy-plan';
import { PGBOUNCER_PASSWORD_KEY, pgbouncerAuthAddition, pgbouncerProxyAddition } from '../node-plan/pgbouncer-plan';
import { Peer } from '../model/node-plan';
import { Endpoint, EndpointListener, NodeGroup, Platform, SecretRef } from '../platform/platform';
import { HAPROXY_FRONTENDS_OUTSIDE_SHAPE as OUTSIDE_SHAPE, HaproxyFrontendsSpec, HaproxyFrontendsSpecInput, MAX_PROXIES, validateHaproxyFrontendsSpec } from '../spec/haproxy-frontends';
import { DEFAULT_SUPERUSER_RESERVED_CONNECTIONS, PoolingSpecInput, checkPoolFit } from '../spec/pooling';
import { SpecError } from '../spec/problems';
import { RoutedCluster } from './routed-cluster';
import { PLATFORM, ROUTED_CLUSTER, checkReference, propsObject } from './references';
import { claimName, claimPorts } from './stack-claims';
import { propProblems } from '../spec/validate';
import { checkAddedPeer } from '../spec/peer';
import { NodePlacement } from '../model/placement';
import { registerStackOutput } from './stack-output';
import { FrontendsDescription } from './stack-description';

export interface HaproxyFrontendsProps {
  readonly platform: Platform;
  /** The cluster the proxies route to: a PatroniCluster, or a PrimaryWithReplicas (its role agents answer the same checks). */
  readonly cluster: RoutedCluster;
  /** HAProxy nodes, spread over the platform's subnets in turn. @default 2 */
  readonly proxyCount?: number;
  /** Allow `proxyCount: 1` (the proxy is then a single point of failure). @default false */
  readonly allowSingleProxy?: boolean;
  /** Port that always reaches the primary (Patroni `/primary`). @default 5000 */
  readonly readWritePort?: number;
  /** Port over the replicas within `maxReplicaLagBytes` (Patroni `/replica?lag=`). @default 5001 */
  readonly readOnlyPort?: number;
  /** Port over synchronous standbys only (Patroni `/sync`). @default - none */
  readonly syncReplicaPort?: number;
  /** HAProxy stats page (user "admin", password in the secret), on each proxy. @default 7000 */
  readonly statsPort?: number;
  /** `GET /healthz` for the load balancer's checks of each proxy. @default 8404 */
  readonly healthPort?: number;
  /** A replica further behind than this leaves the read-only pool. @default 16777216 (16 MiB) */
  readonly maxReplicaLagBytes?: number;
  /** Concurrent client sessions per proxy. @default 2000 */
  readonly maxConnections?: number;
  /** Networks allowed to reach the read-write and read-only ports. @default [] */
  readonly clientCidrs?: string[];
  /** Allow 0.0.0.0/0 in clientCidrs. @default false */
  readonly allowAnyClient?: boolean;
  /**
   * PgBouncer on each proxy, in front of the read-write and read-only ports: `databases` to pool
   * (required), `poolMode` ("transaction"), `readWritePort` (6432), `readOnlyPort` (6433),
   * `readWritePoolSize` and `readOnlyPoolSize` (20 server connections per database per proxy),
   * `maxClientConnections` (1000 per instance). The pools must fit the cluster's max_connections.
   * @default - none
   */
  readonly pooling?: PoolingSpecInput;
  /** @default "c6i.large" */
  readonly instanceType?: string;
  /**
   * Prefix of the Terraform output names, for stacks with several clusters.
   * @default "" (outputs `writer_endpoint`, `reader_endpoint`)
   */
  readonly outputPrefix?: string;
}

const SPEC_NAME = 'HaproxyFrontends spec';

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
type SpecProps = Omit<HaproxyFrontendsProps, 'platform' | 'cluster' | 'instanceType' | 'outputPrefix'>;
const propsMatchSpec: [Required<SpecProps>] extends [Required<Omit<HaproxyFrontendsSpecInput, 'proxyZones'>>] ? true : never = true;
void propsMatchSpec;

/**
 * HAProxy nodes in front of a Patroni cluster: a read-write port that follows the primary and a
 * read-only port over the replicas, both from Patroni's REST health checks, behind one address.
 */
export class HaproxyFrontends extends Construct {
  readonly spec: HaproxyFrontendsSpec;
  /** The cluster the frontends route to. */
  readonly cluster: RoutedCluster;
  readonly proxies: readonly NodePlacement[];
  readonly nodes: NodeGroup;
  readonly endpoint: Endpoint;
  /** Password of the HAProxy stats page (user "admin"). */
  readonly secret: SecretRef;
  /** "host:port" of the read-write frontend: always the current primary. */
  readonly writerEndpoint: string;
  /** "host:port" of the read-only frontend: replicas within the lag limit, round-robin. */
  readonly readerEndpoint: string;
  /** "host:port" of the synchronous-standby frontend, when `syncReplicaPort` is set. */
  readonly syncReaderEndpoint?: string;
  /** "host:port" of PgBouncer's read-write pool, when `pooling` is set. */
  readonly pooledWriterEndpoint?: string;
  /** "host:port" of PgBouncer's read-only pool, when `pooling` is set. */
  readonly pooledReaderEndpoint?: string;
  /** The password of PgBouncer's auth role, when `pooling` is set. */
  readonly poolingSecret?: SecretRef;
  /** The networks the endpoint is open to so far (clientCidrs, then allowClient's). */
  private readonly clientNetworks: string[] = [];

  constructor(scope: Construct, id: string, props: HaproxyFrontendsProps) {
    super(scope, id);
    registerStackOutput(this);
    const { platform, cluster, instanceType, outputPrefix = '', ...specInput } = propsObject(SPEC_NAME, this.node.path, props);
    const platformProblems = checkReference('platform', platform, PLATFORM);
    const outside = [...platformProblems, ...checkReference('cluster', cluster, ROUTED_CLUSTER), ...propProblems(OUTSIDE_SHAPE, props)];
    this.cluster = cluster;
    const proxyCount = specInput.proxyCount ?? 2;
    const zones = platformProblems.length === 0 && Number.isInteger(proxyCount) && proxyCount > 0 && proxyCount <= MAX_PROXIES ? platform.previewZones(proxyCount) : [];
    this.spec = validateHaproxyFrontendsSpec({
      ...specInput,
      proxyZones: zones.length > 0 && zones.every((z) => z !== undefined) ? zones : undefined,
    }, this.node.path, { problems: outside, props: ['platform', 'cluster', ...Object.keys(OUTSIDE_SHAPE)] });
    const spec = this.spec;
    if (spec.syncReplicaPort !== undefined && !cluster.syncAware) {
      throw new SpecError('HaproxyFrontends spec', [
        {
          path: 'syncReplicaPort',
          given: spec.syncReplicaPort,
          expected: `no synchronous-standby port for cluster "${cluster.clusterName}": its members cannot tell which standby is synchronous (only Patroni's /sync can)`,
          fix: 'remove syncReplicaPort, or use a PatroniCluster',
        },
      ], this.node.path);
    }
    if (spec.pooling) {
      const problems = checkPoolFit({
        pooling: spec.pooling,
        proxyCount: spec.proxyCount,
        maxConnections: cluster.spec.maxConnections,
        superuserReservedConnections: Number(cluster.spec.postgresqlParameters.superuser_reserved_connections ?? DEFAULT_SUPERUSER_RESERVED_CONNECTIONS),
      });
      if (problems.length > 0) throw new SpecError('HaproxyFrontends spec', problems, this.node.path);
    }
    const groupName = `${cluster.clusterName}-proxy`;
    const claimant = { specName: SPEC_NAME, construct: this };
    claimName(claimant, 'node group', groupName, 'cluster');
    this.proxies = platform.placeNodes(groupName, spec.proxyCount);
    this.secret = platform.createSecret(this, 'Secret', `${cluster.clusterName}/haproxy`, Object.values(HAPROXY_SECRET_VARIABLES));
    this.poolingSecret = spec.pooling ? platform.createSecret(this, 'PoolingSecret', `${cluster.clusterName}/pgbouncer`, [PGBOUNCER_PASSWORD_KEY]) : undefined;
    this.nodes = platform.createNodeGroup(this, 'Nodes', {
      groupName,
      description: `HAProxy nodes in front of cluster ${cluster.clusterName}`,
      placements: this.proxies,
      secrets: [this.secret, ...(this.poolingSecret ? [this.poolingSecret] : [])],
      instanceType: instanceType ?? 'c6i.large',
      plans: () =>
        planHaproxyNodes({
          spec,
          groupName,
          placements: this.proxies,
          members: cluster.backendMembers,
          secretName: this.secret.name,
          ports: this.nodes.ports,
        }),
    });
    claimPorts(claimant, this.nodes, [
      { port: spec.readWritePort, field: 'readWritePort', what: "HAProxy's read-write frontend" },
      { port: spec.readOnlyPort, field: 'readOnlyPort', what: "HAProxy's read-only frontend" },
      ...(spec.syncReplicaPort !== undefined ? [{ port: spec.syncReplicaPort, field: 'syncReplicaPort', what: "HAProxy's synchronous-standby frontend" }] : []),
      { port: spec.statsPort, field: 'statsPort', what: "HAProxy's stats page" },
      { port: spec.healthPort, field: 'healthPort', what: "HAProxy's health check" },
      ...(spec.pooling
        ? [
            { port: spec.pooling.readWritePort, field: 'pooling.readWritePort', what: "PgBouncer's read-write pool" },
            { port: spec.pooling.readOnlyPort, field: 'pooling.readOnlyPort', what: "PgBouncer's read-only pool" },
          ]
        : []),
    ]);
    cluster.allowProxies(this.nodes);
    const pooling = spec.pooling;
    const poolingSecret = this.poolingSecret;
    if (pooling && poolingSecret) {
      this.nodes.extendPlans((plan) =>
        pgbouncerProxyAddition(plan, { pooling, readWritePort: spec.readWritePort, readOnlyPort: spec.readOnlyPort, secretName: poolingSecret.name }),
      );
      cluster.nodes.grantSecret(poolingSecret);
      cluster.nodes.extendPlans((plan) =>
        pgbouncerAuthAddition(plan, { pooling, proxyCount: spec.proxyCount, postgresPort: cluster.spec.postgresPort, secretName: poolingSecret.name }),
      );
    }

    const listeners: EndpointListener[] = [
      { name: 'ReadWrite', port: spec.readWritePort },
      { name: 'ReadOnly', port: spec.readOnlyPort },
      ...(spec.syncReplicaPort !== undefined ? [{ name: 'SyncReadOnly', port: spec.syncReplicaPort }] : []),
      ...(pooling
        ? [
            { name: 'PooledReadWrite', port: pooling.readWritePort },
            { name: 'PooledReadOnly', port: pooling.readOnlyPort },
          ]
        : []),
    ];
    this.endpoint = platform.createEndpoint(this, 'Endpoint', { group: this.nodes, listeners, healthPort: spec.healthPort });
    for (const cidr of spec.clientCidrs) this.endpoint.allowClient({ cidr });
    this.clientNetworks.push(...spec.clientCidrs);

    this.writerEndpoint = `${this.endpoint.host}:${spec.readWritePort}`;
    this.readerEndpoint = `${this.endpoint.host}:${spec.readOnlyPort}`;
    new TerraformOutput(this, 'WriterEndpoint', {
      staticId: true,
      value: this.writerEndpoint,
      description: `Read-write endpoint of cluster ${cluster.clusterName} (host:port): always the primary`,
    }).overrideLogicalId(`${outputPrefix}writer_endpoint`);
    new TerraformOutput(this, 'ReaderEndpoint', {
      staticId: true,
      value: this.readerEndpoint,
      description: `Read-only endpoint of cluster ${cluster.clusterName} (host:port): replicas within ${spec.maxReplicaLagBytes} bytes of lag`,
    }).overrideLogicalId(`${outputPrefix}reader_endpoint`);
    if (spec.syncReplicaPort !== undefined) {
      this.syncReaderEndpoint = `${this.endpoint.host}:${spec.syncReplicaPort}`;
      new TerraformOutput(this, 'SyncReaderEndpoint', {
        staticId: true,
        value: this.syncReaderEndpoint,
        description: `Read-only endpoint of cluster ${cluster.clusterName} over synchronous standbys only`,
      }).overrideLogicalId(`${outputPrefix}sync_reader_endpoint`);
    }
    if (pooling) {
      this.pooledWriterEndpoint = `${this.endpoint.host}:${pooling.readWritePort}`;
      this.pooledReaderEndpoint = `${this.endpoint.host}:${pooling.readOnlyPort}`;
      new TerraformOutput(this, 'PooledWriterEndpoint', {
        staticId: true,
        value: this.pooledWriterEndpoint,
        description: `PgBouncer (${pooling.poolMode} pooling of ${pooling.databases.join(', ')}) in front of the read-write endpoint of cluster ${cluster.clusterName}`,
      }).overrideLogicalId(`${outputPrefix}pooled_writer_endpoint`);
      new TerraformOutput(this, 'PooledReaderEndpoint', {
        staticId: true,
        value: this.pooledReaderEndpoint,
        description: `PgBouncer (${pooling.poolMode} pooling of ${pooling.databases.join(', ')}) in front of the read-only endpoint of cluster ${cluster.clusterName}`,
      }).overrideLogicalId(`${outputPrefix}pooled_reader_endpoint`);
    }
    cluster.registerFrontends(this);
  }

  /**
   * Lets clients reach the proxy ports: a network (`{ cidr }`), a node group of this stack
   * (`{ group }`), or an existing security group such as the application's (`{ securityGroupId }`).
   */
  allowClient(peer: Peer): void {
    const problems = checkAddedPeer('allowClient(peer)', peer, { why: 'the networks of the clients only', allowField: 'allowAnyClient', allowed: this.spec.allowAnyClient }, this.clientNetworks);
    if (problems.length > 0) throw new SpecError(SPEC_NAME, problems, this.node.path);
    if ('cidr' in peer) this.clientNetworks.push(peer.cidr);
    this.endpoint.allowClient(peer);
  }

  /** The security group of the proxy nodes. */
  get securityGroupId(): string | undefined {
    return this.nodes.securityGroupId;
  }

  /** The security group in front of the proxies (the load balancer's): reference it in clients' egress rules. */
  get clientSecurityGroupId(): string | undefined {
    return this.endpoint.securityGroupId;
  }

  /** The frontends as pgha.json records them (see StackDescription). */
  describeFrontends(): FrontendsDescription {
    const { spec } = this;
    return {
      path: this.node.path,
      cluster: this.cluster.clusterName,
      secret: this.secret.name,
      proxies: this.proxies,
      readWritePort: spec.readWritePort,
      readOnlyPort: spec.readOnlyPort,
      statsPort: spec.statsPort,
      ...(spec.pooling ? { pooling: { readWritePort: spec.pooling.readWritePort, readOnlyPort: spec.pooling.readOnlyPort } } : {}),
    };
  }
}
