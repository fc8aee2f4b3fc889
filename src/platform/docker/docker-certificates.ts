import { Construct } from 'constructs';
import { CertRequest } from '@cdktf/provider-tls/lib/cert-request';
import { LocallySignedCert } from '@cdktf/provider-tls/lib/locally-signed-cert';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { SelfSignedCert } from '@cdktf/provider-tls/lib/self-signed-cert';
import { TerraformStack } from '../../cdktf';
import { CERTIFICATE_KEYS, NodeCertificatesProps } from '../platform';

/** As on AWS (src/platform/aws/node-certificates.ts): ten years for the CA, two for the nodes' certificate. */
const CA_VALIDITY_HOURS = 10 * 365 * 24;
const NODE_VALIDITY_HOURS = 2 * 365 * 24;
const RENEW_BEFORE_HOURS = 30 * 24;

/**
 * The same tls-provider resources as the AWS platform's certificates (a private CA and one
 * certificate for the group's nodes), without the secret store: the PEMs are Terraform references
 * that the Docker platform uploads into the containers. The private keys are in the Terraform state.
 */
export class DockerNodeCertificates extends Construct {
  /** CERTIFICATE_KEYS value -> PEM (a Terraform reference). */
  readonly values: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: NodeCertificatesProps) {
    super(scope, id);
    const stack = TerraformStack.of(this);
    if (!stack.node.findAll().some((c) => c instanceof TlsProvider)) new TlsProvider(stack, 'tls');
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
      // As on AWS: each address is a DNS name too (pgBackRest matches hosts as text).
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
    this.values = {
      [CERTIFICATE_KEYS.ca]: ca.certPem,
      [CERTIFICATE_KEYS.certificate]: certificate.certPem,
      [CERTIFICATE_KEYS.key]: key.privateKeyPem,
    };
  }
}
