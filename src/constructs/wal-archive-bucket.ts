import { Construct } from 'constructs';
import { ArchiveRepository, NodeGroup, Platform, SecretRef } from '../platform/platform';
import { PGBACKREST_CIPHER_VARIABLE } from '../render/pgbackrest-config';
import { PLATFORM, checkReference, propsObject } from './references';
import { claimName } from './stack-claims';
import { ReplicaStorageClass, WalArchiveBucketSpec, WalArchiveBucketSpecInput, archiveSecretName, validateWalArchiveBucketSpec } from '../spec/wal-archive-bucket';

export interface WalArchiveBucketProps {
  /** Where the repository lives: an S3 bucket on AWS, a directory or local S3 server on the local platform. */
  readonly platform: Platform;
  /** Prefix of the bucket's name and of its key's alias: 1-25 of a-z, 0-9 and "-". */
  readonly name: string;
  /** Folder of the pgBackRest repository in the bucket (repo1-path). @default "/pgbackrest" */
  readonly repositoryPath?: string;
  /** The recovery window: how long backups and WAL are kept (the BackupJob's default retention). @default 14 */
  readonly retentionDays?: number;
  /** Overwritten or deleted object versions are kept this long. @default 30 */
  readonly noncurrentVersionDays?: number;
  /** Unfinished multipart uploads are removed after this many days. @default 7 */
  readonly abortIncompleteUploadDays?: number;
  /** S3 Object Lock in governance mode for this many days, at most retentionDays. @default - no object lock */
  readonly objectLockDays?: number;
  /** Let `terraform destroy` delete the (empty) bucket; objects are never force-deleted. @default false */
  readonly allowDestroy?: boolean;
  /**
   * AWS region of an offsite copy (S3 cross-region replication of the repository folder) into a
   * bucket with the same protections and its own KMS key there. Ignored on the local platform.
   * Objects already in the archive when it is turned on are not copied; later backups and WAL are.
   * @default - no copy
   */
  readonly replicaRegion?: string;
  /**
   * Storage class of the offsite copy: "STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING" or "GLACIER_IR"
   * (classes pgBackRest reads without a restore request). Only with replicaRegion.
   * @default "STANDARD_IA"
   */
  readonly replicaStorageClass?: ReplicaStorageClass;
}

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
const propsMatchSpec: [Required<Omit<WalArchiveBucketProps, 'platform'>>] extends [Required<WalArchiveBucketSpecInput>] ? true : never = true;
void propsMatchSpec;

/** The secret's key holding the repository passphrase. */
const PASSPHRASE_KEY = 'cipher_pass';

/**
 * A pgBackRest repository for WAL archives and backups, encrypted by pgBackRest with a generated
 * passphrase (aes-256-cbc) on top of the storage's own encryption. Clusters given this archive
 * archive into it, each in a stanza named after the cluster.
 */
export class WalArchiveBucket extends Construct {
  readonly spec: WalArchiveBucketSpec;
  readonly repository: ArchiveRepository;
  /** The passphrase and, where the platform needs it, the repository's location; nodes read it at boot. */
  readonly secret: SecretRef;
  /** Environment variable -> key of `secret`, for the nodes' pgBackRest environment file. */
  readonly secretVariables: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: WalArchiveBucketProps) {
    super(scope, id);
    const { platform, ...specInput } = propsObject('WalArchiveBucket spec', this.node.path, props);
    this.spec = validateWalArchiveBucketSpec(specInput, this.node.path, { problems: checkReference('platform', platform, PLATFORM), props: ['platform'] });
    claimName({ specName: 'WalArchiveBucket spec', construct: this }, 'archive name', this.spec.name, 'name');
    this.repository = platform.createArchiveRepository(this, 'Repository', this.spec);
    const locationKeys = Object.fromEntries(Object.keys(this.repository.locationVariables).map((variable) => [variable, variable.toLowerCase().replace(/^pgbackrest_/, '')]));
    const fixedValues = Object.fromEntries(Object.entries(this.repository.locationVariables).map(([variable, value]) => [locationKeys[variable], value]));
    this.secret = platform.createSecret(this, 'Secret', archiveSecretName(this.spec), [PASSPHRASE_KEY], fixedValues);
    this.secretVariables = { [PGBACKREST_CIPHER_VARIABLE]: PASSPHRASE_KEY, ...locationKeys };
  }

  /** Identity of the repository, to tell whether two clusters share it. */
  get archiveId(): string {
    return `${this.node.path}${this.spec.repositoryPath}`;
  }

  /** Lets a group of nodes read and write the repository. */
  grant(group: NodeGroup): void {
    this.repository.grant(group);
  }
}
