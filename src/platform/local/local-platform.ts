import { Construct } from 'constructs';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { join } from 'node:path';
import { ArchiveRepository, Endpoint, EndpointProps, NodeCertificatesProps, NodeGroup, NodeGroupProps, Platform, PlatformDescription, SecretRef } from '../platform';
import { FailoverProfile } from '../../spec/failover';
import { LocalArchiveRepository, LocalArchiveStore } from './archive-store';
import { localS3Settings } from './local-s3-settings';
import { RecordedNodeGroup } from '../recorded-node-group';
import { NodePlacement } from '../../model/placement';
import { validateLocalPlatformSpec } from '../../spec/local-platform';
import { checkSubnetRoom } from '../subnet-room';

export interface LocalPlatformProps {
  /**
   * Second octet of every node address: nodes get 127.<block>.<subnet>.<host>, so that two local
   * clusters (a developer's and a test's) never share an address.
   * @default 42
   */
  readonly addressBlock?: number;
  /** Pseudo-subnets the nodes are spread over in turn, like the zones of a cloud. @default 3 */
  readonly subnets?: number;
  /** @default 10, as on AWS */
  readonly firstHostNumber?: number;
  /** Where WalArchiveBuckets live; `pgha local up` sets it under its directory. @default - none: archives are refused */
  readonly archiveStore?: LocalArchiveStore;
  /** The directory holding each node's own (DIR/nodes): where a node finds its peers' files. Set by `pgha local up`. */
  readonly nodesDir?: string;
  /**
   * Failover timing of every PatroniCluster built on this platform, whatever its props say
   * (`pgha local up --profile fast`: failure drills in seconds).
   * @default - each cluster's own `failover`
   */
  readonly failover?: FailoverProfile;
}

/** What `pgha local up` needs of a stack built on the local platform, beside its nodes: written to pgha.json at synth. */
export interface LocalPlatformDescription extends PlatformDescription {
  readonly kind: 'local';
  readonly addressBlock: number;
  readonly nodesDir?: string;
  readonly archiveStore?: LocalArchiveStore;
  readonly secrets: readonly LocalSecret[];
  readonly archives: readonly { readonly secretName: string; readonly path: string; readonly description: string }[];
  readonly certificates: readonly NodeCertificatesProps[];
}

/** What the local platform needs to run a secret: its name and the JSON keys to generate. */
export interface LocalSecret {
  readonly name: string;
  readonly keys: readonly string[];
  /** Values stored as given. */
  readonly fixedValues?: Readonly<Record<string, string>>;
}

/**
 * Nodes as groups of processes on this machine, each at its own loopback address. It creates no
 * Terraform resources: `pgha local up` writes each node's files under a directory of its own and
 * starts its services. Addresses follow the AWS layout (subnet per zone, host 10 upward), so the
 * rendered files differ from the AWS ones only in addresses and paths.
 */
export class LocalPlatform extends Construct implements Platform {
  readonly addressBlock: number;
  readonly scrapeDiscovery = { kind: 'static' } as const;
  /** The secrets the stack asked for; `pgha local up` generates their values. */
  readonly secrets: LocalSecret[] = [];
  /**
   * The archives the stack asked for; `pgha local up` creates their directories or S3 server.
   * @internal describe() lists them.
   */
  readonly archives: LocalArchiveRepository[] = [];
  readonly archiveStore?: LocalArchiveStore;
  /** The certificates the stack asked for; `pgha local up` issues them with openssl. */
  readonly certificates: NodeCertificatesProps[] = [];
  readonly failoverOverride?: FailoverProfile;
  private readonly nodesDir?: string;
  private readonly subnetCount: number;
  private readonly firstHostNumber: number;
  private readonly nextHost: number[];
  private nextSubnet = 0;

  constructor(scope: Construct, id: string, props: LocalPlatformProps = {}) {
    super(scope, id);
    const spec = validateLocalPlatformSpec(props, this.node.path);
    this.addressBlock = spec.addressBlock;
    this.subnetCount = spec.subnets;
    this.firstHostNumber = spec.firstHostNumber;
    this.archiveStore = spec.archiveStore;
    this.nodesDir = spec.nodesDir;
    this.failoverOverride = spec.failover;
    this.nextHost = Array.from({ length: this.subnetCount }, () => this.firstHostNumber);
  }

  describe(): LocalPlatformDescription {
    return {
      kind: 'local',
      addressBlock: this.addressBlock,
      nodesDir: this.nodesDir,
      archiveStore: this.archiveStore,
      secrets: this.secrets,
      archives: this.archives.map((archive) => ({ secretName: archive.secretName, path: archive.options.path, description: archive.description })),
      certificates: this.certificates,
    };
  }

  subnetCidr(subnet: number): string {
    return `127.${this.addressBlock}.${subnet + 1}.0/24`;
  }

  previewZones(count: number): string[] {
    return Array.from({ length: count }, (_, i) => `local-${((this.nextSubnet + i) % this.subnetCount) + 1}`);
  }

  placeNodes(groupName: string, count: number): NodePlacement[] {
    return Array.from({ length: count }, (_, index) => {
      const subnet = this.nextSubnet++ % this.subnetCount;
      const host = this.nextHost[subnet]++;
      checkSubnetRoom(
        { specName: 'LocalPlatform spec', platformPath: this.node.path, field: 'subnets', fix: 'use more pseudo-subnets (subnets, up to 254) or a lower firstHostNumber: each holds hosts up to 254' },
        this.subnetCidr(subnet),
        host,
        `${groupName}-${index + 1}`,
      );
      return {
        name: `${groupName}-${index + 1}`,
        address: `127.${this.addressBlock}.${subnet + 1}.${host}`,
        zone: `local-${subnet + 1}`,
        network: this.subnetCidr(subnet),
      };
    });
  }

  createSecret(_scope: Construct, _id: string, name: string, keys: readonly string[], fixedValues: Readonly<Record<string, string>> = {}): SecretRef {
    this.secrets.push({ name, keys: [...keys], fixedValues });
    return { name, id: name };
  }

  createNodeCertificates(_scope: Construct, _id: string, props: NodeCertificatesProps): SecretRef {
    this.certificates.push(props);
    const name = `${props.name}/tls`;
    return { name, id: name };
  }

  /** All nodes share this machine, each under DIR/nodes/<node>: a peer's path is under its directory. */
  peerPath(nodeName: string, path: string): string {
    if (!this.nodesDir) throw new Error('LocalPlatform: peerPath needs nodesDir (the directory of the nodes), as `pgha local up` sets it.');
    return join(this.nodesDir, nodeName, path);
  }

  createArchiveRepository(_scope: Construct, _id: string, spec: WalArchiveBucketSpec): ArchiveRepository {
    const store = this.archiveStore;
    if (!store) {
      throw new Error(`LocalPlatform: WalArchiveBucket "${spec.name}" needs an archive store. Fix: pass archiveStore ({ type: "posix", dir } or { type: "s3", dir, port }), as \`pgha local up\` does.`);
    }
    const repository = new LocalArchiveRepository(store, spec, store.type === 's3' ? localS3Settings(store) : undefined);
    this.archives.push(repository);
    return repository;
  }

  createNodeGroup(scope: Construct, id: string, props: NodeGroupProps): NodeGroup {
    return new LocalNodeGroup(scope, id, props);
  }

  createEndpoint(scope: Construct, id: string, props: EndpointProps): Endpoint {
    return new LocalEndpoint(scope, id, props);
  }
}

/** A group of local nodes. Loopback has no firewall: port grants are only recorded, for the plans. */
export class LocalNodeGroup extends RecordedNodeGroup {
  grantSecret(): void {
    // One machine, one user: every local node can read every secret file already.
  }

  allowInstanceDiscovery(): void {
    // Local scrape targets are listed in the configuration: there is nothing to discover.
  }
}

/** Locally, clients reach the first proxy directly: there is no load balancer on loopback. */
export class LocalEndpoint extends Construct implements Endpoint {
  readonly host: string;

  constructor(scope: Construct, id: string, props: EndpointProps) {
    super(scope, id);
    this.host = props.group.placements[0].address;
  }

  allowClient(): void {
    // Loopback: every local client can connect already.
  }
}
