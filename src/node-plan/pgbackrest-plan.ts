import { RESTORE_BOOTSTRAP_SCRIPT, STANZA_CREATE_SCRIPT, StanzaCreateOnPrimary, archiveScriptFiles, restoreTarget } from '../render/archive-scripts';
import { PatroniArchiveInput, PatroniRestoreInput } from '../render/patroni-config';
import { PGBACKREST_TLS_PORT, PgbackrestRetention, PgbackrestSource, PgbackrestTls, asRepo2Variables, renderPgbackrestConfig } from '../render/pgbackrest-config';
import { PatroniClusterSpec } from '../spec/patroni-cluster';
import { RestoreFromSpec } from '../spec/restore-target';
import { LAYOUT, postgresDataDir } from '../model/layout';
import { NodeDirectory, NodeFile, NodeJob, NodeSecret, NodeSecretFile, NodeService } from '../model/node-plan';
import { jobUnitFiles, unitFile } from '../render/unit-files';
import { NodePlacement } from '../model/placement';
import { CERTIFICATE_KEYS } from '../model/certificate-keys';

/**
 * pgBackRest on a PostgreSQL node: its configuration, secrets, scripts, jobs and (for backups from
 * a standby) its TLS server, for a cluster that archives, restores from an archive, or both.
 */

/** A pgBackRest repository as a cluster's nodes use it. */
export interface ClusterArchive {
  /** repo1-* options without the prefix. */
  readonly repository: Readonly<Record<string, string>>;
  readonly secretName: string;
  /** Environment variable (PGBACKREST_REPO1_*) -> key of the secret. */
  readonly secretVariables: Readonly<Record<string, string>>;
}

/** What a BackupJob adds to each node. */
export interface NodeBackupPlan {
  readonly jobs: NodeJob[];
  readonly files: NodeFile[];
  readonly directories: NodeDirectory[];
}

export interface ClusterBackup {
  readonly retention: PgbackrestRetention;
  readonly processMax: number;
  readonly planNode: (placement: NodePlacement) => NodeBackupPlan;
  /** Backups from a standby: pgBackRest's TLS server on every node, with this certificate. */
  readonly tls?: { readonly secretName: string; readonly clientCommonName: string };
}

export const PGBACKREST_SERVER_SERVICE = 'pgha-pgbackrest-server';
export const STANZA_CREATE_JOB = 'pgha-stanza-create';

/** Where the environment of a restore source in another repository is written at boot. */
const RESTORE_SOURCE_ENV = '/etc/pgbackrest/restore-source.env';

/** Bootstrap from an archive (point-in-time recovery); `sameArchive` when it is the cluster's own. */
export interface ClusterRestore {
  readonly spec: RestoreFromSpec;
  readonly archive: ClusterArchive;
  readonly sameArchive: boolean;
}

/** What pgBackRest needs of a cluster's spec: the stanza is the cluster's name. */
export type StanzaCluster = Pick<PatroniClusterSpec, 'clusterName' | 'postgresPort'>;

/** What the pgBackRest part of a node plan is made from. */
export interface PgbackrestPlanInput<Spec extends StanzaCluster = PatroniClusterSpec> {
  readonly spec: Spec;
  readonly placements: readonly NodePlacement[];
  /** The archive the cluster archives into and backs up to. */
  readonly archive?: ClusterArchive;
  /** Bootstrap from an archive (point-in-time recovery). */
  readonly restore?: ClusterRestore;
  readonly backup?: ClusterBackup;
  /** A peer's path as this node sees it (the platform's peerPath). */
  readonly peerPath: (nodeName: string, path: string) => string;
  /**
   * Without Patroni's post_bootstrap (PrimaryWithReplicas): a job on every node creates the stanza
   * on whichever node is primary, right after start and then every 10 minutes (a no-op once it exists).
   */
  readonly stanzaJob?: StanzaCreateOnPrimary;
}

export interface NodePgbackrest {
  readonly packages: string[];
  readonly services: NodeService[];
  readonly secretFiles: NodeSecretFile[];
  readonly directories: NodeDirectory[];
  readonly files: NodeFile[];
  readonly secrets: NodeSecret[];
  readonly environmentFiles: string[];
  readonly jobs: NodeJob[];
  readonly patroniArchive?: PatroniArchiveInput;
  readonly patroniRestore?: PatroniRestoreInput;
}

/** pgBackRest on a node: its config, secrets, scripts and jobs, for archiving, restoring or both. */
export function planPgbackrest<Spec extends StanzaCluster>(input: PgbackrestPlanInput<Spec>, placement: NodePlacement): NodePgbackrest {
  const { spec, archive, restore, backup } = input;
  if (!archive && !restore) return { packages: [], services: [], secretFiles: [], directories: [], files: [], secrets: [], environmentFiles: [], jobs: [] };
  const dataDir = postgresDataDir(spec.clusterName);
  // The source of a restore is repo 1 when it is the cluster's own repository (or the cluster has
  // none), repo 2 when it is another one; its passphrase then comes as PGBACKREST_REPO2_*.
  const sourceRepo: 1 | 2 = restore && !restore.sameArchive && archive ? 2 : 1;
  const source: PgbackrestSource | undefined = restore
    ? { stanza: restore.spec.sourceCluster, repo: sourceRepo, repository: restore.sameArchive ? undefined : restore.archive.repository }
    : undefined;
  const secrets: NodeSecret[] = [];
  if (archive) {
    secrets.push({ name: archive.secretName, environmentFile: LAYOUT.pgbackrestSecretsEnv, owner: 'postgres:postgres', variables: archive.secretVariables });
  }
  if (restore && !restore.sameArchive) {
    secrets.push({
      name: restore.archive.secretName,
      environmentFile: archive ? RESTORE_SOURCE_ENV : LAYOUT.pgbackrestSecretsEnv,
      owner: 'postgres:postgres',
      variables: sourceRepo === 2 ? asRepo2Variables(restore.archive.secretVariables) : restore.archive.secretVariables,
    });
  }
  const tlsFile = (name: string) => `${LAYOUT.pgbackrestTlsDir}/${name}`;
  const tls: PgbackrestTls | undefined =
    archive && backup?.tls
      ? {
          address: placement.address,
          port: PGBACKREST_TLS_PORT,
          clientCommonName: backup.tls.clientCommonName,
          caFile: tlsFile('ca.crt'),
          certFile: tlsFile('node.crt'),
          keyFile: tlsFile('node.key'),
          peers: input.placements
            .filter((peer) => peer.name !== placement.name)
            .map((peer) => ({
              address: peer.address,
              dataDir: input.peerPath(peer.name, dataDir),
              socketDir: input.peerPath(peer.name, LAYOUT.postgresSocketDir),
              postgresPort: spec.postgresPort,
            })),
        }
      : undefined;
  const secretFiles: NodeSecretFile[] =
    tls && backup?.tls
      ? [
          { secret: backup.tls.secretName, key: CERTIFICATE_KEYS.ca, path: tls.caFile, owner: 'postgres:postgres' },
          { secret: backup.tls.secretName, key: CERTIFICATE_KEYS.certificate, path: tls.certFile, owner: 'postgres:postgres' },
          { secret: backup.tls.secretName, key: CERTIFICATE_KEYS.key, path: tls.keyFile, owner: 'postgres:postgres' },
        ]
      : [];
  const services: NodeService[] = tls
    ? [
        {
          name: PGBACKREST_SERVER_SERVICE,
          description: `pgBackRest TLS server of ${placement.name}: lets a backup on a standby reach this node`,
          user: 'postgres',
          group: 'postgres',
          command: ['/usr/bin/pgbackrest', `--config=${LAYOUT.pgbackrestConfig}`, 'server'],
          environmentFiles: secrets.map((secret) => secret.environmentFile),
        },
      ]
    : [];
  const config = renderPgbackrestConfig({
    stanza: spec.clusterName,
    repository: archive?.repository,
    retention: backup?.retention,
    processMax: backup?.processMax ?? 2,
    dataDir,
    postgresPort: spec.postgresPort,
    socketDir: LAYOUT.postgresSocketDir,
    source,
    tls,
  });
  const backupPlan = archive && backup ? backup.planNode(placement) : { jobs: [], files: [], directories: [] };
  const stanzaJobs: NodeJob[] =
    archive && input.stanzaJob
      ? [
          {
            name: STANZA_CREATE_JOB,
            description: `Creates the pgBackRest stanza ${spec.clusterName} (on the primary), so WAL archiving works`,
            user: 'postgres',
            group: 'postgres',
            command: [STANZA_CREATE_SCRIPT],
            environmentFiles: secrets.map((secret) => secret.environmentFile),
            schedule: '*:0/10',
            timeoutSeconds: 300,
            afterStart: true,
          },
        ]
      : [];
  let patroniRestore: PatroniRestoreInput | undefined;
  if (restore) {
    const target = restoreTarget(restore.spec);
    patroniRestore = {
      command: [RESTORE_BOOTSTRAP_SCRIPT],
      recoveryConf: {
        restore_command: `/usr/bin/pgbackrest --config=${LAYOUT.pgbackrestConfig} --stanza=${restore.spec.sourceCluster} --repo=${sourceRepo} archive-get %f "%p"`,
        ...target.recoveryConf,
      },
    };
  }
  return {
    packages: ['pgbackrest'],
    services,
    secretFiles,
    directories: [
      ...(tls ? [{ path: LAYOUT.pgbackrestTlsDir, mode: '0750', owner: 'root:postgres' }] : []),
      { path: LAYOUT.pgbackrestConfigDir, mode: '0750', owner: 'root:postgres' },
      { path: LAYOUT.pgbackrestLogDir, mode: '0770', owner: 'postgres:postgres' },
      { path: `${LAYOUT.dataMount}/pgbackrest`, mode: '0750', owner: 'postgres:postgres' },
      { path: LAYOUT.pgbackrestSpoolDir, mode: '0750', owner: 'postgres:postgres' },
      { path: LAYOUT.pgbackrestLockDir, mode: '0750', owner: 'postgres:postgres' },
      { path: LAYOUT.scriptDir, mode: '0755', owner: 'root:root' },
      ...backupPlan.directories.filter((dir) => dir.path !== LAYOUT.scriptDir),
    ],
    files: [
      { path: LAYOUT.pgbackrestConfig, mode: '0640', owner: 'root:postgres', content: config },
      ...archiveScriptFiles(archive ? spec.clusterName : undefined, restore?.spec, dataDir, sourceRepo, input.stanzaJob),
      ...backupPlan.files,
      ...stanzaJobs.flatMap(jobUnitFiles),
      ...services.map(unitFile),
    ],
    secrets,
    environmentFiles: secrets.map((secret) => secret.environmentFile),
    jobs: [...backupPlan.jobs, ...stanzaJobs],
    patroniArchive: archive ? { stanza: spec.clusterName, postBootstrapScript: STANZA_CREATE_SCRIPT } : undefined,
    patroniRestore,
  };
}

