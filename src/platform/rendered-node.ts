import { NodeFile, NodePlan } from '../node-plan/node-plan';

/** A node as a platform materializes it: its plan and every file that lands on it. */
export interface RenderedNode {
  readonly plan: NodePlan;
  /** The plan's files plus the platform's own (boot script, cloud-config). */
  readonly files: readonly NodeFile[];
}

/** Implemented by node groups so the app can write every node's files for review. */
export interface RendersNodes {
  renderedNodes(): RenderedNode[];
}

export function rendersNodes(value: unknown): value is RendersNodes {
  return typeof (value as RendersNodes | undefined)?.renderedNodes === 'function';
}
