import { z } from 'zod';
import { optIn, resourceName, wholeNumber } from './common';
import { CrossFieldRule, expectation, validateSpec, OutsideProps } from './validate';

export { AWS_REGION_PATTERN } from './aws-region';
import { AWS_REGION_PATTERN } from './aws-region';

/**
 * Storage classes the offsite copy may use: those pgBackRest can read straight away. GLACIER and
 * DEEP_ARCHIVE need a restore request before a GET, and ONEZONE_IA keeps one zone's copy only.
 */
export const REPLICA_STORAGE_CLASSES = ['STANDARD', 'STANDARD_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR'] as const;
export type ReplicaStorageClass = (typeof REPLICA_STORAGE_CLASSES)[number];

/**
 * The copy is read only in a disaster, and its objects live retentionDays plus noncurrentVersionDays
 * (44 days by default), past Standard-IA's 30-day minimum: infrequent access is the cheap fit.
 */
export const DEFAULT_REPLICA_STORAGE_CLASS: ReplicaStorageClass = 'STANDARD_IA';

export const walArchiveBucketSchema = z.object({
  /** Prefix of the bucket name (S3 adds a unique suffix) and of the key's alias. */
  name: resourceName,
  /** Folder of the pgBackRest repository in the bucket (pgBackRest's repo1-path). */
  repositoryPath: z
    .string(expectation('a path such as "/pgbackrest"', 'give the repository folder'))
    .regex(
      /^\/[a-z0-9][a-z0-9_/-]*[a-z0-9]$/,
      expectation('an absolute path of lower-case letters, digits, "_", "-" and "/", not ending in "/"', 'use e.g. "/pgbackrest/main"'),
    )
    .default('/pgbackrest'),
  /** How long pgBackRest keeps backups (its expire owns retention, not S3). */
  retentionDays: wholeNumber('days', 1, 3650, 14).default(14),
  /** Overwritten or deleted object versions are kept this long, to recover from mistakes. */
  noncurrentVersionDays: wholeNumber('days', 1, 3650, 30).default(30),
  abortIncompleteUploadDays: wholeNumber('days', 1, 365, 7).default(7),
  /** S3 Object Lock in governance mode for this many days; none when unset. */
  objectLockDays: wholeNumber('days', 1, 3650, 7).optional(),
  /** Let `terraform destroy` remove the bucket (never its objects: force_destroy stays off). */
  allowDestroy: optIn(),
  /** AWS region of an offsite copy of the repository (S3 cross-region replication); none when unset. */
  replicaRegion: z
    .string(expectation('an AWS region code such as "eu-central-1"', 'give the region of the offsite copy'))
    .regex(
      AWS_REGION_PATTERN,
      expectation(
        'an AWS region code such as "eu-central-1"',
        'use the region code, not an availability zone ("eu-central-1", not "eu-central-1a") nor a display name',
      ),
    )
    .optional(),
  /** Storage class of the offsite copy; only with replicaRegion. The AWS platform defaults it to STANDARD_IA. */
  replicaStorageClass: z
    .enum(
      REPLICA_STORAGE_CLASSES,
      expectation(
        '"STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING" or "GLACIER_IR" (classes pgBackRest can read without a restore request)',
        'use "STANDARD_IA", or leave it unset',
      ),
    )
    .optional(),
});

export type WalArchiveBucketSpecInput = z.input<typeof walArchiveBucketSchema>;
export type WalArchiveBucketSpec = z.output<typeof walArchiveBucketSchema>;

export const walArchiveBucketRules: readonly CrossFieldRule<WalArchiveBucketSpec>[] = [
  {
    uses: ['objectLockDays', 'retentionDays'],
    check: (s) =>
      s.objectLockDays === undefined || s.objectLockDays <= s.retentionDays
        ? []
        : [
            {
              path: 'objectLockDays',
              given: s.objectLockDays,
              expected: `at most retentionDays (${s.retentionDays}): objects locked beyond the retention window outlive pgBackRest's expire`,
              fix: `set objectLockDays to ${s.retentionDays} or less, or raise retentionDays`,
            },
          ],
  },
  {
    uses: ['replicaStorageClass', 'replicaRegion'],
    check: (s) =>
      s.replicaStorageClass === undefined || s.replicaRegion !== undefined
        ? []
        : [
            {
              path: 'replicaStorageClass',
              given: s.replicaStorageClass,
              expected: 'a storage class only together with replicaRegion: without it there is no offsite copy to store',
              fix: 'set replicaRegion (e.g. "eu-central-1"), or remove replicaStorageClass',
            },
          ],
  },
];

export function validateWalArchiveBucketSpec(input: unknown, constructPath?: string, outside?: OutsideProps): WalArchiveBucketSpec {
  return validateSpec('WalArchiveBucket spec', walArchiveBucketSchema, walArchiveBucketRules, input, constructPath, outside);
}

/** The name of an archive's secret (passphrase, location): the same wherever the archive is used. */
export const archiveSecretName = (spec: Pick<WalArchiveBucketSpec, 'name'>) => `${spec.name}/archive`;
