import { RESTORE_BOOTSTRAP_SCRIPT, STANZA_CREATE_SCRIPT, archiveScriptFiles, restoreTarget } from '../render/archive-scripts';
import { PATRONI_SECRET_VARIABLES, PatroniArchiveInput, PatroniRestoreInput, renderPatroniConfig } from '../render/patroni-config';
import { PGBACKREST_TLS_PORT, PgbackrestRetention, PgbackrestSource, PgbackrestTls, asRepo2Variables, renderPgbackrestConfig } from '../render/pgbackrest-config';
import { CERTIFICATE_KEYS } from '../platform/platform';
import { RestoreFromSpec } from '../spec/restore-target';
import { renderSystemdUnit, unitPath } from '../render/systemd-unit';
import { PatroniClusterSpec } from '../spec/patroni-cluster';
import { NodePlacement } from '../platform/platform';
import { ETCD_SERVICE, EtcdMemberPlan, planEtcdMember } from './etcd-member';
import { LAYOUT, postgresDataDir } from './layout';
import { NodeDirectory, NodeFile, NodeJob, NodePlan, NodePort, NodeSecret, NodeSecretFile, NodeService } from './node-plan';

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

/** Where the environment of a restore source in another repository is written at boot. */
const RESTORE_SOURCE_ENV = '/etc/pgbackrest/restore-source.env';

export interface PatroniClusterPlanInput {
  readonly spec: PatroniClusterSpec;
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  /** The etcd members: a subset of `placements` when colocated, other nodes when dedicated. */
  readonly etcdPlacements: readonly NodePlacement[];
  /** Networks allowed in pg_hba: the cluster's own and those of its clients (proxies). */
  readonly hbaCidrs: readonly string[];
  readonly secretName: string;
  readonly dataVolumeSizeGiB: number;
  readonly ports: readonly NodePort[];
  /** The archive the cluster archives into and backs up to. */
  readonly archive?: ClusterArchive;
  /** Bootstrap from this archive (point-in-time recovery); `sameArchive` when it is `archive`. */
  readonly restore?: { readonly spec: RestoreFromSpec; readonly archive: ClusterArchive; readonly sameArchive: boolean };
  readonly backup?: ClusterBackup;
  /** A peer's path as this node sees it (the platform's peerPath). */
  readonly peerPath: (nodeName: string, path: string) => string;
}

export const PATRONI_SERVICE = 'pgha-patroni';

export const etcdClusterToken = (clusterName: string) => `pgha-${clusterName}`;

export function etcdEndpoints(spec: PatroniClusterSpec, etcdPlacements: readonly NodePlacement[]): string[] {
  return etcdPlacements.map((p) => `${p.address}:${spec.etcdClientPort}`);
}

export function unitFile(service: NodeService): NodeFile {
  return { path: unitPath(service), mode: '0644', owner: 'root:root', content: renderSystemdUnit(service) };
}

function etcdMemberPlan(spec: PatroniClusterSpec, member: NodePlacement, members: readonly NodePlacement[]): EtcdMemberPlan {
  return planEtcdMember({
    member,
    members,
    clientPort: spec.etcdClientPort,
    peerPort: spec.etcdPeerPort,
    clusterToken: etcdClusterToken(spec.clusterName),
  });
}

/** One plan per PostgreSQL node: Patroni (and the node's etcd member when colocated). */
export function planPatroniNodes(input: PatroniClusterPlanInput): NodePlan[] {
  const { spec } = input;
  const etcdHosts = etcdEndpoints(spec, input.etcdPlacements);
  return input.placements.map((placement) => {
    const colocatedEtcd = input.etcdPlacements.find((member) => member.name === placement.name);
    const etcd = colocatedEtcd ? etcdMemberPlan(spec, placement, input.etcdPlacements) : undefined;
    const patroniService: NodeService = {
      name: PATRONI_SERVICE,
      description: `Patroni member ${placement.name} of PostgreSQL cluster ${spec.clusterName}`,
      user: 'postgres',
      group: 'postgres',
      command: ['/usr/bin/patroni', LAYOUT.patroniConfig],
      environmentFiles: [LAYOUT.patroniSecretsEnv],
      after: etcd ? [ETCD_SERVICE] : [],
      // Patroni stops its own postgres on SIGTERM; only what is left after the timeout is killed.
      killMode: 'mixed',
      stopTimeoutSeconds: 120,
      reloadSignal: 'HUP',
      limitNoFile: 65536,
    };
    const pgbackrest = planPgbackrest(input, placement);
    const patroni: NodeService = { ...patroniService, environmentFiles: [LAYOUT.patroniSecretsEnv, ...pgbackrest.environmentFiles] };
    const services = [...(etcd ? [etcd.service] : []), patroni, ...pgbackrest.services];
    const patroniConfig = renderPatroniConfig({
      spec,
      nodeName: placement.name,
      address: placement.address,
      etcdHosts,
      hbaCidrs: input.hbaCidrs,
      dataDir: postgresDataDir(spec.clusterName),
      socketDir: LAYOUT.postgresSocketDir,
      binDir: LAYOUT.postgresBinDir,
      archive: pgbackrest.patroniArchive,
      restore: pgbackrest.patroniRestore,
    });
    return {
      name: placement.name,
      group: input.groupName,
      address: placement.address,
      zone: placement.zone,
      packages: ['postgresql-15', 'patroni', 'python3-psycopg2', ...pgbackrest.packages, ...(etcd?.packages ?? [])],
      directories: [
        { path: `${LAYOUT.dataMount}/postgresql`, mode: '0750', owner: 'postgres:postgres' },
        { path: `${LAYOUT.dataMount}/postgresql/15`, mode: '0700', owner: 'postgres:postgres' },
        { path: LAYOUT.patroniConfigDir, mode: '0750', owner: 'postgres:postgres' },
        { path: LAYOUT.postgresSocketDir, mode: '2775', owner: 'postgres:postgres' },
        ...(etcd ? [{ path: `${LAYOUT.dataMount}/etcd`, mode: '0750', owner: 'etcd:etcd' }, ...etcd.directories] : []),
        ...pgbackrest.directories,
      ],
      files: [
        {
          path: LAYOUT.createClusterDropIn,
          mode: '0644',
          owner: 'root:root',
          content: '# Patroni creates and runs the cluster: no Debian "main" cluster on port 5432.\ncreate_main_cluster = false\n',
        },
        { path: LAYOUT.patroniConfig, mode: '0640', owner: 'postgres:postgres', content: patroniConfig },
        ...(etcd?.files ?? []),
        ...pgbackrest.files,
        ...services.map(unitFile),
      ],
      services,
      jobs: pgbackrest.jobs,
      replacesServices: ['postgresql', 'patroni', ...(etcd ? ['etcd'] : [])],
      ports: input.ports,
      secrets: [
        {
          name: input.secretName,
          environmentFile: LAYOUT.patroniSecretsEnv,
          owner: 'postgres:postgres',
          variables: PATRONI_SECRET_VARIABLES,
        },
        ...pgbackrest.secrets,
      ],
      secretFiles: pgbackrest.secretFiles,
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: input.dataVolumeSizeGiB },
    };
  });
}

interface NodePgbackrest {
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
function planPgbackrest(input: PatroniClusterPlanInput, placement: NodePlacement): NodePgbackrest {
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
      ...archiveScriptFiles(archive ? spec.clusterName : undefined, restore?.spec, dataDir, sourceRepo),
      ...backupPlan.files,
      ...services.map(unitFile),
    ],
    secrets,
    environmentFiles: secrets.map((secret) => secret.environmentFile),
    jobs: backupPlan.jobs,
    patroniArchive: archive ? { stanza: spec.clusterName, postBootstrapScript: STANZA_CREATE_SCRIPT } : undefined,
    patroniRestore,
  };
}

/** Plans for etcd members on nodes of their own (etcdPlacement "dedicated"). */
export function planDedicatedEtcdNodes(
  spec: PatroniClusterSpec,
  groupName: string,
  placements: readonly NodePlacement[],
  ports: readonly NodePort[],
  dataVolumeSizeGiB: number,
): NodePlan[] {
  return placements.map((placement) => {
    const etcd = etcdMemberPlan(spec, placement, placements);
    return {
      name: placement.name,
      group: groupName,
      address: placement.address,
      zone: placement.zone,
      packages: etcd.packages,
      directories: [{ path: `${LAYOUT.dataMount}/etcd`, mode: '0750', owner: 'etcd:etcd' }, ...etcd.directories],
      files: [...etcd.files, unitFile(etcd.service)],
      services: [etcd.service],
      replacesServices: ['etcd'],
      ports,
      secrets: [],
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: dataVolumeSizeGiB },
    };
  });
}
