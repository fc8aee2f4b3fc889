import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { STACK_DESCRIPTION_FILE } from '../constructs/stack-output';
import { LOCAL_PLATFORM_REQUEST_VARIABLE, LocalPlatformRequest } from '../platform/stack-platform';

/** The user's cdktf project, as its cdktf.json describes it. */
export interface CdktfProject {
  /** The directory holding cdktf.json: where the app runs. */
  readonly dir: string;
  readonly configFile: string;
  /** The command that runs the app, e.g. "npx ts-node main.ts". */
  readonly app: string;
  readonly context: Record<string, unknown>;
}

/** A problem the user can fix: printed as it is, without a stack trace. */
export class UserAppError extends Error {}

/** The nearest cdktf.json at or above `from`, as cdktf itself finds its project. */
export function findProject(from: string): CdktfProject | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const configFile = join(dir, 'cdktf.json');
    if (existsSync(configFile)) {
      let config: { app?: unknown; context?: unknown };
      try {
        config = JSON.parse(readFileSync(configFile, 'utf8'));
      } catch (error) {
        throw new UserAppError(`${configFile}: not JSON (${(error as Error).message})`);
      }
      if (typeof config.app !== 'string' || config.app.trim() === '') {
        throw new UserAppError(`${configFile}: "app" is ${JSON.stringify(config.app)}; expected the command that runs the app, e.g. "npx ts-node main.ts"`);
      }
      const context = typeof config.context === 'object' && config.context !== null ? (config.context as Record<string, unknown>) : {};
      return { dir, configFile, app: config.app, context };
    }
    if (dir === dirname(dir)) return undefined;
  }
}

/** A synthesized app in a directory of its own; `dispose` removes it. */
export interface Synthesized {
  readonly outdir: string;
  /** Every stack of the app, in the order of its manifest. */
  readonly stacks: readonly string[];
  /** The stacks built with this library's constructs (those with a pgha.json). */
  readonly pghaStacks: readonly string[];
  stackDir(stack: string): string;
  dispose(): void;
}

/** Stacks listed in a synth output directory's manifest.json. */
export function stacksOf(outdir: string): string[] {
  const manifest = join(outdir, 'manifest.json');
  if (!existsSync(manifest)) throw new UserAppError(`${outdir} holds no synthesized app (no manifest.json)`);
  return Object.keys((JSON.parse(readFileSync(manifest, 'utf8')) as { stacks?: Record<string, unknown> }).stacks ?? {});
}

/** Reads a synth output directory, as `cdktf synth` leaves it. */
export function readSynthesized(outdir: string, dispose: () => void = () => undefined): Synthesized {
  const stacks = stacksOf(outdir);
  const stackDir = (stack: string) => join(outdir, 'stacks', stack);
  return { outdir, stacks, pghaStacks: stacks.filter((s) => existsSync(join(stackDir(s), STACK_DESCRIPTION_FILE))), stackDir, dispose };
}

/**
 * Runs the project's app as `cdktf synth` does (the "app" command in the project's directory,
 * CDKTF_OUTDIR and CDKTF_CONTEXT_JSON set) into a temporary directory, optionally asking it to
 * build one stack on the local platform. Fails with the app's own output when it fails.
 */
export function synthesizeApp(project: CdktfProject, options: { localRequest?: LocalPlatformRequest; timeoutMs?: number } = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'pgha-synth-'));
  const dispose = () => rmSync(outdir, { recursive: true, force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, CDKTF_OUTDIR: outdir, CDKTF_CONTEXT_JSON: JSON.stringify(project.context) };
  if (options.localRequest) env[LOCAL_PLATFORM_REQUEST_VARIABLE] = JSON.stringify(options.localRequest);
  else delete env[LOCAL_PLATFORM_REQUEST_VARIABLE];
  const result = spawnSync('/bin/sh', ['-c', project.app], { cwd: project.dir, env, encoding: 'utf8', timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.error || result.status !== 0) {
    dispose();
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    const why = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
    throw new UserAppError(`the app of ${project.configFile} failed (\`${project.app}\`: ${why})${output ? `:\n${output}` : ''}`);
  }
  if (!existsSync(join(outdir, 'manifest.json'))) {
    dispose();
    throw new UserAppError(`the app of ${project.configFile} (\`${project.app}\`) wrote nothing to CDKTF_OUTDIR: does it call app.synth(), with no outdir of its own?`);
  }
  return readSynthesized(outdir, dispose);
}

/**
 * The stack a command works on: the one named, which must exist and be built with this library,
 * or else the only such stack of the app.
 */
export function chooseStack(synthesized: Synthesized, named: string | undefined, where: string): string {
  const known = synthesized.pghaStacks;
  if (named !== undefined) {
    if (known.includes(named)) return named;
    const other = synthesized.stacks.includes(named) ? ` (it has none of this library's clusters)` : '';
    throw new UserAppError(`no stack "${named}"${other} in ${where}; expected one of: ${known.join(', ') || '(none: no stack has a cluster of cdktf-postgres-ha)'}`);
  }
  if (known.length === 1) return known[0];
  throw new UserAppError(
    known.length === 0
      ? `no stack of ${where} has a cluster of cdktf-postgres-ha`
      : `${where} has ${known.length} stacks with clusters (${known.join(', ')}): pass --stack <name>`,
  );
}
