import { gzipSync } from 'node:zlib';
import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { EbsVolume } from '@cdktf/provider-aws/lib/ebs-volume';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { Instance } from '@cdktf/provider-aws/lib/instance';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VolumeAttachment } from '@cdktf/provider-aws/lib/volume-attachment';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { Lazy } from '../../cdktf';
import { NodeAddition, applyAdditions } from '../../node-plan/node-addition';
import { NodeFile, NodePlan, NodePort, Peer } from '../../model/node-plan';
import { NodeGroup, NodeGroupProps, SecretRef } from '../platform';
import { RenderedNode } from '../rendered-node';
import type { AwsPlatform } from './aws-platform';
import { BOOT_SCRIPT_PATH, renderBootScript } from './boot-script';
import { renderCloudConfig } from './cloud-config';
import { NodePlacement } from '../../model/placement';

export interface AwsNodeGroupProps extends NodeGroupProps {
  readonly platform: AwsPlatform;
}

const DEFAULT_DATA_VOLUME_GIB = 50;

/** A security group, an instance role and one EC2 instance (with its EBS data volume) per placement. */
/** EC2 refuses user data over 16 KiB (after base64 decoding). */
const EC2_USER_DATA_LIMIT_BYTES = 16 * 1024;

export class AwsNodeGroup extends Construct implements NodeGroup {
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  readonly securityGroup: SecurityGroup;
  readonly role: IamRole;
  readonly securityGroupId: string;
  readonly instances: Instance[] = [];
  /** Port -> who may reach it, in the order granted. */
  private readonly granted = new Map<number, { purpose: string; from: Peer[] }>();
  private readonly props: AwsNodeGroupProps;
  private rendered?: { nodes: RenderedNode[]; userDataBase64: string[] };
  private readonly additions: ((plan: NodePlan) => NodeAddition)[] = [];

  constructor(scope: Construct, id: string, props: AwsNodeGroupProps) {
    super(scope, id);
    this.props = props;
    this.groupName = props.groupName;
    this.placements = props.placements;
    const { platform } = props;
    const tags = { 'pgha:group': props.groupName };

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      namePrefix: `${props.groupName}-`,
      description: props.description,
      vpcId: platform.vpcId,
      tags: { ...tags, Name: props.groupName },
      lifecycle: { createBeforeDestroy: true },
    });
    // Outbound: Debian mirrors and the AWS APIs (Secrets Manager) over HTTPS/HTTP, plus peers.
    new VpcSecurityGroupEgressRule(this, 'EgressAll', {
      securityGroupId: this.securityGroup.id,
      ipProtocol: '-1',
      cidrIpv4: '0.0.0.0/0',
      description: 'Package mirrors, AWS APIs and cluster peers',
    });

    const assume = new DataAwsIamPolicyDocument(this, 'AssumeRole', {
      statement: [{ actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['ec2.amazonaws.com'] }] }],
    });
    this.securityGroupId = this.securityGroup.id;
    this.role = new IamRole(this, 'Role', {
      namePrefix: `${props.groupName}-`,
      description: `Nodes of ${props.groupName}: read their own secrets, nothing else`,
      assumeRolePolicy: assume.json,
      tags,
    });
    if (props.secrets.length > 0) {
      const readSecrets = new DataAwsIamPolicyDocument(this, 'ReadSecrets', {
        statement: [{ actions: ['secretsmanager:GetSecretValue'], resources: props.secrets.map((s) => s.id) }],
      });
      new IamRolePolicy(this, 'ReadSecretsPolicy', { role: this.role.id, policy: readSecrets.json });
    }
    const profile = new IamInstanceProfile(this, 'InstanceProfile', { namePrefix: `${props.groupName}-`, role: this.role.name, tags });

    props.placements.forEach((placement, index) => {
      const subnet = platform.subnetOf(placement);
      const node = new Construct(this, placement.name);
      const instance = new Instance(node, 'Instance', {
        ami: platform.imageId,
        instanceType: props.instanceType ?? platform.defaultInstanceType,
        subnetId: subnet.subnetId,
        privateIp: placement.address,
        associatePublicIpAddress: false,
        vpcSecurityGroupIds: [this.securityGroup.id],
        iamInstanceProfile: profile.name,
        metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 1 },
        rootBlockDevice: { encrypted: true, volumeType: 'gp3', volumeSize: 20, kmsKeyId: platform.kmsKeyArn },
        userDataBase64: Lazy.stringValue({ produce: () => this.render().userDataBase64[index] }),
        tags: { ...tags, Name: placement.name },
        // A newer Debian AMI must not replace every database node at once: roll them by hand.
        lifecycle: { ignoreChanges: ['ami', 'user_data_base64'] },
      });
      this.instances.push(instance);
      const sizeGiB = props.dataVolumeSizeGiB ?? DEFAULT_DATA_VOLUME_GIB;
      const volume = new EbsVolume(node, 'DataVolume', {
        availabilityZone: subnet.availabilityZone,
        size: sizeGiB,
        type: 'gp3',
        encrypted: true,
        kmsKeyId: platform.kmsKeyArn,
        tags: { ...tags, Name: `${placement.name}-data` },
      });
      new VolumeAttachment(node, 'DataVolumeAttachment', {
        deviceName: '/dev/sdf',
        volumeId: volume.id,
        instanceId: instance.id,
        stopInstanceBeforeDetaching: true,
      });
    });
  }

  get ports(): readonly NodePort[] {
    return [...this.granted.entries()].map(([port, { purpose, from }]) => ({ port, purpose, from: [...from] }));
  }

  allow(port: number, purpose: string, peer: Peer): void {
    const { key, source } = this.props.platform.ruleSource(peer);
    const id = `Allow-${port}-${key.replace(/[^A-Za-z0-9-]/g, '-')}`;
    if (this.node.tryFindChild(id)) return;
    new VpcSecurityGroupIngressRule(this, id, {
      securityGroupId: this.securityGroup.id,
      ipProtocol: 'tcp',
      fromPort: port,
      toPort: port,
      ...source,
      description: `${purpose} from ${key}`,
    });
    const existing = this.granted.get(port);
    if (existing) {
      existing.from.push(peer);
    } else {
      this.granted.set(port, { purpose, from: [peer] });
    }
  }

  /** Lets the nodes read one more secret at boot (one that exists only after the group, e.g. certificates). */
  grantSecret(secret: SecretRef): void {
    const id = secret.name.replace(/[^A-Za-z0-9-]/g, '-');
    const document = new DataAwsIamPolicyDocument(this, `ReadSecret-${id}`, {
      statement: [{ actions: ['secretsmanager:GetSecretValue'], resources: [secret.id] }],
    });
    new IamRolePolicy(this, `ReadSecretPolicy-${id}`, { role: this.role.id, policy: document.json });
  }

  /**
   * Prometheus' EC2 service discovery (2.42): ec2:DescribeInstances for the targets, and
   * ec2:DescribeAvailabilityZones, which it calls at every refresh until it succeeds (for the
   * __meta_ec2_availability_zone_id label; denied, it logs at debug level and retries, leaving
   * an AccessDenied in CloudTrail each time). EC2's Describe* actions support no resource-level
   * permissions, so the resource is "*"; both are read-only.
   */
  allowInstanceDiscovery(): void {
    if (this.node.tryFindChild('InstanceDiscovery')) return;
    const document = new DataAwsIamPolicyDocument(this, 'InstanceDiscovery', {
      statement: [{ actions: ['ec2:DescribeInstances', 'ec2:DescribeAvailabilityZones'], resources: ['*'] }],
    });
    new IamRolePolicy(this, 'InstanceDiscoveryPolicy', { role: this.role.id, policy: document.json });
  }

  allowGroup(port: number, purpose: string, other: NodeGroup): void {
    this.allow(port, purpose, { group: other.groupName });
  }

  extendPlans(addition: (plan: NodePlan) => NodeAddition): void {
    if (this.rendered) throw new Error(`${this.groupName}: extendPlans after the nodes were rendered; extend before synth`);
    this.additions.push(addition);
  }

  /** Each node's files as cloud-init writes them, the cloud-config among them. */
  renderedNodes(): RenderedNode[] {
    return this.render().nodes;
  }

  /** Renders every node once, at synth, when all constructs have granted their ports. */
  private render(): { nodes: RenderedNode[]; userDataBase64: string[] } {
    if (!this.rendered) {
      const platform = this.props.platform;
      const nodes: RenderedNode[] = [];
      const userDataBase64: string[] = [];
      for (const plan of applyAdditions(this.props.plans(), this.additions)) {
        const bootScript: NodeFile = {
          path: BOOT_SCRIPT_PATH,
          mode: '0755',
          owner: 'root:root',
          content: renderBootScript(plan, (name) => platform.secretStoreName(name)),
        };
        const files = [...plan.files, bootScript];
        const cloudConfig = renderCloudConfig(plan, files, BOOT_SCRIPT_PATH);
        nodes.push({
          plan,
          files: [...files, { path: '/var/lib/cloud/instance/user-data.txt', mode: '0600', owner: 'root:root', content: cloudConfig }],
        });
        // gzip at synth: user data is static text (no Terraform references), and EC2 caps it at 16 KiB.
        const userData = gzipSync(cloudConfig, { level: 9 });
        if (userData.length > EC2_USER_DATA_LIMIT_BYTES) {
          throw new Error(
            `AwsNodeGroup ${this.groupName}: node ${plan.name}: user data: got ${userData.length} bytes gzipped; expected at most ${EC2_USER_DATA_LIMIT_BYTES} (EC2's limit), or the instance would be refused at apply. ` +
              'Fix: turn off a feature this node carries (e.g. a BackupJob schedule or logicalDump) or put its large files elsewhere; the node files under cdktf.out show what it holds.',
          );
        }
        userDataBase64.push(userData.toString('base64'));
      }
      this.rendered = { nodes, userDataBase64 };
    }
    return this.rendered;
  }
}
