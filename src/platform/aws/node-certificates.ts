import { Construct } from 'constructs';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
import { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version';
import { Fn } from '../../cdktf';
import { NodeCertificatesProps, SecretRef } from '../platform';
import { createCertificatePems } from '../tls-certificates';

/**
 * A private CA and the nodes' certificate, made by Terraform's tls provider (tls-certificates.ts),
 * in a Secrets Manager secret the nodes read at boot. The private keys are in the Terraform state,
 * like the generated passwords: keep the state encrypted and access-controlled.
 */
export class AwsNodeCertificates extends Construct {
  readonly secret: SecretRef;

  constructor(scope: Construct, id: string, props: NodeCertificatesProps & { secretStoreName: (name: string) => string; kmsKeyArn?: string }) {
    super(scope, id);
    const pems = createCertificatePems(this, props);
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
      secretStringWo: Fn.jsonencode(pems),
      secretStringWoVersion: 1,
    });
    this.secret = { name, id: secret.arn };
  }
}
