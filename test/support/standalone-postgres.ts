/**
 * A standalone PostgreSQL (the node runtime root's) for the tools tests (no Patroni): initdb, start, psql over the unix
 * socket as the postgres OS user, a streaming standby made with pg_basebackup -R, and a fast
 * shutdown by PID. Each test names its node's address, port and directories, and adds its own
 * settings and pg_hba line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYOUT } from '../../src/model/layout';
import { CommandResult, RunningProcess, runCommand, startProcess, stopProcess, waitUntil } from './processes';

export const POSTGRES_BIN_DIR = LAYOUT.postgresBinDir;
const AS_POSTGRES = { user: 'postgres' } as const;

export interface StandalonePostgres {
  /** Names the process and the messages: "primary", "replica". */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
}

/** psql -c as postgres over the node's socket; the result, whatever the exit code. */
export function psql(node: StandalonePostgres, sql: string, database = 'postgres'): Promise<CommandResult> {
  return runCommand(`${POSTGRES_BIN_DIR}/psql`, {
    args: ['-h', node.socketDir, '-p', String(node.port), '-U', 'postgres', '-d', database, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    runAs: AS_POSTGRES,
    node: true,
    inheritEnv: false,
  });
}

/** psql's output, failing the test with psql's error when it fails. */
export async function query(node: StandalonePostgres, sql: string, database = 'postgres'): Promise<string> {
  const result = await psql(node, sql, database);
  if (result.code !== 0) throw new Error(`psql on the ${node.name} failed (${result.code}) for ${sql}:\n${result.stderr}`);
  return result.stdout.trim();
}

export interface InitOptions {
  /** initdb --auth-host. */
  readonly authHost: 'scram-sha-256' | 'trust';
  /** The first line of the appended settings, e.g. "# pgha exporter test". */
  readonly title: string;
  /** postgresql.conf lines after port, listen_addresses and unix_socket_directories. */
  readonly settings: readonly string[];
  /** A line appended to pg_hba.conf. */
  readonly hba: string;
}

/** initdb (no fsync) as postgres, then the node's address, port and socket, the test's settings and its pg_hba line. */
export async function initPostgres(node: StandalonePostgres, options: InitOptions): Promise<void> {
  const initdb = await runCommand(`${POSTGRES_BIN_DIR}/initdb`, {
    args: ['-D', node.dataDir, '-U', 'postgres', '--auth-local=peer', `--auth-host=${options.authHost}`, '-N'],
    runAs: AS_POSTGRES,
    node: true,
    inheritEnv: false,
    timeoutMs: 60_000,
  });
  if (initdb.code !== 0) throw new Error(`initdb failed:\n${initdb.stdout}\n${initdb.stderr}`);
  appendSettings(node, options.title, options.settings);
  writeFileSync(join(node.dataDir, 'pg_hba.conf'), `${options.hba}\n`, { flag: 'a' });
}

/** Own port, address and socket win over what a copy carries (the last line wins). */
function appendSettings(node: StandalonePostgres, title: string, settings: readonly string[]): void {
  writeFileSync(
    join(node.dataDir, 'postgresql.conf'),
    ['', title, `port = ${node.port}`, `listen_addresses = '${node.address}'`, `unix_socket_directories = '${node.socketDir}'`, ...settings, ''].join('\n'),
    { flag: 'a' },
  );
}

export function startPostgres(node: StandalonePostgres, processName = `postgres-${node.name}`): RunningProcess {
  return startProcess(processName, `${POSTGRES_BIN_DIR}/postgres`, { args: ['-D', node.dataDir], runAs: AS_POSTGRES, inheritEnv: false, node: true });
}

export function waitAccepting(node: StandalonePostgres, proc: RunningProcess): Promise<void> {
  return waitUntil(`the ${node.name} to accept connections`, async () => (await psql(node, 'SELECT 1')).stdout.trim() === '1', { timeoutMs: 30_000, process: proc });
}

/** pg_basebackup -R of the primary into the standby's data directory, with the standby's own port, address and socket. */
export async function copyStandby(primary: StandalonePostgres, standby: StandalonePostgres, title: string): Promise<void> {
  const backup = await runCommand(`${POSTGRES_BIN_DIR}/pg_basebackup`, {
    args: ['-h', primary.socketDir, '-p', String(primary.port), '-U', 'postgres', '-D', standby.dataDir, '-R', '-X', 'stream', '-c', 'fast'],
    runAs: AS_POSTGRES,
    node: true,
    inheritEnv: false,
    timeoutMs: 60_000,
  });
  if (backup.code !== 0) throw new Error(`pg_basebackup failed:\n${backup.stderr}`);
  appendSettings(standby, title, []);
}

export function waitStreaming(standby: StandalonePostgres, proc: RunningProcess): Promise<void> {
  return waitUntil(`the ${standby.name} to stream from the primary`, async () => (await psql(standby, 'SELECT status FROM pg_stat_wal_receiver')).stdout.trim() === 'streaming', {
    timeoutMs: 30_000,
    process: proc,
  });
}

/** Fast shutdown (SIGINT) of one PostgreSQL by its PID, SIGTERM/SIGKILL if it takes more than 20 s. */
export async function stopPostgres(proc: RunningProcess | undefined): Promise<void> {
  if (!proc || proc.hasExited()) return;
  process.kill(proc.pid, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([proc.exited.then(() => true), new Promise<boolean>((done) => (timer = setTimeout(() => done(false), 20_000)))]);
  clearTimeout(timer);
  if (!stopped) await stopProcess(proc).catch(() => undefined);
}
