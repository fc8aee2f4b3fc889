import { Construct } from 'constructs';
import { colocatedEtcdMemberCount } from '../node-plan/etcd-member';
import { planDedicatedEtcdNodes, planPatroniNodes } from '../node-plan/patroni-cluster-plan';
import { ClusterArchive, ClusterBackup } from '../node-plan/pgbackrest-plan';
import { ClusterEndpoints, FrontendsSlot, RoutedCluster } from './routed-cluster';
import { WalArchiveBucket } from './wal-archive-bucket';
import { LogicalPublisher, PublicationProps } from './logical-publisher';
import { ClusterLogicalReplication, checkSubscriptionPublishers, subscriptionSpecInput } from './cluster-logical-replication';
import { PGBACKREST_TLS_PORT } from '../render/pgbackrest-config';
import { NodeGroup, Platform, SecretRef } from '../platform/platform';
import { HaproxyBackendMember } from '../render/haproxy-config';
import { PATRONI_SECRET_VARIABLES, logicalDcsSettings } from '../render/patroni-config';
import { LAYOUT } from '../model/layout';
import { FailoverProfile, FailoverTiming } from '../spec/failover';
import { MAX_PATRONI_NODES, PATRONI_CLUSTER_MACHINE_SHAPE as OUTSIDE_SHAPE, PatroniClusterSpec, PatroniClusterSpecInput, ReplicationMode, patroniMemberNames, validatePatroniClusterSpec } from '../spec/patroni-cluster';
import { NodePlacement } from '../model/placement';
import { registerStackOutput } from './stack-output';
import { BackupJobSpec } from '../spec/backup-job';
import { PatroniClusterDescription, clusterDescriptionBase } from './stack-description';
import { ClusterBaseProps } from './cluster-props';
import { ARCHIVE, PLATFORM, checkReference, isObject, propsObject } from './references';
import { Claimant, claimName, claimPorts } from './stack-claims';
import { SpecError } from '../spec/problems';
import { propProblems } from '../spec/validate';

/** Props of a PatroniCluster: the shared cluster props, and Patroni's, etcd's and archiving's own. */
export interface PatroniClusterProps extends ClusterBaseProps {
  /** PostgreSQL nodes, spread over the platform's subnets in turn. @default 3 */
  readonly nodeCount?: number;
  /** Allow `nodeCount: 1` (no failover: for development only). @default false */
  readonly allowSingleNode?: boolean;
  /** Patroni REST API port (health checks, switchover). @default 8008 */
  readonly restApiPort?: number;
  /** "colocated": an etcd member on each of the first 1/3/5 nodes; "dedicated": 3 etcd nodes of their own. @default "colocated" */
  readonly etcdPlacement?: 'colocated' | 'dedicated';
  /** @default 2379 */
  readonly etcdClientPort?: number;
  /** @default 2380 */
  readonly etcdPeerPort?: number;
  /**
   * "async": replicas may lag, a failover may lose the last commits; "sync": a commit waits for
   * `synchronousNodeCount` standbys while there are any (Patroni synchronous_mode); "sync-strict":
   * commits block when no synchronous standby is left (synchronous_mode_strict).
   * @default "sync"
   */
  readonly replicationMode?: ReplicationMode;
  /** Standbys a commit waits for in the sync modes; less than nodeCount. @default 1 */
  readonly synchronousNodeCount?: number;
  /**
   * Leader lease timing: "default" (ttl 30 / loop_wait 10 / retry_timeout 10 s), "fast"
   * (10 / 2 / 4 s), or explicit seconds; loopWait + 2 * retryTimeout must not exceed ttl.
   * @default "default"
   */
  readonly failover?: FailoverProfile | FailoverTiming;
  /** A replica further behind than this is never promoted. @default 1048576 (1 MiB) */
  readonly maximumLagOnFailoverBytes?: number;
  /** Statements slower than this are logged (log_min_duration_statement; -1 turns it off). @default 1000 */
  readonly slowQueryThresholdMs?: number;
  /** Instance type of dedicated etcd nodes (etcdPlacement "dedicated"). @default "t3.small" */
  readonly etcdInstanceType?: string;
  /** Data volume of each dedicated etcd node. @default 20 */
  readonly etcdDataVolumeSizeGiB?: number;
  /**
   * Archive WAL continuously into this pgBackRest repository (stanza = clusterName), and build
   * new replicas from its latest backup. Add a BackupJob for scheduled backups.
   * @default - no archiving
   */
  readonly archive?: WalArchiveBucket;
  /**
   * Bootstrap from an archive instead of an empty database: point-in-time recovery into a new
   * cluster. Exactly one target: targetTime, targetLsn, targetName or latest.
   * @default - a new, empty cluster
   */
  readonly restoreFrom?: RestoreFromProps;
  /**
   * Cascading replicas: member name -> the member it streams from instead of the leader (Patroni's
   * `replicatefrom` tag), e.g. `{ 'main-pg-3': 'main-pg-2' }`. Members are named
   * `<clusterName>-pg-<n>`, n = 1..nodeCount. A cascading member is never a synchronous standby,
   * and follows the leader while its upstream is gone from the DCS. No loops; in the sync modes
   * synchronousNodeCount <= nodeCount - 1 - cascading members.
   * @default {} (every replica streams from the leader)
   */
  readonly replicateFrom?: Record<string, string>;
  /**
   * Publications other clusters may subscribe to (logical replication): created on the leader by a
   * job once their database exists; wal_level becomes "logical".
   * @default [] (wal_level "replica")
   */
  readonly publications?: PublicationProps[];
}

export interface RestoreFromProps {
  /** The archive holding the source cluster's backups and WAL. */
  readonly archive: WalArchiveBucket;
  /** Name of the cluster to restore (its stanza). Must differ from clusterName when restoring from the cluster's own archive. */
  readonly sourceCluster: string;
  /** A moment with its time zone: "2026-11-20T14:30:00Z". Must have passed. */
  readonly targetTime?: string;
  /** A WAL position: "0/3000060". */
  readonly targetLsn?: string;
  /** A restore point made with pg_create_restore_point(). */
  readonly targetName?: string;
  /** Replay everything archived. */
  readonly latest?: true;
  /** Include the target itself (a commit at exactly targetTime). @default true */
  readonly targetInclusive?: boolean;
}

const DEDICATED_ETCD_MEMBERS = 3;
const SPEC_NAME = 'PatroniCluster spec';


// Compile-time guard: every prop the spec knows is a prop here, with the same type.
type SpecProps = Omit<PatroniClusterProps, 'platform' | 'instanceType' | 'dataVolumeSizeGiB' | 'etcdInstanceType' | 'etcdDataVolumeSizeGiB' | 'archive' | 'restoreFrom' | 'subscriptions'>;
const propsMatchSpec: [Required<SpecProps>] extends [Required<Omit<PatroniClusterSpecInput, 'nodeZones' | 'archiveId' | 'restoreFrom' | 'subscriptions' | 'knownPublications'>>] ? true : never = true;
void propsMatchSpec;

/**
 * PostgreSQL with automatic failover: Patroni on every node, etcd as the DCS (on the same nodes
 * or its own), streaming replication with slots, pg_rewind, and sync or async replication.
 */
export class PatroniCluster extends Construct implements RoutedCluster, LogicalPublisher {
  readonly spec: PatroniClusterSpec;
  readonly clusterName: string;
  readonly members: readonly NodePlacement[];
  readonly etcdMembers: readonly NodePlacement[];
  /** The PostgreSQL nodes. */
  readonly nodes: NodeGroup;
  /** The etcd nodes when etcd runs on nodes of its own. */
  readonly etcdNodes?: NodeGroup;
  /** Superuser, replication, rewind and REST API passwords (generated; nodes read them at boot). */
  readonly secret: SecretRef;
  /** The archive WAL goes to, when there is one. */
  readonly archive?: WalArchiveBucket;
  private readonly hbaNetworks: Set<string>;
  /** The platform the nodes run on (for constructs that add to them). */
  readonly platform: Platform;
  private backup?: ClusterBackup;
  /** The path of its BackupJob. */
  private backupClaimant?: string;
  /** Its BackupJob's settings, for the stack's description. */
  private backupSpec?: BackupJobSpec;
  private readonly frontends: FrontendsSlot;
  /** Patroni answers `/sync`: the synchronous-standby frontend works. */
  readonly syncAware = true;
  /**
   * Its publications and subscriptions, and the clusters subscribed to it.
   * @internal The wiring between publishers and subscribers.
   */
  readonly logicalReplication: ClusterLogicalReplication;

  constructor(scope: Construct, id: string, props: PatroniClusterProps) {
    super(scope, id);
    registerStackOutput(this);
    const { platform, instanceType, dataVolumeSizeGiB, etcdInstanceType, etcdDataVolumeSizeGiB, archive, restoreFrom, subscriptions, ...specInput } = propsObject(SPEC_NAME, this.node.path, props);
    const restoreArchive: unknown = isObject(restoreFrom) ? restoreFrom.archive : undefined;
    const outside = [
      ...checkReference('platform', platform, PLATFORM),
      ...checkReference('archive', archive, ARCHIVE, true),
      ...(isObject(restoreFrom) ? checkReference('restoreFrom.archive', restoreArchive, ARCHIVE) : []),
      ...checkSubscriptionPublishers(subscriptions),
      ...propProblems(OUTSIDE_SHAPE, props),
    ];
    const nodeCount = specInput.nodeCount ?? 3;
    this.archive = archive;
    this.platform = platform;
    const platformUsable = checkReference('platform', platform, PLATFORM).length === 0;
    this.spec = validatePatroniClusterSpec({
      ...specInput,
      ...(platformUsable && platform.failoverOverride ? { failover: platform.failoverOverride } : {}),
      archiveId: checkReference('archive', archive, ARCHIVE).length === 0 ? archive?.archiveId : undefined,
      restoreFrom: isObject(restoreFrom) ? restoreSpecInput(restoreFrom) : restoreFrom,
      ...subscriptionSpecInput(subscriptions),
      nodeZones: platformUsable && Number.isInteger(nodeCount) && nodeCount > 0 && nodeCount <= MAX_PATRONI_NODES ? defined(platform.previewZones(nodeCount)) : undefined,
    }, this.node.path, { problems: outside, props: Object.keys(OUTSIDE_SHAPE).concat(['platform', 'archive']) });
    const spec = this.spec;
    this.frontends = new FrontendsSlot(`PatroniCluster "${spec.clusterName}"`);
    this.clusterName = spec.clusterName;
    const groupName = `${spec.clusterName}-pg`;
    const claimant = { specName: SPEC_NAME, construct: this };
    claimName(claimant, 'cluster name', spec.clusterName, 'clusterName');
    claimName(claimant, 'node group', groupName, 'clusterName');
    if (spec.etcdPlacement === 'dedicated') claimName(claimant, 'node group', `${spec.clusterName}-etcd`, 'clusterName');
    this.members = platform.placeNodes(groupName, spec.nodeCount);
    // replicateFrom was checked against these names: a platform naming nodes otherwise would break it.
    const expectedNames = patroniMemberNames(spec.clusterName, spec.nodeCount);
    if (Object.keys(spec.replicateFrom).length > 0 && this.members.some((member, index) => member.name !== expectedNames[index])) {
      throw new Error(
        `PatroniCluster ${this.node.path}: the platform named the members ${this.members.map((m) => m.name).join(', ')}; expected ${expectedNames.join(', ')} ` +
          '(Patroni member names, which replicateFrom refers to). Fix: name placements "<groupName>-<n>" in the platform\'s placeNodes.',
      );
    }
    const etcdGroupName = `${spec.clusterName}-etcd`;
    this.etcdMembers =
      spec.etcdPlacement === 'dedicated'
        ? platform.placeNodes(etcdGroupName, DEDICATED_ETCD_MEMBERS)
        : this.members.slice(0, colocatedEtcdMemberCount(spec.nodeCount));
    this.hbaNetworks = new Set([...this.members.map((m) => m.network), ...spec.clientCidrs]);
    this.secret = platform.createSecret(this, 'Secret', `${spec.clusterName}/patroni`, Object.values(PATRONI_SECRET_VARIABLES));
    this.logicalReplication = new ClusterLogicalReplication(this, {
      spec,
      platform,
      hbaNetworks: this.hbaNetworks,
      patroni: {
        dcs: (slots) => ({ configPath: LAYOUT.patroniConfig, clusterName: spec.clusterName, settings: logicalDcsSettings(spec, slots) }),
        environmentFile: LAYOUT.patroniSecretsEnv,
      },
    });

    const ownArchive = archive ? clusterArchive(archive) : undefined;
    const restore =
      restoreFrom && spec.restoreFrom
        ? { spec: spec.restoreFrom, archive: clusterArchive(restoreFrom.archive), sameArchive: restoreFrom.archive === archive }
        : undefined;
    const archiveSecrets = [archive?.secret, restore && !restore.sameArchive ? restoreFrom?.archive.secret : undefined].filter((s): s is SecretRef => s !== undefined);

    this.nodes = platform.createNodeGroup(this, 'Nodes', {
      groupName,
      description: `PostgreSQL + Patroni nodes of cluster ${spec.clusterName}`,
      placements: this.members,
      secrets: [this.secret, ...archiveSecrets, ...(this.logicalReplication.secret ? [this.logicalReplication.secret] : [])],
      instanceType,
      dataVolumeSizeGiB: dataVolumeSizeGiB ?? 100,
      plans: () =>
        planPatroniNodes({
          spec,
          groupName,
          placements: this.members,
          etcdPlacements: this.etcdMembers,
          hbaCidrs: [...this.hbaNetworks].sort(),
          secretName: this.secret.name,
          dataVolumeSizeGiB: dataVolumeSizeGiB ?? 100,
          ports: this.nodes.ports,
          archive: ownArchive,
          restore,
          backup: this.backup,
          peerPath: (nodeName, path) => platform.peerPath(nodeName, path),
          logicalSlots: this.logicalReplication.slots,
          watchdogDevice: platform.watchdogDevice,
        }),
    });
    claimPorts(claimant, this.nodes, [
      { port: spec.postgresPort, field: 'postgresPort', what: 'PostgreSQL' },
      { port: spec.restApiPort, field: 'restApiPort', what: "Patroni's REST API" },
      ...(spec.etcdPlacement === 'colocated'
        ? [
            { port: spec.etcdClientPort, field: 'etcdClientPort', what: "etcd's client port" },
            { port: spec.etcdPeerPort, field: 'etcdPeerPort', what: "etcd's peer port" },
          ]
        : []),
    ]);
    archive?.grant(this.nodes);
    if (restore && !restore.sameArchive) restoreFrom?.archive.grant(this.nodes);
    const self = { group: groupName };
    this.nodes.allow(spec.postgresPort, 'PostgreSQL replication and pg_rewind', self);
    this.nodes.allow(spec.restApiPort, 'Patroni REST API between members', self);
    for (const cidr of spec.clientCidrs) this.nodes.allow(spec.postgresPort, 'PostgreSQL clients', { cidr });
    this.logicalReplication.attach(this.nodes, subscriptions ?? [], spec.subscriptions);

    if (spec.etcdPlacement === 'dedicated') {
      const etcdNodes = platform.createNodeGroup(this, 'EtcdNodes', {
        groupName: etcdGroupName,
        description: `etcd (DCS) nodes of cluster ${spec.clusterName}`,
        placements: this.etcdMembers,
        secrets: [],
        instanceType: etcdInstanceType ?? 't3.small',
        dataVolumeSizeGiB: etcdDataVolumeSizeGiB ?? 20,
        plans: () => planDedicatedEtcdNodes(spec, etcdGroupName, this.etcdMembers, etcdNodes.ports, etcdDataVolumeSizeGiB ?? 20),
      });
      this.etcdNodes = etcdNodes;
      claimPorts(claimant, etcdNodes, [
        { port: spec.etcdClientPort, field: 'etcdClientPort', what: "etcd's client port" },
        { port: spec.etcdPeerPort, field: 'etcdPeerPort', what: "etcd's peer port" },
      ]);
      etcdNodes.allow(spec.etcdClientPort, 'etcd clients (Patroni)', self);
      etcdNodes.allow(spec.etcdPeerPort, 'etcd peers', { group: etcdGroupName });
      etcdNodes.allow(spec.etcdClientPort, 'etcd health between members', { group: etcdGroupName });
    } else {
      this.nodes.allow(spec.etcdClientPort, 'etcd clients (Patroni) and members', self);
      this.nodes.allow(spec.etcdPeerPort, 'etcd peers', self);
    }
  }

  /**
   * Adds scheduled backups to every node (used by BackupJob). Only one per cluster: the nodes'
   * pgbackrest.conf carries its retention.
   * @internal BackupJob calls it.
   */
  attachBackup(backup: Omit<ClusterBackup, 'tls'>, spec: BackupJobSpec, claimant: Claimant): void {
    const refuse = (expected: string, fix: string): never => {
      throw new SpecError(claimant.specName, [{ path: 'cluster', given: this.clusterName, expected, fix }], claimant.construct.node.path);
    };
    if (!this.archive) refuse(`a cluster with an archive: ${this.node.path} has none to back up into`, 'give the PatroniCluster an archive (a WalArchiveBucket)');
    if (this.backupClaimant) {
      refuse(`a cluster without a BackupJob: ${this.backupClaimant} is ${this.node.path}'s already`, 'keep one BackupJob per cluster; it holds every schedule');
    }
    this.backupClaimant = claimant.construct.node.path;
    this.backupSpec = spec;
    if (!spec.backupStandby) {
      this.backup = backup;
      return;
    }
    // From a standby, pgBackRest reaches the primary through its TLS server on every node, with
    // mutual TLS: one CA and certificate for the cluster, accepted only for this cluster's stanza.
    claimPorts(claimant, this.nodes, [{ port: PGBACKREST_TLS_PORT, field: 'backupStandby', what: "pgBackRest's TLS server" }]);
    const certificate = this.platform.createNodeCertificates(this, 'BackupTls', {
      name: `${this.clusterName}/pgbackrest`,
      commonName: `pgha-${this.clusterName}-pgbackrest`,
      nodes: this.members,
    });
    this.nodes.grantSecret(certificate);
    this.nodes.allow(PGBACKREST_TLS_PORT, 'pgBackRest TLS server (backups from a standby)', { group: this.nodes.groupName });
    this.backup = { ...backup, tls: { secretName: certificate.name, clientCommonName: `pgha-${this.clusterName}-pgbackrest` } };
  }

  /** The cluster as pgha.json records it (see StackDescription). */
  describeCluster(): PatroniClusterDescription {
    return {
      ...clusterDescriptionBase(this),
      kind: 'patroni',
      spec: this.spec,
      etcdEndpoints: this.etcdMembers.map((m) => `${m.address}:${this.spec.etcdClientPort}`),
      ...(this.backupSpec ? { backup: this.backupSpec } : {}),
    };
  }

  /** The security group of the PostgreSQL nodes. */
  get securityGroupId(): string | undefined {
    return this.nodes.securityGroupId;
  }

  /** Every member as a proxy sees it: where PostgreSQL and the REST API answer. */
  get backendMembers(): HaproxyBackendMember[] {
    return this.members.map((m) => ({
      name: m.name,
      address: m.address,
      postgresPort: this.spec.postgresPort,
      restApiPort: this.spec.restApiPort,
    }));
  }

  /**
   * "host:port" that always reaches the primary: the writer endpoint of the cluster's
   * HaproxyFrontends (`writer_endpoint` output). Reads that may lag go to `readerEndpoint`.
   */
  get writerEndpoint(): string {
    return this.frontends.get('writerEndpoint').writerEndpoint;
  }

  /** "host:port" over the replicas within the frontends' lag limit (`reader_endpoint` output). */
  get readerEndpoint(): string {
    return this.frontends.get('readerEndpoint').readerEndpoint;
  }

  /** PgBouncer's read-write pool, when the frontends have `pooling` (`pooled_writer_endpoint` output). */
  get pooledWriterEndpoint(): string | undefined {
    return this.frontends.get('pooledWriterEndpoint').pooledWriterEndpoint;
  }

  /** PgBouncer's read-only pool, when the frontends have `pooling` (`pooled_reader_endpoint` output). */
  get pooledReaderEndpoint(): string | undefined {
    return this.frontends.get('pooledReaderEndpoint').pooledReaderEndpoint;
  }

  /** Called by HaproxyFrontends: the endpoints the cluster hands out. */
  registerFrontends(frontends: ClusterEndpoints): void {
    this.frontends.register(frontends);
  }

  /** Lets a group of proxies reach PostgreSQL and the REST API (their health checks), in the network and in pg_hba. */
  allowProxies(proxies: NodeGroup): void {
    this.nodes.allowGroup(this.spec.postgresPort, 'PostgreSQL through the proxies', proxies);
    this.nodes.allowGroup(this.spec.restApiPort, 'Patroni health checks from the proxies', proxies);
    for (const placement of proxies.placements) this.hbaNetworks.add(placement.network);
  }
}

function clusterArchive(archive: WalArchiveBucket): ClusterArchive {
  return { repository: archive.repository.options, secretName: archive.secret.name, secretVariables: archive.secretVariables };
}

/** restoreFrom as the spec reads it: the archive's identity instead of the archive. */
function restoreSpecInput(restoreFrom: Record<string, unknown>): Record<string, unknown> {
  const { archive, ...target } = restoreFrom;
  return { ...target, archiveId: checkReference('', archive, ARCHIVE).length === 0 ? (archive as WalArchiveBucket).archiveId : '' };
}

function defined(zones: (string | undefined)[]): string[] | undefined {
  return zones.every((zone): zone is string => zone !== undefined) ? zones : undefined;
}
