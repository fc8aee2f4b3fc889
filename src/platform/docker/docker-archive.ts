import { Construct } from 'constructs';
import { Container } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Volume } from '@cdktf/provider-docker/lib/volume';
import { Password } from '@cdktf/provider-random/lib/password';
import { LAYOUT } from '../../model/layout';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { ArchiveRepository, NodeGroup } from '../platform';
import { DockerNodeCertificates } from './docker-certificates';
import { ensureRandomProvider } from './random-provider';
import { escapeTerraform } from './terraform-escape';
import { NodePlacement } from '../../model/placement';
import { CERTIFICATE_KEYS } from '../../model/certificate-keys';

/**
 * S3-compatible storage in a container: MinIO, pinned by its release tag (a RELEASE.* tag names one
 * build; `latest` moves). The client image makes the bucket once MinIO answers.
 */
export const MINIO_IMAGE = 'minio/minio:RELEASE.2025-09-07T16-13-09Z';
export const MINIO_CLIENT_IMAGE = 'minio/mc:RELEASE.2025-08-13T08-35-41Z';
export const MINIO_PORT = 9000;
/** MinIO's default region: pgBackRest signs its requests for it. */
const MINIO_REGION = 'us-east-1';
/**
 * The bucket container's `sh -c` script: waits up to a minute for MinIO (the client trusts the CA
 * under its config dir), then makes the bucket, if missing, and exits. MinIO's root credentials
 * come from the environment. Not versioned: a single-drive MinIO may not support it, and pgBackRest
 * does not need it (the AWS bucket's versions guard against deletion by a compromised node, which
 * this throwaway copy does not try to).
 */
export function createBucketScript(endpoint: string, bucket: string, configDir = MC_CONFIG_DIR): string {
  return [
    'set -eu',
    'tries=0',
    `until mc --config-dir ${configDir} alias set archive ${endpoint} "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do`,
    '  tries=$((tries + 1))',
    `  if [ "$tries" -ge 60 ]; then echo "MinIO at ${endpoint} did not answer within 60 s" >&2; exit 1; fi`,
    '  sleep 1',
    'done',
    `mc --config-dir ${configDir} mb --ignore-existing archive/${bucket}`,
    '',
  ].join('\n');
}

/** Where the nodes find the CA that signed an archive's MinIO certificate (pgBackRest repo1-storage-ca-file): one per archive. */
export const archiveCaPath = (archiveName: string) => `${LAYOUT.pgbackrestConfigDir}/archive-${archiveName}-ca.crt`;
/** MinIO reads its certificate and key from here (public.crt, private.key). */
const MINIO_CERTS_DIR = '/certs';
/** mc's configuration directory: it trusts the CAs in certs/CAs under it. */
const MC_CONFIG_DIR = '/etc/mc';

export interface DockerArchiveRepositoryProps {
  readonly spec: WalArchiveBucketSpec;
  /** The server's place on the platform's network. */
  readonly placement: NodePlacement;
  /** Prefix of the Docker object names. */
  readonly namePrefix: string;
  /** The platform's network name. */
  readonly networkName: string;
}

/**
 * A WAL archive on the Docker platform: a MinIO container with TLS (pgBackRest talks to S3 only over
 * TLS and checks the certificate) at a fixed address, its data on a named volume, and a one-shot
 * container that creates the bucket before any node starts. pgBackRest reaches it as an S3 bucket,
 * path-style, with MinIO's root credentials (random passwords) instead of an instance role.
 */
export class DockerArchiveRepository extends Construct implements ArchiveRepository {
  readonly options: Readonly<Record<string, string>>;
  readonly locationVariables: Readonly<Record<string, string>>;
  readonly description: string;
  readonly bucket: string;
  readonly server: Container;
  /** Exits once the bucket exists: node containers that use the archive start after it. */
  readonly bucketCreated: Container;
  /** The CA's certificate (PEM, a Terraform reference), uploaded to the nodes at `caPath`. */
  readonly caPath: string;
  readonly caCertificate: string;
  private readonly grantedGroups: NodeGroup[] = [];

  /** @internal DockerPlatform.createArchiveRepository makes them. */
  constructor(scope: Construct, id: string, props: DockerArchiveRepositoryProps) {
    super(scope, id);
    const { spec, placement, namePrefix, networkName } = props;
    const name = `${namePrefix}-archive-${spec.name}`;
    this.bucket = `${spec.name}-archive`;
    this.caPath = archiveCaPath(spec.name);
    ensureRandomProvider(this);
    const accessKey = new Password(this, 'AccessKey', { length: 20, special: false, upper: true, lower: false, numeric: true }).result;
    const secretKey = new Password(this, 'SecretKey', { length: 40, special: false, upper: true, lower: true, numeric: true }).result;
    // pgBackRest matches the host it connects to against the certificate's DNS names as text (an IP
    // entry is ignored: see src/runner/s3-server.ts), so the address is a DNS name too.
    const certificates = new DockerNodeCertificates(this, 'Tls', { name, commonName: placement.address, nodes: [placement] });
    this.caCertificate = certificates.values[CERTIFICATE_KEYS.ca];

    const image = new Image(this, 'Image', { name: MINIO_IMAGE, keepLocally: true });
    const data = new Volume(this, 'Data', { name: `${name}-data` });
    const credentials = [`MINIO_ROOT_USER=${accessKey}`, `MINIO_ROOT_PASSWORD=${secretKey}`];
    this.server = new Container(this, 'Server', {
      name,
      image: image.imageId,
      hostname: placement.name,
      command: ['server', '/data', '--address', `:${MINIO_PORT}`, '--certs-dir', MINIO_CERTS_DIR],
      env: credentials,
      networksAdvanced: [{ name: networkName, ipv4Address: placement.address }],
      volumes: [{ volumeName: data.name, containerPath: '/data' }],
      upload: [
        { file: `${MINIO_CERTS_DIR}/public.crt`, content: certificates.values[CERTIFICATE_KEYS.certificate], permissions: '0644' },
        { file: `${MINIO_CERTS_DIR}/private.key`, content: certificates.values[CERTIFICATE_KEYS.key], permissions: '0600' },
      ],
      restart: 'unless-stopped',
    });

    const script = createBucketScript(`https://${placement.address}:${MINIO_PORT}`, this.bucket);
    const clientImage = new Image(this, 'ClientImage', { name: MINIO_CLIENT_IMAGE, keepLocally: true });
    this.bucketCreated = new Container(this, 'CreateBucket', {
      name: `${name}-create-bucket`,
      image: clientImage.imageId,
      entrypoint: ['/bin/sh', '-c'],
      command: [escapeTerraform(script)],
      env: credentials,
      networksAdvanced: [{ name: networkName }],
      upload: [{ file: `${MC_CONFIG_DIR}/certs/CAs/archive-ca.crt`, content: this.caCertificate, permissions: '0644' }],
      // Runs once; terraform waits for it to exit before it creates the nodes' containers. The
      // provider does not fail the apply on a non-zero exit: if the bucket cannot be made, its log
      // says why, and the nodes' archiving fails visibly (pg_stat_archiver, the backup alerts).
      attach: true,
      logs: true,
      mustRun: false,
      restart: 'no',
      dependsOn: [this.server],
    });

    this.options = {
      type: 's3',
      's3-endpoint': placement.address,
      'storage-port': String(MINIO_PORT),
      's3-bucket': this.bucket,
      's3-region': MINIO_REGION,
      's3-uri-style': 'path',
      'storage-ca-file': this.caPath,
      path: spec.repositoryPath,
    };
    this.locationVariables = { PGBACKREST_REPO1_S3_KEY: accessKey, PGBACKREST_REPO1_S3_KEY_SECRET: secretKey };
    this.description = `s3://${this.bucket}${spec.repositoryPath} on MinIO at ${placement.address}:${MINIO_PORT} (container ${name})`;
  }

  /** Groups whose nodes use the archive: they get the CA and start after the bucket exists. */
  get groups(): readonly NodeGroup[] {
    return this.grantedGroups;
  }

  grant(group: NodeGroup): void {
    // One MinIO account for the repository: every granted group reaches the whole bucket (no IAM here).
    this.grantedGroups.push(group);
  }
}
