import { Document } from 'yaml';
import { isEveryAddress, isIpv4Network } from '../spec/network';
import { ParameterValue } from '../spec/postgresql-parameters';
import { PatroniClusterSpec } from '../spec/patroni-cluster';
import { logicalWorkerParameters, replicationSenderLimit } from '../spec/logical-replication';
import type { LogicalSlot } from './logical-replication';
import { LAYOUT } from '../model/layout';

/** The database roles Patroni uses (and creates at bootstrap), and the REST API's basic-auth user. */
export const PATRONI_USERS = { superuser: 'postgres', replication: 'replicator', rewind: 'rewinder', restApi: 'patroni' } as const;

/**
 * Env var -> key in the cluster secret's JSON; Patroni reads these at start, the YAML never holds a password.
 *
 * Checked against Patroni 4.0.7 (patroni/config.py `_build_environment_configuration`):
 * `PATRONI_<SUPERUSER|REPLICATION|REWIND>_PASSWORD` fill `postgresql.authentication.<user>.password`,
 * `PATRONI_RESTAPI_PASSWORD` fills `restapi.authentication.password`; each is deep-merged into the
 * YAML, so the usernames stay in the file and only the passwords come from the environment. Without
 * `PATRONI_RESTAPI_PASSWORD` Patroni 4.0.7 stops at start (KeyError 'password') and
 * `patroni --validate-config` says "restapi.authentication.password is not defined", so a node never
 * runs with an unprotected REST API by accident.
 */
export const PATRONI_SECRET_VARIABLES: Record<string, string> = {
  PATRONI_SUPERUSER_PASSWORD: 'superuser_password',
  PATRONI_REPLICATION_PASSWORD: 'replication_password',
  PATRONI_REWIND_PASSWORD: 'rewind_password',
  PATRONI_RESTAPI_PASSWORD: 'restapi_password',
};

export interface PatroniConfigInput {
  readonly spec: PatroniClusterSpec;
  /** Patroni member name. */
  readonly nodeName: string;
  /** Node address: listen + connect address for postgres and the REST API. */
  readonly address: string;
  /** "host:port" of every etcd member. */
  readonly etcdHosts: readonly string[];
  /** Networks allowed to connect (cluster + proxies), never 0.0.0.0/0 unless spec.allowAnyClient. */
  readonly hbaCidrs: readonly string[];
  readonly dataDir: string;
  readonly socketDir: string;
  readonly binDir: string;
  /** WAL archiving and replica creation through pgBackRest, when the cluster has an archive. */
  readonly archive?: PatroniArchiveInput;
  /** Bootstrap from an archive instead of initdb (point-in-time recovery). */
  readonly restore?: PatroniRestoreInput;
  /** Logical slots of other clusters' subscriptions to this one's publications: permanent slots in the DCS. */
  readonly logicalSlots?: readonly LogicalSlot[];
  /**
   * The watchdog device the platform gives the node: Patroni then runs `watchdog: required` and
   * never leads without it. Without one (containers, the local platform), the watchdog is off.
   */
  readonly watchdogDevice?: string;
}

/**
 * Seconds between the watchdog's deadline and the leader key's expiry: Patroni sets the device's
 * timeout to ttl - safety_margin. Patroni's default of 5, less when the timings leave no room:
 * a leader's loop (loop_wait, then up to retry_timeout on etcd) must always fit before the reset,
 * so a slow but live leader is never reset. The base rule loop_wait + 2 * retry_timeout <= ttl
 * with retry_timeout >= 3 keeps it at 3 or more.
 */
export function watchdogSafetyMargin(timing: { ttlSeconds: number; loopWaitSeconds: number; retryTimeoutSeconds: number }): number {
  return Math.min(5, timing.ttlSeconds - timing.loopWaitSeconds - timing.retryTimeoutSeconds);
}

export interface PatroniArchiveInput {
  /** The cluster's own stanza. */
  readonly stanza: string;
  /** Runs after the first bootstrap (initdb or restore): creates the stanza. */
  readonly postBootstrapScript: string;
}

export interface PatroniRestoreInput {
  /** pgbackrest restore argv, run instead of initdb. */
  readonly command: readonly string[];
  /** recovery_target_* settings and the source stanza's restore_command. */
  readonly recoveryConf: Readonly<Record<string, string>>;
}

/** Patroni's name for the custom bootstrap method (any key but initdb works). */
export const RESTORE_BOOTSTRAP_METHOD = 'pgbackrest_restore';

/** Splits like Python's shlex (Patroni splits commands with it): double quotes keep spaces together. */
function shellWords(argv: readonly string[]): string {
  return argv.map((word) => (/[\s"'\\$]/.test(word) ? `"${word.replace(/(["\\$])/g, '\\$1')}"` : word)).join(' ');
}

function pgbackrestCall(stanza: string, action: string): string {
  return `/usr/bin/pgbackrest --config=${LAYOUT.pgbackrestConfig} --stanza=${stanza} ${action}`;
}

/** Replication connections between nodes on one host arrive from here; local tools connect from here too. */
const LOOPBACK = '127.0.0.1/32';

/** Patroni refuses these as connect_address (patroni/validator.py `validate_connect_address`). */
const UNUSABLE_CONNECT_HOSTS = ['127.0.0.1', '0.0.0.0', '*', '::1', 'localhost'];

const HEADER = [
  ' patroni.yml: generated by cdktf-postgres-ha. Do not edit: changes are overwritten on the next deploy.',
  ' Passwords are not in this file. Patroni reads them at start from the environment:',
  ...Object.entries(PATRONI_SECRET_VARIABLES).map(([variable, key]) => `   ${variable} (cluster secret key "${key}")`),
  ' Settings under bootstrap.dcs apply once, when the cluster is first initialised; change them',
  ' later with `patronictl edit-config`.',
].join('\n');

/** Renders one node's patroni.yml. Pure: the same input gives the same text, byte for byte. */
export function renderPatroniConfig(input: PatroniConfigInput): string {
  checkInput(input);
  const { spec } = input;
  const hba = pgHbaLines(input);
  const logicalSlots = input.logicalSlots ?? [];

  const config = {
    scope: spec.clusterName,
    name: input.nodeName,
    restapi: {
      listen: `${input.address}:${spec.restApiPort}`,
      connect_address: `${input.address}:${spec.restApiPort}`,
      // Basic auth on the unsafe endpoints (switchover, restart, reload, config changes); the
      // password comes from PATRONI_RESTAPI_PASSWORD. Health checks (GET/OPTIONS) stay open.
      authentication: { username: PATRONI_USERS.restApi },
      // Unsafe endpoints also answer only to these networks and the cluster's members.
      allowlist: unique([LOOPBACK, ...input.hbaCidrs]),
      allowlist_include_members: true,
    },
    etcd3: { hosts: [...input.etcdHosts] },
    bootstrap: {
      dcs: {
        ttl: spec.failover.ttlSeconds,
        loop_wait: spec.failover.loopWaitSeconds,
        retry_timeout: spec.failover.retryTimeoutSeconds,
        maximum_lag_on_failover: spec.maximumLagOnFailoverBytes,
        synchronous_mode: spec.replicationMode !== 'async',
        synchronous_mode_strict: spec.replicationMode === 'sync-strict',
        synchronous_node_count: spec.synchronousNodeCount,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: clusterParameters(spec, input.archive !== undefined, logicalSlots.length),
        },
        ...logicalIgnoreSlots(logicalSlots),
      },
      ...(input.restore
        ? {
            method: RESTORE_BOOTSTRAP_METHOD,
            [RESTORE_BOOTSTRAP_METHOD]: {
              command: shellWords(input.restore.command),
              // pgbackrest takes no --scope/--datadir: its config names the data directory.
              no_params: true,
              // Patroni writes these into postgresql.conf for the recovery and removes the copies
              // pgBackRest wrote into postgresql.auto.conf, so they never outlive the bootstrap.
              keep_existing_recovery_conf: false,
              recovery_conf: { ...input.restore.recoveryConf },
            },
          }
        : {}),
      ...(input.archive ? { post_bootstrap: input.archive.postBootstrapScript } : {}),
      initdb: [
        { encoding: 'UTF8' },
        // Independent of the LANG of whatever starts Patroni; C.UTF-8 is built into Debian's glibc.
        { locale: 'C.UTF-8' },
        'data-checksums',
        { 'auth-host': 'scram-sha-256' },
        { 'auth-local': 'peer' },
      ],
      pg_hba: [...hba],
    },
    postgresql: {
      listen: `${input.address}:${spec.postgresPort}`,
      connect_address: `${input.address}:${spec.postgresPort}`,
      data_dir: input.dataDir,
      bin_dir: input.binDir,
      // Patroni writes the replication/rewind passwords here (mode 0600) for libpq. The default
      // (~postgres/pgpass) would be shared by every node of one host; the socket dir is per node
      // and on tmpfs, so the file never lands on the data volume or its snapshots.
      pgpass: `${input.socketDir}/patroni.pgpass`,
      // Patroni's own connections go through the socket (peer auth as postgres). Over TCP they
      // would need the node's address in pg_hba, and while a restored cluster recovers Patroni
      // trusts only that address, which loopback nodes never connect from (they use 127.0.0.1).
      use_unix_socket: true,
      authentication: {
        superuser: { username: PATRONI_USERS.superuser },
        replication: { username: PATRONI_USERS.replication },
        rewind: { username: PATRONI_USERS.rewind },
      },
      parameters: {
        unix_socket_directories: input.socketDir,
        password_encryption: 'scram-sha-256',
        // Per node, not in the DCS: the command names this node's pgbackrest.conf.
        ...(input.archive ? { archive_command: pgbackrestCall(input.archive.stanza, 'archive-push %p') } : {}),
      },
      pg_hba: [...hba],
      ...(input.archive
        ? {
            // Standbys fetch from the archive what the primary no longer keeps, and a new or
            // rebuilt replica starts from the latest backup (then streams) before falling back
            // to a pg_basebackup from the leader (a new cluster has no backup yet).
            recovery_conf: { restore_command: pgbackrestCall(input.archive.stanza, 'archive-get %f "%p"') },
            create_replica_methods: ['pgbackrest', 'basebackup'],
            pgbackrest: { command: pgbackrestCall(input.archive.stanza, 'restore'), keep_data: true, no_params: true },
          }
        : {}),
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, ...cascadeTags(spec, input.nodeName) },
    watchdog: input.watchdogDevice
      ? // A leader whose Patroni stalls (a paused VM, a stuck disk) stops keeping the watchdog
        // alive and is reset before its leader key expires: it cannot go on accepting writes
        // while another member takes over. Required: a node without a usable device never leads.
        { mode: 'required', device: input.watchdogDevice, safety_margin: watchdogSafetyMargin(spec.failover) }
      : // Where a node cannot have a watchdog of its own (a container shares the host's kernel; the
        // local platform's nodes share this machine): the DCS leader lease, HAProxy's checks of
        // Patroni, and in the sync modes synchronous replication keep a stalled leader's writes
        // from being acknowledged (see the README's fault suite).
        { mode: 'off' },
  };

  // YAML 1.1, because Patroni reads the file with PyYAML (a YAML 1.1 parser): strings such as "off",
  // "on" and "yes" must be quoted or they come back as booleans (Patroni 4 happens to take a False
  // watchdog.mode as off, 3.0.2 refused it; an unquoted "on" is True and fails its validator).
  // lineWidth 0 keeps long lines (log_line_prefix) on one line.
  const document = new Document(config, { version: '1.1' });
  document.commentBefore = HEADER;
  return document.toString({ lineWidth: 0 });
}

/**
 * A cascading member (spec.replicateFrom) streams from its upstream member instead of the leader.
 * Patroni 4.0.7 follows `replicatefrom` while the upstream's member key is in the DCS, running or
 * not (ha.py `_get_node_to_follow` calls `cluster.get_member`, which falls back to the leader only
 * when the name is not a member: dcs/__init__.py `get_member`). So when the upstream goes down its
 * cascading replicas stop streaming until its key expires (up to ttl after its last refresh), then
 * follow the leader, and return to the upstream once its Patroni runs again. Since Patroni 4.0
 * (member_slots_ttl, 30 min by default, on PostgreSQL 11+) every node keeps a slot for every other
 * member, the leader one for a cascading member too (inactive while it cascades, advanced to the
 * LSN the member reports: dcs/__init__.py `_get_members_slots`); 3.0.2's leader kept none for it.
 * No `nosync`: while a cascading member follows the leader (its upstream down) it may become the
 * synchronous standby, so the sync modes keep a synchronous standby, and sync-strict keeps
 * committing, through the upstream's outage; while it cascades Patroni cannot pick it
 * (postgresql/sync.py reads the leader's own standbys).
 */
function cascadeTags(spec: PatroniClusterSpec, nodeName: string): { nosync: false; replicatefrom?: string } {
  const upstream = spec.replicateFrom[nodeName];
  return upstream === undefined ? { nosync: false } : { nosync: false, replicatefrom: upstream };
}

/**
 * Patroni drops every inactive slot it does not know, and a subscription's table-sync slots
 * ("pg_<oid>_sync_<relid>_<sysid>") are idle between copying a table and catching it up
 * (patroni/patroni#3237): logical pgoutput slots in the published databases are left alone.
 * The subscribers' permanent slots are not here: Patroni would make each as soon as its database
 * exists, before its publication, which fails the subscription for good once a write comes between
 * (LogicalSlot). The publications job adds each to the DCS once its publication is in place.
 */
function logicalIgnoreSlots(slots: readonly LogicalSlot[]): Record<string, unknown> {
  if (slots.length === 0) return {};
  return { ignore_slots: unique(slots.map((slot) => slot.database)).map((database) => ({ type: 'logical', database, plugin: 'pgoutput' })) };
}

/**
 * What a publishing cluster needs in Patroni's dynamic configuration: its subscribers' permanent
 * slots (each added once its publication exists), ignore_slots, and the parameters logical
 * decoding needs (bootstrap.dcs holds those for a new cluster). The publications job merges it
 * into the DCS.
 */
export function logicalDcsSettings(spec: PatroniClusterSpec, slots: readonly LogicalSlot[]): LogicalDcsSettings {
  const parameters = clusterParameters(spec, false, slots.length);
  return {
    slots: slots.map((slot) => ({ name: slot.name, database: slot.database, publication: slot.publication })),
    ignoreDatabases: unique(slots.map((slot) => slot.database)),
    walLevel: String(parameters.wal_level),
    maxWalSenders: Number(parameters.max_wal_senders),
    maxReplicationSlots: Number(parameters.max_replication_slots),
  };
}

export interface LogicalDcsSettings {
  readonly slots: readonly LogicalSlot[];
  readonly ignoreDatabases: readonly string[];
  readonly walLevel: string;
  readonly maxWalSenders: number;
  readonly maxReplicationSlots: number;
}

/** Cluster-wide PostgreSQL parameters (bootstrap.dcs): replication, logging, autovacuum, then the user's. */
function clusterParameters(spec: PatroniClusterSpec, archiving: boolean, logicalSlots: number): Record<string, ParameterValue> {
  // A slot and walsender per replica, 2 spare (a rebuild, a backup), and each subscriber's share.
  const senders = replicationSenderLimit(spec.nodeCount + 2, logicalSlots);
  const parameters: Record<string, ParameterValue> = {
    // Continuous archiving; archive_timeout bounds the data an archive-only recovery can lose.
    ...(archiving ? { archive_mode: 'on', archive_timeout: `${spec.archiveTimeoutSeconds}s` } : {}),
    // Replication (pg_rewind needs wal_log_hints; data checksums alone would do, both are cheap).
    // Publications need logical decoding, which needs "logical".
    wal_level: spec.publications.length > 0 ? 'logical' : 'replica',
    hot_standby: 'on',
    max_wal_senders: senders,
    wal_keep_size: '1GB',
    max_replication_slots: senders,
    ...logicalWorkerParameters(spec.subscriptions.length),
    wal_log_hints: 'on',
    // A standby whose primary went away retries streaming every 5 s by default; after a failover
    // that delays the new primary's first synchronous standby (and, in sync-strict, every commit)
    // by up to 5 s. Measured: 13.5-15.2 s to the first write in sync-strict, 11.6-11.8 s with 1 s.
    wal_retrieve_retry_interval: '1s',
    max_connections: spec.maxConnections,
    // Slow queries and the events that explain them.
    log_min_duration_statement: spec.slowQueryThresholdMs,
    log_line_prefix: '%m [%p] user=%u db=%d app=%a client=%h ',
    log_lock_waits: 'on',
    log_temp_files: 0,
    log_checkpoints: 'on',
    log_autovacuum_min_duration: '10s',
    // Autovacuum: earlier and a little faster than PostgreSQL's defaults (20 % / 10 % of a table,
    // 1 min naptime), which let large tables bloat before they are vacuumed.
    autovacuum: 'on',
    autovacuum_max_workers: 3,
    autovacuum_naptime: '30s',
    autovacuum_vacuum_scale_factor: 0.05,
    autovacuum_vacuum_insert_scale_factor: 0.05,
    autovacuum_analyze_scale_factor: 0.02,
    autovacuum_vacuum_cost_limit: 1000,
  };
  for (const [name, value] of Object.entries(spec.postgresqlParameters)) {
    parameters[name] = typeof value === 'boolean' ? (value ? 'on' : 'off') : value;
  }
  // Sorted, so the text does not depend on the order the user wrote their parameters in.
  return Object.fromEntries(Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The same lines go to bootstrap.pg_hba (initdb) and postgresql.pg_hba (kept in place by Patroni). */
function pgHbaLines(input: PatroniConfigInput): string[] {
  const lines = [
    // Patroni itself and local admin tools, as the postgres OS user, over the unix socket.
    `local all ${PATRONI_USERS.superuser} peer`,
  ];
  for (const network of unique([LOOPBACK, ...input.hbaCidrs])) {
    lines.push(`host replication ${PATRONI_USERS.replication} ${network} scram-sha-256`);
    lines.push(`host all all ${network} scram-sha-256`);
  }
  return lines;
}

function checkInput(input: PatroniConfigInput): void {
  const problems: string[] = [];
  const host = input.address.replace(/^\[|\]$/g, '');
  if (host === '' || UNUSABLE_CONNECT_HOSTS.includes(host)) {
    problems.push(
      `address: got "${input.address}", expected the node's own address (Patroni refuses ${UNUSABLE_CONNECT_HOSTS.join(', ')} ` +
        'as connect_address, other members could not reach it); give the node\'s private IP, e.g. "10.0.1.12" or "127.0.0.11" on loopback',
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(input.nodeName)) {
    problems.push(`nodeName: got "${input.nodeName}", expected a member name of letters, digits, ".", "_" and "-"; use e.g. "${input.spec.clusterName}-1"`);
  }
  if (input.spec.replicateFrom[input.nodeName] === input.nodeName) {
    problems.push(`spec.replicateFrom.${input.nodeName}: got "${input.nodeName}", expected another member to stream from; remove the entry to stream from the leader`);
  }
  if (input.etcdHosts.length === 0) {
    problems.push('etcdHosts: got none, expected the "host:port" of every etcd member; pass e.g. ["10.0.1.11:2379"]');
  }
  input.etcdHosts.forEach((hostPort, index) => {
    if (!/^[^\s:]+:\d{1,5}$/.test(hostPort)) {
      problems.push(`etcdHosts.${index}: got "${hostPort}", expected "host:port"; write it as e.g. "10.0.1.11:${input.spec.etcdClientPort}"`);
    }
  });
  if (input.hbaCidrs.length === 0) {
    problems.push('hbaCidrs: got none, expected at least the cluster network, or standbys cannot replicate; pass e.g. ["10.0.0.0/16"]');
  }
  input.hbaCidrs.forEach((network, index) => {
    if (!isIpv4Network(network)) {
      problems.push(`hbaCidrs.${index}: got "${network}", expected an IPv4 CIDR; write it as address/prefix, e.g. "10.0.0.0/16"`);
    } else if (isEveryAddress(network) && !input.spec.allowAnyClient) {
      problems.push(
        `hbaCidrs.${index}: got "${network}", expected the networks of the cluster and its clients only; ` +
          'name the networks, or set allowAnyClient: true in the spec if you really mean every address',
      );
    }
  });
  for (const [field, path] of [
    ['dataDir', input.dataDir],
    ['socketDir', input.socketDir],
    ['binDir', input.binDir],
  ] as const) {
    if (!path.startsWith('/')) problems.push(`${field}: got "${path}", expected an absolute path; use e.g. the node layout's path`);
  }
  if (problems.length > 0) {
    throw new Error(`Cannot render patroni.yml for node "${input.nodeName}":\n  - ${problems.join('\n  - ')}`);
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
