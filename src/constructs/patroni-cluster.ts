import { Construct } from 'constructs';
import { colocatedEtcdMemberCount } from '../node-plan/etcd-member';
import { planDedicatedEtcdNodes, planPatroniNodes } from '../node-plan/patroni-cluster-plan';
import { NodeGroup, NodePlacement, Platform, SecretRef } from '../platform/platform';
import { HaproxyBackendMember } from '../render/haproxy-config';
import { PATRONI_SECRET_VARIABLES } from '../render/patroni-config';
import { PatroniClusterSpec, PatroniClusterSpecInput, validatePatroniClusterSpec } from '../spec/patroni-cluster';

export interface PatroniClusterProps extends Omit<PatroniClusterSpecInput, 'nodeZones'> {
  /** Where the nodes run (AwsPlatform, ...). */
  readonly platform: Platform;
  /** @default - the platform's default ("m6i.large" on AWS) */
  readonly instanceType?: string;
  /** Size of each node's persistent data volume. @default 100 */
  readonly dataVolumeSizeGiB?: number;
  /** Instance type of dedicated etcd nodes (etcdPlacement "dedicated"). @default "t3.small" */
  readonly etcdInstanceType?: string;
  /** Data volume of each dedicated etcd node. @default 20 */
  readonly etcdDataVolumeSizeGiB?: number;
}

const DEDICATED_ETCD_MEMBERS = 3;

/**
 * PostgreSQL with automatic failover: Patroni on every node, etcd as the DCS (on the same nodes
 * or its own), streaming replication with slots, pg_rewind, and sync or async replication.
 */
export class PatroniCluster extends Construct {
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
  private readonly hbaNetworks: Set<string>;

  constructor(scope: Construct, id: string, props: PatroniClusterProps) {
    super(scope, id);
    const { platform, instanceType, dataVolumeSizeGiB, etcdInstanceType, etcdDataVolumeSizeGiB, ...specInput } = props;
    const nodeCount = specInput.nodeCount ?? 3;
    this.spec = validatePatroniClusterSpec({
      ...specInput,
      nodeZones: Number.isInteger(nodeCount) && nodeCount > 0 ? defined(platform.previewZones(nodeCount)) : undefined,
    });
    const spec = this.spec;
    this.clusterName = spec.clusterName;
    const groupName = `${spec.clusterName}-pg`;
    this.members = platform.placeNodes(groupName, spec.nodeCount);
    const etcdGroupName = `${spec.clusterName}-etcd`;
    this.etcdMembers =
      spec.etcdPlacement === 'dedicated'
        ? platform.placeNodes(etcdGroupName, DEDICATED_ETCD_MEMBERS)
        : this.members.slice(0, colocatedEtcdMemberCount(spec.nodeCount));
    this.hbaNetworks = new Set([...this.members.map((m) => m.network), ...spec.clientCidrs]);
    this.secret = platform.createSecret(this, 'Secret', `${spec.clusterName}/patroni`, Object.values(PATRONI_SECRET_VARIABLES));

    this.nodes = platform.createNodeGroup(this, 'Nodes', {
      groupName,
      description: `PostgreSQL + Patroni nodes of cluster ${spec.clusterName}`,
      placements: this.members,
      secrets: [this.secret],
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
        }),
    });
    const self = { group: groupName };
    this.nodes.allow(spec.postgresPort, 'PostgreSQL replication and pg_rewind', self);
    this.nodes.allow(spec.restApiPort, 'Patroni REST API between members', self);
    for (const cidr of spec.clientCidrs) this.nodes.allow(spec.postgresPort, 'PostgreSQL clients', { cidr });

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
      etcdNodes.allow(spec.etcdClientPort, 'etcd clients (Patroni)', self);
      etcdNodes.allow(spec.etcdPeerPort, 'etcd peers', { group: etcdGroupName });
      etcdNodes.allow(spec.etcdClientPort, 'etcd health between members', { group: etcdGroupName });
    } else {
      this.nodes.allow(spec.etcdClientPort, 'etcd clients (Patroni) and members', self);
      this.nodes.allow(spec.etcdPeerPort, 'etcd peers', self);
    }
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

  /** Lets a group of proxies reach PostgreSQL and the REST API (their health checks), in the network and in pg_hba. */
  allowProxies(proxies: NodeGroup): void {
    this.nodes.allowGroup(this.spec.postgresPort, 'PostgreSQL through the proxies', proxies);
    this.nodes.allowGroup(this.spec.restApiPort, 'Patroni health checks from the proxies', proxies);
    for (const placement of proxies.placements) this.hbaNetworks.add(placement.network);
  }
}

function defined(zones: (string | undefined)[]): string[] | undefined {
  return zones.every((zone): zone is string => zone !== undefined) ? zones : undefined;
}
