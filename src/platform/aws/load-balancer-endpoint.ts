import { Construct } from 'constructs';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group';
import { LbTargetGroupAttachment } from '@cdktf/provider-aws/lib/lb-target-group-attachment';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { Peer } from '../../model/node-plan';
import { Endpoint, EndpointProps } from '../platform';
import type { AwsPlatform } from './aws-platform';
import { AwsNodeGroup } from './node-group';

export interface AwsLoadBalancerEndpointProps extends EndpointProps {
  readonly platform: AwsPlatform;
}

/**
 * An internal Network Load Balancer over a node group: one DNS name for clients, spread over the
 * group's zones, with its own security group so the nodes admit only the balancer.
 */
export class AwsLoadBalancerEndpoint extends Construct implements Endpoint {
  readonly host: string;
  readonly loadBalancer: Lb;
  readonly securityGroup: SecurityGroup;
  readonly securityGroupId: string;
  private readonly props: AwsLoadBalancerEndpointProps;

  constructor(scope: Construct, id: string, props: AwsLoadBalancerEndpointProps) {
    super(scope, id);
    this.props = props;
    const { platform, group } = props;
    if (!(group instanceof AwsNodeGroup)) throw new Error('AwsLoadBalancerEndpoint needs a node group of the AWS platform.');
    const name = `${group.groupName}-lb`;
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      namePrefix: `${name}-`,
      description: `Clients of ${group.groupName}`,
      vpcId: platform.vpcId,
      tags: { Name: name, 'pgha:group': group.groupName },
      lifecycle: { createBeforeDestroy: true },
    });
    this.securityGroupId = this.securityGroup.id;
    platform.registerSecurityGroup(name, this.securityGroup.id);
    const subnetIds = [...new Set(group.placements.map((p) => platform.subnetOf(p).subnetId))];
    this.loadBalancer = new Lb(this, 'Resource', {
      namePrefix: 'pgha-',
      internal: true,
      loadBalancerType: 'network',
      subnets: subnetIds,
      securityGroups: [this.securityGroup.id],
      enableCrossZoneLoadBalancing: true,
      tags: { Name: name, 'pgha:group': group.groupName },
    });
    this.host = this.loadBalancer.dnsName;

    for (const listener of props.listeners) {
      const targets = new LbTargetGroup(this, `${listener.name}-Targets`, {
        namePrefix: 'pgha-',
        port: listener.port,
        protocol: 'TCP',
        vpcId: platform.vpcId,
        targetType: 'instance',
        // Drain fast: a proxy that goes away should not hold clients for the default 300 s.
        deregistrationDelay: '10',
        connectionTermination: true,
        healthCheck: {
          protocol: 'HTTP',
          port: String(props.healthPort),
          path: '/healthz',
          interval: 10,
          healthyThreshold: 2,
          unhealthyThreshold: 2,
        },
        tags: { Name: `${name}-${listener.name}` },
        lifecycle: { createBeforeDestroy: true },
      });
      group.instances.forEach((instance, index) => {
        new LbTargetGroupAttachment(this, `${listener.name}-Target-${index + 1}`, {
          targetGroupArn: targets.arn,
          targetId: instance.id,
          port: listener.port,
        });
      });
      new LbListener(this, `${listener.name}-Listener`, {
        loadBalancerArn: this.loadBalancer.arn,
        port: listener.port,
        protocol: 'TCP',
        defaultAction: [{ type: 'forward', targetGroupArn: targets.arn }],
      });
      group.allow(listener.port, `${listener.name} through the load balancer`, { group: name });
      new VpcSecurityGroupEgressRule(this, `${listener.name}-ToNodes`, {
        securityGroupId: this.securityGroup.id,
        ipProtocol: 'tcp',
        fromPort: listener.port,
        toPort: listener.port,
        referencedSecurityGroupId: group.securityGroup.id,
        description: `${listener.name} to ${group.groupName}`,
      });
    }
    group.allow(props.healthPort, 'Load balancer health check', { group: name });
    new VpcSecurityGroupEgressRule(this, 'HealthToNodes', {
      securityGroupId: this.securityGroup.id,
      ipProtocol: 'tcp',
      fromPort: props.healthPort,
      toPort: props.healthPort,
      referencedSecurityGroupId: group.securityGroup.id,
      description: `Health checks to ${group.groupName}`,
    });
  }

  allowClient(peer: Peer): void {
    const { key, source } = this.props.platform.ruleSource(peer);
    for (const listener of this.props.listeners) {
      const id = `Client-${listener.port}-${key.replace(/[^A-Za-z0-9-]/g, '-')}`;
      if (this.node.tryFindChild(id)) continue;
      new VpcSecurityGroupIngressRule(this, id, {
        securityGroupId: this.securityGroup.id,
        ipProtocol: 'tcp',
        fromPort: listener.port,
        toPort: listener.port,
        ...source,
        description: `${listener.name} from ${key}`,
      });
    }
  }
}
