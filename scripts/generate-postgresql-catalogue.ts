/**
 * Regenerates src/spec/postgresql-catalogue.data.ts: the parameters of the PostgreSQL the nodes run,
 * as its own pg_settings describes them, for the spec's checks of `postgresqlParameters`.
 *
 *   npm run catalogue:postgresql        (as root: the node runtime root runs through unshare and chroot)
 *
 * It initdbs a scratch cluster from the node runtime root (Debian 13, built first when missing),
 * starts it on a unix socket only (no TCP), reads pg_settings, asks `postgres -C` which of the
 * usual hidden spellings each enum also takes, stops the server by its PID and removes the scratch
 * directory. test/tools/postgresql-catalogue.test.ts does the same and compares.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAYOUT } from '../src/model/layout';
import { ensureNodeRoot, inRootCommand, rootUser } from '../src/runner/node-root';
import { asUserCommand } from '../src/runner/processes';
import type { ParameterContext, ParameterType, PostgresqlCatalogue, PostgresqlParameterDefinition } from '../src/spec/postgresql-settings';

export const CATALOGUE_FILE = join(__dirname, '..', 'src', 'spec', 'postgresql-catalogue.data.ts');

/**
 * Enum options PostgreSQL accepts but pg_settings does not list (guc_tables.c marks them hidden):
 * the boolean spellings several enums take, "debug" (= debug2) of the message levels, and the old
 * wal_level names. Each is kept only where this PostgreSQL accepts it.
 */
const HIDDEN_ENUM_CANDIDATES = ['on', 'off', 'true', 'false', 'yes', 'no', '1', '0', 'debug', 'archive', 'hot_standby'];

/**
 * Settings that change how postgres reports the others as it reads them (in file order): after a
 * valid log_min_messages = fatal, the refusals of the lines below it are not logged. Each gets a
 * round of its own.
 */
const REPORTING = ['log_min_messages', 'log_destination', 'lc_messages', 'syslog_facility', 'syslog_ident', 'event_source', 'logging_collector'];

/** pg_settings prints real bounds with %g: DBL_MAX comes out as this, below the largest value PostgreSQL takes. */
const DBL_MAX_AS_PRINTED = '1.79769e+308';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** What `postgres -C` said of one value: accepted (exit 0) or not, and its first line of output. */
export interface Verdict {
  readonly accepted: boolean;
  readonly message: string;
}

/**
 * A throwaway data directory of the node runtime root's PostgreSQL, owned by the root's postgres
 * user, in a directory of its own under the OS temp dir (bound into the root at the same path).
 */
export class ScratchPostgres {
  readonly dataDir: string;
  readonly socketDir: string;
  private readonly root: string;

  private constructor(readonly dir: string) {
    this.root = ensureNodeRoot();
    this.dataDir = join(dir, 'data');
    this.socketDir = join(dir, 'socket');
  }

  /** initdb (no fsync) into a new scratch directory. */
  static async create(): Promise<ScratchPostgres> {
    const scratch = new ScratchPostgres(mkdtempSync(join(tmpdir(), 'pgha-catalogue-')));
    try {
      const postgres = rootUser(scratch.root, 'postgres');
      if (!postgres) throw new Error(`the node runtime root ${scratch.root} has no postgres user`);
      mkdirSync(scratch.socketDir);
      for (const dir of [scratch.dir, scratch.socketDir]) chownSync(dir, postgres.uid, postgres.gid);
      const initdb = await scratch.run([`${LAYOUT.postgresBinDir}/initdb`, '-D', scratch.dataDir, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256', '-N'], 120_000);
      if (initdb.code !== 0) throw new Error(`initdb failed (${initdb.code}):\n${initdb.stdout}\n${initdb.stderr}`);
      return scratch;
    } catch (error) {
      scratch.remove();
      throw error;
    }
  }

  /** Runs argv as postgres in the node runtime root; resolves with its output whatever the exit code. */
  run(argv: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
    const [file, ...args] = inRootCommand({ root: this.root, binds: [this.dir] }, asUserCommand('postgres', 'postgres', argv));
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: this.dir },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /**
   * Whether PostgreSQL takes each value, as it reads postgresql.conf at start: each round is the
   * cluster's postgresql.conf plus at most one value per parameter, written as Patroni writes them
   * (quoted, ' and \\ doubled), checked by `postgres --config-file=<round> -C port`, which reports
   * every value it refuses before it stops. An unknown name stops the check of the others: it is
   * refused, and its round checked again without it. Settings of the server's own reporting
   * (REPORTING) are checked alone.
   */
  async verdicts(cases: readonly { readonly name: string; readonly value: string }[]): Promise<Verdict[]> {
    const verdicts: (Verdict | undefined)[] = cases.map(() => undefined);
    const rounds: number[][] = [];
    const solo: number[][] = [];
    const seen = new Map<string, number>();
    cases.forEach(({ name, value }, index) => {
      if (/[\n\r\0]/.test(value)) throw new Error(`verdicts: ${name} = ${JSON.stringify(value)} cannot be written on one postgresql.conf line`);
      if (REPORTING.includes(name.toLowerCase())) {
        solo.push([index]);
        return;
      }
      const round = seen.get(name.toLowerCase()) ?? 0;
      seen.set(name.toLowerCase(), round + 1);
      (rounds[round] ??= []).push(index);
    });
    rounds.push(...solo);
    const file = join(this.dir, `round-${process.pid}.conf`);
    for (let round of rounds) {
      for (;;) {
        const lines = round.map((index) => `${cases[index].name} = '${cases[index].value.replace(/(['\\])/g, '$1$1')}'`);
        writeFileSync(file, [`include '${join(this.dataDir, 'postgresql.conf')}'`, ...lines, ''].join('\n'), { mode: 0o644 });
        const result = await this.run([`${LAYOUT.postgresBinDir}/postgres`, '-D', this.dataDir, `--config-file=${file}`, '-C', 'port']);
        const refusals = new Map<string, string>();
        for (const line of result.stderr.split('\n')) {
          const match = /(?:LOG|FATAL):\s+(.*parameter "([^"]+)".*)$/.exec(line);
          if (match && !refusals.has(match[2].toLowerCase())) refusals.set(match[2].toLowerCase(), match[1]);
        }
        const unknown = round.find((index) => /unrecognized configuration parameter/.test(refusals.get(cases[index].name.toLowerCase()) ?? ''));
        if (unknown !== undefined) {
          verdicts[unknown] = { accepted: false, message: refusals.get(cases[unknown].name.toLowerCase())! };
          round = round.filter((index) => index !== unknown);
          continue;
        }
        if ((result.code === 0) !== (refusals.size === 0)) throw new Error(`postgres -C exited ${result.code} with ${refusals.size} refusal(s):\n${result.stderr}`);
        for (const index of round) {
          const message = refusals.get(cases[index].name.toLowerCase());
          verdicts[index] = { accepted: message === undefined, message: message ?? result.stdout.trim() };
        }
        break;
      }
    }
    rmSync(file, { force: true });
    return verdicts.map((verdict) => verdict!);
  }

  /**
   * Starts postgres on the scratch socket only (listen_addresses ''), with `settings` on its command
   * line, runs `use`, then stops it by its PID. Fails with the server's log when it does not start.
   */
  async withServer<T>(use: (query: (sql: string) => Promise<string>) => Promise<T>, settings: Readonly<Record<string, string>> = {}): Promise<T> {
    const server = [
      `${LAYOUT.postgresBinDir}/postgres`,
      '-D',
      this.dataDir,
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      '-c',
      'listen_addresses=',
      '-c',
      `unix_socket_directories=${this.socketDir}`,
      '-c',
      'port=5432',
    ];
    const [file, ...args] = inRootCommand({ root: this.root, binds: [this.dir] }, asUserCommand('postgres', 'postgres', server));
    const child = spawn(file, args, { env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let running = true;
    void exited.then(() => (running = false));
    const query = async (sql: string) => {
      const result = await this.run([`${LAYOUT.postgresBinDir}/psql`, '-h', this.socketDir, '-p', '5432', '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
      if (result.code !== 0) throw new Error(`psql failed (${result.code}) for ${sql}:\n${result.stderr}`);
      return result.stdout.trim();
    };
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (!running) throw new Error(`postgres exited at start:\n${log}`);
        const ready = await this.run([`${LAYOUT.postgresBinDir}/pg_isready`, '-h', this.socketDir, '-p', '5432', '-q']);
        if (ready.code === 0) break;
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 30 s:\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return await use(query);
    } finally {
      // Fast shutdown of this server only, by its PID (every step of the root command execs).
      if (running && child.pid !== undefined) process.kill(child.pid, 'SIGINT');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 20_000)))]);
      clearTimeout(timer);
      if (running && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface PgSettingsRow {
  readonly name: string;
  readonly vartype: ParameterType;
  readonly context: ParameterContext;
  readonly unit: string | null;
  readonly min_val: string | null;
  readonly max_val: string | null;
  readonly enumvals: string[] | null;
}

function bound(text: string | null, vartype: ParameterType): number | undefined {
  if (text === null || (vartype !== 'integer' && vartype !== 'real')) return undefined;
  return vartype === 'real' && text === DBL_MAX_AS_PRINTED ? Number.MAX_VALUE : Number(text);
}

/** The catalogue of the scratch cluster's PostgreSQL: pg_settings (with plpgsql loaded), and the hidden enum spellings it takes. */
export async function readCatalogue(scratch: ScratchPostgres): Promise<PostgresqlCatalogue> {
  const { major, rows } = await scratch.withServer(async (query) => {
    // plpgsql is in every database and loads on first use: its parameters are as real as the core's.
    // No other library is loaded: the nodes preload none (shared_preload_libraries stays empty).
    const settings = await query(
      "LOAD 'plpgsql'; SELECT json_agg(json_build_object('name', name, 'vartype', vartype, 'context', context, 'unit', unit, " +
        "'min_val', min_val, 'max_val', max_val, 'enumvals', enumvals) ORDER BY name) FROM pg_catalog.pg_settings",
    );
    return { major: Math.floor(Number(await query('SHOW server_version_num')) / 10_000), rows: JSON.parse(settings) as PgSettingsRow[] };
  });
  const probes = rows
    .filter((row) => row.vartype === 'enum' && row.context !== 'internal' && !row.name.includes('.'))
    .flatMap((row) => HIDDEN_ENUM_CANDIDATES.filter((candidate) => !row.enumvals!.some((v) => v.toLowerCase() === candidate)).map((value) => ({ name: row.name, value })));
  const verdicts = await scratch.verdicts(probes);
  const hidden = new Map<string, string[]>();
  probes.forEach((probe, index) => {
    if (verdicts[index].accepted) hidden.set(probe.name, [...(hidden.get(probe.name) ?? []), probe.value]);
  });
  const parameters: Record<string, PostgresqlParameterDefinition> = {};
  for (const row of rows) {
    const min = bound(row.min_val, row.vartype);
    const max = bound(row.max_val, row.vartype);
    parameters[row.name] = {
      vartype: row.vartype,
      context: row.context,
      ...(row.unit ? { unit: row.unit } : {}),
      ...(min !== undefined ? { min_val: min } : {}),
      ...(max !== undefined ? { max_val: max } : {}),
      ...(row.enumvals ? { enumvals: row.enumvals } : {}),
      ...(hidden.has(row.name) ? { hidden_enumvals: hidden.get(row.name) } : {}),
    };
  }
  return { major, parameters };
}

/** The data module's text: one line per parameter, sorted, so a change reads as a one-line diff. */
export function renderCatalogueModule(catalogue: PostgresqlCatalogue): string {
  const names = Object.keys(catalogue.parameters).sort();
  return `// Generated by scripts/generate-postgresql-catalogue.ts from pg_settings of the nodes' PostgreSQL ${catalogue.major}
// (the node runtime root's), with plpgsql loaded; hidden_enumvals are the enum spellings postgres -C
// also takes. Do not edit: regenerate with \`npm run catalogue:postgresql\` (as root);
// test/tools/postgresql-catalogue.test.ts fails while this file differs from the installed PostgreSQL.
import type { PostgresqlCatalogue } from './postgresql-settings';

export const POSTGRESQL_CATALOGUE: PostgresqlCatalogue = {
  major: ${catalogue.major},
  parameters: {
${names.map((name) => `    ${tsKey(name)}: ${tsObject(catalogue.parameters[name])},`).join('\n')}
  },
};
`;
}

const tsKey = (key: string) => (/^[a-z_][a-z0-9_]*$/i.test(key) ? key : `'${key}'`);
const tsValue = (value: unknown): string =>
  Array.isArray(value) ? `[${value.map(tsValue).join(', ')}]` : typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : String(value);
const tsObject = (object: object) => `{ ${Object.entries(object).map(([key, value]) => `${tsKey(key)}: ${tsValue(value)}`).join(', ')} }`;

/** A fresh catalogue module's text from the node runtime root's PostgreSQL. */
export async function generateCatalogueModule(): Promise<string> {
  const scratch = await ScratchPostgres.create();
  try {
    return renderCatalogueModule(await readCatalogue(scratch));
  } finally {
    scratch.remove();
  }
}

if (require.main === module) {
  generateCatalogueModule()
    .then((text) => {
      writeFileSync(CATALOGUE_FILE, text);
      process.stdout.write(`wrote ${CATALOGUE_FILE} (${text.split('\n').length} lines)\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
