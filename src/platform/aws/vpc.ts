import { Construct } from 'constructs';
import { Eip } from '@cdktf/provider-aws/lib/eip';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
import { Route } from '@cdktf/provider-aws/lib/route';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';
import { validateAwsVpcSpec } from '../../spec/aws-vpc';
import { subnetCidr } from '../../model/addresses';
import { AwsSubnet } from './subnet';

export interface AwsVpcProps {
  /** @default "10.40.0.0/16" */
  readonly cidrBlock?: string;
  /** Availability zones, one private subnet each (3 for a production cluster). */
  readonly availabilityZones: readonly string[];
  /** Name tag prefix. */
  readonly name: string;
}

/**
 * A VPC for a database estate: one private /24 per zone for the nodes and one small public
 * subnet holding the NAT gateway through which the nodes reach the Debian mirrors and AWS APIs.
 * Nothing in it has a public address but the NAT gateway.
 */
export class AwsVpc extends Construct {
  readonly vpcId: string;
  readonly cidrBlock: string;
  readonly privateSubnets: AwsSubnet[];

  constructor(scope: Construct, id: string, props: AwsVpcProps) {
    super(scope, id);
    const spec = validateAwsVpcSpec(props, this.node.path);
    this.cidrBlock = spec.cidrBlock;
    const vpc = new Vpc(this, 'Resource', {
      cidrBlock: this.cidrBlock,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: spec.name },
    });
    this.vpcId = vpc.id;

    const publicSubnet = new Subnet(this, 'PublicSubnet', {
      vpcId: vpc.id,
      cidrBlock: subnetCidr(this.cidrBlock, 24, 0),
      availabilityZone: spec.availabilityZones[0],
      mapPublicIpOnLaunch: false,
      tags: { Name: `${spec.name}-public` },
    });
    const gateway = new InternetGateway(this, 'InternetGateway', { vpcId: vpc.id, tags: { Name: spec.name } });
    const publicRoutes = new RouteTable(this, 'PublicRoutes', { vpcId: vpc.id, tags: { Name: `${spec.name}-public` } });
    new Route(this, 'PublicDefaultRoute', { routeTableId: publicRoutes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: gateway.id });
    new RouteTableAssociation(this, 'PublicRoutesAssociation', { subnetId: publicSubnet.id, routeTableId: publicRoutes.id });
    const natAddress = new Eip(this, 'NatAddress', { domain: 'vpc', tags: { Name: `${spec.name}-nat` } });
    const nat = new NatGateway(this, 'NatGateway', {
      allocationId: natAddress.id,
      subnetId: publicSubnet.id,
      tags: { Name: spec.name },
      dependsOn: [gateway],
    });
    const privateRoutes = new RouteTable(this, 'PrivateRoutes', { vpcId: vpc.id, tags: { Name: `${spec.name}-private` } });
    new Route(this, 'PrivateDefaultRoute', { routeTableId: privateRoutes.id, destinationCidrBlock: '0.0.0.0/0', natGatewayId: nat.id });

    this.privateSubnets = spec.availabilityZones.map((zone, index) => {
      const cidrBlock = subnetCidr(this.cidrBlock, 24, index + 1);
      const subnet = new Subnet(this, `PrivateSubnet-${zone}`, {
        vpcId: vpc.id,
        cidrBlock,
        availabilityZone: zone,
        tags: { Name: `${spec.name}-private-${zone}` },
      });
      new RouteTableAssociation(this, `PrivateRoutes-${zone}`, { subnetId: subnet.id, routeTableId: privateRoutes.id });
      return { subnetId: subnet.id, availabilityZone: zone, cidrBlock };
    });
  }
}
