import { Construct } from 'constructs';
import { REPLICAS_SECRET_VARIABLES, planPrimaryWithReplicas, standbyUpstream } from '../node-plan/primary-with-replicas-plan';
import { NodeGroup, Platform, SecretRef } from '../platform/platform';
import { HaproxyBackendMember } from '../render/haproxy-config';
import { MAX_STANDBYS, PrimaryWithReplicasSpec, PrimaryWithReplicasSpecInput, standbySlotName, validatePrimaryWithReplicasSpec } from '../spec/primary-with-replicas';
import { memberNames } from '../spec/replicate-from';
import { ClusterEndpoints, FrontendsSlot, RoutedCluster } from './routed-cluster';
import { ClusterLogicalReplication, checkSubscriptionPublishers, subscriptionSpecInput } from './cluster-logical-replication';
import { ARCHIVE, PLATFORM, checkReference, propsObject } from './references';
import { claimName, claimPorts } from './stack-claims';
import { nodeSizeShape } from '../spec/common';
import { propProblems } from '../spec/validate';
import { LogicalPublisher, PublicationProps } from './logical-publisher';
import { WalArchiveBucket } from './wal-archive-bucket';
import { NodePlacement } from '../model/placement';
import { registerStackOutput } from './stack-output';
import { PrimaryWithReplicasDescription, clusterDescriptionBase } from './stack-description';
import { ClusterBaseProps } from './cluster-props';

/** Props of a PrimaryWithReplicas: the shared cluster props, and the standbys' and archiving's own. */
export interface PrimaryWithReplicasProps extends ClusterBaseProps {
  /** Hot standbys besides the primary. @default 2 */
  readonly standbyCount?: number;
  /** "async", or "sync": commits wait for `synchronousCount` standbys (synchronous_standby_names). @default "async" */
  readonly replicationMode?: 'async' | 'sync';
  /** "FIRST" (the first standbys in order) or "ANY" (a quorum of them). @default "FIRST" */
  readonly synchronousMethod?: 'FIRST' | 'ANY';
  /** Standbys a commit waits for in "sync" mode; fewer than standbyCount. @default 1 */
  readonly synchronousCount?: number;
  /** The role agent (Patroni's health-check endpoints for HAProxy). @default 8008 */
  readonly agentPort?: number;
  /** WAL kept for standbys beyond their slots. @default "1GB" */
  readonly walKeepSize?: string;
  /**
   * Archive WAL into this pgBackRest repository (stanza = clusterName): the primary archives
   * (archive_mode on), standbys fetch from it what their upstream no longer keeps (restore_command).
   * @default no archive
   */
  readonly archive?: WalArchiveBucket;
  /**
   * Cascading standbys: member name -> the standby it streams from, e.g. { "plain-pg-4": "plain-pg-2" }.
   * Not the primary (the first member); listed standbys are left out of synchronous_standby_names.
   * @default {} (every standby streams from the primary)
   */
  readonly replicateFrom?: Record<string, string>;
  /**
   * Publications other clusters may subscribe to (logical replication): the publications job makes
   * them, and each subscriber's slot, on the primary; wal_level becomes "logical". A slot lives on
   * the primary only: after a promotion, recreate the subscriptions (README).
   * @default []
   */
  readonly publications?: PublicationProps[];
}

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
type SpecProps = Omit<PrimaryWithReplicasProps, 'platform' | 'instanceType' | 'dataVolumeSizeGiB' | 'archive' | 'subscriptions'>;
const propsMatchSpec: [Required<SpecProps>] extends [Required<Omit<PrimaryWithReplicasSpecInput, 'nodeZones' | 'subscriptions' | 'knownPublications'>>] ? true : never = true;
void propsMatchSpec;

const SPEC_NAME = 'PrimaryWithReplicas spec';

/**
 * One primary and hot standbys, without Patroni: streaming replication from physical slots, the
 * standbys made with pg_basebackup -R at their first boot, synchronous or not; promotion is a
 * manual step (README). Each node runs a role agent answering Patroni's `/primary` and `/replica`
 * checks, so HaproxyFrontends routes to it as to a PatroniCluster.
 */
export class PrimaryWithReplicas extends Construct implements RoutedCluster, LogicalPublisher {
  readonly spec: PrimaryWithReplicasSpec;
  readonly clusterName: string;
  /** The primary first, then the standbys. */
  readonly members: readonly NodePlacement[];
  readonly nodes: NodeGroup;
  /** The superuser's and the replication role's passwords. */
  readonly secret: SecretRef;
  /** The archive WAL goes to, when there is one. */
  readonly archive?: WalArchiveBucket;
  readonly platform: Platform;
  /** The role agents cannot tell which standby is synchronous: no `/sync` frontend. */
  readonly syncAware = false;
  private readonly hbaNetworks: Set<string>;
  private readonly frontends: FrontendsSlot;
  /**
   * Its publications and subscriptions, and the clusters subscribed to it.
   * @internal The wiring between publishers and subscribers.
   */
  readonly logicalReplication: ClusterLogicalReplication;

  constructor(scope: Construct, id: string, props: PrimaryWithReplicasProps) {
    super(scope, id);
    registerStackOutput(this);
    const { platform, instanceType, dataVolumeSizeGiB, archive, subscriptions, ...specInput } = propsObject(SPEC_NAME, this.node.path, props);
    const platformProblems = checkReference('platform', platform, PLATFORM);
    const outside = [
      ...platformProblems,
      ...checkReference('archive', archive, ARCHIVE, true),
      ...checkSubscriptionPublishers(subscriptions),
      ...propProblems(nodeSizeShape, props),
    ];
    this.platform = platform;
    this.archive = archive;
    const nodeCount = (specInput.standbyCount ?? 2) + 1;
    const zones = platformProblems.length === 0 && Number.isInteger(nodeCount) && nodeCount > 1 && nodeCount <= MAX_STANDBYS + 1 ? platform.previewZones(nodeCount) : [];
    this.spec = validatePrimaryWithReplicasSpec({
      ...specInput,
      ...subscriptionSpecInput(subscriptions),
      nodeZones: zones.length > 0 && zones.every((z) => z !== undefined) ? zones : undefined,
    }, this.node.path, { problems: outside, props: ['platform', 'archive', ...Object.keys(nodeSizeShape)] });
    const spec = this.spec;
    this.frontends = new FrontendsSlot(`PrimaryWithReplicas "${spec.clusterName}"`);
    this.clusterName = spec.clusterName;
    const groupName = `${spec.clusterName}-pg`;
    const claimant = { specName: SPEC_NAME, construct: this };
    claimName(claimant, 'cluster name', spec.clusterName, 'clusterName');
    claimName(claimant, 'node group', groupName, 'clusterName');
    this.members = platform.placeNodes(groupName, spec.standbyCount + 1);
    // replicateFrom was checked against the names "<clusterName>-pg-<n>": the platform must place those.
    const placed = this.members.map((m) => m.name).join(', ');
    if (Object.keys(spec.replicateFrom).length > 0 && placed !== memberNames(spec.clusterName, this.members.length).join(', ')) {
      throw new Error(`PrimaryWithReplicas ${this.node.path}: replicateFrom names members "<clusterName>-pg-<n>", but the platform placed ${placed}. Fix: name placements "<groupName>-<n>" in the platform's placeNodes.`);
    }
    this.hbaNetworks = new Set(spec.clientCidrs);
    this.secret = platform.createSecret(this, 'Secret', `${spec.clusterName}/postgres`, Object.values(REPLICAS_SECRET_VARIABLES));
    // No Patroni to keep the subscribers' slots: the publications job makes them on the primary.
    this.logicalReplication = new ClusterLogicalReplication(this, { spec, platform, hbaNetworks: this.hbaNetworks });
    this.nodes = platform.createNodeGroup(this, 'Nodes', {
      groupName,
      description: `PostgreSQL primary and standbys of cluster ${spec.clusterName} (streaming replication)`,
      placements: this.members,
      secrets: [this.secret, ...(archive ? [archive.secret] : []), ...(this.logicalReplication.secret ? [this.logicalReplication.secret] : [])],
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
          archive: archive ? { repository: archive.repository.options, secretName: archive.secret.name, secretVariables: archive.secretVariables } : undefined,
          peerPath: (nodeName, path) => platform.peerPath(nodeName, path),
          logicalSlots: this.logicalReplication.slots.length,
        }),
    });
    claimPorts(claimant, this.nodes, [
      { port: spec.postgresPort, field: 'postgresPort', what: 'PostgreSQL' },
      { port: spec.agentPort, field: 'agentPort', what: "the role agent's health port" },
    ]);
    archive?.grant(this.nodes);
    const self = { group: groupName };
    this.nodes.allow(spec.postgresPort, 'PostgreSQL streaming replication', self);
    for (const cidr of spec.clientCidrs) this.nodes.allow(spec.postgresPort, 'PostgreSQL clients', { cidr });
    this.logicalReplication.attach(this.nodes, subscriptions ?? [], spec.subscriptions);
  }

  /** The primary at synth time (after a manual promotion the proxies follow the role agents, not this). */
  get primary(): NodePlacement {
    return this.members[0];
  }

  /** The member a standby streams from at first boot: the primary, or its replicateFrom upstream. */
  upstreamOf(standby: NodePlacement): NodePlacement {
    return standbyUpstream(this.spec, this.members, standby);
  }

  /** The cluster as pgha.json records it (see StackDescription). */
  describeCluster(): PrimaryWithReplicasDescription {
    return {
      ...clusterDescriptionBase(this),
      kind: 'primary-with-replicas',
      spec: this.spec,
      primary: this.primary.name,
      standbys: this.members.slice(1).map((m) => ({ name: m.name, upstream: this.upstreamOf(m).name, slot: standbySlotName(m.name) })),
    };
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
