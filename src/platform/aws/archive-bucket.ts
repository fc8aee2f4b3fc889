import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { S3BucketObjectLockConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketReplicationConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-replication-configuration';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { DEFAULT_REPLICA_STORAGE_CLASS, WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import { ArchiveRepository, NodeGroup } from '../platform';
import { AwsNodeGroup } from './node-group';

/** What makes a bucket fit to hold a pgBackRest repository, for the source and its offsite copy alike. */
interface ProtectedBucketOptions {
  readonly bucketPrefix: string;
  readonly keyDescription: string;
  readonly keyAlias: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Region of every regional resource (provider v6 per-resource region). @default - the provider's */
  readonly region?: string;
}

interface ProtectedBucket {
  readonly bucket: S3Bucket;
  readonly key: KmsKey;
  readonly versioning: S3BucketVersioningA;
}

/**
 * A bucket versioned, encrypted with its own rotating KMS key (default key policy: the account
 * root, which lets IAM policies grant its use), closed to the public and to ACLs, reachable over TLS
 * only, kept from `terraform destroy` unless allowed, with the repository's lifecycle and object
 * lock. The construct ids are the resource addresses: keep them.
 */
function protectedBucket(scope: Construct, spec: WalArchiveBucketSpec, options: ProtectedBucketOptions): ProtectedBucket {
  const { region } = options;
  const key = new KmsKey(scope, 'Key', {
    region,
    description: options.keyDescription,
    enableKeyRotation: true,
    deletionWindowInDays: 30,
  });
  new KmsAlias(scope, 'KeyAlias', { region, name: options.keyAlias, targetKeyId: key.keyId });

  const resource = new S3Bucket(scope, 'Resource', {
    region,
    bucketPrefix: options.bucketPrefix,
    forceDestroy: false,
    objectLockEnabled: spec.objectLockDays !== undefined ? true : undefined,
    lifecycle: { preventDestroy: !spec.allowDestroy },
    tags: { ...options.tags },
  });
  const bucket = resource.id;

  const versioning = new S3BucketVersioningA(scope, 'Versioning', { region, bucket, versioningConfiguration: { status: 'Enabled' } });
  new S3BucketServerSideEncryptionConfigurationA(scope, 'Encryption', {
    region,
    bucket,
    rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.arn }, bucketKeyEnabled: true }],
  });
  new S3BucketPublicAccessBlock(scope, 'PublicAccessBlock', {
    region,
    bucket,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  new S3BucketOwnershipControls(scope, 'Ownership', { region, bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } });
  const tlsOnly = new DataAwsIamPolicyDocument(scope, 'TlsOnlyDocument', {
    statement: [
      {
        sid: 'DenyWithoutTls',
        effect: 'Deny',
        principals: [{ type: '*', identifiers: ['*'] }],
        actions: ['s3:*'],
        resources: [resource.arn, `${resource.arn}/*`],
        condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
      },
      {
        sid: 'DenyOldTls',
        effect: 'Deny',
        principals: [{ type: '*', identifiers: ['*'] }],
        actions: ['s3:*'],
        resources: [resource.arn, `${resource.arn}/*`],
        condition: [{ test: 'NumericLessThan', variable: 's3:TlsVersion', values: ['1.2'] }],
      },
    ],
  });
  new S3BucketPolicy(scope, 'TlsOnly', { region, bucket, policy: tlsOnly.json });
  new S3BucketLifecycleConfiguration(scope, 'Lifecycle', {
    region,
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
    new S3BucketObjectLockConfigurationA(scope, 'ObjectLock', {
      region,
      bucket,
      rule: { defaultRetention: { mode: 'GOVERNANCE', days: spec.objectLockDays } },
    });
  }
  return { bucket: resource, key, versioning };
}

/**
 * The S3 bucket that holds a pgBackRest repository: versioned, encrypted with a rotating KMS key,
 * closed to the public and to ACLs, reachable over TLS only, kept from `terraform destroy` unless
 * allowed. Retention is pgBackRest's job (`expire`): the lifecycle only cleans up what it leaves,
 * aborted uploads and old versions.
 *
 * With `replicaRegion`, S3 replicates the repository to a bucket in that region with the same
 * protections and its own key there: an offsite copy that survives the loss of the source region.
 */
export class AwsArchiveBucket extends Construct implements ArchiveRepository {
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly kmsKeyArn: string;
  readonly repositoryPath: string;
  readonly options: Readonly<Record<string, string>>;
  readonly locationVariables: Readonly<Record<string, string>>;
  readonly description: string;
  /** Region of the offsite copy; undefined without replication. */
  readonly replicaRegion?: string;
  /** Name of the offsite copy's bucket (generated at apply time); undefined without replication. */
  readonly replicaBucketName?: string;
  readonly replicaBucketArn?: string;
  /** The key the offsite copy is encrypted with, in replicaRegion: restoring from the copy needs kms:Decrypt on it. */
  readonly replicaKmsKeyArn?: string;
  private readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, readonly spec: WalArchiveBucketSpec) {
    super(scope, id);
    this.repositoryPath = spec.repositoryPath;
    const source = protectedBucket(this, spec, {
      bucketPrefix: `${spec.name}-archive-`,
      keyDescription: `pgBackRest repository ${spec.name}`,
      keyAlias: `alias/pgha/${spec.name}-archive`,
      tags: { 'pgha:archive': spec.name },
    });
    this.bucket = source.bucket;
    this.kmsKeyArn = source.key.arn;
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
    const location = `s3://${spec.name}-archive-*${spec.repositoryPath}`;
    if (spec.replicaRegion === undefined) {
      this.description = location;
      return;
    }
    const replica = this.replicate(source, spec.replicaRegion);
    this.replicaRegion = spec.replicaRegion;
    this.replicaBucketName = replica.bucket.bucket;
    this.replicaBucketArn = replica.bucket.arn;
    this.replicaKmsKeyArn = replica.key.arn;
    this.description = `${location}, copied to s3://${spec.name}-replica-*${spec.repositoryPath} in ${spec.replicaRegion}`;
  }

  /**
   * The offsite copy: a bucket in `region` with the source's protections, an IAM role S3 assumes
   * to copy the repository's objects there, and the replication rule.
   * S3 copies objects written from then on: turning it on for an archive that already holds backups
   * copies none of them (that takes S3 Batch Replication), the next full backup and its WAL are.
   *
   * The replica's resources carry `region` (the AWS provider 6 per-resource region) rather than an
   * aliased provider made here: an aliased provider would have the region and nothing else, not the
   * stack provider's credentials, assume_role, allowed accounts or default tags, and could put the
   * copy in another account. The IAM role is global and needs no region.
   */
  private replicate(source: ProtectedBucket, region: string): ProtectedBucket {
    const spec = this.spec;
    const scope = new Construct(this, 'Replica');
    const replica = protectedBucket(scope, spec, {
      region,
      // At most 37 characters (Terraform adds 26): a 25-character name leaves 12, and "-archive-replica-" needs 17.
      bucketPrefix: `${spec.name}-replica-`,
      keyDescription: `pgBackRest repository ${spec.name}, offsite copy`,
      keyAlias: `alias/pgha/${spec.name}-archive-replica`,
      tags: { 'pgha:archive': spec.name, 'pgha:archive-copy': 'replica' },
    });

    const path = this.repositoryPath.replace(/^\//, '');
    const assume = new DataAwsIamPolicyDocument(scope, 'AssumeRoleDocument', {
      statement: [{ actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['s3.amazonaws.com'] }] }],
    });
    const role = new IamRole(scope, 'Role', {
      // At most 38 characters: 25 + 13.
      namePrefix: `${spec.name}-replication-`,
      description: `S3 copies pgBackRest repository ${spec.name} to ${region}`,
      assumeRolePolicy: assume.json,
    });
    const objectLockStatements =
      spec.objectLockDays === undefined
        ? []
        : [
            {
              // Replicating locked objects carries their retention to the copy: S3 reads it with these.
              sid: 'ReadRepositoryLocks',
              actions: ['s3:GetObjectRetention', 's3:GetObjectLegalHold'],
              resources: [`${source.bucket.arn}/${path}/*`],
            },
          ];
    const permissions = new DataAwsIamPolicyDocument(scope, 'PermissionsDocument', {
      statement: [
        {
          sid: 'ReadReplicationConfiguration',
          actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
          resources: [source.bucket.arn],
        },
        {
          sid: 'ReadRepositoryVersions',
          actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
          resources: [`${source.bucket.arn}/${path}/*`],
        },
        ...objectLockStatements,
        {
          sid: 'WriteCopy',
          actions: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags'],
          resources: [`${replica.bucket.arn}/${path}/*`],
        },
        {
          sid: 'DecryptSource',
          actions: ['kms:Decrypt'],
          resources: [source.key.arn],
        },
        {
          // kms:Encrypt writes the replicas; kms:Decrypt is how S3 checks the copy's S3 Bucket Key
          // before using it (AWS: "S3 Bucket Keys and replication"). Both keys keep the default key
          // policy, which lets IAM policies such as this one grant their use: nothing to add there.
          sid: 'EncryptCopy',
          actions: ['kms:Encrypt', 'kms:Decrypt'],
          resources: [replica.key.arn],
        },
      ],
    });
    const rolePolicy = new IamRolePolicy(scope, 'Permissions', { role: role.id, policy: permissions.json });

    new S3BucketReplicationConfigurationA(scope, 'Configuration', {
      bucket: this.bucket.id,
      role: role.arn,
      rule: [
        {
          id: 'offsite-copy',
          status: 'Enabled',
          priority: 1,
          // The repository's folder, as the nodes' grant: everything pgBackRest writes is under it.
          filter: { prefix: `${path}/` },
          // pgBackRest's expire deletes (without a version id) leave delete markers; replicating them
          // lets the copy's lifecycle expire what the source expires, or the copy would keep every
          // backup ever taken. The versions themselves stay noncurrentVersionDays on both sides, and
          // a delete of a specific version is never replicated: nobody can wipe the copy from the source.
          deleteMarkerReplication: { status: 'Enabled' },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: 'Enabled' } },
          destination: {
            bucket: replica.bucket.arn,
            storageClass: spec.replicaStorageClass ?? DEFAULT_REPLICA_STORAGE_CLASS,
            encryptionConfiguration: { replicaKmsKeyId: replica.key.arn },
          },
        },
      ],
      // S3 refuses a replication configuration until both buckets are versioned, and objects written
      // before the role may act are marked FAILED and never retried.
      dependsOn: [source.versioning, replica.versioning, rolePolicy],
    });
    return replica;
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

  /** @internal The AWS platform calls it. */
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
