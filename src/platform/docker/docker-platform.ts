import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Construct } from 'constructs';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { Password } from '@cdktf/provider-random/lib/password';
import { AssetType, TerraformAsset } from '../../cdktf';
import { hostAddress, ipv4ToNumber, numberToIpv4 } from '../../model/addresses';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { ArchiveRepository, Endpoint, EndpointProps, NodeCertificatesProps, NodeGroup, NodeGroupProps, Platform, PlatformDescription, SecretRef } from '../platform';
import { DockerArchiveRepository } from './docker-archive';
import { DockerNodeCertificates } from './docker-certificates';
import { DockerEndpoint } from './docker-endpoint';
import { DockerNodeGroup } from './docker-node-group';
import { renderDockerfile } from './dockerfile';
import { ensureRandomProvider } from './random-provider';
import { NodePlacement } from '../../model/placement';

export interface DockerPlatformProps {
  /**
   * IPv4 subnet of the platform's bridge network; every node gets a fixed address in it.
   * @default "172.28.0.0/24"
   */
  readonly subnet?: string;
  /** Host number of the first node address (Docker gives host 1 to the bridge's gateway). @default 10 */
  readonly firstHostNumber?: number;
  /** Host address the proxies' listener ports are published on. @default "127.0.0.1" (this machine only) */
  readonly publishAddress?: string;
  /** Prefix of every Docker object's name (network, image, containers, volumes). @default "pgha" */
  readonly name?: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DOCKER_NAME = /^[a-z0-9][a-z0-9_.-]{0,39}$/;

/**
 * Nodes as Docker containers on one bridge network, from @cdktf/provider-docker. Each node is an
 * "anchor" container that owns the node's fixed address and hostname, plus one container per
 * service and per scheduled job of its plan, sharing the anchor's network namespace and the node's
 * volumes (its data volume, and its runtime directories such as PostgreSQL's socket directory): the
 * containers of a node reach each other as the services of a VM do. One image serves every node:
 * Debian 13 with the plans' packages (see dockerfile.ts). Each container gets the node's files as
 * uploads, and starts with container-start, which gives the files and directories their planned
 * owners and runs exactly the plan's command as the plan's user. Secrets are random_password
 * resources passed as environment variables (certificates as uploaded files), never baked in.
 * A WAL archive is a MinIO container with TLS (docker-archive.ts).
 */
export class DockerPlatform extends Construct implements Platform {
  readonly scrapeDiscovery = { kind: 'static' } as const;
  readonly subnet: string;
  readonly firstHostNumber: number;
  readonly publishAddress: string;
  /** Prefix of the Docker object names. */
  readonly namePrefix: string;
  readonly network: Network;
  private imageResource?: Image;
  private readonly groups: DockerNodeGroup[] = [];
  private readonly archives: DockerArchiveRepository[] = [];
  /** Secret name -> key -> value (a Terraform reference, or a fixed value). */
  private readonly secretValues = new Map<string, Readonly<Record<string, string>>>();
  private nextHost: number;
  private readonly lastHost: number;

  constructor(scope: Construct, id: string, props: DockerPlatformProps = {}) {
    super(scope, id);
    this.subnet = props.subnet ?? '172.28.0.0/24';
    this.firstHostNumber = props.firstHostNumber ?? 10;
    this.publishAddress = props.publishAddress ?? '127.0.0.1';
    this.namePrefix = props.name ?? 'pgha';
    const where = `DockerPlatform ${this.node.path}`;
    const cidr = /^([^/]+)\/(\d{1,2})$/.exec(this.subnet);
    const prefix = cidr ? Number(cidr[2]) : NaN;
    if (!cidr || !IPV4.test(cidr[1]) || prefix < 8 || prefix > 29) {
      throw new Error(`${where}: subnet: got "${this.subnet}"; expected an IPv4 CIDR block from /8 to /29, e.g. "172.28.0.0/24". Fix: pass a private range no other Docker network uses.`);
    }
    if (ipv4ToNumber(cidr[1]) % 2 ** (32 - prefix) !== 0) {
      throw new Error(`${where}: subnet: got "${this.subnet}", whose address has host bits set; expected the network address. Fix: use "${numberToIpv4(ipv4ToNumber(cidr[1]) - (ipv4ToNumber(cidr[1]) % 2 ** (32 - prefix)))}/${prefix}".`);
    }
    this.lastHost = 2 ** (32 - prefix) - 2;
    if (!Number.isInteger(this.firstHostNumber) || this.firstHostNumber < 2 || this.firstHostNumber > this.lastHost) {
      throw new Error(`${where}: firstHostNumber: got ${this.firstHostNumber}; expected an integer from 2 to ${this.lastHost} (host 1 is the bridge's gateway in ${this.subnet}). Fix: use 10.`);
    }
    if (!IPV4.test(this.publishAddress)) {
      throw new Error(`${where}: publishAddress: got "${this.publishAddress}"; expected an IPv4 address of the Docker host. Fix: use "127.0.0.1" (this machine only) or the address clients reach.`);
    }
    if (!DOCKER_NAME.test(this.namePrefix)) {
      throw new Error(`${where}: name: got "${this.namePrefix}"; expected 1-40 lowercase letters, digits, "_", "." or "-", starting with a letter or digit (it prefixes Docker object names). Fix: use e.g. "pgha".`);
    }
    this.nextHost = this.firstHostNumber;
    this.network = new Network(this, 'Network', {
      name: `${this.namePrefix}-net`,
      driver: 'bridge',
      internal: false,
      ipamConfig: [{ subnet: this.subnet }],
    });
  }

  /** The one image of the nodes, created with the first node group (its Dockerfile needs their plans). */
  get image(): Image {
    if (!this.imageResource) {
      const holder = new Construct(this, 'NodeImage');
      // The Dockerfile is final only now (at synth): write it into a build context of its own,
      // which cdktf copies beside cdk.tf.json as an asset. Named by its content, so that every
      // synth of the same Dockerfile reuses one directory instead of leaving a new one behind.
      const dockerfile = this.dockerfile();
      const digest = createHash('sha256').update(dockerfile).digest('hex');
      const context = join(tmpdir(), `pgha-docker-image-${digest.slice(0, 16)}`);
      mkdirSync(context, { recursive: true });
      writeFileSync(join(context, 'Dockerfile'), dockerfile);
      const asset = new TerraformAsset(holder, 'Context', { path: context, type: AssetType.DIRECTORY });
      this.imageResource = new Image(holder, 'Resource', {
        name: `${this.namePrefix}-node:local`,
        keepLocally: true,
        buildAttribute: {
          context: `\${path.module}/${asset.path}`,
          tag: [`${this.namePrefix}-node:local`],
        },
        // A new Dockerfile (new packages, new base) rebuilds the image.
        triggers: { dockerfile_sha256: digest },
      });
    }
    return this.imageResource;
  }

  /** The image's Dockerfile: Debian 13 and every package of every node group's plans. */
  dockerfile(): string {
    return renderDockerfile({ plans: this.groups.flatMap((group) => group.renderedNodes().map((node) => node.plan)) });
  }

  previewZones(count: number): undefined[] {
    return Array.from({ length: count }, () => undefined);
  }

  describe(): PlatformDescription {
    return { kind: 'docker' };
  }

  placeNodes(groupName: string, count: number): NodePlacement[] {
    return Array.from({ length: count }, (_, index) => {
      const host = this.nextHost++;
      if (host > this.lastHost - this.archives.length) {
        throw new Error(`DockerPlatform ${this.node.path}: subnet ${this.subnet} is full at node ${groupName}-${index + 1}; expected room for every node from host ${this.firstHostNumber}. Fix: pass a larger subnet.`);
      }
      return { name: `${groupName}-${index + 1}`, address: hostAddress(this.subnet, host), zone: undefined, network: this.subnet };
    });
  }

  createSecret(scope: Construct, id: string, name: string, keys: readonly string[], fixedValues: Readonly<Record<string, string>> = {}): SecretRef {
    if (this.secretValues.has(name)) {
      throw new Error(`DockerPlatform ${this.node.path}: secret "${name}" is created twice; expected one secret per name. Fix: give each secret a distinct name.`);
    }
    ensureRandomProvider(this);
    const holder = new Construct(scope, id);
    const values: Record<string, string> = { ...fixedValues };
    for (const key of keys) {
      // Letters and digits only: the values become environment variables and KEY=value lines.
      values[key] = new Password(holder, `Random-${key}`, { length: 32, special: false, upper: true, lower: true, numeric: true }).result;
    }
    this.secretValues.set(name, values);
    return { name, id: name };
  }

  createNodeCertificates(scope: Construct, id: string, props: NodeCertificatesProps): SecretRef {
    const name = `${props.name}/tls`;
    if (this.secretValues.has(name)) {
      throw new Error(`DockerPlatform ${this.node.path}: certificates "${name}" are created twice. Fix: give each group's certificates a distinct name.`);
    }
    this.secretValues.set(name, new DockerNodeCertificates(scope, id, props).values);
    return { name, id: name };
  }

  /** The value of `key` of secret `name`, for a node's environment or files. */
  secretValue(name: string, key: string, usedBy: string): string {
    const values = this.secretValues.get(name);
    const value = values?.[key];
    if (value === undefined) {
      throw new Error(
        `DockerPlatform ${this.node.path}: ${usedBy}: secret "${name}" ${values ? `has no key "${key}" (it has ${Object.keys(values).join(', ')})` : 'was not created by this platform'}. ` +
          'Fix: create the secret with platform.createSecret (or createNodeCertificates) with that key.',
      );
    }
    return value;
  }

  /** Every container has a filesystem of its own: a peer's path is the same path. */
  peerPath(_nodeName: string, path: string): string {
    return path;
  }

  /** A MinIO container with TLS at the next fixed address, and its bucket (see docker-archive.ts). */
  createArchiveRepository(scope: Construct, id: string, spec: WalArchiveBucketSpec): ArchiveRepository {
    // From the top of the subnet down, so that the nodes' addresses do not depend on whether there is an archive.
    const host = this.lastHost - this.archives.length;
    if (host < this.nextHost) throw new Error(`DockerPlatform ${this.node.path}: subnet ${this.subnet} is full at archive ${spec.name}. Fix: pass a larger subnet.`);
    const placement: NodePlacement = { name: `archive-${spec.name}`, address: hostAddress(this.subnet, host), zone: undefined, network: this.subnet };
    const repository = new DockerArchiveRepository(scope, id, { spec, placement, namePrefix: this.namePrefix, networkName: this.network.name });
    this.archives.push(repository);
    return repository;
  }

  /** The archives a group of nodes was granted: its containers get their CA and wait for their bucket. */
  archivesOf(group: NodeGroup): DockerArchiveRepository[] {
    return this.archives.filter((archive) => archive.groups.includes(group));
  }

  createNodeGroup(scope: Construct, id: string, props: NodeGroupProps): NodeGroup {
    const foreign = props.placements.find((p) => p.network !== this.subnet);
    if (foreign) throw new Error(`DockerPlatform ${this.node.path}: node ${foreign.name} was not placed by this platform (network ${foreign.network}, expected ${this.subnet}).`);
    const group = new DockerNodeGroup(scope, id, { ...props, platform: this });
    this.groups.push(group);
    return group;
  }

  createEndpoint(scope: Construct, id: string, props: EndpointProps): Endpoint {
    return new DockerEndpoint(scope, id, { ...props, platform: this });
  }
}
