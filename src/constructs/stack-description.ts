import { IConstruct } from 'constructs';
import { NodePlacement } from '../model/placement';
import { Platform, PlatformDescription } from '../platform/platform';
import { RenderedNode, collectRenderedNodes } from '../platform/rendered-node';
import { BackupJobSpec } from '../spec/backup-job';
import { PatroniClusterSpec } from '../spec/patroni-cluster';
import { PrimaryWithReplicasSpec } from '../spec/primary-with-replicas';

/**
 * What a stack of these constructs is, as plain data: its clusters, their frontends, every node's
 * plan, and its platform. Written beside the stack's Terraform at synth (`pgha.json`), so that
 * tools read a synthesized stack the way reviewers do, without running the app again:
 * `pgha plan-report` computes recovery objectives from it, `pgha local up` runs its nodes.
 */
export interface StackDescription {
  /** Bumped when a field changes meaning; readers refuse a version they do not know. */
  readonly formatVersion: typeof STACK_DESCRIPTION_FORMAT;
  readonly clusters: readonly ClusterDescription[];
  readonly frontends: readonly FrontendsDescription[];
  /** Every node of the stack: its plan and the files that land on it. */
  readonly nodes: readonly RenderedNode[];
  /** The platforms the stack's constructs were built on (one, in every stack we know of). */
  readonly platforms: readonly PlatformDescription[];
}

export const STACK_DESCRIPTION_FORMAT = 1;

export interface ClusterDescriptionBase {
  /** The construct's path in the app, e.g. "orders/Cluster". */
  readonly path: string;
  readonly clusterName: string;
  readonly members: readonly NodePlacement[];
  /** The platform secret holding the cluster's passwords (`superuser_password`, ...). */
  readonly secret: string;
  /** Whether the cluster archives WAL (it has a WalArchiveBucket). */
  readonly archived: boolean;
  /** Whether its archive is copied to another region. */
  readonly offsiteCopy: boolean;
  /** "host:port" of each member's HTTP health API: Patroni's REST API or the role agent. */
  readonly healthApis: readonly string[];
}

export interface PatroniClusterDescription extends ClusterDescriptionBase {
  readonly kind: 'patroni';
  readonly spec: PatroniClusterSpec;
  /** "host:port" of each etcd member's client API. */
  readonly etcdEndpoints: readonly string[];
  /** The settings of its BackupJob, when it has one. */
  readonly backup?: BackupJobSpec;
}

export interface PrimaryWithReplicasDescription extends ClusterDescriptionBase {
  readonly kind: 'primary-with-replicas';
  readonly spec: PrimaryWithReplicasSpec;
  /** The member that starts as primary. */
  readonly primary: string;
  /** Each standby, the member it streams from at first boot, and its slot there. */
  readonly standbys: readonly { readonly name: string; readonly upstream: string; readonly slot: string }[];
}

export type ClusterDescription = PatroniClusterDescription | PrimaryWithReplicasDescription;

export interface FrontendsDescription {
  readonly path: string;
  /** The clusterName of the cluster they route to. */
  readonly cluster: string;
  /** The platform secret holding the stats page's password. */
  readonly secret: string;
  readonly proxies: readonly NodePlacement[];
  readonly readWritePort: number;
  readonly readOnlyPort: number;
  readonly statsPort: number;
  /** PgBouncer's ports, when the frontends pool. */
  readonly pooling?: { readonly readWritePort: number; readonly readOnlyPort: number };
}

/** What every cluster construct can say of itself. */
export interface DescribesCluster extends IConstruct {
  describeCluster(): ClusterDescription;
}

/** What frontends can say of themselves. */
export interface DescribesFrontends extends IConstruct {
  describeFrontends(): FrontendsDescription;
}

const describesCluster = (c: IConstruct): c is DescribesCluster & { readonly platform: Platform } => typeof (c as Partial<DescribesCluster>).describeCluster === 'function';
const describesFrontends = (c: IConstruct): c is DescribesFrontends => typeof (c as Partial<DescribesFrontends>).describeFrontends === 'function';

/** The fields every kind of cluster describes the same way. */
export function clusterDescriptionBase(cluster: {
  readonly node: { readonly path: string };
  readonly clusterName: string;
  readonly members: readonly NodePlacement[];
  readonly secret: { readonly name: string };
  readonly archive?: { readonly spec: { readonly replicaRegion?: string } };
  readonly backendMembers: readonly { readonly address: string; readonly restApiPort: number }[];
}): ClusterDescriptionBase {
  return {
    path: cluster.node.path,
    clusterName: cluster.clusterName,
    members: cluster.members,
    secret: cluster.secret.name,
    archived: cluster.archive !== undefined,
    offsiteCopy: cluster.archive?.spec.replicaRegion !== undefined,
    healthApis: cluster.backendMembers.map((m) => `${m.address}:${m.restApiPort}`),
  };
}

/**
 * The description of every cluster, frontends and node under `scope` (a stack, or the local
 * runner's root). Constructs describe themselves, so this file needs none of their classes.
 */
export function describeStack(scope: IConstruct): StackDescription {
  const all = scope.node.findAll();
  const clusters = all.filter(describesCluster);
  return {
    formatVersion: STACK_DESCRIPTION_FORMAT,
    clusters: clusters.map((cluster) => cluster.describeCluster()),
    frontends: all.filter(describesFrontends).map((frontends) => frontends.describeFrontends()),
    nodes: collectRenderedNodes(scope),
    platforms: [...new Set(clusters.map((c) => c.platform))].map((platform) => platform.describe()),
  };
}
