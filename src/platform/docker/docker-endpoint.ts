import { Construct } from 'constructs';
import { Endpoint, EndpointProps } from '../platform';
import { DockerNodeGroup } from './docker-node-group';
import type { DockerPlatform } from './docker-platform';

export interface DockerEndpointProps extends EndpointProps {
  readonly platform: DockerPlatform;
}

/**
 * The group's first node, reached on the Docker host: its listener ports are published on the
 * platform's publishAddress. No load balancer: if that node stops, clients must use another.
 */
export class DockerEndpoint extends Construct implements Endpoint {
  readonly host: string;

  constructor(scope: Construct, id: string, props: DockerEndpointProps) {
    super(scope, id);
    if (!(props.group instanceof DockerNodeGroup)) throw new Error('DockerEndpoint needs a node group of the Docker platform.');
    if (props.group.placements.length === 0) throw new Error(`DockerEndpoint: group ${props.group.groupName} has no nodes to publish.`);
    props.group.publish(props.listeners, props.healthPort);
    this.host = props.platform.publishAddress;
  }

  allowClient(): void {
    // Published ports admit whoever reaches publishAddress on the Docker host; there are no client rules.
  }
}
