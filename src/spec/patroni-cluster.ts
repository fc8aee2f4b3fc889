import { z } from 'zod';
import { instanceType, nodeSizeShape, optIn, port, resourceName, volumeSizeGiB, wholeNumber } from './common';
import { cidrList, refuseAnywhere } from './network';
import { failoverSchema } from './failover';
import { checkLogicalReplication, checkWalLevel, knownPublicationsField, publicationsField, subscriptionsField } from './logical-replication';
import { checkPostgresqlParameters } from './postgresql-parameters';
import { checkRestoreTarget, restoreFromSchema } from './restore-target';
import { SpecProblem } from './problems';
import { cascadingMembers, checkReplicateFrom, listNames, replicateFromSchema } from './replicate-from';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

export { cascadingMembers, memberNames as patroniMemberNames } from './replicate-from';

export const REPLICATION_MODES = ['async', 'sync', 'sync-strict'] as const;
export type ReplicationMode = (typeof REPLICATION_MODES)[number];

/** PostgreSQL nodes of one cluster; also the most zones the construct previews before its spec is checked. */
export const MAX_PATRONI_NODES = 9;

export const patroniClusterSchema = z.object({
  clusterName: resourceName,
  nodeCount: wholeNumber('PostgreSQL nodes', 1, MAX_PATRONI_NODES, 3).default(3),
  allowSingleNode: optIn(),
  /** The zone of each node, in node order, when the platform knows it at synth time. */
  nodeZones: z.array(z.string()).optional(),
  allowSingleAvailabilityZone: optIn(),
  postgresPort: port(5432),
  restApiPort: port(8008),
  etcdPlacement: z
    .enum(['colocated', 'dedicated'], expectation('"colocated" or "dedicated"', 'use "colocated" (etcd on the PostgreSQL nodes) or "dedicated"'))
    .default('colocated'),
  etcdClientPort: port(2379),
  etcdPeerPort: port(2380),
  replicationMode: z
    .enum(REPLICATION_MODES, expectation('"async", "sync" or "sync-strict"', 'pick one of the three modes'))
    .default('sync'),
  synchronousNodeCount: wholeNumber('synchronous standbys', 1, 8, 1).default(1),
  failover: failoverSchema,
  maximumLagOnFailoverBytes: wholeNumber('bytes', 0, 2 ** 40, 1048576).default(1048576),
  maxConnections: wholeNumber('connections', 10, 10000, 200).default(200),
  slowQueryThresholdMs: wholeNumber('milliseconds', -1, 3_600_000, 1000).default(1000),
  postgresqlParameters: z
    .record(
      z.string(),
      z.union(
        [z.string(), z.number(), z.boolean()],
        expectation('a string, number or boolean', 'write the value as PostgreSQL would read it, e.g. "256MB"'),
      ),
      expectation('an object of parameter names to values', 'pass e.g. { work_mem: "16MB" }'),
    )
    .default({}),
  /** Networks that may connect to PostgreSQL directly (besides the cluster and its proxies). */
  clientCidrs: cidrList,
  allowAnyClient: optIn(),
  /** Identity of the archive the cluster archives WAL into, when it has one (set by the construct). */
  archiveId: z.string().optional(),
  /** A WAL segment is archived at least this often, even when little is written: the RPO of archive-only recovery. */
  archiveTimeoutSeconds: wholeNumber('seconds', 10, 3600, 60).default(60),
  /** Bootstrap from an archive (point-in-time recovery) instead of an empty database. */
  restoreFrom: restoreFromSchema.optional(),
  /**
   * Cascading replicas: member name -> the member it streams from (Patroni's `replicatefrom` tag),
   * e.g. { "main-pg-3": "main-pg-2" }. Members not listed stream from the leader.
   */
  replicateFrom: replicateFromSchema,
  /** Publications other clusters may subscribe to: wal_level becomes "logical". */
  publications: publicationsField,
  /** Subscriptions to other clusters' publications, created on the leader once the tables exist. */
  subscriptions: subscriptionsField,
  /** The publications of the clusters subscribed to (set by the construct). */
  knownPublications: knownPublicationsField,
});

export type PatroniClusterSpecInput = z.input<typeof patroniClusterSchema>;
export type PatroniClusterSpec = z.output<typeof patroniClusterSchema>;
type Spec = PatroniClusterSpec;

export const patroniClusterRules: readonly CrossFieldRule<Spec>[] = [
  {
    uses: ['nodeCount', 'allowSingleNode'],
    check: (s) =>
      s.nodeCount >= 3 || (s.nodeCount === 1 && s.allowSingleNode)
        ? []
        : [
            {
              path: 'nodeCount',
              given: s.nodeCount,
              expected: s.nodeCount === 1
                ? 'at least 3 nodes for automatic failover, or allowSingleNode: true for a single node'
                : 'at least 3 nodes: with 2, losing one leaves no majority of replicas to fail over to safely',
              fix: s.nodeCount === 1 ? 'set nodeCount to 3, or allowSingleNode: true for a non-HA development cluster' : 'set nodeCount to 3 or more',
            },
          ],
  },
  {
    uses: ['failover'],
    check: ({ failover: f }) =>
      f.loopWaitSeconds + 2 * f.retryTimeoutSeconds <= f.ttlSeconds
        ? []
        : [
            {
              path: 'failover.ttlSeconds',
              given: f.ttlSeconds,
              expected: `loopWaitSeconds + 2 * retryTimeoutSeconds <= ttlSeconds (${f.loopWaitSeconds} + 2 * ${f.retryTimeoutSeconds} = ${f.loopWaitSeconds + 2 * f.retryTimeoutSeconds} > ${f.ttlSeconds})`,
              fix: `raise ttlSeconds to at least ${f.loopWaitSeconds + 2 * f.retryTimeoutSeconds}, or lower loopWaitSeconds / retryTimeoutSeconds`,
            },
          ],
  },
  {
    uses: ['replicationMode', 'synchronousNodeCount', 'nodeCount'],
    check: (s) =>
      s.replicationMode === 'async' || s.synchronousNodeCount < s.nodeCount
        ? []
        : [
            {
              path: 'synchronousNodeCount',
              given: s.synchronousNodeCount,
              expected: `fewer synchronous standbys than nodes (${s.nodeCount} nodes allow at most ${s.nodeCount - 1})`,
              fix: `set synchronousNodeCount to ${Math.max(1, s.nodeCount - 1)} or less, or add nodes`,
            },
          ],
  },
  {
    uses: ['replicationMode', 'nodeCount'],
    check: (s) =>
      s.replicationMode === 'async' || s.nodeCount > 1
        ? []
        : [
            {
              path: 'replicationMode',
              given: s.replicationMode,
              expected: '"async" for a single node: there is no standby to wait for',
              fix: 'set replicationMode: "async" or add nodes',
            },
          ],
  },
  {
    uses: ['nodeZones', 'nodeCount', 'allowSingleAvailabilityZone'],
    check: (s) => {
      const zones = new Set(s.nodeZones ?? []);
      if (s.nodeZones === undefined || s.nodeCount < 2 || zones.size >= 2 || s.allowSingleAvailabilityZone) return [];
      return [
        {
          path: 'subnets',
          given: [...zones],
          expected: 'nodes spread over at least 2 availability zones, so one zone outage leaves a quorum',
          fix: 'give subnets in 2 or more zones (3 is best), or allowSingleAvailabilityZone: true for a test cluster',
        },
      ];
    },
  },
  {
    uses: ['postgresPort', 'restApiPort', 'etcdClientPort', 'etcdPeerPort'],
    check: (s) => distinctPorts({ postgresPort: s.postgresPort, restApiPort: s.restApiPort, etcdClientPort: s.etcdClientPort, etcdPeerPort: s.etcdPeerPort }),
  },
  {
    // Names and values against the nodes' PostgreSQL, and against what the props and Patroni set.
    uses: ['postgresqlParameters', 'nodeCount', 'maxConnections', 'archiveId', 'subscriptions'],
    check: (s) => checkPostgresqlParameters(s),
  },
  {
    uses: ['restoreFrom'],
    check: (s) => (s.restoreFrom ? checkRestoreTarget(s.restoreFrom) : []),
  },
  {
    uses: ['restoreFrom', 'clusterName', 'archiveId'],
    check: (s) =>
      s.restoreFrom && s.archiveId === s.restoreFrom.archiveId && s.restoreFrom.sourceCluster === s.clusterName
        ? [
            {
              path: 'restoreFrom.sourceCluster',
              given: s.restoreFrom.sourceCluster,
              expected: `a cluster other than "${s.clusterName}" in the same archive: the restored cluster archives into the stanza named after it and must not write into the stanza it restores from`,
              fix: `give the restored cluster a new clusterName (e.g. "${s.clusterName.slice(0, 16)}-restored"), or archive it into another WalArchiveBucket`,
            },
          ]
        : [],
  },
  {
    uses: ['clientCidrs', 'allowAnyClient'],
    check: (s) => refuseAnywhere('clientCidrs', s.clientCidrs, s.allowAnyClient, 'allowAnyClient'),
  },
  {
    uses: ['replicateFrom', 'clusterName', 'nodeCount'],
    check: (s) => checkReplicateFrom(s, { name: 'the leader' }),
  },
  {
    uses: ['clusterName', 'publications', 'subscriptions', 'knownPublications'],
    check: (s) => checkLogicalReplication(s),
  },
  {
    uses: ['publications', 'postgresqlParameters'],
    check: (s) => checkWalLevel(s.publications, s.postgresqlParameters.wal_level),
  },
  {
    uses: ['replicateFrom', 'clusterName', 'nodeCount', 'replicationMode', 'synchronousNodeCount'],
    check: (s) => {
      // Patroni (4.0.7, as 3.0.2) picks synchronous standbys among the leader's own walsenders only
      // (postgresql/sync.py `current_state`): a cascading member counts only while its upstream is
      // down, so the steady state needs enough standbys without it.
      const cascading = cascadingMembers(s);
      const candidates = s.nodeCount - 1 - cascading.length;
      // Rules reported elsewhere first: a count of nodeCount or more, and a spec where every member cascades.
      if (s.replicationMode === 'async' || cascading.length === 0 || cascading.length === s.nodeCount) return [];
      if (s.synchronousNodeCount >= s.nodeCount || s.synchronousNodeCount <= candidates) return [];
      return [
        {
          path: 'synchronousNodeCount',
          given: s.synchronousNodeCount,
          expected:
            `at most nodeCount - 1 - cascading members = ${s.nodeCount} - 1 - ${cascading.length} = ${candidates} synchronous standby(s): ` +
            `Patroni picks synchronous standbys only among members streaming from the leader, and ${listNames(cascading)} cascade${cascading.length === 1 ? 's' : ''} (replicateFrom)`,
          fix:
            candidates >= 1
              ? `set synchronousNodeCount to ${candidates} or less, cascade fewer members, or add nodes`
              : `cascade fewer members (leave at least ${s.synchronousNodeCount + 1} members, the leader included, streaming from the leader), add nodes, or set replicationMode: "async"`,
        },
      ];
    },
  },
];

export function distinctPorts(ports: Record<string, number | undefined>): SpecProblem[] {
  const seen = new Map<number, string>();
  const problems: SpecProblem[] = [];
  for (const [name, value] of Object.entries(ports)) {
    if (value === undefined) continue;
    const other = seen.get(value);
    if (other) {
      problems.push({ path: name, given: value, expected: `a port different from ${other} (${value})`, fix: `choose another port for ${name}` });
    } else {
      seen.set(value, name);
    }
  }
  return problems;
}

/** The construct's props outside the spec that are data: the machines of the PostgreSQL and etcd nodes. */
export const PATRONI_CLUSTER_MACHINE_SHAPE = {
  ...nodeSizeShape,
  etcdInstanceType: instanceType('t3.small').optional(),
  etcdDataVolumeSizeGiB: volumeSizeGiB(20).optional(),
};

export function validatePatroniClusterSpec(input: unknown, constructPath?: string, outside?: OutsideProps): PatroniClusterSpec {
  return validateSpec('PatroniCluster spec', patroniClusterSchema, patroniClusterRules, input, constructPath, outside);
}
