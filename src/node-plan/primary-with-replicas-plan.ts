import {
  POSTGRES_START_SCRIPT,
  REPLICATION_PASSWORD_VARIABLE,
  SUPERUSER_PASSWORD_VARIABLE,
  postgresStartScriptFile,
  renderReplicationHba,
  renderReplicationPostgresqlConf,
} from '../render/replication-node';
import { pgbackrestCommand } from '../render/pgbackrest-config';
import { ROLE_AGENT_PATH, renderRoleAgent } from '../render/role-agent';
import { PrimaryWithReplicasSpec, standbySlotName, synchronousStandbyNames } from '../spec/primary-with-replicas';
import { logicalWorkerParameters, replicationSenderLimit } from '../spec/logical-replication';
import { CREATE_CLUSTER_DROP_IN } from './create-cluster-drop-in';
import { LAYOUT, POSTGRES_MAJOR, POSTGRES_PACKAGE, postgresDataDir } from '../model/layout';
import { NodePlan, NodePort, NodeService } from '../model/node-plan';
import { ClusterArchive, planPgbackrest } from './pgbackrest-plan';
import { unitFile } from '../render/unit-files';
import { NodePlacement } from '../model/placement';

export const POSTGRES_SERVICE = 'pgha-postgres';
export const ROLE_AGENT_SERVICE = 'pgha-role-agent';
/** The cluster secret's keys: the two passwords the start script reads. */
export const REPLICAS_SECRET_VARIABLES: Record<string, string> = {
  [SUPERUSER_PASSWORD_VARIABLE]: 'superuser_password',
  [REPLICATION_PASSWORD_VARIABLE]: 'replication_password',
};

const CONFIG_DIR = '/etc/pgha/postgresql';
const CONFIG_FILE = `${CONFIG_DIR}/postgresql.conf`;
const HBA_FILE = `${CONFIG_DIR}/pg_hba.conf`;
const SECRETS_ENV = `${CONFIG_DIR}/postgres.env`;

export interface PrimaryWithReplicasPlanInput {
  readonly spec: PrimaryWithReplicasSpec;
  readonly groupName: string;
  /** The primary first, then the standbys. */
  readonly placements: readonly NodePlacement[];
  /** Networks allowed in pg_hba for client logins: the proxies' and the clients'. */
  readonly clientCidrs: readonly string[];
  readonly secretName: string;
  readonly dataVolumeSizeGiB: number;
  readonly ports: readonly NodePort[];
  /** The archive the primary archives WAL into (stanza = clusterName), when there is one. */
  readonly archive?: ClusterArchive;
  /** A peer's path as this node sees it (the platform's peerPath). */
  readonly peerPath: (nodeName: string, path: string) => string;
  /** How many subscribers' logical slots the primary keeps. @default 0 */
  readonly logicalSlots?: number;
}

/**
 * One plan per node: PostgreSQL started by pgha-postgres-start (the primary initialises itself,
 * a standby copies its upstream with pg_basebackup -R on first boot), and the role agent that
 * answers HAProxy's health checks as Patroni's REST API would. A standby's upstream is the primary,
 * or the standby its replicateFrom entry names (a cascading standby: the primary keeps no slot for it).
 * With an archive, pgBackRest on every node (see ReplicationArchive).
 */
export function planPrimaryWithReplicas(input: PrimaryWithReplicasPlanInput): NodePlan[] {
  const { spec } = input;
  const [primary, ...standbys] = input.placements;
  const upstreamOf = (placement: NodePlacement) => standbyUpstream(spec, input.placements, placement);
  const direct = standbys.filter((s) => upstreamOf(s) === primary);
  const dataDir = postgresDataDir(spec.clusterName);
  const memberNetworks = [...new Set(input.placements.map((p) => p.network))];
  const archiving = input.archive
    ? {
        archiveCommand: [...pgbackrestCommand(spec.clusterName), 'archive-push %p'].join(' '),
        restoreCommand: [...pgbackrestCommand(spec.clusterName), 'archive-get %f "%p"'].join(' '),
        timeoutSeconds: spec.archiveTimeoutSeconds,
      }
    : undefined;
  const senders = replicationSenderLimit(standbys.length + 2, input.logicalSlots ?? 0);
  const config = (placement: NodePlacement) =>
    renderReplicationPostgresqlConf({
      address: placement.address,
      port: spec.postgresPort,
      socketDir: LAYOUT.postgresSocketDir,
      hbaFile: HBA_FILE,
      standbyCount: standbys.length,
      synchronousStandbyNames: synchronousStandbyNames(spec, standbys.map((s) => s.name)),
      maxConnections: spec.maxConnections,
      walKeepSize: spec.walKeepSize,
      parameters: { ...logicalWorkerParameters(spec.subscriptions.length), ...spec.postgresqlParameters },
      archive: archiving,
      walLevel: spec.publications.length > 0 ? 'logical' : 'replica',
      // A slot and walsender per standby, 2 spare (a pg_basebackup), and each subscriber's share.
      maxWalSenders: senders,
      maxReplicationSlots: senders,
    });
  const hba = renderReplicationHba({ memberNetworks, clientNetworks: [...input.clientCidrs], allowAnyClient: spec.allowAnyClient });

  return input.placements.map((placement) => {
    const isPrimary = placement === primary;
    const startScript = postgresStartScriptFile({
      role: isPrimary ? 'primary' : 'standby',
      dataDir,
      configFile: CONFIG_FILE,
      port: spec.postgresPort,
      ...(isPrimary
        ? { standbySlots: direct.map((s) => standbySlotName(s.name)) }
        : { primaryHost: upstreamOf(placement).address, primaryPort: spec.postgresPort, slotName: standbySlotName(placement.name) }),
    });
    const pgbackrest = planPgbackrest(
      { spec, placements: input.placements, archive: input.archive, peerPath: input.peerPath, stanzaJob: { socketDir: LAYOUT.postgresSocketDir, port: spec.postgresPort } },
      placement,
    );
    const postgres: NodeService = {
      name: POSTGRES_SERVICE,
      description: `PostgreSQL ${isPrimary ? 'primary' : 'standby'} ${placement.name} of cluster ${spec.clusterName} (streaming replication, no Patroni)`,
      user: 'postgres',
      group: 'postgres',
      command: [POSTGRES_START_SCRIPT],
      // pgBackRest's (archive_command and restore_command run with the server's environment).
      environmentFiles: [SECRETS_ENV, ...pgbackrest.environmentFiles],
      // postgres stops on SIGTERM (smart shutdown would wait for clients: the script execs postgres,
      // which treats SIGTERM as smart; systemd then escalates after the timeout).
      killMode: 'mixed',
      stopTimeoutSeconds: 120,
      reloadSignal: 'HUP',
      limitNoFile: 65536,
    };
    const agent: NodeService = {
      name: ROLE_AGENT_SERVICE,
      description: `Role agent of ${placement.name}: /primary and /replica health checks for HAProxy`,
      user: 'postgres',
      group: 'postgres',
      command: ['/usr/bin/python3', ROLE_AGENT_PATH, '--listen', `${placement.address}:${spec.agentPort}`, '--socket-dir', LAYOUT.postgresSocketDir, '--port', String(spec.postgresPort)],
      after: [POSTGRES_SERVICE],
    };
    return {
      name: placement.name,
      group: input.groupName,
      address: placement.address,
      zone: placement.zone,
      packages: [POSTGRES_PACKAGE, 'python3-psycopg2', ...pgbackrest.packages],
      directories: [
        { path: `${LAYOUT.dataMount}/postgresql`, mode: '0750', owner: 'postgres:postgres' },
        { path: `${LAYOUT.dataMount}/postgresql/${POSTGRES_MAJOR}`, mode: '0700', owner: 'postgres:postgres' },
        { path: LAYOUT.postgresSocketDir, mode: '2775', owner: 'postgres:postgres' },
        { path: CONFIG_DIR, mode: '0750', owner: 'root:postgres' },
        ...pgbackrest.directories,
      ],
      files: [
        CREATE_CLUSTER_DROP_IN,
        { path: CONFIG_FILE, mode: '0640', owner: 'root:postgres', content: config(placement) },
        { path: HBA_FILE, mode: '0640', owner: 'root:postgres', content: hba },
        startScript,
        { path: ROLE_AGENT_PATH, mode: '0755', owner: 'root:root', content: renderRoleAgent() },
        unitFile(postgres),
        unitFile(agent),
        ...pgbackrest.files,
      ],
      services: [postgres, agent],
      jobs: pgbackrest.jobs,
      replacesServices: ['postgresql'],
      ports: input.ports,
      secrets: [{ name: input.secretName, environmentFile: SECRETS_ENV, owner: 'postgres:postgres', variables: REPLICAS_SECRET_VARIABLES }, ...pgbackrest.secrets],
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: input.dataVolumeSizeGiB },
    };
  });
}

/** The member a standby streams from: the one its replicateFrom entry names, or the primary (the first placement). */
export function standbyUpstream(spec: PrimaryWithReplicasSpec, placements: readonly NodePlacement[], standby: NodePlacement): NodePlacement {
  const name = spec.replicateFrom[standby.name];
  return placements.find((p) => p.name === name) ?? placements[0];
}
