import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { AwsArchiveBucket } from '../../../src/platform/aws/archive-bucket';
import { AwsNodeGroup } from '../../../src/platform/aws/node-group';
import { LocalArchiveRepository } from '../../../src/platform/local/archive-store';
import { SpecError } from '../../../src/spec/problems';
import { TerraformOutput, TerraformStack } from '../../../src/cdktf';
import { validateWalArchiveBucketSpec } from '../../../src/spec/wal-archive-bucket';
import { awsTestStack, resourcesOf, synthesize } from '../../support/aws-stack';

/** Attributes as the synthesized JSON shows them: through outputs, as a stack author would use them. */
function synthesizedValues(archive: AwsArchiveBucket, values: Record<string, string | undefined>): Record<string, unknown> {
  const stack = TerraformStack.of(archive);
  for (const [name, value] of Object.entries(values)) new TerraformOutput(stack, name, { value });
  const output = synthesize(stack).output ?? {};
  return Object.fromEntries(Object.keys(values).map((name) => [name, output[name]?.value]));
}

function archiveStack(input: Record<string, unknown> = {}) {
  const { stack, platform } = awsTestStack();
  const archive = new AwsArchiveBucket(stack, 'Archive', validateWalArchiveBucketSpec({ name: 'orders', ...input }));
  return { stack, platform, archive };
}

const statementsOf = (synth: ReturnType<typeof synthesize>, nameHas: string) =>
  Object.entries(synth.data.aws_iam_policy_document)
    .filter(([name]) => name.includes(nameHas))
    .flatMap(([, document]) => document.statement as Record<string, unknown>[]);

describe('AwsArchiveBucket', () => {
  describe('GIVEN the defaults', () => {
    let synth: ReturnType<typeof synthesize>;
    beforeEach(() => {
      synth = synthesize(archiveStack().stack);
    });

    test('THEN the bucket keeps its objects and refuses terraform destroy', () => {
      const [bucket] = resourcesOf(synth, 'aws_s3_bucket');
      expect(bucket).toMatchObject({ bucket_prefix: 'orders-archive-', force_destroy: false, lifecycle: { prevent_destroy: true } });
      expect(bucket.object_lock_enabled).toBeUndefined();
    });

    test('THEN it is versioned and encrypted with its own rotating KMS key', () => {
      expect(resourcesOf(synth, 'aws_s3_bucket_versioning')[0]).toMatchObject({ versioning_configuration: { status: 'Enabled' } });
      expect(resourcesOf(synth, 'aws_kms_key')[0]).toMatchObject({ enable_key_rotation: true });
      const [encryption] = resourcesOf(synth, 'aws_s3_bucket_server_side_encryption_configuration');
      expect(encryption.rule).toEqual([
        {
          apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: expect.stringMatching(/aws_kms_key\.Archive_Key.*\.arn/) },
          bucket_key_enabled: true,
        },
      ]);
    });

    test('THEN all four public-access blocks are on and ACLs are disabled (owner enforced)', () => {
      expect(resourcesOf(synth, 'aws_s3_bucket_public_access_block')[0]).toMatchObject({
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      });
      expect(resourcesOf(synth, 'aws_s3_bucket_ownership_controls')[0]).toMatchObject({ rule: { object_ownership: 'BucketOwnerEnforced' } });
    });

    test('THEN the bucket policy denies every request without TLS, and TLS below 1.2', () => {
      const statements = statementsOf(synth, 'TlsOnly');
      expect(statements.map((s) => [s.effect, s.actions, s.condition])).toEqual([
        ['Deny', ['s3:*'], [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }]],
        ['Deny', ['s3:*'], [{ test: 'NumericLessThan', variable: 's3:TlsVersion', values: ['1.2'] }]],
      ]);
      expect(resourcesOf(synth, 'aws_s3_bucket_policy')).toHaveLength(1);
    });

    test('THEN the lifecycle aborts incomplete uploads and expires only noncurrent versions', () => {
      const [lifecycle] = resourcesOf(synth, 'aws_s3_bucket_lifecycle_configuration');
      const rules = lifecycle.rule as Record<string, unknown>[];
      expect(rules.map((r) => r.id)).toEqual(['abort-incomplete-uploads', 'expire-noncurrent-versions']);
      expect(rules[0].abort_incomplete_multipart_upload).toEqual([{ days_after_initiation: 7 }]);
      expect(rules[1].noncurrent_version_expiration).toEqual([{ noncurrent_days: 30 }]);
      for (const rule of rules) expect(rule.expiration).toBeUndefined();
    });
  });

  test('GIVEN object lock WHEN synthesized THEN the bucket has it on, in governance mode for the given days', () => {
    const synth = synthesize(archiveStack({ objectLockDays: 7, retentionDays: 14 }).stack);
    expect(resourcesOf(synth, 'aws_s3_bucket')[0].object_lock_enabled).toBe(true);
    expect(resourcesOf(synth, 'aws_s3_bucket_object_lock_configuration')[0]).toMatchObject({
      rule: { default_retention: { mode: 'GOVERNANCE', days: 7 } },
    });
  });

  test('GIVEN allowDestroy WHEN synthesized THEN destroy is allowed but objects are still never force-deleted', () => {
    const [bucket] = resourcesOf(synthesize(archiveStack({ allowDestroy: true }).stack), 'aws_s3_bucket');
    expect(bucket).toMatchObject({ force_destroy: false, lifecycle: { prevent_destroy: false } });
  });

  test('WHEN a node group is granted the archive THEN it gets exactly the pgBackRest permissions on its path and the key', () => {
    const { stack, platform, archive } = archiveStack({ repositoryPath: '/pgbackrest/orders' });
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform });
    archive.grantArchive(cluster.nodes as AwsNodeGroup);
    const synth = synthesize(stack);
    const statements = statementsOf(synth, 'Grant-orders-pg');
    expect(statements.map((s) => s.sid)).toEqual(['ListRepository', 'ReadWriteRepository', 'UseRepositoryKey']);
    expect(statements[0]).toMatchObject({
      actions: ['s3:ListBucket'],
      resources: [expect.stringMatching(/aws_s3_bucket\.Archive.*\.arn\}$/)],
      condition: [{ test: 'StringLike', variable: 's3:prefix', values: ['pgbackrest/orders', 'pgbackrest/orders/*'] }],
    });
    expect(statements[1].actions).toEqual(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:PutObjectTagging', 's3:GetObjectVersion']);
    expect(statements[1].resources).toEqual([expect.stringMatching(/\.arn\}\/pgbackrest\/orders\/\*$/)]);
    expect(statements[2]).toMatchObject({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [expect.stringMatching(/aws_kms_key/)] });
    for (const statement of statements) expect(JSON.stringify(statement)).not.toMatch(/"s3:\*"|"\*"/);
    const grants = resourcesOf(synth, 'aws_iam_role_policy').filter((p) => String(p.policy).includes('Grant-orders-pg'));
    expect(grants.map((p) => p.role)).toEqual([expect.stringMatching(/aws_iam_role\.Cluster_Nodes_Role/)]);
  });
});

/** Resources of `type` under the Replica construct (the offsite copy and its replication). */
const replicaOf = (synth: ReturnType<typeof synthesize>, type: string) =>
  Object.entries(synth.resource?.[type] ?? {})
    .filter(([name]) => name.startsWith('Archive_Replica_'))
    .map(([, config]) => config);
const sourceOf = (synth: ReturnType<typeof synthesize>, type: string) =>
  Object.entries(synth.resource?.[type] ?? {})
    .filter(([name]) => !name.startsWith('Archive_Replica_'))
    .map(([, config]) => config);

/** The regional resource types of a protected bucket: each must be in the copy's region. */
const REGIONAL_TYPES = [
  'aws_kms_key',
  'aws_kms_alias',
  'aws_s3_bucket',
  'aws_s3_bucket_versioning',
  'aws_s3_bucket_server_side_encryption_configuration',
  'aws_s3_bucket_public_access_block',
  'aws_s3_bucket_ownership_controls',
  'aws_s3_bucket_policy',
  'aws_s3_bucket_lifecycle_configuration',
];

describe('AwsArchiveBucket offsite copy', () => {
  describe('GIVEN replicaRegion "eu-central-1" and the other defaults', () => {
    let synth: ReturnType<typeof synthesize>;
    let archive: AwsArchiveBucket;
    beforeEach(() => {
      const built = archiveStack({ replicaRegion: 'eu-central-1' });
      archive = built.archive;
      synth = synthesize(built.stack);
    });

    test('THEN every resource of the copy is in eu-central-1 through the stack provider (no aliased provider), and the source stays in the provider region', () => {
      for (const type of REGIONAL_TYPES) {
        expect(replicaOf(synth, type)).toHaveLength(1);
        for (const resource of replicaOf(synth, type)) expect(resource).toMatchObject({ region: 'eu-central-1' });
        for (const resource of [...replicaOf(synth, type), ...sourceOf(synth, type)]) expect(resource.provider).toBeUndefined();
        for (const resource of sourceOf(synth, type)) expect(resource.region).toBeUndefined();
      }
      expect(resourcesOf(synth, 'aws_s3_bucket_replication_configuration')[0].region).toBeUndefined();
      // One provider block: the stack's own (credentials, assume_role, default tags apply to the copy too).
      expect((synth as unknown as { provider: { aws: unknown[] } }).provider.aws).toEqual([{ region: 'eu-west-1' }]);
    });

    test('THEN the copy keeps its objects, refuses terraform destroy, and is named apart from the source', () => {
      const [bucket] = replicaOf(synth, 'aws_s3_bucket');
      expect(bucket).toMatchObject({
        bucket_prefix: 'orders-replica-',
        force_destroy: false,
        lifecycle: { prevent_destroy: true },
        tags: { 'pgha:archive': 'orders', 'pgha:archive-copy': 'replica' },
      });
      expect(bucket.object_lock_enabled).toBeUndefined();
      expect(sourceOf(synth, 'aws_s3_bucket')[0]).toMatchObject({ bucket_prefix: 'orders-archive-' });
    });

    test('THEN the copy is versioned and encrypted with its own rotating key in its region, with an S3 Bucket Key', () => {
      expect(replicaOf(synth, 'aws_s3_bucket_versioning')[0]).toMatchObject({
        bucket: expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_Replica_[A-F0-9]+\.id\}$/),
        versioning_configuration: { status: 'Enabled' },
      });
      expect(replicaOf(synth, 'aws_kms_key')[0]).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30, region: 'eu-central-1' });
      expect(replicaOf(synth, 'aws_kms_alias')[0]).toMatchObject({ name: 'alias/pgha/orders-archive-replica' });
      expect(replicaOf(synth, 'aws_kms_key')[0].policy).toBeUndefined();
      const [encryption] = replicaOf(synth, 'aws_s3_bucket_server_side_encryption_configuration');
      expect(encryption.rule).toEqual([
        {
          apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: expect.stringMatching(/^\$\{aws_kms_key\.Archive_Replica_Key_[A-F0-9]+\.arn\}$/) },
          bucket_key_enabled: true,
        },
      ]);
    });

    test('THEN the copy blocks public access, disables ACLs, and denies requests without TLS 1.2', () => {
      expect(replicaOf(synth, 'aws_s3_bucket_public_access_block')[0]).toMatchObject({
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      });
      expect(replicaOf(synth, 'aws_s3_bucket_ownership_controls')[0]).toMatchObject({ rule: { object_ownership: 'BucketOwnerEnforced' } });
      const statements = statementsOf(synth, 'Archive_Replica_TlsOnly');
      expect(statements.map((s) => [s.effect, s.actions, s.resources, s.condition])).toEqual([
        ['Deny', ['s3:*'], [expect.stringMatching(/Archive_Replica_[A-F0-9]+\.arn\}$/), expect.stringMatching(/Archive_Replica_[A-F0-9]+\.arn\}\/\*$/)], [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }]],
        ['Deny', ['s3:*'], [expect.stringMatching(/Archive_Replica_[A-F0-9]+\.arn\}$/), expect.stringMatching(/Archive_Replica_[A-F0-9]+\.arn\}\/\*$/)], [{ test: 'NumericLessThan', variable: 's3:TlsVersion', values: ['1.2'] }]],
      ]);
      expect(replicaOf(synth, 'aws_s3_bucket_policy')[0].policy).toMatch(/Archive_Replica_TlsOnlyDocument/);
    });

    test('THEN the copy has the source lifecycle: replicated delete markers make versions noncurrent, which then expire', () => {
      const [lifecycle] = replicaOf(synth, 'aws_s3_bucket_lifecycle_configuration');
      expect(lifecycle.rule).toEqual(sourceOf(synth, 'aws_s3_bucket_lifecycle_configuration')[0].rule);
      const rules = lifecycle.rule as Record<string, unknown>[];
      expect(rules.map((r) => r.id)).toEqual(['abort-incomplete-uploads', 'expire-noncurrent-versions']);
      expect(rules[1].noncurrent_version_expiration).toEqual([{ noncurrent_days: 30 }]);
      for (const rule of rules) expect(rule.expiration).toBeUndefined();
    });

    test('THEN S3 assumes the replication role, and only S3', () => {
      const [trust] = statementsOf(synth, 'Archive_Replica_AssumeRoleDocument');
      expect(trust).toEqual({ actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['s3.amazonaws.com'] }] });
      const [role] = replicaOf(synth, 'aws_iam_role');
      expect(role).toMatchObject({ name_prefix: 'orders-replication-', assume_role_policy: expect.stringMatching(/Archive_Replica_AssumeRoleDocument.*\.json\}$/) });
      expect(replicaOf(synth, 'aws_iam_role_policy')).toEqual([
        { role: expect.stringMatching(/^\$\{aws_iam_role\.Archive_Replica_Role_[A-F0-9]+\.id\}$/), policy: expect.stringMatching(/Archive_Replica_PermissionsDocument.*\.json\}$/) },
      ]);
    });

    test('THEN the role may read the repository folder of the source, write it in the copy, decrypt the source key and use the copy key: nothing else', () => {
      const source = String.raw`\$\{aws_s3_bucket\.Archive_[A-F0-9]+\.arn\}`;
      const copy = String.raw`\$\{aws_s3_bucket\.Archive_Replica_[A-F0-9]+\.arn\}`;
      expect(statementsOf(synth, 'Archive_Replica_PermissionsDocument')).toEqual([
        { sid: 'ReadReplicationConfiguration', actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resources: [expect.stringMatching(new RegExp(`^${source}$`))] },
        {
          sid: 'ReadRepositoryVersions',
          actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging'],
          resources: [expect.stringMatching(new RegExp(`^${source}/pgbackrest/\\*$`))],
        },
        { sid: 'WriteCopy', actions: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags'], resources: [expect.stringMatching(new RegExp(`^${copy}/pgbackrest/\\*$`))] },
        { sid: 'DecryptSource', actions: ['kms:Decrypt'], resources: [expect.stringMatching(/^\$\{aws_kms_key\.Archive_Key_[A-F0-9]+\.arn\}$/)] },
        { sid: 'EncryptCopy', actions: ['kms:Encrypt', 'kms:Decrypt'], resources: [expect.stringMatching(/^\$\{aws_kms_key\.Archive_Replica_Key_[A-F0-9]+\.arn\}$/)] },
      ]);
    });

    test('THEN one rule copies the repository folder, delete markers included, SSE-KMS objects re-encrypted with the copy key, to Standard-IA', () => {
      const configurations = resourcesOf(synth, 'aws_s3_bucket_replication_configuration');
      expect(configurations).toHaveLength(1);
      const [configuration] = configurations;
      expect(configuration.bucket).toMatch(/^\$\{aws_s3_bucket\.Archive_[A-F0-9]+\.id\}$/);
      expect(configuration.role).toMatch(/^\$\{aws_iam_role\.Archive_Replica_Role_[A-F0-9]+\.arn\}$/);
      expect(configuration.rule).toEqual([
        {
          id: 'offsite-copy',
          status: 'Enabled',
          priority: 1,
          filter: { prefix: 'pgbackrest/' },
          delete_marker_replication: { status: 'Enabled' },
          source_selection_criteria: { sse_kms_encrypted_objects: { status: 'Enabled' } },
          destination: {
            bucket: expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_Replica_[A-F0-9]+\.arn\}$/),
            storage_class: 'STANDARD_IA',
            encryption_configuration: { replica_kms_key_id: expect.stringMatching(/^\$\{aws_kms_key\.Archive_Replica_Key_[A-F0-9]+\.arn\}$/) },
          },
        },
      ]);
    });

    test('THEN the replication waits for both versionings and for the role policy', () => {
      const [configuration] = resourcesOf(synth, 'aws_s3_bucket_replication_configuration');
      expect(configuration.depends_on).toEqual([
        expect.stringMatching(/^aws_s3_bucket_versioning\.Archive_Versioning_[A-F0-9]+$/),
        expect.stringMatching(/^aws_s3_bucket_versioning\.Archive_Replica_Versioning_[A-F0-9]+$/),
        expect.stringMatching(/^aws_iam_role_policy\.Archive_Replica_Permissions_[A-F0-9]+$/),
      ]);
    });

    test('THEN the copy is exposed: region, bucket name and ARN, key ARN; the description names it', () => {
      expect(archive.replicaRegion).toBe('eu-central-1');
      expect(
        synthesizedValues(archive, {
          replica_bucket_name: archive.replicaBucketName,
          replica_bucket_arn: archive.replicaBucketArn,
          replica_kms_key_arn: archive.replicaKmsKeyArn,
          source_bucket_name: archive.locationVariables.PGBACKREST_REPO1_S3_BUCKET,
        }),
      ).toEqual({
        replica_bucket_name: expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_Replica_[A-F0-9]+\.bucket\}$/),
        replica_bucket_arn: expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_Replica_[A-F0-9]+\.arn\}$/),
        replica_kms_key_arn: expect.stringMatching(/^\$\{aws_kms_key\.Archive_Replica_Key_[A-F0-9]+\.arn\}$/),
        // The nodes keep writing to the source: the copy is S3's job.
        source_bucket_name: expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_[A-F0-9]+\.bucket\}$/),
      });
      expect(archive.description).toBe('s3://orders-archive-*/pgbackrest, copied to s3://orders-replica-*/pgbackrest in eu-central-1');
    });
  });

  test('GIVEN object lock and a copy WHEN synthesized THEN the copy has the same lock, and the role reads retention and legal holds', () => {
    const synth = synthesize(archiveStack({ replicaRegion: 'us-east-2', objectLockDays: 7, retentionDays: 14 }).stack);
    expect(replicaOf(synth, 'aws_s3_bucket')[0]).toMatchObject({ object_lock_enabled: true, region: 'us-east-2' });
    expect(replicaOf(synth, 'aws_s3_bucket_object_lock_configuration')).toEqual([
      {
        bucket: expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_Replica_[A-F0-9]+\.id\}$/),
        region: 'us-east-2',
        rule: { default_retention: { mode: 'GOVERNANCE', days: 7 } },
      },
    ]);
    expect(replicaOf(synth, 'aws_s3_bucket_object_lock_configuration')[0].rule).toEqual(sourceOf(synth, 'aws_s3_bucket_object_lock_configuration')[0].rule);
    const statements = statementsOf(synth, 'Archive_Replica_PermissionsDocument');
    expect(statements.map((s) => s.sid)).toEqual(['ReadReplicationConfiguration', 'ReadRepositoryVersions', 'ReadRepositoryLocks', 'WriteCopy', 'DecryptSource', 'EncryptCopy']);
    expect(statements[2]).toEqual({
      sid: 'ReadRepositoryLocks',
      actions: ['s3:GetObjectRetention', 's3:GetObjectLegalHold'],
      resources: [expect.stringMatching(/^\$\{aws_s3_bucket\.Archive_[A-F0-9]+\.arn\}\/pgbackrest\/\*$/)],
    });
  });

  test('GIVEN a repository path, a storage class and allowDestroy WHEN synthesized THEN the rule and grants follow the path, the class is used, and destroy is allowed on both buckets', () => {
    const synth = synthesize(
      archiveStack({ replicaRegion: 'ap-southeast-2', repositoryPath: '/pgbackrest/orders', replicaStorageClass: 'GLACIER_IR', allowDestroy: true }).stack,
    );
    const [rule] = resourcesOf(synth, 'aws_s3_bucket_replication_configuration')[0].rule as Record<string, Record<string, unknown>>[];
    expect(rule.filter).toEqual({ prefix: 'pgbackrest/orders/' });
    expect(rule.destination.storage_class).toBe('GLACIER_IR');
    const statements = statementsOf(synth, 'Archive_Replica_PermissionsDocument');
    expect(statements.find((s) => s.sid === 'ReadRepositoryVersions')!.resources).toEqual([expect.stringMatching(/\.arn\}\/pgbackrest\/orders\/\*$/)]);
    expect(statements.find((s) => s.sid === 'WriteCopy')!.resources).toEqual([expect.stringMatching(/Archive_Replica_[A-F0-9]+\.arn\}\/pgbackrest\/orders\/\*$/)]);
    for (const bucket of resourcesOf(synth, 'aws_s3_bucket')) expect(bucket).toMatchObject({ force_destroy: false, lifecycle: { prevent_destroy: false } });
  });

  test('GIVEN the longest name WHEN synthesized THEN the generated-name prefixes stay within the provider limits (bucket 37, role 38)', () => {
    const name = 'a234567890123456789012345';
    const synth = synthesize(archiveStack({ name, replicaRegion: 'eu-central-1' }).stack);
    expect(String(replicaOf(synth, 'aws_s3_bucket')[0].bucket_prefix).length).toBeLessThanOrEqual(37);
    expect(String(replicaOf(synth, 'aws_iam_role')[0].name_prefix).length).toBeLessThanOrEqual(38);
  });

  test('GIVEN no replicaRegion WHEN synthesized THEN there is no copy, no role and no replication, and nothing is exposed', () => {
    const { stack, archive } = archiveStack();
    const synth = synthesize(stack);
    expect(resourcesOf(synth, 'aws_s3_bucket_replication_configuration')).toEqual([]);
    expect(resourcesOf(synth, 'aws_iam_role')).toEqual([]);
    expect(resourcesOf(synth, 'aws_iam_role_policy')).toEqual([]);
    expect(resourcesOf(synth, 'aws_s3_bucket')).toHaveLength(1);
    expect(resourcesOf(synth, 'aws_kms_key')).toHaveLength(1);
    for (const type of REGIONAL_TYPES) for (const resource of resourcesOf(synth, type)) expect(resource.region).toBeUndefined();
    expect([archive.replicaRegion, archive.replicaBucketName, archive.replicaBucketArn, archive.replicaKmsKeyArn]).toEqual([undefined, undefined, undefined, undefined]);
    expect(archive.description).toBe('s3://orders-archive-*/pgbackrest');
  });

  test('GIVEN replicaRegion on the local platform THEN the local repository is the same as without it (loopback has no second region)', () => {
    const store = { type: 'posix', dir: '/tmp/pgha-archives' } as const;
    const withCopy = new LocalArchiveRepository(store, validateWalArchiveBucketSpec({ name: 'orders', replicaRegion: 'eu-central-1', replicaStorageClass: 'STANDARD' }));
    const without = new LocalArchiveRepository(store, validateWalArchiveBucketSpec({ name: 'orders' }));
    expect(withCopy.options).toEqual({ type: 'posix', path: '/tmp/pgha-archives/orders/pgbackrest' });
    expect([withCopy.options, withCopy.locationVariables, withCopy.description]).toEqual([without.options, without.locationVariables, without.description]);
  });
});

describe('WalArchiveBucket spec', () => {
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['object lock longer than retention', { objectLockDays: 30, retentionDays: 14 }, 'objectLockDays', /at most retentionDays \(14\)/],
    ['a relative repository path', { repositoryPath: 'pgbackrest' }, 'repositoryPath', /an absolute path/],
    ['a repository path ending in "/"', { repositoryPath: '/pgbackrest/' }, 'repositoryPath', /not ending in "\/"/],
    ['zero retention days', { retentionDays: 0 }, 'retentionDays', /at least 1 days/],
    ['an upper-case name', { name: 'Orders' }, 'name', /lower-case letters/],
  ])('fails with %s', (_what, input, path, message) => {
    let error: unknown;
    try {
      validateWalArchiveBucketSpec({ name: 'orders', ...input });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).problems.map((p) => p.path)).toContain(path);
    expect((error as SpecError).message).toMatch(message);
  });
});
