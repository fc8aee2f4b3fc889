import { z } from 'zod';
import { optIn, resourceName, wholeNumber } from './common';
import { CrossFieldRule, expectation, validateSpec } from './validate';

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
];

export function validateWalArchiveBucketSpec(input: unknown): WalArchiveBucketSpec {
  return validateSpec('WalArchiveBucket spec', walArchiveBucketSchema, walArchiveBucketRules, input);
}

/** The name of an archive's secret (passphrase, location): the same wherever the archive is used. */
export const archiveSecretName = (spec: Pick<WalArchiveBucketSpec, 'name'>) => `${spec.name}/archive`;
