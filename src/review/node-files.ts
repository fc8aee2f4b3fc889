import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IConstruct } from 'constructs';
import { RenderedNode, StackArtifact, rendersArtifacts, rendersNodes } from '../platform/rendered-node';

/** Every node rendered in the constructs under `scope`, in construct order. */
export function collectRenderedNodes(scope: IConstruct): RenderedNode[] {
  return scope.node.findAll().flatMap((construct) => (rendersNodes(construct) ? construct.renderedNodes() : []));
}

/** Every artifact (alert rules, scrape config, dashboard) of the constructs under `scope`. */
export function collectArtifacts(scope: IConstruct): StackArtifact[] {
  return scope.node.findAll().flatMap((construct) => (rendersArtifacts(construct) ? construct.artifacts() : []));
}

/**
 * Writes each node's files to `<stackDir>/nodes/<node>/<absolute path on the node>` so reviewers
 * and tools can read exactly what lands on every machine, and the stack's artifacts to
 * `<stackDir>/<artifact path>`. Returns the paths written.
 */
export function writeNodeFiles(scope: IConstruct, stackDir: string): string[] {
  const written: string[] = [];
  for (const node of collectRenderedNodes(scope)) {
    for (const file of node.files) {
      const target = join(stackDir, 'nodes', node.plan.name, file.path);
      mkdirSync(join(target, '..'), { recursive: true });
      writeFileSync(target, file.content, { mode: 0o644 });
      written.push(target);
    }
  }
  for (const artifact of collectArtifacts(scope)) {
    const target = join(stackDir, artifact.path);
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, artifact.content, { mode: 0o644 });
    written.push(target);
  }
  return written;
}
