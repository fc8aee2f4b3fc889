/**
 * A local S3-compatible server for pgBackRest's repository: the npm package s3rver (3.7.1) over
 * HTTPS with a self-signed CA, bound to 127.0.0.1 only, running as a detached process.
 *
 * What s3rver 3.7.1 does (read from node_modules/s3rver/lib):
 * - Credentials: one built-in account, access key id "S3RVER" with secret "S3RVER"
 *   (lib/models/account.js); there is no option to change them. An unknown access key id is
 *   refused (InvalidAccessKeyId, HTTP 403). Only V2 signatures are checked: for SigV4 requests,
 *   which pgBackRest sends, the signature is NOT verified (lib/middleware/authentication.js:
 *   "Signature version 4 calculation is unimplemeneted"), so a wrong secret key is accepted.
 *   The credentials are therefore a formality here, not a protection.
 * - Buckets at start: `--configure-bucket <name>` creates the bucket before listening (and only
 *   warns when it already exists), so a restart over the same data dir keeps the objects.
 * - `--no-vhost-buckets` keeps it path-style only (pgBackRest: repo1-s3-uri-style=path).
 * - Its stdout/stderr (one line per request, errors) go to `<dir>/s3rver.log`; it prints
 *   "S3rver listening on ADDRESS:PORT" once it listens.
 *
 * TLS and addresses (measured with pgBackRest 2.45, and again with 2.55.1):
 * - pgBackRest verifies the certificate against `repo1-storage-ca-file` and the name of the host
 *   it connects to (`repo1-storage-host` when set, else the endpoint). It matches that name only
 *   against the CN and the DNS entries of the subjectAltName, as strings: an IP entry is ignored,
 *   which is why an IP endpoint fails with a CA file ("unable to find hostname '127.0.0.1'").
 * - pgBackRest 2.45 connected to the first address the name resolves to and tried no other: where
 *   /etc/hosts lists `::1 localhost` first (Debian's default), `localhost` meant ::1, and a server
 *   on 127.0.0.1 only was refused (2.55.1 tries the next address). So pgBackRest connects to
 *   `storage-host=127.0.0.1`, the one address the server listens on, and the
 *   certificate names DNS:localhost, DNS:127.0.0.1 (for pgBackRest's string match) and
 *   IP:127.0.0.1 (for standard clients); `s3-endpoint=localhost` is then only the Host header.
 * - A TLS or connection failure is retried until `io-timeout` (60 s by default) before
 *   pgBackRest gives up; an HTTP error such as 403 fails at once.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { ACCESS_KEY, BIND_ADDRESS, ENDPOINT, SECRET_KEY, SUBJECT_ALT_NAMES, localS3ServerFiles, repositoryOptionsFor } from '../platform/local/local-s3-settings';
import { openssl } from './certificates';
import { TrackedProcess, isAlive, logTail, startProcess } from './processes';

export interface LocalS3ServerOptions {
  /** Where the certificates, the data (`data/`) and the log (`s3rver.log`) live. */
  dir: string;
  port: number;
  bucket: string;
}

export interface LocalS3Server {
  /** pgBackRest repo1-* options (without the "repo1-" prefix) to reach this server. */
  readonly repositoryOptions: Record<string, string>;
  /** The static access key and secret s3rver accepts (pgBackRest: repo1-s3-key / repo1-s3-key-secret, or env PGBACKREST_REPO1_S3_KEY / PGBACKREST_REPO1_S3_KEY_SECRET). */
  readonly accessKey: string;
  readonly secretKey: string;
  readonly pid: number;
  /** The same process as tracked by processes.ts, for a local cluster's state and `stopProcess`. */
  readonly process: TrackedProcess;
}

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kept certificates are reused while they chain to the CA, name what we need and stay valid a day. */
function certificatesUsable(files: ReturnType<typeof localS3ServerFiles>): boolean {
  if (![files.caKey, files.caCert, files.serverKey, files.serverCert].every((file) => existsSync(file))) return false;
  try {
    const run = (args: string[]) =>
      execFileSync('/usr/bin/openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).toString();
    run(['verify', '-CAfile', files.caCert, files.serverCert]);
    run(['x509', '-in', files.serverCert, '-noout', '-checkend', '86400']);
    const names = run(['x509', '-in', files.serverCert, '-noout', '-ext', 'subjectAltName']);
    return SUBJECT_ALT_NAMES.split(',').every((name) => names.includes(name.replace('IP:', 'IP Address:')));
  } catch {
    return false;
  }
}

/**
 * A self-signed CA and a certificate for DNS:localhost signed by it, generated once and kept in
 * `dir`. The CA certificate (and `dir`) are readable by everyone, so pgBackRest can read it as
 * postgres; the keys are 0600, for the user s3rver runs as.
 */
function ensureCertificates(dir: string): void {
  const files = localS3ServerFiles(dir);
  if (!certificatesUsable(files)) {
    openssl([
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
      '-keyout', files.caKey, '-out', files.caCert,
      '-subj', '/CN=pgha local S3 CA',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    openssl([
      'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256',
      '-keyout', files.serverKey, '-out', files.serverCsr, '-subj', `/CN=${ENDPOINT}`,
    ]);
    writeFileSync(
      files.serverExt,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${SUBJECT_ALT_NAMES}`,
        '',
      ].join('\n'),
    );
    openssl([
      'x509', '-req', '-sha256', '-days', '3650', '-in', files.serverCsr,
      '-CA', files.caCert, '-CAkey', files.caKey, '-set_serial', `0x${Date.now().toString(16)}`,
      '-extfile', files.serverExt, '-out', files.serverCert,
    ]);
  }
  chmodSync(files.caKey, 0o600);
  chmodSync(files.serverKey, 0o600);
  chmodSync(files.caCert, 0o644);
  chmodSync(files.serverCert, 0o644);
}

/** One HTTPS request, checked against our CA and the name `localhost`, as pgBackRest does. */
function probe(port: number, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      { host: BIND_ADDRESS, servername: ENDPOINT, port, ca, method: 'GET', path: '/', timeout: 2_000, agent: false },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('timeout', () => request.destroy(new Error('probe timed out')));
    request.on('error', reject);
    request.end();
  });
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Whether an s3rver already answers over HTTPS on 127.0.0.1:<port> (its anonymous `GET /` lists
 * the buckets). The certificate is not checked here: only whether the port is served.
 */
export function s3ServerAnswers(port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = https.request(
      { host: BIND_ADDRESS, port, method: 'GET', path: '/', rejectUnauthorized: false, timeout: timeoutMs, agent: false },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body.includes('ListAllMyBucketsResult')));
        response.on('error', () => resolve(false));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', () => resolve(false));
    request.end();
  });
}

/**
 * Starts s3rver over HTTPS on 127.0.0.1:<port> as a detached process (its own process group,
 * left running when this process exits) and waits until it answers with the certificate for
 * `localhost`. Rejects with the log's tail when it exits or does not answer in time.
 */
export async function startLocalS3Server(options: LocalS3ServerOptions): Promise<LocalS3Server> {
  const { port, bucket } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port for the local S3 server: ${port}`);
  if (!BUCKET_NAME.test(bucket)) throw new Error(`invalid S3 bucket name: ${JSON.stringify(bucket)}`);
  const dir = path.resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  // Searchable by others: pgBackRest reads the CA file as postgres.
  chmodSync(dir, 0o755);
  ensureCertificates(dir);
  const files = localS3ServerFiles(dir);
  mkdirSync(files.data, { recursive: true, mode: 0o700 });

  const bin = require.resolve('s3rver/bin/s3rver.js');
  const logStart = existsSync(files.log) ? statSync(files.log).size : 0;
  const user = userInfo();
  const tracked = startProcess({
    node: 'archive',
    service: 's3rver',
    argv: [
      process.execPath, bin,
      '--directory', files.data,
      '--address', BIND_ADDRESS,
      '--port', String(port),
      '--key', files.serverKey,
      '--cert', files.serverCert,
      '--no-vhost-buckets',
      // Last: s3rver reads the words after the bucket name, up to the next option, as config files.
      '--configure-bucket', bucket,
    ],
    user: String(user.uid),
    group: String(user.gid),
    env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: user.homedir },
    log: files.log,
    cwd: dir,
  });
  const pid = tracked.pid;

  const ca = readFileSync(files.caCert);
  const newLog = () => (existsSync(files.log) ? readFileSync(files.log).subarray(logStart).toString('utf8') : '');
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'no answer yet';
  for (;;) {
    if (!isAlive(pid)) {
      throw new Error(`s3rver (pid ${pid}) exited while starting on ${BIND_ADDRESS}:${port}; ${files.log} ends with:\n${logTail(files.log)}`);
    }
    // Wait for our own process to say it listens, so that an older server on the port does not pass.
    if (newLog().includes(`S3rver listening on ${BIND_ADDRESS}:${port}`)) {
      try {
        await probe(port, ca);
        break;
      } catch (error) {
        lastError = (error as Error).message;
      }
    }
    if (Date.now() > deadline) {
      signal(pid, 'SIGKILL');
      throw new Error(
        `s3rver (pid ${pid}) did not answer on https://${ENDPOINT}:${port} within ${START_TIMEOUT_MS / 1000} s ` +
          `(last error: ${lastError}); ${files.log} ends with:\n${logTail(files.log)}`,
      );
    }
    await sleep(100);
  }

  return { repositoryOptions: repositoryOptionsFor(dir, port, bucket), accessKey: ACCESS_KEY, secretKey: SECRET_KEY, pid, process: tracked };
}

/** Whether the PID still belongs to an s3rver process (and not to a process that reused it). */
function isS3rver(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('s3rver');
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

/**
 * Stops the server by its PID: SIGTERM, then SIGKILL to its process group after a grace period.
 * Does nothing when the PID is gone or no longer an s3rver process.
 */
export async function stopLocalS3Server(server: { pid: number }): Promise<void> {
  const { pid } = server;
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`invalid s3rver pid: ${pid}`);
  if (!isAlive(pid) || !isS3rver(pid)) return;
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, STOP_GRACE_MS)) return;
  // Started detached, it leads its own process group.
  signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, 5_000))) throw new Error(`s3rver (pid ${pid}) did not exit after SIGKILL`);
}
