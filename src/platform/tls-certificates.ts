import { Construct } from 'constructs';
import { CertRequest } from '@cdktf/provider-tls/lib/cert-request';
import { LocallySignedCert } from '@cdktf/provider-tls/lib/locally-signed-cert';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { SelfSignedCert } from '@cdktf/provider-tls/lib/self-signed-cert';
import { TerraformStack } from '../cdktf';
import { NodeCertificatesProps } from './platform';
import { CERTIFICATE_KEYS } from '../model/certificate-keys';

/** Ten years for the CA, two for the nodes' certificate; Terraform renews it 30 days before it ends. */
const CA_VALIDITY_HOURS = 10 * 365 * 24;
const NODE_VALIDITY_HOURS = 2 * 365 * 24;
const RENEW_BEFORE_HOURS = 30 * 24;

/**
 * A private CA and one certificate for a group of nodes, made by Terraform's tls provider in
 * `scope` (the resources' ids are those of the scope: the AWS and Docker platforms keep theirs).
 * Returns the PEMs by CERTIFICATE_KEYS, as Terraform references. The private keys are in the
 * Terraform state, like the generated passwords: keep the state encrypted and access-controlled.
 */
export function createCertificatePems(scope: Construct, props: NodeCertificatesProps): Readonly<Record<string, string>> {
  const stack = TerraformStack.of(scope);
  // The tls provider needs no settings, but cdktf wants a provider construct for its resources.
  if (!stack.node.findAll().some((c) => c instanceof TlsProvider)) new TlsProvider(stack, 'tls');
  const caKey = new PrivateKey(scope, 'CaKey', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
  const ca = new SelfSignedCert(scope, 'Ca', {
    privateKeyPem: caKey.privateKeyPem,
    subject: [{ commonName: `${props.name} CA`, organization: 'cdktf-postgres-ha' }],
    isCaCertificate: true,
    validityPeriodHours: CA_VALIDITY_HOURS,
    allowedUses: ['cert_signing', 'crl_signing'],
  });
  const key = new PrivateKey(scope, 'Key', { algorithm: 'ECDSA', ecdsaCurve: 'P256' });
  const request = new CertRequest(scope, 'Request', {
    privateKeyPem: key.privateKeyPem,
    subject: [{ commonName: props.commonName, organization: 'cdktf-postgres-ha' }],
    // pgBackRest matches the host it connects to against the DNS names as text, so each address
    // is a DNS name too; the IP entries are for every other client.
    dnsNames: props.nodes.flatMap((node) => [node.address, node.name]),
    ipAddresses: props.nodes.map((node) => node.address),
  });
  const certificate = new LocallySignedCert(scope, 'Certificate', {
    certRequestPem: request.certRequestPem,
    caPrivateKeyPem: caKey.privateKeyPem,
    caCertPem: ca.certPem,
    validityPeriodHours: NODE_VALIDITY_HOURS,
    earlyRenewalHours: RENEW_BEFORE_HOURS,
    allowedUses: ['digital_signature', 'key_encipherment', 'server_auth', 'client_auth'],
  });
  return {
    [CERTIFICATE_KEYS.ca]: ca.certPem,
    [CERTIFICATE_KEYS.certificate]: certificate.certPem,
    [CERTIFICATE_KEYS.key]: key.privateKeyPem,
  };
}
