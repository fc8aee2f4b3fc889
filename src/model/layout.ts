/** The PostgreSQL major version the nodes run: Debian 13's postgresql-17. */
export const POSTGRES_MAJOR = 17;
/** Debian's package of that version. */
export const POSTGRES_PACKAGE = `postgresql-${POSTGRES_MAJOR}`;

/** Where things live on a node. Every platform uses these paths (the local platform remaps them). */
export const LAYOUT = {
  /** Mount point of the persistent data volume. */
  dataMount: '/var/lib/pgha',
  postgresBinDir: `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`,
  patroniConfigDir: '/etc/patroni',
  patroniConfig: '/etc/patroni/patroni.yml',
  patroniSecretsEnv: '/etc/patroni/patroni.env',
  postgresSocketDir: '/run/postgresql',
  etcdConfig: '/etc/etcd/pgha-etcd.yml',
  haproxyConfig: '/etc/haproxy/pgha.cfg',
  haproxySecretsEnv: '/etc/haproxy/pgha.env',
  systemdUnitDir: '/etc/systemd/system',
  pgbackrestConfigDir: '/etc/pgbackrest',
  pgbackrestConfig: '/etc/pgbackrest/pgbackrest.conf',
  /** Repository passphrase and location (AWS: bucket, region, endpoint), written at boot. */
  pgbackrestSecretsEnv: '/etc/pgbackrest/pgbackrest.env',
  pgbackrestLogDir: '/var/log/pgbackrest',
  /** The CA, certificate and key of the pgBackRest TLS server and its clients (backups from a standby). */
  pgbackrestTlsDir: '/etc/pgbackrest/tls',
  /** On the data volume: the async archive queue must survive a reboot. */
  pgbackrestSpoolDir: '/var/lib/pgha/pgbackrest/spool',
  pgbackrestLockDir: '/var/lib/pgha/pgbackrest/lock',
  /** Scratch data directory of the restore drill (needs room for a full restore). */
  restoreDrillDir: '/var/lib/pgha/restore-drill',
  /** Logical dumps (pg_dump -Fc), kept for the dump job's retention. */
  dumpDir: '/var/lib/pgha/dumps',
  /** Prometheus textfile-collector files: last run, success and duration of each job. */
  jobStatusDir: '/var/lib/pgha/status',
  /** Monitoring: postgres_exporter's custom queries and the exporters' secret environment files. */
  monitoringDir: '/etc/pgha/monitoring',
  exporterQueries: '/etc/pgha/monitoring/queries.yaml',
  postgresExporterEnv: '/etc/pgha/monitoring/postgres-exporter.env',
  monitoringRoleEnv: '/etc/pgha/monitoring/monitoring-role.env',
  /** Our scripts (backup, check, verify, restore drill, dump, stanza setup). */
  scriptDir: '/usr/local/lib/pgha',
  /** Keeps Debian's postgresql package from creating (and starting) its own "main" cluster. */
  createClusterDropIn: '/etc/postgresql-common/createcluster.d/pgha.conf',
} as const;

export const postgresDataDir = (clusterName: string) => `${LAYOUT.dataMount}/postgresql/${POSTGRES_MAJOR}/${clusterName}`;
export const etcdDataDir = (memberName: string) => `${LAYOUT.dataMount}/etcd/${memberName}`;
