import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { S3BucketObjectLockConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { ArchiveRepository, NodeGroup } from '../platform';
import { AwsNodeGroup } from './node-group';

/**
 * The S3 bucket that holds a pgBackRest repository: versioned, encrypted with a rotating KMS key,
 * closed to the public and to ACLs, reachable over TLS only, kept from `terraform destroy` unless
 * allowed. Retention is pgBackRest's job (`expire`): the lifecycle only cleans up what it leaves,
 * aborted uploads and old versions.
 */
export class AwsArchiveBucket extends Construct implements ArchiveRepository {
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly repositoryPath: string;
  readonly options: Readonly<Record<string, string>>;
  readonly locationVariables: Readonly<Record<string, string>>;
  readonly description: string;
  private readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, readonly spec: WalArchiveBucketSpec) {
    super(scope, id);
    this.repositoryPath = spec.repositoryPath;
    const key = new KmsKey(this, 'Key', {
      description: `pgBackRest repository ${spec.name}`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
    });
    new KmsAlias(this, 'KeyAlias', { name: `alias/pgha/${spec.name}-archive`, targetKeyId: key.keyId });
    this.kmsKeyArn = key.arn;

    this.bucket = new S3Bucket(this, 'Resource', {
      bucketPrefix: `${spec.name}-archive-`,
      forceDestroy: false,
      objectLockEnabled: spec.objectLockDays !== undefined ? true : undefined,
      lifecycle: { preventDestroy: !spec.allowDestroy },
      tags: { 'pgha:archive': spec.name },
    });
    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    this.options = {
      type: 's3',
      path: spec.repositoryPath,
      // The instance role's credentials, from the metadata service: no static keys anywhere.
      's3-key-type': 'auto',
      's3-uri-style': 'host',
    };
    // The bucket's name has a generated suffix and is known only once it exists: the nodes read it
    // (and its region) from the archive's secret at boot, so user data stays static text.
    this.locationVariables = {
      PGBACKREST_REPO1_S3_BUCKET: this.bucket.bucket,
      PGBACKREST_REPO1_S3_REGION: this.bucket.region,
      PGBACKREST_REPO1_S3_ENDPOINT: `s3.${this.bucket.region}.amazonaws.com`,
    };
    this.description = `s3://${spec.name}-archive-*${spec.repositoryPath}`;
    const bucket = this.bucket.id;

    new S3BucketVersioningA(this, 'Versioning', { bucket, versioningConfiguration: { status: 'Enabled' } });
    new S3BucketServerSideEncryptionConfigurationA(this, 'Encryption', {
      bucket,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.arn }, bucketKeyEnabled: true }],
    });
    new S3BucketPublicAccessBlock(this, 'PublicAccessBlock', {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, 'Ownership', { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } });
    const tlsOnly = new DataAwsIamPolicyDocument(this, 'TlsOnlyDocument', {
      statement: [
        {
          sid: 'DenyWithoutTls',
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['s3:*'],
          resources: [this.bucket.arn, `${this.bucket.arn}/*`],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
        {
          sid: 'DenyOldTls',
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['s3:*'],
          resources: [this.bucket.arn, `${this.bucket.arn}/*`],
          condition: [{ test: 'NumericLessThan', variable: 's3:TlsVersion', values: ['1.2'] }],
        },
      ],
    });
    new S3BucketPolicy(this, 'TlsOnly', { bucket, policy: tlsOnly.json });
    new S3BucketLifecycleConfiguration(this, 'Lifecycle', {
      bucket,
      rule: [
        {
          id: 'abort-incomplete-uploads',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: spec.abortIncompleteUploadDays }],
        },
        {
          id: 'expire-noncurrent-versions',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          noncurrentVersionExpiration: [{ noncurrentDays: spec.noncurrentVersionDays }],
        },
      ],
    });
    if (spec.objectLockDays !== undefined) {
      new S3BucketObjectLockConfigurationA(this, 'ObjectLock', {
        bucket,
        rule: { defaultRetention: { mode: 'GOVERNANCE', days: spec.objectLockDays } },
      });
    }
  }

  /**
   * Gives a node group exactly what pgBackRest needs on this repository: listing limited to its
   * path, object read/write/delete/tagging and version reads under it, and the key to encrypt
   * and decrypt. Nothing on other paths, nothing on the bucket's configuration.
   */
  grant(group: NodeGroup): void {
    if (!(group instanceof AwsNodeGroup)) {
      throw new Error(`AwsArchiveBucket ${this.node.path}: group "${group.groupName}" is not an AWS node group; put the archive and the cluster on the same platform.`);
    }
    this.grantArchive(group);
  }

  grantArchive(group: AwsNodeGroup): void {
    const path = this.repositoryPath.replace(/^\//, '');
    const document = new DataAwsIamPolicyDocument(this, `Grant-${group.groupName}`, {
      statement: [
        {
          sid: 'ListRepository',
          actions: ['s3:ListBucket'],
          resources: [this.bucketArn],
          condition: [{ test: 'StringLike', variable: 's3:prefix', values: [path, `${path}/*`] }],
        },
        {
          sid: 'ReadWriteRepository',
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:PutObjectTagging', 's3:GetObjectVersion'],
          resources: [`${this.bucketArn}/${path}/*`],
        },
        {
          sid: 'UseRepositoryKey',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [this.kmsKeyArn],
        },
      ],
    });
    new IamRolePolicy(this, `GrantPolicy-${group.groupName}`, { role: group.role.id, policy: document.json });
  }
}
