import {
  LOGICAL_PASSWORD_VARIABLE,
  LogicalSlot,
  PatroniDcsInput,
  SubscriptionTarget,
  publicationsScriptFile,
  publisherPasswordVariable,
  subscriptionsScriptFile,
} from '../render/logical-replication';
import { PublicationSpec } from '../spec/logical-replication';
import { NodeAddition } from './node-addition';
import { NodeFile, NodeJob, NodeSecret } from '../model/node-plan';
import { jobUnitFiles } from '../render/unit-files';

export const PUBLICATIONS_JOB = 'pgha-logical-publications';
export const SUBSCRIPTIONS_JOB = 'pgha-logical-subscriptions';
/** The publisher's logical-replication secret: the password of the role subscribers log in as. */
export const LOGICAL_PASSWORD_KEY = 'logical_replication_password';

const ENV_DIR = '/etc/pgha';
const PUBLICATIONS_ENV = `${ENV_DIR}/logical-publications.env`;
const publisherEnv = (publisherCluster: string) => `${ENV_DIR}/logical-publisher-${publisherCluster}.env`;
/**
 * How often each job runs after its first run at start: a database, table or publication created
 * later is picked up within this; each run is a few catalog queries.
 */
const SCHEDULE = '*:0/2';

export interface PublicationsInput {
  readonly publications: readonly PublicationSpec[];
  readonly postgresPort: number;
  /** The publisher's logical-replication secret. */
  readonly secretName: string;
  /** Subscribers' slots the job keeps (a cluster without Patroni). @default none (Patroni keeps them) */
  readonly slots?: readonly LogicalSlot[];
  /** A Patroni cluster: the DCS settings the job keeps, and the environment patronictl needs (Patroni's own). */
  readonly patroni?: { readonly dcs: PatroniDcsInput; readonly environmentFile: string };
}

/**
 * A job of the primary, on every node of the cluster: as postgres, after start and on SCHEDULE,
 * reading its passwords from `secrets` (the script itself does nothing on a replica).
 */
function primaryJobAddition(name: string, description: string, script: NodeFile, secrets: readonly NodeSecret[], moreEnvironmentFiles: readonly string[] = []): NodeAddition {
  const job: NodeJob = {
    name,
    description,
    user: 'postgres',
    group: 'postgres',
    command: [script.path],
    environmentFiles: [...moreEnvironmentFiles, ...secrets.map((secret) => secret.environmentFile)],
    schedule: SCHEDULE,
    timeoutSeconds: 120,
    afterStart: true,
  };
  return { directories: [{ path: ENV_DIR, mode: '0755', owner: 'root:root' }], files: [script, ...jobUnitFiles(job)], jobs: [job], secrets };
}

/** On a publishing cluster's PostgreSQL node: the job that keeps the role and the publications in place. */
export function publicationsAddition(input: PublicationsInput): NodeAddition {
  return primaryJobAddition(
    PUBLICATIONS_JOB,
    `Creates or updates the publications ${input.publications.map((p) => p.name).join(', ')} and their subscribers' role (on the primary)`,
    publicationsScriptFile({ publications: input.publications, port: input.postgresPort, slots: input.slots, patroni: input.patroni?.dcs }),
    [{ name: input.secretName, environmentFile: PUBLICATIONS_ENV, owner: 'postgres:postgres', variables: { [LOGICAL_PASSWORD_VARIABLE]: LOGICAL_PASSWORD_KEY } }],
    // patronictl 4.0.7 loads patroni.yml as Patroni does, which needs the REST API password set.
    input.patroni ? [input.patroni.environmentFile] : [],
  );
}

export interface SubscriptionsInput {
  readonly subscriptions: readonly SubscriptionTarget[];
  readonly postgresPort: number;
  /** Each publishing cluster's logical-replication secret, by cluster name. */
  readonly publisherSecrets: Readonly<Record<string, string>>;
}

/** On a subscribing cluster's PostgreSQL node: the job that creates the subscriptions and keeps them current. */
export function subscriptionsAddition(input: SubscriptionsInput): NodeAddition {
  const publishers = [...new Set(input.subscriptions.map((s) => s.publisherCluster))].sort();
  return primaryJobAddition(
    SUBSCRIPTIONS_JOB,
    `Creates the subscriptions ${input.subscriptions.map((s) => s.name).join(', ')} once their tables exist, and keeps them current (on the primary)`,
    subscriptionsScriptFile({ subscriptions: input.subscriptions, port: input.postgresPort }),
    publishers.map((publisher) => ({
      name: input.publisherSecrets[publisher],
      environmentFile: publisherEnv(publisher),
      owner: 'postgres:postgres',
      variables: { [publisherPasswordVariable(publisher)]: LOGICAL_PASSWORD_KEY },
    })),
  );
}
