import { Construct } from 'constructs';
import { NodeCertificatesProps } from '../platform';
import { createCertificatePems } from '../tls-certificates';

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
    this.values = createCertificatePems(this, props);
  }
}
