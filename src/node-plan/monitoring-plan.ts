import { LAYOUT } from '../model/layout';
import { NodeAddition } from './node-addition';
import { NodeFile, NodeJob, NodePlan, NodeService } from '../model/node-plan';
import { jobUnitFiles, unitFile } from '../render/unit-files';

export const NODE_EXPORTER_SERVICE = 'pgha-node-exporter';
export const POSTGRES_EXPORTER_SERVICE = 'pgha-postgres-exporter';
export const MONITORING_ROLE_JOB = 'pgha-monitoring-role';

/** The monitoring secret's key: the password of the monitoring role. */
export const MONITORING_PASSWORD_KEY = 'monitor_password';

/**
 * node_exporter on a node, on its own address only: disk, memory, CPU, and the job status files
 * the backup jobs write (textfile collector).
 */
export function nodeExporterAddition(plan: NodePlan, port: number): NodeAddition {
  const service: NodeService = {
    name: NODE_EXPORTER_SERVICE,
    description: `node_exporter on ${plan.name}: disk, memory, CPU and job status metrics`,
    user: 'prometheus',
    group: 'prometheus',
    command: [
      '/usr/bin/prometheus-node-exporter',
      `--web.listen-address=${plan.address}:${port}`,
      `--collector.textfile.directory=${LAYOUT.jobStatusDir}`,
    ],
  };
  return {
    packages: ['prometheus-node-exporter'],
    // The backup jobs write here on PostgreSQL nodes; elsewhere the collector reads an empty directory.
    directories: [{ path: LAYOUT.jobStatusDir, mode: '0755', owner: 'root:root' }],
    services: [service],
    files: [unitFile(service)],
    replacesServices: ['prometheus-node-exporter'],
  };
}

export interface PostgresExporterInput {
  readonly port: number;
  readonly postgresPort: number;
  readonly secretName: string;
  readonly role: string;
  readonly queries: string;
  /** The script that creates or updates the monitoring role (on the leader), and its job's schedule. */
  readonly roleScript: NodeFile;
  readonly roleSchedule: string;
}

/**
 * postgres_exporter on a PostgreSQL node, on its own address only, as a pg_monitor role whose
 * password comes from the monitoring secret; and the job that keeps that role in place.
 */
export function postgresExporterAddition(plan: NodePlan, input: PostgresExporterInput): NodeAddition {
  const service: NodeService = {
    name: POSTGRES_EXPORTER_SERVICE,
    description: `postgres_exporter on ${plan.name}, as role ${input.role}`,
    user: 'prometheus',
    group: 'prometheus',
    command: ['/usr/bin/prometheus-postgres-exporter', `--web.listen-address=${plan.address}:${input.port}`, `--extend.query-path=${LAYOUT.exporterQueries}`],
    environment: { DATA_SOURCE_URI: `${plan.address}:${input.postgresPort}/postgres?sslmode=disable`, DATA_SOURCE_USER: input.role },
    environmentFiles: [LAYOUT.postgresExporterEnv],
  };
  const roleJob: NodeJob = {
    name: MONITORING_ROLE_JOB,
    description: `Creates or updates the monitoring role ${input.role} (on the leader)`,
    user: 'postgres',
    group: 'postgres',
    command: [input.roleScript.path],
    environmentFiles: [LAYOUT.monitoringRoleEnv],
    schedule: input.roleSchedule,
    timeoutSeconds: 120,
    afterStart: true,
  };
  return {
    packages: ['prometheus-postgres-exporter'],
    directories: [{ path: LAYOUT.monitoringDir, mode: '0755', owner: 'root:root' }],
    files: [{ path: LAYOUT.exporterQueries, mode: '0644', owner: 'root:root', content: input.queries }, input.roleScript, unitFile(service), ...jobUnitFiles(roleJob)],
    services: [service],
    jobs: [roleJob],
    secrets: [
      { name: input.secretName, environmentFile: LAYOUT.postgresExporterEnv, owner: 'prometheus:prometheus', variables: { DATA_SOURCE_PASS: MONITORING_PASSWORD_KEY } },
      { name: input.secretName, environmentFile: LAYOUT.monitoringRoleEnv, owner: 'postgres:postgres', variables: { PGHA_MONITOR_PASSWORD: MONITORING_PASSWORD_KEY } },
    ],
    replacesServices: ['prometheus-postgres-exporter'],
  };
}
