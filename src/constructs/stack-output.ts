import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Construct, IConstruct } from 'constructs';
import { ISynthesisSession, TerraformStack, addCustomSynthesis } from '../cdktf';
import { NodeFile } from '../model/node-plan';
import { RenderedNode, collectArtifacts } from '../platform/rendered-node';
import { STACK_DESCRIPTION_FORMAT, StackDescription, describeStack } from './stack-description';

/** The description's file in the stack's output directory. */
export const STACK_DESCRIPTION_FILE = 'pgha.json';
const NODES_DIR = 'nodes';
const ID = 'PghaStackOutput';

/** A file as pgha.json lists it: its content is in nodes/<node>/<path>. */
type ListedFile = Omit<NodeFile, 'content'>;

/** Writes files, making each directory once (a stack has hundreds of files in a few dozen directories). */
function fileWriter(): (target: string, content: string) => void {
  const made = new Set<string>();
  return (target, content) => {
    const dir = dirname(target);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    writeFileSync(target, content, { mode: 0o644 });
  };
}

/**
 * Writes what reviewers and tools read of a stack into `stackDir`: each node's files at
 * nodes/<node>/<absolute path on the node>, the artifacts (alert rules, scrape config,
 * dashboard) at their paths, and pgha.json, the stack's description with the files listed
 * rather than repeated. Returns the paths written.
 */
export function writeStackOutput(scope: IConstruct, stackDir: string): string[] {
  const description = describeStack(scope);
  const writeFile = fileWriter();
  const written: string[] = [];
  for (const node of description.nodes) {
    for (const file of node.files) {
      const target = join(stackDir, NODES_DIR, node.plan.name, file.path);
      writeFile(target, file.content);
      written.push(target);
    }
  }
  for (const artifact of collectArtifacts(scope)) {
    const target = join(stackDir, artifact.path);
    writeFile(target, artifact.content);
    written.push(target);
  }
  const list = (files: readonly NodeFile[]): ListedFile[] => files.map(({ content: _content, ...listed }) => listed);
  const listed = { ...description, nodes: description.nodes.map((node) => ({ plan: { ...node.plan, files: list(node.plan.files) }, files: list(node.files) })) };
  const target = join(stackDir, STACK_DESCRIPTION_FILE);
  writeFile(target, `${JSON.stringify(listed, null, 2)}\n`);
  written.push(target);
  return written;
}

/** A stack's description as pgha.json holds it: each file listed, its content in nodes/. */
export type StackListing = Omit<StackDescription, 'nodes'> & {
  readonly nodes: readonly { readonly plan: Omit<RenderedNode['plan'], 'files'> & { readonly files: readonly ListedFile[] }; readonly files: readonly ListedFile[] }[];
};

/** Reads pgha.json alone: the stack's clusters, frontends, platforms and the list of its nodes' files. */
export function readStackListing(stackDir: string): StackListing {
  const file = join(stackDir, STACK_DESCRIPTION_FILE);
  const again = 'Synthesize the stack again (cdktf synth) with this version of cdktf-postgres-ha.';
  let parsed: Partial<StackListing> | null;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<StackListing> | null;
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}. ${again}`);
  }
  if (parsed?.formatVersion !== STACK_DESCRIPTION_FORMAT) {
    throw new Error(`${file}: format version ${parsed?.formatVersion}; this version of cdktf-postgres-ha reads ${STACK_DESCRIPTION_FORMAT}. ${again}`);
  }
  const lists = ['clusters', 'frontends', 'nodes', 'platforms'] as const;
  const broken = lists.filter((key) => !Array.isArray(parsed?.[key]));
  if (broken.length > 0) throw new Error(`${file}: ${broken.join(', ')}: expected lists. ${again}`);
  return parsed as StackListing;
}

/** Reads a stack's description back from its output directory, with each file's content from nodes/. */
export function readStackOutput(stackDir: string): StackDescription {
  const listing = readStackListing(stackDir);
  const contentOf = (node: string, listed: ListedFile): NodeFile => {
    const path = join(stackDir, NODES_DIR, node, listed.path);
    try {
      return { ...listed, content: readFileSync(path, 'utf8') };
    } catch (error) {
      throw new Error(`${path}, listed in ${STACK_DESCRIPTION_FILE}, cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Synthesize the stack again (cdktf synth).`);
    }
  };
  const nodes: RenderedNode[] = listing.nodes.map((node) => {
    const files = node.files.map((listed) => contentOf(node.plan.name, listed));
    const byPath = new Map(files.map((f) => [f.path, f]));
    return { plan: { ...node.plan, files: node.plan.files.map((f) => byPath.get(f.path) ?? contentOf(node.plan.name, f)) }, files };
  });
  return { ...listing, nodes };
}

/**
 * Registers, once per stack, the writing of the stack's output at synth (`cdktf synth`,
 * `app.synth()`): users get the node files and pgha.json with no call of their own. Constructs
 * built outside a stack (the local runner builds in a bare root) have nothing to register.
 */
export function registerStackOutput(scope: IConstruct): void {
  const stack = scope.node.scopes.find((s): s is TerraformStack => TerraformStack.isStack(s));
  if (!stack || stack.node.tryFindChild(ID)) return;
  const writer = new Construct(stack, ID);
  addCustomSynthesis(writer, {
    onSynthesize: (session: ISynthesisSession) => {
      writeStackOutput(stack, join(session.outdir, session.manifest.forStack(stack).workingDirectory));
    },
  });
}
