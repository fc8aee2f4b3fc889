import { Construct } from 'constructs';
import { NodePlacement } from '../model/placement';
import { NodeAddition } from '../node-plan/node-addition';
import { NodePlan, NodePort, Peer } from '../model/node-plan';
import { FailoverProfile } from '../spec/failover';
import { WalArchiveBucketSpec } from '../spec/wal-archive-bucket';

/** Machine size and disk for a group of nodes; each platform reads what applies to it. */
export interface NodeSize {
  /** @default - the platform's default for the group's role */
  readonly instanceType?: string;
  /** Size of the persistent data volume, when the plans have one. */
  readonly dataVolumeSizeGiB?: number;
}

export interface NodeGroupProps extends NodeSize {
  /** Stack-unique group name, e.g. "main-pg"; one security group on AWS. */
  readonly groupName: string;
  readonly description: string;
  readonly placements: readonly NodePlacement[];
  /**
   * Produces the plans at synth time, when every construct of the stack has had its say
   * (proxies added after the cluster still reach its pg_hba).
   */
  readonly plans: () => readonly NodePlan[];
  /** Secrets the nodes read at boot. */
  readonly secrets: readonly SecretRef[];
}

/** A secret in the platform's store, created with random values for the given JSON keys. */
export interface SecretRef {
  readonly name: string;
  /** Platform handle (an ARN on AWS). */
  readonly id: string;
}

/** A group of nodes created from plans; ports open only to the peers allowed here. */
export interface NodeGroup {
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  /** The group's security group, on platforms that have them. */
  readonly securityGroupId?: string;
  /** Every port rule granted so far (the plans report them as their `ports`). */
  readonly ports: readonly NodePort[];
  /** Opens `port` on every node of the group to `peer`. */
  allow(port: number, purpose: string, peer: Peer): void;
  /** Opens `port` to the nodes of `other`. */
  allowGroup(port: number, purpose: string, other: NodeGroup): void;
  /** Lets the nodes read a secret created after the group (the group's own come with its props). */
  grantSecret(secret: SecretRef): void;
  /**
   * Lets the nodes list the platform's instances and zones, read-only, for Prometheus' EC2
   * service discovery (AWS: ec2:DescribeInstances and ec2:DescribeAvailabilityZones on "*";
   * nothing where scrape targets are listed).
   */
  allowInstanceDiscovery(): void;
  /** Adds to every node's plan (an exporter, an agent): applied at synth, after the group's own plans. */
  extendPlans(addition: (plan: NodePlan) => NodeAddition): void;
}

export interface EndpointListener {
  readonly name: string;
  readonly port: number;
}

/** One stable address in front of a node group (an internal load balancer on AWS). */
export interface Endpoint {
  readonly host: string;
  /** The security group clients pass through, on platforms that have them. */
  readonly securityGroupId?: string;
  /** Opens the listeners to a client network. */
  allowClient(peer: Peer): void;
}

export interface EndpointProps {
  readonly group: NodeGroup;
  readonly listeners: readonly EndpointListener[];
  /** HTTP port on each node answering 200 at /healthz while the node can serve. */
  readonly healthPort: number;
}

/**
 * Where a pgBackRest repository lives, as the nodes see it. Options known at synth time go into
 * pgbackrest.conf; the rest (an S3 bucket's generated name, its region) is stored in the archive's
 * secret beside the passphrase and reaches pgBackRest as PGBACKREST_REPO1_* environment variables.
 */
export interface ArchiveRepository {
  /** repo1-* options without the prefix: type, path, s3-key-type, ... */
  readonly options: Readonly<Record<string, string>>;
  /** Environment variable -> value stored in the archive's secret (may be a platform reference). */
  readonly locationVariables: Readonly<Record<string, string>>;
  /** What a reviewer reads: "s3://<bucket><path>" or a directory. */
  readonly description: string;
  /** Lets the nodes of a group read and write the repository (and nothing else). */
  grant(group: NodeGroup): void;
}

/**
 * A private CA and one certificate for a group of nodes, valid for each node's address, for mutual
 * TLS between them. One for the group, not one per node: the nodes of a group share one role (one
 * IAM role on AWS), so per-node keys would not keep one node from reading another's.
 */
export interface NodeCertificatesProps {
  /** The secret's name: "<name>/tls". */
  readonly name: string;
  /** The certificates' common name: what servers authorize clients by. */
  readonly commonName: string;
  readonly nodes: readonly NodePlacement[];
}

/** How a Prometheus finds the nodes: by EC2 service discovery (tags) or listed addresses. */
export type ScrapeDiscovery = { readonly kind: 'ec2'; readonly region: string } | { readonly kind: 'static' };

/**
 * A platform as tools read it from a synthesized stack (pgha.json): its kind, and whatever the
 * runner of that kind needs (the local platform: the secrets, archives and certificates to make).
 */
export interface PlatformDescription {
  readonly kind: string;
}

/** What constructs need from a platform. Constructs never ask which platform it is. */
export interface Platform {
  readonly scrapeDiscovery: ScrapeDiscovery;
  /**
   * Failover timing every PatroniCluster on the platform gets, whatever its props say: set by
   * `pgha local up --profile` to run a topology's drills fast on this machine.
   * @default - each cluster's own `failover`
   */
  readonly failoverOverride?: FailoverProfile;
  /**
   * The watchdog device each node gets (AWS: the kernel's softdog at /dev/watchdog), with which
   * Patroni runs `watchdog: required`: a node whose Patroni stalls is reset before its leader key
   * expires. Undefined where a node cannot have a watchdog of its own: containers share the host's
   * kernel, and the local platform's nodes share this machine.
   */
  readonly watchdogDevice?: string;
  /** For pgha.json, written at synth. */
  describe(): PlatformDescription;
  placeNodes(groupName: string, count: number): NodePlacement[];
  /** The zones the next `count` placements would get, without placing anything (for validation). */
  previewZones(count: number): (string | undefined)[];
  /**
   * A secret with a generated value for each of `keys` (letters and digits), plus `fixedValues`
   * stored as given (values the platform only knows at deploy time, such as a bucket name).
   */
  createSecret(scope: Construct, id: string, name: string, keys: readonly string[], fixedValues?: Readonly<Record<string, string>>): SecretRef;
  /** A CA and a certificate for the nodes (server and client use), in a secret with the keys of CERTIFICATE_KEYS. */
  createNodeCertificates(scope: Construct, id: string, props: NodeCertificatesProps): SecretRef;
  /**
   * A path of another node as seen from this one, for configs that name a peer's files (pgBackRest's
   * pgN-path): the same path on machines of their own; under the peer's directory on one host.
   */
  peerPath(nodeName: string, path: string): string;
  /** The storage of a pgBackRest repository: an S3 bucket on AWS, a directory or local S3 server on this machine. */
  createArchiveRepository(scope: Construct, id: string, spec: WalArchiveBucketSpec): ArchiveRepository;
  createNodeGroup(scope: Construct, id: string, props: NodeGroupProps): NodeGroup;
  createEndpoint(scope: Construct, id: string, props: EndpointProps): Endpoint;
}
