import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERTIFICATE_KEYS } from '../model/certificate-keys';

export interface CertificateRequest {
  readonly caName: string;
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** Runs openssl, failing with its own message. */
export function openssl(args: string[]): void {
  try {
    execFileSync('/usr/bin/openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

/**
 * A private CA and one certificate signed by it (server and client use), as the AWS platform makes
 * them with Terraform's tls provider: ECDSA P-256, the addresses as DNS names and IPs. Returns the
 * PEMs under the keys of CERTIFICATE_KEYS; nothing is left on disk.
 */
export function issueCertificate(request: CertificateRequest): Record<string, string> {
  // In openssl's -subj syntax "/" separates fields: escape it inside a value.
  const subject = (value: string) => value.replace(/[/\\]/g, (c) => `\\${c}`);
  const dir = mkdtempSync(join(tmpdir(), 'pgha-certificates-'));
  const file = (name: string) => join(dir, name);
  try {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key')]);
    openssl([
      'req', '-x509', '-new', '-sha256', '-days', '3650', '-key', file('ca.key'), '-out', file('ca.crt'),
      '-subj', `/O=cdktf-postgres-ha/CN=${subject(request.caName)}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('tls.key')]);
    openssl(['req', '-new', '-sha256', '-key', file('tls.key'), '-out', file('tls.csr'), '-subj', `/O=cdktf-postgres-ha/CN=${subject(request.commonName)}`]);
    const names = [...request.dnsNames.map((name) => `DNS:${name}`), ...request.ipAddresses.map((ip) => `IP:${ip}`)];
    writeFileSync(
      file('tls.ext'),
      ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=${names.join(',')}`, ''].join('\n'),
    );
    openssl([
      'x509', '-req', '-sha256', '-days', '730', '-in', file('tls.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
      '-set_serial', `0x${Date.now().toString(16)}`, '-extfile', file('tls.ext'), '-out', file('tls.crt'),
    ]);
    // PKCS#8, as Terraform's tls provider writes private_key_pem_pkcs8; pgBackRest (OpenSSL) reads either.
    openssl(['pkcs8', '-topk8', '-nocrypt', '-in', file('tls.key'), '-out', file('tls.p8')]);
    return {
      [CERTIFICATE_KEYS.ca]: readFileSync(file('ca.crt'), 'utf8'),
      [CERTIFICATE_KEYS.certificate]: readFileSync(file('tls.crt'), 'utf8'),
      [CERTIFICATE_KEYS.key]: readFileSync(file('tls.p8'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
