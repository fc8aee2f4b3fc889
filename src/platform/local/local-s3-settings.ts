import * as path from 'node:path';
import { LOCAL_S3_BUCKET } from './archive-store';

/**
 * How pgBackRest reaches the local S3-compatible server of an archive store (s3rver over HTTPS
 * on 127.0.0.1, see runner/s3-server.ts for what it does and why): known before it starts, so
 * configs can be rendered without it.
 */

/** s3rver's built-in account (lib/models/account.js: DUMMY_ACCOUNT.createKeyPair('S3RVER', 'S3RVER')). */
export const ACCESS_KEY = 'S3RVER';
export const SECRET_KEY = 'S3RVER';
export const REGION = 'us-east-1';
/** The Host header pgBackRest sends (path-style requests: `Host: localhost`, without the port). */
export const ENDPOINT = 'localhost';
/** Where s3rver listens and pgBackRest connects (repo1-storage-host), whatever `localhost` resolves to. */
export const BIND_ADDRESS = '127.0.0.1';
export const SUBJECT_ALT_NAMES = `DNS:${ENDPOINT},DNS:${BIND_ADDRESS},IP:${BIND_ADDRESS}`;

/** The files kept in the server's directory. */
export function localS3ServerFiles(dir: string) {
  return {
    caKey: path.join(dir, 'ca.key'),
    caCert: path.join(dir, 'ca.crt'),
    serverKey: path.join(dir, 'server.key'),
    serverCsr: path.join(dir, 'server.csr'),
    serverCert: path.join(dir, 'server.crt'),
    serverExt: path.join(dir, 'server.ext'),
    data: path.join(dir, 'data'),
    log: path.join(dir, 's3rver.log'),
  };
}

/** The repo1-* options (without "repo1-") for the server kept in `dir` on `port`: known before it starts. */
export function repositoryOptionsFor(dir: string, port: number, bucket: string): Record<string, string> {
  return {
    type: 's3',
    's3-endpoint': ENDPOINT,
    'storage-host': BIND_ADDRESS,
    'storage-port': String(port),
    's3-bucket': bucket,
    's3-region': REGION,
    's3-uri-style': 'path',
    'storage-ca-file': localS3ServerFiles(path.resolve(dir)).caCert,
  };
}

/**
 * What pgBackRest needs to reach the local S3 server of a store, without starting it (for
 * rendering configs): the same options and keys `startLocalS3Server` returns for that dir/port.
 */
export function localS3Settings(
  store: { readonly dir: string; readonly port: number },
  bucket: string = LOCAL_S3_BUCKET,
): { options: Record<string, string>; accessKey: string; secretKey: string } {
  return { options: repositoryOptionsFor(store.dir, store.port, bucket), accessKey: ACCESS_KEY, secretKey: SECRET_KEY };
}
