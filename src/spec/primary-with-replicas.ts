import { z } from 'zod';
import { optIn, port, resourceName, wholeNumber } from './common';
import { distinctPorts } from './patroni-cluster';
import { cidrList, refuseAnywhere } from './network';
import { SpecProblem } from './problems';
import { PARAMETER_NAME, badName, checkLogicalWorkers, checkReservedConnections } from './postgresql-parameters';
import { ParameterValue, checkPostgresqlCombinations, checkPostgresqlSetting } from './postgresql-settings';
import { checkLogicalReplication, knownPublicationsField, publicationsField, subscriptionsField } from './logical-replication';
import { cascadingMembers, checkReplicateFrom, listNames, memberNames, replicateFromSchema } from './replicate-from';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

export const SYNCHRONOUS_METHODS = ['FIRST', 'ANY'] as const;

/** Standbys of one primary; also bounds the zones the construct previews before its spec is checked. */
export const MAX_STANDBYS = 8;

/** One primary and hot standbys without Patroni: streaming replication, promotion by hand. */
export const primaryWithReplicasSchema = z.object({
  clusterName: resourceName,
  standbyCount: wholeNumber('standbys', 1, MAX_STANDBYS, 2).default(2),
  /** The zone of each node (primary first), when the platform knows it at synth time. */
  nodeZones: z.array(z.string()).optional(),
  allowSingleAvailabilityZone: optIn(),
  replicationMode: z.enum(['async', 'sync'], expectation('"async" or "sync"', 'use "async", or "sync" for commits that wait for standbys')).default('async'),
  /** In "sync" mode: commits wait for `count` standbys, the first in order (FIRST) or any (ANY). */
  synchronousMethod: z.enum(SYNCHRONOUS_METHODS, expectation('"FIRST" or "ANY"', 'use "FIRST" (a priority order) or "ANY" (a quorum)')).default('FIRST'),
  synchronousCount: wholeNumber('synchronous standbys', 1, 8, 1).default(1),
  postgresPort: port(5432),
  /** The role agent: Patroni's health-check endpoints for HAProxy (`/primary`, `/replica?lag=`). */
  agentPort: port(8008),
  maxConnections: wholeNumber('connections', 10, 10000, 200).default(200),
  walKeepSize: z
    .string(expectation('a size such as "1GB"', 'write e.g. "1GB"'))
    .regex(/^\d+(kB|MB|GB|TB)$/, expectation('a size such as "512MB" or "1GB"', 'write a whole number and kB, MB, GB or TB'))
    .default('1GB'),
  postgresqlParameters: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()], expectation('a string, number or boolean', 'write the value as PostgreSQL would read it')))
    .default({}),
  clientCidrs: cidrList,
  allowAnyClient: optIn(),
  /** With an archive (set by the construct): a WAL segment is archived at least this often (archive_timeout). */
  archiveTimeoutSeconds: wholeNumber('seconds', 10, 3600, 60).default(60),
  /**
   * Cascading standbys: member name -> the standby it streams from, e.g. { "main-pg-4": "main-pg-2" }.
   * Members not listed stream from the primary (the first member, which cannot cascade).
   */
  replicateFrom: replicateFromSchema,
  /** Publications other clusters may subscribe to: wal_level becomes "logical". */
  publications: publicationsField,
  /** Subscriptions to other clusters' publications, created on the primary once the tables exist. */
  subscriptions: subscriptionsField,
  /** The publications of the clusters subscribed to (set by the construct). */
  knownPublications: knownPublicationsField,
});

export type PrimaryWithReplicasSpecInput = z.input<typeof primaryWithReplicasSchema>;
export type PrimaryWithReplicasSpec = z.output<typeof primaryWithReplicasSchema>;
type Spec = PrimaryWithReplicasSpec;

export const primaryWithReplicasRules: readonly CrossFieldRule<Spec>[] = [
  {
    uses: ['replicationMode', 'synchronousCount', 'standbyCount', 'replicateFrom', 'clusterName'],
    check: (s) => checkSynchronousCount(s),
  },
  {
    uses: ['replicateFrom', 'clusterName', 'standbyCount'],
    check: (s) => checkReplicateFrom(cascadeOf(s), { name: 'the primary', member: memberNames(s.clusterName, 1)[0] }),
  },
  {
    uses: ['nodeZones', 'allowSingleAvailabilityZone'],
    check: (s) =>
      s.nodeZones === undefined || new Set(s.nodeZones).size >= 2 || s.allowSingleAvailabilityZone
        ? []
        : [
            {
              path: 'subnets',
              given: [...new Set(s.nodeZones)],
              expected: 'the primary and its standbys in at least 2 availability zones',
              fix: 'give subnets in 2 or more zones, or allowSingleAvailabilityZone: true for a test cluster',
            },
          ],
  },
  {
    uses: ['postgresPort', 'agentPort'],
    check: (s) => distinctPorts({ postgresPort: s.postgresPort, agentPort: s.agentPort }),
  },
  {
    uses: ['postgresqlParameters', 'maxConnections', 'subscriptions'],
    check: (s) => checkParameters(s),
  },
  {
    uses: ['clientCidrs', 'allowAnyClient'],
    check: (s) => refuseAnywhere('clientCidrs', s.clientCidrs, s.allowAnyClient, 'allowAnyClient'),
  },
  {
    uses: ['clusterName', 'publications', 'subscriptions', 'knownPublications'],
    check: (s) => checkLogicalReplication(s),
  },
];

const cascadeOf = (s: Spec) => ({ replicateFrom: s.replicateFrom, clusterName: s.clusterName, nodeCount: s.standbyCount + 1 });

/**
 * synchronous_standby_names names only the standbys streaming from the primary (a cascading one
 * never acknowledges to the primary), and fewer than all of them: losing one must not stop commits.
 */
function checkSynchronousCount(s: Spec): SpecProblem[] {
  const cascading = cascadingMembers(cascadeOf(s));
  const direct = s.standbyCount - cascading.length;
  if (s.replicationMode === 'async' || s.synchronousCount < direct) return [];
  const most = direct - 1;
  if (cascading.length === 0) {
    return [
      {
        path: 'synchronousCount',
        given: s.synchronousCount,
        expected: `fewer synchronous standbys than standbys (${s.standbyCount} standby(s) allow at most ${most}): with every standby synchronous, losing one stops all commits`,
        fix: s.standbyCount > 1 ? `set synchronousCount to ${most} or less, or add standbys` : 'add a standby (standbyCount: 2), or use replicationMode: "async"',
      },
    ];
  }
  return [
    {
      path: 'synchronousCount',
      given: s.synchronousCount,
      expected:
        `fewer synchronous standbys than standbys streaming from the primary: standbyCount - cascading standbys = ${s.standbyCount} - ${cascading.length} = ${direct} direct standby(s) ` +
        `allow at most ${direct} - 1 = ${most}, since ${listNames(cascading)} cascade${cascading.length === 1 ? 's' : ''} (replicateFrom), and a cascading standby never acknowledges commits to the primary`,
      fix: most >= 1 ? `set synchronousCount to ${most} or less, cascade fewer standbys, or add standbys` : 'cascade fewer standbys (leave at least 2 streaming from the primary), add standbys, or use replicationMode: "async"',
    },
  ];
}

/** Parameters the construct sets (or pg_basebackup -R does), with the way to get what was meant. */
const OWNED: Record<string, string> = {
  listen_addresses: 'it is set to the node address; nothing to set',
  port: 'use the postgresPort prop',
  max_connections: 'use the maxConnections prop',
  wal_keep_size: 'use the walKeepSize prop',
  wal_level: '"replica" is set ("logical" with publications); remove it',
  max_wal_senders: 'it is sized from standbyCount; remove it',
  max_replication_slots: 'it is sized from standbyCount; remove it',
  hot_standby: 'it is on, so standbys serve reads; remove it',
  hot_standby_feedback: 'it is on, so vacuum on the primary does not cancel queries on standbys; remove it',
  synchronous_standby_names: 'use replicationMode, synchronousMethod and synchronousCount',
  synchronous_commit: 'use replicationMode; a transaction may still SET LOCAL synchronous_commit',
  primary_conninfo: 'pg_basebackup -R writes it on each standby; remove it',
  primary_slot_name: 'pg_basebackup -R writes it on each standby; remove it',
  password_encryption: 'scram-sha-256 is set, as pg_hba requires; remove it',
  unix_socket_directories: 'fixed by the node layout; remove it',
  hba_file: 'the construct writes pg_hba.conf; remove it',
  config_file: 'the construct writes postgresql.conf; remove it',
  data_directory: 'fixed by the node layout; remove it',
  archive_mode: 'give the archive prop (a WalArchiveBucket): the primary then archives',
  archive_command: 'give the archive prop (a WalArchiveBucket): pgBackRest archives',
  archive_timeout: 'use the archiveTimeoutSeconds prop (with an archive)',
  restore_command: 'give the archive prop (a WalArchiveBucket): standbys then fetch from it',
};

/** Names and values against the nodes' PostgreSQL and how the construct writes postgresql.conf, and what it sets. */
function checkParameters(s: Pick<Spec, 'postgresqlParameters' | 'maxConnections' | 'subscriptions'>): SpecProblem[] {
  const problems = Object.entries(s.postgresqlParameters).flatMap(([name, value]) => {
    const path = `postgresqlParameters.${name}`;
    if (!PARAMETER_NAME.test(name)) return [badName(name)];
    if (name in OWNED) return [{ path, given: value, expected: `no "${name}" (PrimaryWithReplicas sets it)`, fix: OWNED[name] }];
    const problem = confSyntaxProblem(path, value) ?? checkPostgresqlSetting(name, value);
    return problem ? [problem] : [];
  });
  return [
    ...problems,
    ...checkPostgresqlCombinations(s.postgresqlParameters),
    ...checkLogicalWorkers(s.postgresqlParameters, s.subscriptions.length),
    ...checkReservedConnections(s.postgresqlParameters, s.maxConnections),
  ];
}

/**
 * The renderer writes a number unquoted, as JavaScript prints it, and a string verbatim between
 * quotes (replication-node.ts): PostgreSQL's config parser reads an exponent only after a decimal
 * point ("1e-7" is a syntax error, "1.5e-7" is not), and a backslash there starts an escape.
 */
function confSyntaxProblem(path: string, value: ParameterValue): SpecProblem | undefined {
  const text = String(value);
  const exponent = typeof value === 'number' ? /^(-?)([0-9]+)e([+-][0-9]+)$/.exec(text) : null;
  if (exponent) {
    const [, sign, digits, power] = exponent;
    const shift = Number(power);
    const padded = digits.padStart(-shift + 1, '0');
    const plain = sign + (shift >= 0 ? digits + '0'.repeat(shift) : `${padded.slice(0, padded.length + shift)}.${padded.slice(padded.length + shift)}`);
    return { path, given: value, expected: `a number postgresql.conf can hold: JavaScript prints this one as ${text}, which PostgreSQL's config parser refuses`, fix: `write it as a string, e.g. "${plain}"` };
  }
  if (typeof value === 'string' && text.includes('\\')) {
    return { path, given: value, expected: 'a value without backslashes: PrimaryWithReplicas writes it into postgresql.conf as it is, where a backslash starts an escape', fix: 'remove the backslashes' };
  }
  return undefined;
}

export function validatePrimaryWithReplicasSpec(input: unknown, constructPath?: string, outside?: OutsideProps): PrimaryWithReplicasSpec {
  return validateSpec('PrimaryWithReplicas spec', primaryWithReplicasSchema, primaryWithReplicasRules, input, constructPath, outside);
}

/** A standby's slot and application_name: what synchronous_standby_names names. */
export const standbySlotName = (memberName: string) => memberName.replace(/-/g, '_');

/** synchronous_standby_names of the primary: empty in async mode; only the standbys streaming from it. */
export function synchronousStandbyNames(spec: Spec, standbyNames: readonly string[]): string {
  if (spec.replicationMode === 'async') return '';
  const direct = standbyNames.filter((name) => spec.replicateFrom[name] === undefined);
  return `${spec.synchronousMethod} ${spec.synchronousCount} (${direct.map(standbySlotName).join(', ')})`;
}
