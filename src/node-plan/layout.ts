/** Where things live on a node. Every platform uses these paths (the local platform remaps them). */
export const LAYOUT = {
  /** Mount point of the persistent data volume. */
  dataMount: '/var/lib/pgha',
  postgresBinDir: '/usr/lib/postgresql/15/bin',
  patroniConfigDir: '/etc/patroni',
  patroniConfig: '/etc/patroni/patroni.yml',
  patroniSecretsEnv: '/etc/patroni/patroni.env',
  postgresSocketDir: '/run/postgresql',
  etcdConfig: '/etc/etcd/pgha-etcd.yml',
  haproxyConfig: '/etc/haproxy/pgha.cfg',
  haproxySecretsEnv: '/etc/haproxy/pgha.env',
  systemdUnitDir: '/etc/systemd/system',
  /** Keeps Debian's postgresql package from creating (and starting) its own "main" cluster. */
  createClusterDropIn: '/etc/postgresql-common/createcluster.d/pgha.conf',
} as const;

export const postgresDataDir = (clusterName: string) => `${LAYOUT.dataMount}/postgresql/15/${clusterName}`;
export const etcdDataDir = (memberName: string) => `${LAYOUT.dataMount}/etcd/${memberName}`;
