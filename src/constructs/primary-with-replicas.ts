import { Construct } from 'constructs';
import { REPLICAS_SECRET_VARIABLES, planPrimaryWithReplicas } from '../node-plan/primary-with-replicas-plan';
import { NodeGroup, NodePlacement, Platform, SecretRef } from '../platform/platform';
import { HaproxyBackendMember } from '../render/haproxy-config';
import { PrimaryWithReplicasSpec, PrimaryWithReplicasSpecInput, validatePrimaryWithReplicasSpec } from '../spec/primary-with-replicas';
import { ClusterEndpoints, FrontendsSlot, RoutedCluster } from './routed-cluster';

export interface PrimaryWithReplicasProps {
  readonly platform: Platform;
  /** Prefix of the node and resource names: 1-25 of a-z, 0-9 and "-". */
  readonly clusterName: string;
  /** Hot standbys besides the primary. @default 2 */
  readonly standbyCount?: number;
  /** Allow every node in one zone. @default false */
  readonly allowSingleAvailabilityZone?: boolean;
  /** "async", or "sync": commits wait for `synchronousCount` standbys (synchronous_standby_names). @default "async" */
  readonly replicationMode?: 'async' | 'sync';
  /** "FIRST" (the first standbys in order) or "ANY" (a quorum of them). @default "FIRST" */
  readonly synchronousMethod?: 'FIRST' | 'ANY';
  /** Standbys a commit waits for in "sync" mode; fewer than standbyCount. @default 1 */
  readonly synchronousCount?: number;
  /** @default 5432 */
  readonly postgresPort?: number;
  /** The role agent (Patroni's health-check endpoints for HAProxy). @default 8008 */
  readonly agentPort?: number;
  /** PostgreSQL max_connections. @default 200 */
  readonly maxConnections?: number;
  /** WAL kept for standbys beyond their slots. @default "1GB" */
  readonly walKeepSize?: string;
  readonly postgresqlParameters?: Record<string, string | number | boolean>;
  /** Networks that may reach PostgreSQL directly (besides the proxies). @default [] */
  readonly clientCidrs?: string[];
  /** Allow 0.0.0.0/0 in clientCidrs. @default false */
  readonly allowAnyClient?: boolean;
  readonly instanceType?: string;
  /** @default 100 */
  readonly dataVolumeSizeGiB?: number;
}

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
type SpecProps = Omit<PrimaryWithReplicasProps, 'platform' | 'instanceType' | 'dataVolumeSizeGiB'>;
const propsMatchSpec: [Required<SpecProps>] extends [Required<Omit<PrimaryWithReplicasSpecInput, 'nodeZones'>>] ? true : never = true;
void propsMatchSpec;

/**
 * One primary and hot standbys, without Patroni: streaming replication from physical slots, the
 * standbys made with pg_basebackup -R at their first boot, synchronous or not; promotion is a
 * manual step (README). Each node runs a role agent answering Patroni's `/primary` and `/replica`
 * checks, so HaproxyFrontends routes to it as to a PatroniCluster.
 */
export class PrimaryWithReplicas extends Construct implements RoutedCluster {
  readonly spec: PrimaryWithReplicasSpec;
  readonly clusterName: string;
  /** The primary first, then the standbys. */
  readonly members: readonly NodePlacement[];
  readonly nodes: NodeGroup;
  /** The superuser's and the replication role's passwords. */
  readonly secret: SecretRef;
  readonly platform: Platform;
  /** The role agents cannot tell which standby is synchronous: no `/sync` frontend. */
  readonly syncAware = false;
  private readonly hbaNetworks: Set<string>;
  private readonly frontends: FrontendsSlot;

  constructor(scope: Construct, id: string, props: PrimaryWithReplicasProps) {
    super(scope, id);
    const { platform, instanceType, dataVolumeSizeGiB, ...specInput } = props;
    this.platform = platform;
    this.frontends = new FrontendsSlot(`PrimaryWithReplicas "${props.clusterName}"`);
    const nodeCount = (specInput.standbyCount ?? 2) + 1;
    const zones = Number.isInteger(nodeCount) && nodeCount > 1 ? platform.previewZones(nodeCount) : [];
    this.spec = validatePrimaryWithReplicasSpec({ ...specInput, nodeZones: zones.length > 0 && zones.every((z) => z !== undefined) ? zones : undefined });
    const spec = this.spec;
    this.clusterName = spec.clusterName;
    const groupName = `${spec.clusterName}-pg`;
    this.members = platform.placeNodes(groupName, spec.standbyCount + 1);
    this.hbaNetworks = new Set(spec.clientCidrs);
    this.secret = platform.createSecret(this, 'Secret', `${spec.clusterName}/postgres`, Object.values(REPLICAS_SECRET_VARIABLES));
    this.nodes = platform.createNodeGroup(this, 'Nodes', {
      groupName,
      description: `PostgreSQL primary and standbys of cluster ${spec.clusterName} (streaming replication)`,
      placements: this.members,
      secrets: [this.secret],
      instanceType,
      dataVolumeSizeGiB: dataVolumeSizeGiB ?? 100,
      plans: () =>
        planPrimaryWithReplicas({
          spec,
          groupName,
          placements: this.members,
          clientCidrs: [...this.hbaNetworks].sort(),
          secretName: this.secret.name,
          dataVolumeSizeGiB: dataVolumeSizeGiB ?? 100,
          ports: this.nodes.ports,
        }),
    });
    const self = { group: groupName };
    this.nodes.allow(spec.postgresPort, 'PostgreSQL streaming replication', self);
    for (const cidr of spec.clientCidrs) this.nodes.allow(spec.postgresPort, 'PostgreSQL clients', { cidr });
  }

  /** The primary at synth time (after a manual promotion the proxies follow the role agents, not this). */
  get primary(): NodePlacement {
    return this.members[0];
  }

  get backendMembers(): HaproxyBackendMember[] {
    return this.members.map((m) => ({ name: m.name, address: m.address, postgresPort: this.spec.postgresPort, restApiPort: this.spec.agentPort }));
  }

  allowProxies(proxies: NodeGroup): void {
    this.nodes.allowGroup(this.spec.postgresPort, 'PostgreSQL through the proxies', proxies);
    this.nodes.allowGroup(this.spec.agentPort, 'role agent health checks from the proxies', proxies);
    for (const placement of proxies.placements) this.hbaNetworks.add(placement.network);
  }

  /** "host:port" that reaches the primary: the writer endpoint of the cluster's HaproxyFrontends. */
  get writerEndpoint(): string {
    return this.frontends.get('writerEndpoint').writerEndpoint;
  }

  /** "host:port" over the standbys within the frontends' lag limit. */
  get readerEndpoint(): string {
    return this.frontends.get('readerEndpoint').readerEndpoint;
  }

  get pooledWriterEndpoint(): string | undefined {
    return this.frontends.get('pooledWriterEndpoint').pooledWriterEndpoint;
  }

  get pooledReaderEndpoint(): string | undefined {
    return this.frontends.get('pooledReaderEndpoint').pooledReaderEndpoint;
  }

  registerFrontends(frontends: ClusterEndpoints): void {
    this.frontends.register(frontends);
  }
}
