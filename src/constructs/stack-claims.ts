import { IConstruct } from 'constructs';
import { TerraformStack } from '../cdktf';
import { NodeGroup } from '../platform/platform';
import { SpecError } from '../spec/problems';

/**
 * What one construct of a stack takes that no other may: a name (a cluster, a node group, an
 * archive: they become resource, secret and host names), or a port on a group of nodes. A second
 * claim is refused when it is made, before anything is synthesized, naming both constructs.
 */
export interface Claimant {
  /** e.g. "HaproxyFrontends spec": the SpecError's title. */
  readonly specName: string;
  readonly construct: IConstruct;
}

interface Claim {
  readonly by: string;
  /** The prop that set it, e.g. "statsPort". */
  readonly field: string;
  readonly what: string;
}

const names = new WeakMap<IConstruct, Map<string, Claim>>();
const ports = new WeakMap<NodeGroup, Map<number, Claim>>();

/** Names are unique per stack: two stacks of an app may each have a cluster "main". */
function stackNames(scope: IConstruct): Map<string, Claim> {
  const stack = scopeStack(scope);
  let claimed = names.get(stack);
  if (!claimed) names.set(stack, (claimed = new Map()));
  return claimed;
}

function scopeStack(scope: IConstruct): IConstruct {
  try {
    return TerraformStack.of(scope);
  } catch {
    // Constructs built outside a stack (tests of a single construct): the tree's root holds the names.
    return scope.node.root;
  }
}

/** Claims `name` of a kind ("cluster name", "node group", "archive name") in the stack. */
export function claimName(claimant: Claimant, kind: string, name: string, field: string): void {
  const claimed = stackNames(claimant.construct);
  const key = `${kind}\u0000${name}`;
  const other = claimed.get(key);
  const by = claimant.construct.node.path;
  if (other && other.by !== by) {
    throw new SpecError(
      claimant.specName,
      [
        {
          path: field,
          given: name,
          expected: `a ${kind} no other construct of the stack uses: ${other.by} has "${name}" already (its ${other.field})`,
          fix: `give this construct another ${field}, or ${other.by} another ${other.field}: two would make the same resource names`,
        },
      ],
      by,
    );
  }
  claimed.set(key, { by, field, what: kind });
}

/** Claims TCP ports on every node of `group` for the services `claimant` adds there. */
export function claimPorts(claimant: Claimant, group: NodeGroup, wanted: readonly { readonly port: number; readonly field: string; readonly what: string }[]): void {
  let claimed = ports.get(group);
  if (!claimed) ports.set(group, (claimed = new Map()));
  const by = claimant.construct.node.path;
  const problems = wanted.flatMap(({ port, field }) => {
    const other = claimed.get(port);
    if (!other || (other.by === by && other.field === field)) return [];
    return [
      {
        path: field,
        given: port,
        expected: `a port free on the nodes of ${group.groupName}: ${port} is ${other.what} there (${other.field} of ${other.by})`,
        fix: `choose another ${field}, or change ${other.field} of ${other.by}`,
      },
    ];
  });
  if (problems.length > 0) throw new SpecError(claimant.specName, problems, by);
  for (const { port, field, what } of wanted) claimed.set(port, { by, field, what });
}
