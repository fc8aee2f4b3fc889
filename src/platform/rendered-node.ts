import { IConstruct } from 'constructs';
import { NodeFile, NodePlan } from '../model/node-plan';

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

/** A file about the stack rather than on a node (alert rules, scrape config, a dashboard), for review and for users to take. */
export interface StackArtifact {
  /** Relative to the stack's output directory, e.g. "monitoring/main/alert-rules.yml". */
  readonly path: string;
  readonly content: string;
}

/** Implemented by constructs that produce artifacts. */
export interface RendersArtifacts {
  artifacts(): StackArtifact[];
}

export function rendersArtifacts(value: unknown): value is RendersArtifacts {
  return typeof (value as RendersArtifacts | undefined)?.artifacts === 'function';
}

/** Every node rendered in the constructs under `scope`, in construct order. */
export function collectRenderedNodes(scope: IConstruct): RenderedNode[] {
  return scope.node.findAll().flatMap((construct) => (rendersNodes(construct) ? construct.renderedNodes() : []));
}

/** Every artifact (alert rules, scrape config, dashboard) of the constructs under `scope`. */
export function collectArtifacts(scope: IConstruct): StackArtifact[] {
  return scope.node.findAll().flatMap((construct) => (rendersArtifacts(construct) ? construct.artifacts() : []));
}
