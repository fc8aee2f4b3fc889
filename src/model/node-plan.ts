/**
 * The platform-neutral description of one machine. Render functions fill it; platforms
 * (aws, docker, local) turn it into real things. Nothing here knows about cdktf.
 */

/** A file written on the node. */
export interface NodeFile {
  /** Absolute path on the node. */
  readonly path: string;
  readonly content: string;
  /** Octal permissions, e.g. "0640". */
  readonly mode: string;
  /** "user:group". The user exists once the node's packages are installed. */
  readonly owner: string;
}

export interface NodeDirectory {
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
}

/** A long-running service, described once and rendered as a systemd unit or run as a process. */
export interface NodeService {
  /** Unit name without ".service", e.g. "pgha-patroni". */
  readonly name: string;
  readonly description: string;
  /** "notify" when the program tells systemd it is ready (etcd does); later units then wait for it. */
  readonly readiness?: 'simple' | 'notify';
  readonly user: string;
  readonly group: string;
  /** argv of the main process. */
  readonly command: readonly string[];
  /** Extra environment (never secrets: those come from `environmentFiles`). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Files of KEY=value lines read at start; secret files are written at boot, mode 0600. */
  readonly environmentFiles?: readonly string[];
  /** Other services of this node that must start first. */
  readonly after?: readonly string[];
  /** How a stop is signalled: Patroni must stop its postgres too ("mixed"). */
  readonly killMode?: 'control-group' | 'mixed' | 'process';
  /** The signal that asks it to stop. @default SIGTERM */
  readonly stopSignal?: 'SIGTERM' | 'SIGINT';
  readonly stopTimeoutSeconds?: number;
  readonly reloadSignal?: 'HUP' | 'USR2';
  readonly limitNoFile?: number;
}

/**
 * A command run on a schedule (a oneshot systemd service and its timer on a VM). Jobs decide for
 * themselves whether this node should act (e.g. only the current leader backs up), so every node
 * of a group can carry the same job and a failover moves the work with the role.
 */
export interface NodeJob {
  /** Unit name without ".service"/".timer", e.g. "pgha-backup-full". */
  readonly name: string;
  readonly description: string;
  readonly user: string;
  readonly group: string;
  /** argv of the job. */
  readonly command: readonly string[];
  readonly environmentFiles?: readonly string[];
  /** systemd OnCalendar expression, e.g. "Sun *-*-* 01:00:00" or "daily". */
  readonly schedule: string;
  /** Spreads the start of the job on the nodes of a fleet (RandomizedDelaySec). */
  readonly randomizedDelaySeconds?: number;
  /** The job is killed, and counts as failed, after this long. */
  readonly timeoutSeconds: number;
  /** Also run once soon after the node's services start (setup that must not wait for the schedule). */
  readonly afterStart?: boolean;
}

/**
 * Who may reach a port: another group of nodes of the stack, a network, or (on platforms that
 * have them) an existing security group such as an application's.
 */
export type Peer = { readonly group: string } | { readonly cidr: string } | { readonly securityGroupId: string };

export interface NodePort {
  readonly port: number;
  /** What listens there, for rule descriptions: "PostgreSQL", "Patroni REST API". */
  readonly purpose: string;
  readonly from: readonly Peer[];
}

/** A secret the node fetches at boot and writes as an environment file. */
export interface NodeSecret {
  /** Logical name, unique in the stack, e.g. "main/patroni"; the platform maps it to its store. */
  readonly name: string;
  /** Environment file written at boot (0600, owned by `owner`). */
  readonly environmentFile: string;
  readonly owner: string;
  /** Environment variable -> key of the secret's JSON document. */
  readonly variables: Readonly<Record<string, string>>;
}

/** One value of a secret written to a file of its own at boot (a TLS key or certificate), mode 0600. */
export interface NodeSecretFile {
  /** The secret's logical name. */
  readonly secret: string;
  /** Key of the secret's JSON document. */
  readonly key: string;
  readonly path: string;
  readonly owner: string;
}

export interface NodeDataVolume {
  readonly mountPath: string;
  readonly sizeGiB: number;
}

/** A watchdog device the node's HA agent keeps alive: the platform makes it and gives it to `owner`. */
export interface NodeWatchdog {
  readonly device: string;
  /** "user:group" that opens the device (Patroni's). */
  readonly owner: string;
}

export interface NodePlan {
  /** Host name, unique in the stack: "main-pg-1". */
  readonly name: string;
  /** The group of nodes this one belongs to (one security group on AWS). */
  readonly group: string;
  readonly address: string;
  readonly zone?: string;
  /** Debian 13 packages (apt names; the node runtime root holds the same). */
  readonly packages: readonly string[];
  readonly directories: readonly NodeDirectory[];
  readonly files: readonly NodeFile[];
  /** Services in start order. */
  readonly services: readonly NodeService[];
  /** Scheduled jobs (backups, checks, drills). */
  readonly jobs?: readonly NodeJob[];
  /** Debian units that the packages start on install and that our services replace. */
  readonly replacesServices: readonly string[];
  readonly ports: readonly NodePort[];
  readonly secrets: readonly NodeSecret[];
  /** Secret values written as files at boot. */
  readonly secretFiles?: readonly NodeSecretFile[];
  readonly dataVolume?: NodeDataVolume;
  /** Present when the node's agent runs with a watchdog (`watchdog: required`). */
  readonly watchdog?: NodeWatchdog;
}
