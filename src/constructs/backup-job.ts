import { Construct } from 'constructs';
import { LAYOUT, postgresDataDir } from '../model/layout';
import { planBackupJobs } from '../render/backup-scripts';
import { BackupJobSpec, BackupJobSpecInput, validateBackupJobSpec } from '../spec/backup-job';
import { SpecError } from '../spec/problems';
import { PatroniCluster } from './patroni-cluster';
import { PATRONI_CLUSTER, checkReference, propsObject } from './references';

export interface LogicalDumpProps {
  /** systemd OnCalendar expression. @default "*-*-* 02:30:00" */
  readonly schedule?: string;
  /** @default - every database that allows connections, except templates */
  readonly databases?: string[];
  /** Dumps older than this are deleted. @default 7 */
  readonly retentionDays?: number;
}

export interface BackupJobProps {
  /** The cluster to back up; it must have an archive. */
  readonly cluster: PatroniCluster;
  /** Full backups (systemd OnCalendar). @default "Sun *-*-* 01:00:00" (weekly) */
  readonly fullSchedule?: string;
  /** Differential backups; false turns them off. @default "Mon..Sat *-*-* 01:00:00" (daily) */
  readonly differentialSchedule?: string | false;
  /** Incremental backups. @default - none */
  readonly incrementalSchedule?: string;
  /** `pgbackrest check`: archiving works and the repository answers. @default "hourly" */
  readonly checkSchedule?: string;
  /** `pgbackrest verify`: every file of the repository against its checksum. @default "Sat *-*-* 05:00:00" */
  readonly verifySchedule?: string;
  /** The restore drill on a replica; false turns it off. @default "Wed *-*-* 03:00:00" */
  readonly restoreDrillSchedule?: string | false;
  /** Back up from a replica instead of the leader. @default false */
  readonly backupStandby?: boolean;
  /** Days of recovery window ("time") or full backups ("count") to keep. @default - the archive's retentionDays */
  readonly retentionFull?: number;
  /** @default "time" */
  readonly retentionFullType?: 'count' | 'time';
  /** Differential backups to keep. @default - those of the full backups kept */
  readonly retentionDiff?: number;
  /** Port of the drill's PostgreSQL (socket only). @default 5499 */
  readonly restoreDrillPort?: number;
  /** @default 3600 */
  readonly restoreDrillTimeoutSeconds?: number;
  /** Extra SQL the restored copy must answer, e.g. "SELECT count(*) FROM orders". @default - none */
  readonly restoreDrillQuery?: string;
  /** Logical dumps with pg_dump -Fc, verified with pg_restore -l. @default - none */
  readonly logicalDump?: LogicalDumpProps;
  /** pgBackRest process-max. @default 2 */
  readonly processMax?: number;
}

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
const propsMatchSpec: [Required<Omit<BackupJobProps, 'cluster'>>] extends [Required<BackupJobSpecInput>] ? true : never = true;
void propsMatchSpec;

/**
 * Scheduled pgBackRest backups of a cluster, with retention, `check`, `verify`, a restore drill and
 * optional logical dumps: systemd timers on every node, each job acting only on the node whose
 * role fits (the leader, or a replica), so a failover moves the work with the role. Each job
 * writes its last run, exit code, duration and last success for Prometheus' textfile collector
 * under /var/lib/pgha/status.
 */
export class BackupJob extends Construct {
  readonly spec: BackupJobSpec;
  readonly cluster: PatroniCluster;

  constructor(scope: Construct, id: string, props: BackupJobProps) {
    super(scope, id);
    const { cluster, ...specInput } = propsObject('BackupJob spec', this.node.path, props);
    const clusterProblems = checkReference('cluster', cluster, PATRONI_CLUSTER);
    this.cluster = cluster;
    const archive = clusterProblems.length === 0 ? cluster.archive : undefined;
    const byDays = (specInput.retentionFullType ?? 'time') === 'time';
    this.spec = validateBackupJobSpec({
      ...specInput,
      retentionFull: specInput.retentionFull ?? (byDays && archive ? archive.spec.retentionDays : undefined),
    }, this.node.path, { problems: clusterProblems, props: ['cluster'] });
    const spec = this.spec;
    const lock = archive?.spec.objectLockDays;
    if (lock !== undefined && spec.retentionFullType === 'time' && spec.retentionFull < lock) {
      throw new SpecError('BackupJob spec', [
        {
          path: 'retentionFull',
          given: spec.retentionFull,
          expected: `at least the archive's objectLockDays (${lock}): pgBackRest's expire cannot delete objects still locked, and would fail`,
          fix: `set retentionFull to ${lock} or more, or lower the archive's objectLockDays`,
        },
      ], this.node.path);
    }
    cluster.attachBackup(
      {
        retention: { full: spec.retentionFull, fullType: spec.retentionFullType, diff: spec.retentionDiff },
        processMax: spec.processMax,
        planNode: (placement) =>
          planBackupJobs({
            spec,
            stanza: cluster.clusterName,
            pgbackrestConfig: LAYOUT.pgbackrestConfig,
            dataDir: postgresDataDir(cluster.clusterName),
            binDir: LAYOUT.postgresBinDir,
            socketDir: LAYOUT.postgresSocketDir,
            postgresPort: cluster.spec.postgresPort,
            patroniConfig: LAYOUT.patroniConfig,
            nodeName: placement.name,
          }),
      },
      spec,
      { specName: 'BackupJob spec', construct: this },
    );
  }
}
