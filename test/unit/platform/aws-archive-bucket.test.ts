import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { AwsArchiveBucket } from '../../../src/platform/aws/archive-bucket';
import { AwsNodeGroup } from '../../../src/platform/aws/node-group';
import { SpecError } from '../../../src/spec/problems';
import { validateWalArchiveBucketSpec } from '../../../src/spec/wal-archive-bucket';
import { awsTestStack, resourcesOf, synthesize } from '../../support/aws-stack';

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
