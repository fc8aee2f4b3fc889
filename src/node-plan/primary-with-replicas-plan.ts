import { NodePlacement } from '../platform/platform';
import {
  POSTGRES_START_SCRIPT,
  REPLICATION_PASSWORD_VARIABLE,
  SUPERUSER_PASSWORD_VARIABLE,
  postgresStartScriptFile,
  renderReplicationHba,
  renderReplicationPostgresqlConf,
} from '../render/replication-node';
import { ROLE_AGENT_PATH, renderRoleAgent } from '../render/role-agent';
import { PrimaryWithReplicasSpec, standbySlotName, synchronousStandbyNames } from '../spec/primary-with-replicas';
import { CREATE_CLUSTER_DROP_IN } from './create-cluster-drop-in';
import { LAYOUT, postgresDataDir } from './layout';
import { NodePlan, NodePort, NodeService } from './node-plan';
import { unitFile } from './unit-file';

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
}

/**
 * One plan per node: PostgreSQL started by pgha-postgres-start (the primary initialises itself,
 * a standby copies the primary with pg_basebackup -R on first boot), and the role agent that answers
 * HAProxy's health checks as Patroni's REST API would.
 */
export function planPrimaryWithReplicas(input: PrimaryWithReplicasPlanInput): NodePlan[] {
  const { spec } = input;
  const [primary, ...standbys] = input.placements;
  const dataDir = postgresDataDir(spec.clusterName);
  const memberNetworks = [...new Set(input.placements.map((p) => p.network))];
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
      parameters: spec.postgresqlParameters,
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
        ? { standbySlots: standbys.map((s) => standbySlotName(s.name)) }
        : { primaryHost: primary.address, primaryPort: spec.postgresPort, slotName: standbySlotName(placement.name) }),
    });
    const postgres: NodeService = {
      name: POSTGRES_SERVICE,
      description: `PostgreSQL ${isPrimary ? 'primary' : 'standby'} ${placement.name} of cluster ${spec.clusterName} (streaming replication, no Patroni)`,
      user: 'postgres',
      group: 'postgres',
      command: [POSTGRES_START_SCRIPT],
      environmentFiles: [SECRETS_ENV],
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
      packages: ['postgresql-15', 'python3-psycopg2'],
      directories: [
        { path: `${LAYOUT.dataMount}/postgresql`, mode: '0750', owner: 'postgres:postgres' },
        { path: `${LAYOUT.dataMount}/postgresql/15`, mode: '0700', owner: 'postgres:postgres' },
        { path: LAYOUT.postgresSocketDir, mode: '2775', owner: 'postgres:postgres' },
        { path: CONFIG_DIR, mode: '0750', owner: 'root:postgres' },
      ],
      files: [
        CREATE_CLUSTER_DROP_IN,
        { path: CONFIG_FILE, mode: '0640', owner: 'root:postgres', content: config(placement) },
        { path: HBA_FILE, mode: '0640', owner: 'root:postgres', content: hba },
        startScript,
        { path: ROLE_AGENT_PATH, mode: '0755', owner: 'root:root', content: renderRoleAgent() },
        unitFile(postgres),
        unitFile(agent),
      ],
      services: [postgres, agent],
      replacesServices: ['postgresql'],
      ports: input.ports,
      secrets: [{ name: input.secretName, environmentFile: SECRETS_ENV, owner: 'postgres:postgres', variables: REPLICAS_SECRET_VARIABLES }],
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: input.dataVolumeSizeGiB },
    };
  });
}
