import { Construct } from 'constructs';
import { DataAwsAmi } from '@cdktf/provider-aws/lib/data-aws-ami';
import { DataAwsSecretsmanagerRandomPassword } from '@cdktf/provider-aws/lib/data-aws-secretsmanager-random-password';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
import { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version';
import { Fn } from '../../cdktf';
import { Peer } from '../../model/node-plan';
import { hostAddress } from '../../model/addresses';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { ArchiveRepository, Endpoint, EndpointProps, NodeCertificatesProps, NodeGroup, ScrapeDiscovery, NodeGroupProps, Platform, PlatformDescription, SecretRef } from '../platform';
import { AwsArchiveBucket } from './archive-bucket';
import { AwsNodeCertificates } from './node-certificates';
import { AwsLoadBalancerEndpoint } from './load-balancer-endpoint';
import { AwsNodeGroup } from './node-group';
import { AwsSubnet } from './subnet';
import { SOFTDOG_DEVICE } from './boot-script';
import { regionOfZone, validateAwsPlatformSpec } from '../../spec/aws-platform';
import { checkSubnetRoom } from '../subnet-room';
import { NodePlacement } from '../../model/placement';

export interface AwsPlatformProps {
  readonly vpcId: string;
  /** Private subnets for the nodes; nodes are spread over them in turn. */
  readonly subnets: readonly AwsSubnet[];
  /**
   * AMI for every node.
   * @default - the newest official Debian 13 (trixie) amd64 AMI, looked up at plan time
   */
  readonly amiId?: string;
  /**
   * Prefix of secret names in Secrets Manager; secret names must be unique per account and region.
   * @default "pgha/<stack construct path>/"
   */
  readonly secretNamePrefix?: string;
  /**
   * Host number of the first node address in each subnet (AWS reserves hosts 1-3).
   * @default 10
   */
  readonly firstHostNumber?: number;
  /** @default "m6i.large" */
  readonly defaultInstanceType?: string;
  /** KMS key for EBS volumes and secrets. @default - the AWS managed keys */
  readonly kmsKeyArn?: string;
}

/** Debian's own AWS account, which publishes the official Debian AMIs. */
export const DEBIAN_AMI_OWNER = '136693071363';

/**
 * Nodes as EC2 instances in private subnets, each at a fixed private address chosen at synth
 * time (so configs name their peers without Terraform reference cycles), with secrets in
 * Secrets Manager.
 */
export class AwsPlatform extends Construct implements Platform {
  readonly vpcId: string;
  readonly subnets: readonly AwsSubnet[];
  readonly defaultInstanceType: string;
  readonly kmsKeyArn?: string;
  readonly scrapeDiscovery: ScrapeDiscovery;
  /** The kernel's softdog, which the boot script loads: EC2 has no hardware watchdog. */
  readonly watchdogDevice = SOFTDOG_DEVICE;
  private readonly secretNamePrefix: string;
  private readonly firstHostNumber: number;
  private readonly nextHost = new Map<string, number>();
  private readonly securityGroups = new Map<string, string>();
  private readonly externalGroupKeys = new Map<string, string>();
  private nextSubnet = 0;
  private ami?: string;
  private readonly amiId?: string;

  constructor(scope: Construct, id: string, props: AwsPlatformProps) {
    super(scope, id);
    const spec = validateAwsPlatformSpec(props, this.node.path);
    this.vpcId = spec.vpcId;
    this.subnets = spec.subnets;
    this.scrapeDiscovery = { kind: 'ec2', region: regionOfZone(spec.subnets[0].availabilityZone) };
    this.amiId = spec.amiId;
    this.kmsKeyArn = spec.kmsKeyArn;
    this.defaultInstanceType = spec.defaultInstanceType;
    this.firstHostNumber = spec.firstHostNumber;
    this.secretNamePrefix = spec.secretNamePrefix ?? `pgha/${this.node.path.split('/')[0]}/`;
  }

  /** The AMI id (a token when looked up). */
  get imageId(): string {
    if (!this.ami) {
      this.ami =
        this.amiId ??
        new DataAwsAmi(this, 'DebianAmi', {
          mostRecent: true,
          owners: [DEBIAN_AMI_OWNER],
          filter: [
            { name: 'name', values: ['debian-13-amd64-*'] },
            { name: 'architecture', values: ['x86_64'] },
            { name: 'virtualization-type', values: ['hvm'] },
          ],
        }).id;
    }
    return this.ami;
  }

  previewZones(count: number): string[] {
    return Array.from({ length: count }, (_, i) => this.subnets[(this.nextSubnet + i) % this.subnets.length].availabilityZone);
  }

  describe(): PlatformDescription {
    return { kind: 'aws' };
  }

  placeNodes(groupName: string, count: number): NodePlacement[] {
    return Array.from({ length: count }, (_, index) => {
      const subnetIndex = this.nextSubnet++ % this.subnets.length;
      const subnet = this.subnets[subnetIndex];
      const host = this.nextHost.get(subnet.subnetId) ?? this.firstHostNumber;
      this.nextHost.set(subnet.subnetId, host + 1);
      checkSubnetRoom(
        { specName: 'AwsPlatform spec', platformPath: this.node.path, field: `subnets.${subnetIndex}.cidrBlock`, fix: 'give larger subnets (a /24 holds 245 nodes from host 10), more subnets, or a lower firstHostNumber' },
        subnet.cidrBlock,
        host,
        `${groupName}-${index + 1}`,
      );
      return {
        name: `${groupName}-${index + 1}`,
        address: hostAddress(subnet.cidrBlock, host),
        zone: subnet.availabilityZone,
        network: subnet.cidrBlock,
      };
    });
  }

  subnetOf(placement: NodePlacement): AwsSubnet {
    const subnet = this.subnets.find((s) => s.cidrBlock === placement.network && s.availabilityZone === placement.zone);
    if (!subnet) throw new Error(`Node ${placement.name} was not placed by this platform (${this.node.path}).`);
    return subnet;
  }

  /** The name nodes use to read a secret at boot: static, so user data holds no Terraform reference. */
  secretStoreName(name: string): string {
    return `${this.secretNamePrefix}${name}`;
  }

  createSecret(scope: Construct, id: string, name: string, keys: readonly string[], fixedValues: Readonly<Record<string, string>> = {}): SecretRef {
    const holder = new Construct(scope, id);
    const secret = new SecretsmanagerSecret(holder, 'Resource', {
      name: this.secretStoreName(name),
      description: `cdktf-postgres-ha: ${name} (generated passwords; nodes read them at boot)`,
      kmsKeyId: this.kmsKeyArn,
      recoveryWindowInDays: 7,
    });
    const values: Record<string, string> = { ...fixedValues };
    for (const key of keys) {
      // Letters and digits only: the values go into KEY=value environment files.
      values[key] = new DataAwsSecretsmanagerRandomPassword(holder, `Random-${key}`, {
        passwordLength: 40,
        excludePunctuation: true,
        includeSpace: false,
      }).randomPassword;
    }
    new SecretsmanagerSecretVersion(holder, 'Value', {
      secretId: secret.id,
      // Write-only: the value is sent once (version 1) and never stored in the Terraform state
      // of this resource. Bump the version to rotate.
      secretStringWo: Fn.jsonencode(values),
      secretStringWoVersion: 1,
    });
    return { name, id: secret.arn };
  }

  createNodeCertificates(scope: Construct, id: string, props: NodeCertificatesProps): SecretRef {
    return new AwsNodeCertificates(scope, id, { ...props, secretStoreName: (name) => this.secretStoreName(name), kmsKeyArn: this.kmsKeyArn }).secret;
  }

  /** Every node is a machine of its own: a peer's path is the same path. */
  peerPath(_nodeName: string, path: string): string {
    return path;
  }

  createArchiveRepository(scope: Construct, id: string, spec: WalArchiveBucketSpec): ArchiveRepository {
    return new AwsArchiveBucket(scope, id, spec);
  }

  createNodeGroup(scope: Construct, id: string, props: NodeGroupProps): NodeGroup {
    const group = new AwsNodeGroup(scope, id, { ...props, platform: this });
    this.registerSecurityGroup(props.groupName, group.securityGroup.id);
    return group;
  }

  /** Lets rules name a group of this stack (`{ group }` peers) by its security group. */
  registerSecurityGroup(groupName: string, securityGroupId: string): void {
    if (this.securityGroups.has(groupName)) {
      throw new Error(`AwsPlatform ${this.node.path}: group name "${groupName}" is used twice. Fix: give each cluster and proxy group a distinct name.`);
    }
    this.securityGroups.set(groupName, securityGroupId);
  }

  /** The source of an ingress rule for `peer`, and a stable key naming it in construct ids. */
  ruleSource(peer: Peer): { key: string; source: { referencedSecurityGroupId: string } | { cidrIpv4: string } } {
    if ('cidr' in peer) return { key: peer.cidr, source: { cidrIpv4: peer.cidr } };
    if ('group' in peer) return { key: peer.group, source: { referencedSecurityGroupId: this.groupSecurityGroup(peer.group) } };
    // A security group id may be a token: name the rule by a counter, stable for a given construct order.
    const key = this.externalGroupKeys.get(peer.securityGroupId) ?? `sg${this.externalGroupKeys.size + 1}`;
    this.externalGroupKeys.set(peer.securityGroupId, key);
    return { key, source: { referencedSecurityGroupId: peer.securityGroupId } };
  }

  groupSecurityGroup(groupName: string): string {
    const id = this.securityGroups.get(groupName);
    if (!id) throw new Error(`AwsPlatform ${this.node.path}: no group "${groupName}" has been created yet; create it before granting it access.`);
    return id;
  }

  createEndpoint(scope: Construct, id: string, props: EndpointProps): Endpoint {
    return new AwsLoadBalancerEndpoint(scope, id, { ...props, platform: this });
  }
}
