/** The graph of Terraform references in a synthesized stack: who needs whom before it can be created. */

type Block = Record<string, Record<string, unknown>>;

const REFERENCE = /\$\{[^}]*?\b((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)/g;

function referencesIn(value: unknown, found: Set<string>): void {
  if (typeof value === 'string') {
    for (const match of value.matchAll(REFERENCE)) found.add(match[1]);
  } else if (Array.isArray(value)) {
    value.forEach((item) => referencesIn(item, found));
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach((item) => referencesIn(item, found));
  }
}

/** Address ("aws_instance.X" or "data.aws_ami.Y") -> addresses it references or depends on. */
export function referenceGraph(synth: { resource?: Record<string, Block>; data?: Record<string, Block>; output?: unknown }): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const add = (prefix: string, blocks: Record<string, Block> | undefined) => {
    for (const [type, resources] of Object.entries(blocks ?? {})) {
      for (const [name, config] of Object.entries(resources)) {
        const edges = new Set<string>();
        referencesIn(config, edges);
        for (const dependency of (config as { depends_on?: string[] }).depends_on ?? []) edges.add(dependency);
        graph.set(`${prefix}${type}.${name}`, edges);
      }
    }
  };
  add('', synth.resource);
  add('data.', synth.data);
  return graph;
}

/** A cycle as a list of addresses, or undefined when the graph is acyclic. */
export function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'visiting');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}
