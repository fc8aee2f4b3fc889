import { Construct } from 'constructs';
import { NodeAddition, applyAdditions } from '../node-plan/node-addition';
import { NodePlan, NodePort, Peer } from '../model/node-plan';
import { NodeGroup, NodeGroupProps, SecretRef } from './platform';
import { RenderedNode, RendersNodes } from './rendered-node';
import { NodePlacement } from '../model/placement';

/**
 * A group of nodes on a platform with no firewall to program (loopback, a Docker bridge): port
 * grants are only recorded, for the plans (pg_hba, configs), and the plans are rendered with their
 * additions once, at synth. The local and Docker platforms' groups.
 */
export abstract class RecordedNodeGroup extends Construct implements NodeGroup, RendersNodes {
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  private readonly granted = new Map<number, { purpose: string; from: Peer[] }>();
  private readonly plans: () => readonly NodePlan[];
  private readonly additions: ((plan: NodePlan) => NodeAddition)[] = [];
  private rendered?: RenderedNode[];

  constructor(scope: Construct, id: string, props: NodeGroupProps) {
    super(scope, id);
    this.groupName = props.groupName;
    this.placements = props.placements;
    this.plans = props.plans;
  }

  get ports(): readonly NodePort[] {
    return [...this.granted.entries()].map(([port, { purpose, from }]) => ({ port, purpose, from: [...from] }));
  }

  allow(port: number, purpose: string, peer: Peer): void {
    const existing = this.granted.get(port);
    if (existing) existing.from.push(peer);
    else this.granted.set(port, { purpose, from: [peer] });
  }

  allowGroup(port: number, purpose: string, other: NodeGroup): void {
    this.allow(port, purpose, { group: other.groupName });
  }

  abstract grantSecret(secret: SecretRef): void;
  abstract allowInstanceDiscovery(): void;

  extendPlans(addition: (plan: NodePlan) => NodeAddition): void {
    if (this.rendered) throw new Error(`${this.groupName}: extendPlans after the nodes were rendered; extend before synth`);
    this.additions.push(addition);
  }

  renderedNodes(): RenderedNode[] {
    this.rendered ??= applyAdditions(this.plans(), this.additions).map((plan) => ({ plan, files: plan.files }));
    return this.rendered;
  }
}
