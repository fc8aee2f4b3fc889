import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Construct } from 'constructs';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { Password } from '@cdktf/provider-random/lib/password';
import { AssetType, TerraformAsset } from '../../cdktf';
import { hostAddress } from '../../model/addresses';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { ArchiveRepository, Endpoint, EndpointProps, NodeCertificatesProps, NodeGroup, NodeGroupProps, Platform, PlatformDescription, SecretRef } from '../platform';
import { DockerArchiveRepository } from './docker-archive';
import { DockerNodeCertificates } from './docker-certificates';
import { DockerEndpoint } from './docker-endpoint';
import { DockerNodeGroup } from './docker-node-group';
import { renderDockerfile } from './dockerfile';
import { ensureRandomProvider } from './random-provider';
import { NodePlacement } from '../../model/placement';
import { validateDockerPlatformSpec } from '../../spec/docker-platform';
import { SpecError } from '../../spec/problems';
import { lastHostNumber, parsedNetwork } from '../../spec/network';

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
  /**
   * Publish on every interface of the host when publishAddress is "0.0.0.0" (refused otherwise:
   * the database ports would be open on public interfaces too). @default false
   */
  readonly allowPublishOnEveryInterface?: boolean;
  /** Prefix of every Docker object's name (network, image, containers, volumes). @default "pgha" */
  readonly name?: string;
}


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
    const spec = validateDockerPlatformSpec(props, this.node.path);
    this.subnet = spec.subnet;
    this.firstHostNumber = spec.firstHostNumber;
    this.publishAddress = spec.publishAddress;
    this.namePrefix = spec.name;
    this.lastHost = lastHostNumber(parsedNetwork(spec.subnet));
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

  private subnetFull(what: string): never {
    throw new SpecError(
      'DockerPlatform spec',
      [
        {
          path: 'subnet',
          given: this.subnet,
          expected: `room for ${what}: nodes take hosts ${this.firstHostNumber} upward and archives hosts ${this.lastHost} downward, and they met`,
          fix: 'pass a larger subnet (a /24 holds 244 nodes and archives from host 10)',
        },
      ],
      this.node.path,
    );
  }

  placeNodes(groupName: string, count: number): NodePlacement[] {
    return Array.from({ length: count }, (_, index) => {
      const host = this.nextHost++;
      if (host > this.lastHost - this.archives.length) {
        this.subnetFull(`node ${groupName}-${index + 1}`);
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
    if (host < this.nextHost) this.subnetFull(`archive ${spec.name}`);
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
