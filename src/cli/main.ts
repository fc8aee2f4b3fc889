import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { validateHaproxyFrontendsSpec } from '../spec/haproxy-frontends';
import { validatePatroniClusterSpec } from '../spec/patroni-cluster';
import { SpecError } from '../spec/problems';

const USAGE = `pgha: tools for cdktf-postgres-ha

  pgha validate <patroni-cluster|haproxy-frontends> <spec.json>
      Checks a spec (the construct's props as JSON, without "platform"/"cluster") and prints
      it with defaults applied, or every problem with its field. Exit 1 when invalid.
  pgha nodes [--dir cdktf.out] [--stack aws-ha]
      Lists the nodes of a synthesized stack and the files written for each.
  pgha help
`;

const VALIDATORS: Record<string, (input: unknown) => unknown> = {
  'patroni-cluster': validatePatroniClusterSpec,
  'haproxy-frontends': validateHaproxyFrontendsSpec,
};

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const console_: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function option(args: string[], name: string, fallback: string): string {
  const index = args.indexOf(name);
  return index >= 0 && args[index + 1] ? args[index + 1] : fallback;
}

function validate(args: string[], io: Output): number {
  const [kind, file] = args;
  const validator = VALIDATORS[kind];
  if (!validator || !file) {
    io.err(`pgha validate: expected a kind (${Object.keys(VALIDATORS).join(' or ')}) and a JSON file.\n`);
    return 2;
  }
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    io.err(`pgha validate: cannot read ${file} as JSON: ${(error as Error).message}\n`);
    return 2;
  }
  try {
    io.out(`${JSON.stringify(validator(input), null, 2)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    io.err(`${file}: ${error.message}\n`);
    return 1;
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function nodes(args: string[], io: Output): number {
  const stackDir = join(option(args, '--dir', 'cdktf.out'), 'stacks', option(args, '--stack', 'aws-ha'), 'nodes');
  if (!existsSync(stackDir)) {
    io.err(`pgha nodes: ${stackDir} does not exist: run \`npm run synth\` first (or pass --dir/--stack).\n`);
    return 1;
  }
  for (const node of readdirSync(stackDir).sort()) {
    io.out(`${node}\n`);
    for (const file of filesUnder(join(stackDir, node)).sort()) io.out(`  /${relative(join(stackDir, node), file)}\n`);
  }
  return 0;
}

export function main(args: string[], io: Output = console_): number {
  const [command, ...rest] = args;
  switch (command) {
    case 'validate':
      return validate(rest, io);
    case 'nodes':
      return nodes(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return 0;
    default:
      io.err(`pgha: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
