import { IConstruct } from 'constructs';
import { PatroniClusterDescription, StackDescription, describeStack } from '../constructs/stack-description';
import { BackupJobSpec } from '../spec/backup-job';
import { PatroniClusterSpec } from '../spec/patroni-cluster';
import { watchdogSafetyMargin } from '../render/patroni-config';

/** What the objectives of one cluster are computed from. */
export interface RecoveryObjectivesInput {
  readonly cluster: PatroniClusterSpec;
  /** Whether the cluster archives WAL (it has a WalArchiveBucket). */
  readonly archived: boolean;
  /** Whether the archive is copied to another region (replicaRegion). */
  readonly offsiteCopy?: boolean;
  /** Its BackupJob, when it has one. */
  readonly backup?: BackupJobSpec;
  /** A measured restore time (the restore drill's pgha_restore_drill_duration_seconds, or `npm run bench:backup`). */
  readonly measuredRestoreSeconds?: number;
  /** Whether Patroni runs with a watchdog (`watchdog: required`; the AWS platform's softdog). */
  readonly watchdog?: boolean;
}

/** One row of the RPO/RTO table. */
export interface RecoveryObjective {
  readonly scenario: string;
  /** Data that can be lost. */
  readonly rpo: string;
  /** Time until writes are served again. */
  readonly rto: string;
  /** How the numbers follow from the settings. */
  readonly basis: string;
}

/** HAProxy marks the new primary up within two checks of one second (see HaproxyFrontends). */
const PROXY_SWITCH_SECONDS = 3;
/** Bootstrapping a restored cluster around the restore itself: etcd, Patroni, replicas (measured 10-15 s locally). */
const RESTORED_CLUSTER_OVERHEAD_SECONDS = 30;

const duration = (seconds: number) => (seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 360) / 10} h`);
const bytes = (n: number) => (n >= 1048576 ? `${n / 1048576} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} bytes`);

/**
 * The leader's Patroni stalls while its PostgreSQL runs on: another member takes over once the
 * lease runs out. With a watchdog the stalled node is reset before that; without one it stays
 * writable until its Patroni resumes and demotes it, and only synchronous replication keeps the
 * commits it takes meanwhile from being acknowledged (npm run chaos measures both windows).
 */
function stalledLeader(input: RecoveryObjectivesInput, failoverRpo: string, failoverBound: number): RecoveryObjective {
  const { cluster, watchdog } = input;
  const synchronous = cluster.replicationMode !== 'async';
  return {
    scenario: "the leader's Patroni stalls (a paused VM, CPU starvation, a stuck disk)",
    rpo: synchronous || watchdog ? failoverRpo : `${failoverRpo}, and commits the stalled leader acknowledges until its Patroni resumes`,
    rto: `at most ${duration(failoverBound)}`,
    basis: watchdog
      ? `the watchdog resets the stalled node ${cluster.failover.ttlSeconds - watchdogSafetyMargin(cluster.failover)} s (ttl - safety_margin) after its last loop, before its lease runs out: never two writable members`
      : `no watchdog on this platform: the stalled leader stays writable until its Patroni resumes and demotes it; ${
          synchronous ? 'its commits wait for a synchronous standby that now follows the new leader, so none is acknowledged' : 'in async mode the commits it acknowledges meanwhile can be lost'
        }`,
  };
}

/**
 * The recovery point and time objectives that follow from a cluster's settings, per failure:
 * a node (or zone) lost, a replica lost, the whole cluster lost, and a logical mistake.
 */
export function recoveryObjectives(input: RecoveryObjectivesInput): RecoveryObjective[] {
  const { cluster, backup } = input;
  const { ttlSeconds, loopWaitSeconds } = cluster.failover;
  const failoverBound = ttlSeconds + loopWaitSeconds + PROXY_SWITCH_SECONDS;
  const failoverRpo =
    cluster.replicationMode === 'sync-strict'
      ? '0'
      : cluster.replicationMode === 'sync'
        ? '0 (a second failure within one loop_wait after a failover, before a new synchronous standby is named, can lose commits of that window)'
        : `up to ${bytes(cluster.maximumLagOnFailoverBytes)} of WAL (maximum_lag_on_failover: a replica further behind is never promoted)`;
  const rows: RecoveryObjective[] = [
    {
      scenario: cluster.nodeCount > 1 ? 'primary node or its zone lost' : 'the single node lost',
      rpo: cluster.nodeCount > 1 ? failoverRpo : input.archived ? `up to ${cluster.archiveTimeoutSeconds} s (archive_timeout)` : 'everything',
      rto: cluster.nodeCount > 1 ? `at most ${duration(failoverBound)}` : 'a restore (see below)',
      basis:
        cluster.nodeCount > 1
          ? `automatic failover: leader lease ttl ${ttlSeconds} s + loop_wait ${loopWaitSeconds} s + ${PROXY_SWITCH_SECONDS} s for HAProxy's checks; replication ${cluster.replicationMode}`
          : 'no standby to fail over to',
    },
  ];
  if (cluster.nodeCount > 1) {
    rows.push(stalledLeader(input, failoverRpo, failoverBound));
    rows.push({
      scenario: 'a replica lost',
      rpo: '0',
      rto: `0 for writes; reads leave it within ${PROXY_SWITCH_SECONDS} s`,
      basis: cluster.replicationMode === 'sync-strict' && cluster.nodeCount - 1 <= cluster.synchronousNodeCount ? 'sync-strict with no standby left blocks writes until one returns' : 'another standby takes the synchronous role',
    });
  }
  const restoreTime = input.measuredRestoreSeconds !== undefined ? `${duration(input.measuredRestoreSeconds + RESTORED_CLUSTER_OVERHEAD_SECONDS)}` : 'restore time + ~30 s';
  const restoreBasis =
    input.measuredRestoreSeconds !== undefined
      ? `measured restore ${duration(input.measuredRestoreSeconds)} + ~${RESTORED_CLUSTER_OVERHEAD_SECONDS} s to bootstrap the cluster`
      : 'measure it with the restore drill (pgha_restore_drill_duration_seconds) or `npm run bench:backup`';
  if (!input.archived) {
    rows.push({ scenario: 'whole cluster or region lost', rpo: 'everything', rto: 'none: nothing to restore from', basis: 'no archive: give the cluster a WalArchiveBucket' });
    rows.push({ scenario: 'logical mistake (DROP, bad UPDATE)', rpo: 'everything since the mistake cannot be undone', rto: 'none', basis: 'no archive, no point-in-time recovery' });
    return rows;
  }
  const window = backup ? (backup.retentionFullType === 'time' ? `${backup.retentionFull} days` : `${backup.retentionFull} full backups`) : 'none: no backups are scheduled';
  const archiveRpo = `up to ${cluster.archiveTimeoutSeconds} s (plus WAL still queued for the asynchronous push)`;
  rows.push({
    scenario: 'whole cluster lost',
    rpo: archiveRpo,
    rto: backup ? restoreTime : 'none until a backup exists',
    basis: `restoreFrom the archive: archive_timeout ${cluster.archiveTimeoutSeconds} s bounds the WAL not yet archived; ${restoreBasis}`,
  });
  rows.push(
    input.offsiteCopy
      ? {
          scenario: 'region lost',
          rpo: `${archiveRpo}, plus S3 replication lag (usually seconds to minutes)`,
          rto: backup ? `${restoreTime}, from the copy` : 'none until a backup exists',
          basis: 'restore from the replica bucket in the other region (point pgBackRest at it)',
        }
      : { scenario: 'region lost', rpo: 'everything', rto: 'none: the archive is in the same region', basis: 'no offsite copy: set replicaRegion on the WalArchiveBucket' },
  );
  rows.push({
    scenario: 'logical mistake (DROP, bad UPDATE)',
    rpo: 'the writes after the chosen target time',
    rto: backup ? restoreTime : 'none until a backup exists',
    basis: `point-in-time recovery into a new cluster (restoreFrom with targetTime); recovery window ${window}`,
  });
  return rows;
}

/** The table as Markdown, one per cluster, for reviewers and `pgha plan-report`. */
export function renderRecoveryReport(title: string, rows: readonly RecoveryObjective[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [
    `### ${title}`,
    '',
    '| failure | RPO (data lost) | RTO (writes back) | from |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${cell(r.scenario)} | ${cell(r.rpo)} | ${cell(r.rto)} | ${cell(r.basis)} |`),
    '',
  ].join('\n');
}

/** The report of every PatroniCluster of a stack, from its description (pgha.json, or describeStack). */
export function recoveryReportOf(description: StackDescription, measuredRestoreSeconds?: number): string {
  return description.clusters
    .filter((cluster): cluster is PatroniClusterDescription => cluster.kind === 'patroni')
    .map((cluster) =>
      renderRecoveryReport(
        `${cluster.clusterName} (${cluster.path})`,
        recoveryObjectives({
          cluster: cluster.spec,
          archived: cluster.archived,
          offsiteCopy: cluster.offsiteCopy,
          backup: cluster.backup,
          measuredRestoreSeconds,
          watchdog: description.nodes.some((node) => node.plan.watchdog && cluster.members.some((member) => member.name === node.plan.name)),
        }),
      ),
    )
    .join('\n');
}

/** The report of every PatroniCluster under `scope` (a stack). */
export function recoveryReport(scope: IConstruct, measuredRestoreSeconds?: number): string {
  return recoveryReportOf(describeStack(scope), measuredRestoreSeconds);
}
