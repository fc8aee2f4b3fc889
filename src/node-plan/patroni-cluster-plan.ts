import { LogicalSlot } from '../render/logical-replication';
import { PATRONI_SECRET_VARIABLES, renderPatroniConfig } from '../render/patroni-config';
import { PatroniClusterSpec } from '../spec/patroni-cluster';
import { CREATE_CLUSTER_DROP_IN } from './create-cluster-drop-in';
import { ETCD_SERVICE, EtcdMemberPlan, planEtcdMember } from './etcd-member';
import { LAYOUT, POSTGRES_MAJOR, POSTGRES_PACKAGE, postgresDataDir } from '../model/layout';
import { NodePlan, NodePort, NodeService } from '../model/node-plan';
import { PgbackrestPlanInput, planPgbackrest } from './pgbackrest-plan';
import { unitFile } from '../render/unit-files';
import { NodePlacement } from '../model/placement';

/** The cluster's plan input: pgBackRest's part (spec, placements, archive, restore, backup, peerPath) and the rest. */
export interface PatroniClusterPlanInput extends PgbackrestPlanInput {
  readonly groupName: string;
  /** The etcd members: a subset of `placements` when colocated, other nodes when dedicated. */
  readonly etcdPlacements: readonly NodePlacement[];
  /** Networks allowed in pg_hba: the cluster's own and those of its clients (proxies). */
  readonly hbaCidrs: readonly string[];
  readonly secretName: string;
  readonly dataVolumeSizeGiB: number;
  readonly ports: readonly NodePort[];
  /** Slots of other clusters' subscriptions to this one's publications. */
  readonly logicalSlots?: readonly LogicalSlot[];
  /** The platform's watchdog device: Patroni runs `watchdog: required` with it. */
  readonly watchdogDevice?: string;
}

export const PATRONI_SERVICE = 'pgha-patroni';

export const etcdClusterToken = (clusterName: string) => `pgha-${clusterName}`;

export function etcdEndpoints(spec: PatroniClusterSpec, etcdPlacements: readonly NodePlacement[]): string[] {
  return etcdPlacements.map((p) => `${p.address}:${spec.etcdClientPort}`);
}


function etcdMemberPlan(spec: PatroniClusterSpec, member: NodePlacement, members: readonly NodePlacement[]): EtcdMemberPlan {
  return planEtcdMember({
    member,
    members,
    clientPort: spec.etcdClientPort,
    peerPort: spec.etcdPeerPort,
    clusterToken: etcdClusterToken(spec.clusterName),
  });
}

/** One plan per PostgreSQL node: Patroni (and the node's etcd member when colocated). */
export function planPatroniNodes(input: PatroniClusterPlanInput): NodePlan[] {
  const { spec } = input;
  const etcdHosts = etcdEndpoints(spec, input.etcdPlacements);
  return input.placements.map((placement) => {
    const colocatedEtcd = input.etcdPlacements.find((member) => member.name === placement.name);
    const etcd = colocatedEtcd ? etcdMemberPlan(spec, placement, input.etcdPlacements) : undefined;
    const patroniService: NodeService = {
      name: PATRONI_SERVICE,
      description: `Patroni member ${placement.name} of PostgreSQL cluster ${spec.clusterName}`,
      user: 'postgres',
      group: 'postgres',
      command: ['/usr/bin/patroni', LAYOUT.patroniConfig],
      environmentFiles: [LAYOUT.patroniSecretsEnv],
      after: etcd ? [ETCD_SERVICE] : [],
      // Patroni stops its own postgres on SIGTERM; only what is left after the timeout is killed.
      killMode: 'mixed',
      stopTimeoutSeconds: 120,
      reloadSignal: 'HUP',
      limitNoFile: 65536,
    };
    const pgbackrest = planPgbackrest(input, placement);
    const patroni: NodeService = { ...patroniService, environmentFiles: [LAYOUT.patroniSecretsEnv, ...pgbackrest.environmentFiles] };
    const services = [...(etcd ? [etcd.service] : []), patroni, ...pgbackrest.services];
    const patroniConfig = renderPatroniConfig({
      spec,
      nodeName: placement.name,
      address: placement.address,
      etcdHosts,
      hbaCidrs: input.hbaCidrs,
      dataDir: postgresDataDir(spec.clusterName),
      socketDir: LAYOUT.postgresSocketDir,
      binDir: LAYOUT.postgresBinDir,
      archive: pgbackrest.patroniArchive,
      restore: pgbackrest.patroniRestore,
      logicalSlots: input.logicalSlots,
      watchdogDevice: input.watchdogDevice,
    });
    return {
      name: placement.name,
      group: input.groupName,
      address: placement.address,
      zone: placement.zone,
      packages: [POSTGRES_PACKAGE, 'patroni', 'python3-etcd', 'python3-psycopg2', ...pgbackrest.packages, ...(etcd?.packages ?? [])],
      directories: [
        { path: `${LAYOUT.dataMount}/postgresql`, mode: '0750', owner: 'postgres:postgres' },
        { path: `${LAYOUT.dataMount}/postgresql/${POSTGRES_MAJOR}`, mode: '0700', owner: 'postgres:postgres' },
        { path: LAYOUT.patroniConfigDir, mode: '0750', owner: 'postgres:postgres' },
        { path: LAYOUT.postgresSocketDir, mode: '2775', owner: 'postgres:postgres' },
        ...(etcd ? [{ path: `${LAYOUT.dataMount}/etcd`, mode: '0750', owner: 'etcd:etcd' }, ...etcd.directories] : []),
        ...pgbackrest.directories,
      ],
      files: [
        CREATE_CLUSTER_DROP_IN,
        { path: LAYOUT.patroniConfig, mode: '0640', owner: 'postgres:postgres', content: patroniConfig },
        ...(etcd?.files ?? []),
        ...pgbackrest.files,
        ...services.map(unitFile),
      ],
      services,
      jobs: pgbackrest.jobs,
      replacesServices: ['postgresql', 'patroni', ...(etcd ? ['etcd'] : [])],
      ports: input.ports,
      secrets: [
        {
          name: input.secretName,
          environmentFile: LAYOUT.patroniSecretsEnv,
          owner: 'postgres:postgres',
          variables: PATRONI_SECRET_VARIABLES,
        },
        ...pgbackrest.secrets,
      ],
      secretFiles: pgbackrest.secretFiles,
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: input.dataVolumeSizeGiB },
      ...(input.watchdogDevice ? { watchdog: { device: input.watchdogDevice, owner: `${patroni.user}:${patroni.group}` } } : {}),
    };
  });
}

/** Plans for etcd members on nodes of their own (etcdPlacement "dedicated"). */
export function planDedicatedEtcdNodes(
  spec: PatroniClusterSpec,
  groupName: string,
  placements: readonly NodePlacement[],
  ports: readonly NodePort[],
  dataVolumeSizeGiB: number,
): NodePlan[] {
  return placements.map((placement) => {
    const etcd = etcdMemberPlan(spec, placement, placements);
    return {
      name: placement.name,
      group: groupName,
      address: placement.address,
      zone: placement.zone,
      packages: etcd.packages,
      directories: [{ path: `${LAYOUT.dataMount}/etcd`, mode: '0750', owner: 'etcd:etcd' }, ...etcd.directories],
      files: [...etcd.files, unitFile(etcd.service)],
      services: [etcd.service],
      replacesServices: ['etcd'],
      ports,
      secrets: [],
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: dataVolumeSizeGiB },
    };
  });
}
