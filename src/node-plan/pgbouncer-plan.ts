import { pgbouncerAuthScriptFile } from '../render/pgbouncer-auth';
import { PGBOUNCER_PASSWORD_VARIABLE, PGBOUNCER_START_SCRIPT, renderPgbouncerConfig, renderPgbouncerStartScript } from '../render/pgbouncer-config';
import { PoolingSpec } from '../spec/pooling';
import { LAYOUT } from '../model/layout';
import { NodeAddition } from './node-addition';
import { NodeJob, NodePlan, NodeService } from '../model/node-plan';
import { jobUnitFiles, unitFile } from '../render/unit-files';

export const PGBOUNCER_SERVICES = { rw: 'pgha-pgbouncer-rw', ro: 'pgha-pgbouncer-ro' } as const;
export const PGBOUNCER_AUTH_JOB = 'pgha-pgbouncer-auth';
/** The pooling secret's key: the password of the auth role. */
export const PGBOUNCER_PASSWORD_KEY = 'pgbouncer_password';

const CONFIG_DIR = '/etc/pgbouncer';
const configPath = (role: 'rw' | 'ro') => `${CONFIG_DIR}/pgha-${role}.ini`;
const PROXY_SECRETS_ENV = `${CONFIG_DIR}/pgha.env`;
const AUTH_JOB_DIR = '/etc/pgha';
const AUTH_JOB_ENV = `${AUTH_JOB_DIR}/pgbouncer-auth.env`;
/** How often the auth role and lookups are checked (a new pooled database gets its lookup within this). */
const AUTH_SCHEDULE = '*:0/5';

export interface PgbouncerProxyInput {
  readonly pooling: PoolingSpec;
  /** HAProxy's read-write and read-only ports on the same node. */
  readonly readWritePort: number;
  readonly readOnlyPort: number;
  readonly secretName: string;
}

/**
 * Two PgBouncer instances on a proxy node, as postgres (Debian's account for PgBouncer): one on
 * the pooled read-write port in front of HAProxy's read-write port, one on the pooled read-only
 * port in front of its read-only port. Each starts through pgha-pgbouncer-start, which writes the
 * auth role's password from the secret to PgBouncer's auth_file on tmpfs.
 */
export function pgbouncerProxyAddition(plan: NodePlan, input: PgbouncerProxyInput): NodeAddition {
  const { pooling } = input;
  const instances = [
    { role: 'rw' as const, listenPort: pooling.readWritePort, backendPort: input.readWritePort, poolSize: pooling.readWritePoolSize },
    { role: 'ro' as const, listenPort: pooling.readOnlyPort, backendPort: input.readOnlyPort, poolSize: pooling.readOnlyPoolSize },
  ];
  const services: NodeService[] = instances.map((instance) => ({
    name: PGBOUNCER_SERVICES[instance.role],
    description: `PgBouncer ${instance.role} on ${plan.name}: pools ${pooling.databases.join(', ')} (${pooling.poolMode}) in front of HAProxy port ${instance.backendPort}`,
    user: 'postgres',
    group: 'postgres',
    // PgBouncer 1.23+ takes SIGTERM as "stop once every client has left"; SIGINT stops it now
    // (what Debian's own unit sends), so a stop or restart never waits on idle clients.
    stopSignal: 'SIGINT',
    // Built with systemd support: it says when it listens.
    readiness: 'notify',
    command: [PGBOUNCER_START_SCRIPT, configPath(instance.role)],
    environmentFiles: [PROXY_SECRETS_ENV],
    after: ['pgha-haproxy'],
    reloadSignal: 'HUP',
    limitNoFile: Math.max(65536, pooling.maxClientConnections * 2 + 1024),
  }));
  return {
    packages: ['pgbouncer'],
    // Debian's tmpfiles.d makes it at boot; planned so that every platform has it (the auth_file lives there).
    directories: [
      { path: LAYOUT.postgresSocketDir, mode: '2775', owner: 'postgres:postgres' },
      { path: CONFIG_DIR, mode: '0755', owner: 'root:root' },
    ],
    files: [
      ...instances.map((instance) => ({
        path: configPath(instance.role),
        mode: '0640',
        owner: 'root:postgres',
        content: renderPgbouncerConfig({
          role: instance.role,
          address: plan.address,
          listenPort: instance.listenPort,
          backendPort: instance.backendPort,
          databases: pooling.databases,
          poolMode: pooling.poolMode,
          serverConnectionsPerDatabase: instance.poolSize,
          maxClientConnections: pooling.maxClientConnections,
        }),
      })),
      { path: PGBOUNCER_START_SCRIPT, mode: '0755', owner: 'root:root', content: renderPgbouncerStartScript() },
      ...services.map(unitFile),
    ],
    services,
    secrets: [{ name: input.secretName, environmentFile: PROXY_SECRETS_ENV, owner: 'postgres:postgres', variables: { [PGBOUNCER_PASSWORD_VARIABLE]: PGBOUNCER_PASSWORD_KEY } }],
    replacesServices: ['pgbouncer'],
  };
}

export interface PgbouncerAuthInput {
  readonly pooling: PoolingSpec;
  readonly proxyCount: number;
  readonly postgresPort: number;
  readonly secretName: string;
}

/**
 * On a PostgreSQL node: the job that keeps PgBouncer's auth role and its login lookup in place (on
 * the leader; replicas get them by replication), after start and every 5 minutes.
 */
export function pgbouncerAuthAddition(_plan: NodePlan, input: PgbouncerAuthInput): NodeAddition {
  // Each instance (2 per proxy) holds one auth connection per pooled database, plus room for restarts.
  const connectionLimit = input.proxyCount * 2 * input.pooling.databases.length + 4;
  const script = pgbouncerAuthScriptFile({ databases: input.pooling.databases, connectionLimit, port: input.postgresPort });
  const job: NodeJob = {
    name: PGBOUNCER_AUTH_JOB,
    description: `Creates or updates PgBouncer's auth role and login lookup in ${input.pooling.databases.join(', ')} (on the leader)`,
    user: 'postgres',
    group: 'postgres',
    command: [script.path],
    environmentFiles: [AUTH_JOB_ENV],
    schedule: AUTH_SCHEDULE,
    timeoutSeconds: 120,
    afterStart: true,
  };
  return {
    directories: [{ path: AUTH_JOB_DIR, mode: '0755', owner: 'root:root' }],
    files: [script, ...jobUnitFiles(job)],
    jobs: [job],
    secrets: [{ name: input.secretName, environmentFile: AUTH_JOB_ENV, owner: 'postgres:postgres', variables: { [PGBOUNCER_PASSWORD_VARIABLE]: PGBOUNCER_PASSWORD_KEY } }],
  };
}
