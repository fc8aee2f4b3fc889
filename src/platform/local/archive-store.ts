import { join } from 'node:path';
import { ArchiveRepository } from '../platform';
import { WalArchiveBucketSpec, archiveSecretName } from '../../spec/wal-archive-bucket';

/**
 * Where archives live on this machine: a directory (pgBackRest's posix repository type), or a local
 * S3-compatible server over HTTPS (s3rver), which behaves like the AWS bucket.
 */
export type LocalArchiveStore = { readonly type: 'posix'; readonly dir: string } | { readonly type: 's3'; readonly dir: string; readonly port: number };

/** The bucket of the local S3 server; every archive is a path in it, as on AWS. */
export const LOCAL_S3_BUCKET = 'pgha-archive';

/** The repository of an archive in the local store. */
export class LocalArchiveRepository implements ArchiveRepository {
  readonly options: Readonly<Record<string, string>>;
  readonly locationVariables: Readonly<Record<string, string>>;
  readonly description: string;
  /** The archive's secret: kept with the store, so every cluster using the archive shares its passphrase. */
  readonly secretName: string;

  constructor(
    readonly store: LocalArchiveStore,
    spec: WalArchiveBucketSpec,
    s3?: { options: Readonly<Record<string, string>>; accessKey: string; secretKey: string },
  ) {
    this.secretName = archiveSecretName(spec);
    // spec.replicaRegion / replicaStorageClass are ignored: loopback is one "region", so the local copy has no replica.
    if (store.type === 'posix') {
      const path = join(store.dir, spec.name, spec.repositoryPath);
      this.options = { type: 'posix', path };
      this.locationVariables = {};
      this.description = path;
    } else {
      if (!s3) throw new Error('LocalArchiveRepository: an S3 store needs the server settings');
      this.options = { ...s3.options, path: `/${spec.name}${spec.repositoryPath}` };
      // Static keys of the loopback server; on AWS the instance role signs instead.
      this.locationVariables = { PGBACKREST_REPO1_S3_KEY: s3.accessKey, PGBACKREST_REPO1_S3_KEY_SECRET: s3.secretKey };
      this.description = `s3://${LOCAL_S3_BUCKET}/${spec.name}${spec.repositoryPath} on 127.0.0.1:${store.port}`;
    }
  }

  grant(): void {
    // Loopback has no IAM: every local node reaches the store already.
  }
}

/** Where the store keeps its archives' secrets (0600). */
export const archiveSecretsPath = (store: LocalArchiveStore) => join(store.dir, 'archive-secrets.json');
