import { Construct } from 'constructs';
import { CertRequest } from '@cdktf/provider-tls/lib/cert-request';
import { LocallySignedCert } from '@cdktf/provider-tls/lib/locally-signed-cert';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { SelfSignedCert } from '@cdktf/provider-tls/lib/self-signed-cert';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
import { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version';
import { Fn, TerraformStack } from '../../cdktf';
import { CERTIFICATE_KEYS, NodeCertificatesProps, SecretRef } from '../platform';

/** Ten years for the CA, two for the nodes' certificate; Terraform renews it 30 days before it ends. */
const CA_VALIDITY_HOURS = 10 * 365 * 24;
const NODE_VALIDITY_HOURS = 2 * 365 * 24;
const RENEW_BEFORE_HOURS = 30 * 24;

/**
 * A private CA and the nodes' certificate, made by Terraform's tls provider, in a Secrets Manager
 * secret the nodes read at boot. The private keys are in the Terraform state, like the generated
 * passwords: keep the state encrypted and access-controlled.
 */
export class AwsNodeCertificates extends Construct {
  readonly secret: SecretRef;

  constructor(scope: Construct, id: string, props: NodeCertificatesProps & { secretStoreName: (name: string) => string; kmsKeyArn?: string }) {
    super(scope, id);
    ensureTlsProvider(TerraformStack.of(this));
    const caKey = new PrivateKey(this, 'CaKey', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
    const ca = new SelfSignedCert(this, 'Ca', {
      privateKeyPem: caKey.privateKeyPem,
      subject: [{ commonName: `${props.name} CA`, organization: 'cdktf-postgres-ha' }],
      isCaCertificate: true,
      validityPeriodHours: CA_VALIDITY_HOURS,
      allowedUses: ['cert_signing', 'crl_signing'],
    });
    const key = new PrivateKey(this, 'Key', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
    const request = new CertRequest(this, 'Request', {
      privateKeyPem: key.privateKeyPem,
      subject: [{ commonName: props.commonName, organization: 'cdktf-postgres-ha' }],
      // pgBackRest matches the host it connects to against the DNS names as text, so each address
      // is a DNS name too; the IP entries are for every other client.
      dnsNames: props.nodes.flatMap((node) => [node.address, node.name]),
      ipAddresses: props.nodes.map((node) => node.address),
    });
    const certificate = new LocallySignedCert(this, 'Certificate', {
      certRequestPem: request.certRequestPem,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      validityPeriodHours: NODE_VALIDITY_HOURS,
      earlyRenewalHours: RENEW_BEFORE_HOURS,
      allowedUses: ['digital_signature', 'key_encipherment', 'server_auth', 'client_auth'],
    });
    const name = `${props.name}/tls`;
    const secret = new SecretsmanagerSecret(this, 'Secret', {
      name: props.secretStoreName(name),
      description: `cdktf-postgres-ha: TLS CA and certificate of ${props.commonName}; the nodes read it at boot`,
      kmsKeyId: props.kmsKeyArn,
      recoveryWindowInDays: 7,
    });
    new SecretsmanagerSecretVersion(this, 'Value', {
      secretId: secret.id,
      // Write-only like the passwords; a renewed certificate needs a version bump to reach the nodes.
      secretStringWo: Fn.jsonencode({
        [CERTIFICATE_KEYS.ca]: ca.certPem,
        [CERTIFICATE_KEYS.certificate]: certificate.certPem,
        [CERTIFICATE_KEYS.key]: key.privateKeyPem,
      }),
      secretStringWoVersion: 1,
    });
    this.secret = { name, id: secret.arn };
  }
}

/** The tls provider needs no settings, but cdktf wants a provider construct for its resources. */
function ensureTlsProvider(stack: TerraformStack): void {
  if (!stack.node.findAll().some((c) => c instanceof TlsProvider)) new TlsProvider(stack, 'tls');
}
