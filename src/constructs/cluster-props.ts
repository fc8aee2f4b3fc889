import { Platform } from '../platform/platform';
import { SubscriptionProps } from './logical-publisher';

/** Props every kind of cluster takes the same way: PatroniCluster and PrimaryWithReplicas extend them. */
export interface ClusterBaseProps {
  /** Where the nodes run (AwsPlatform, DockerPlatform, LocalPlatform, or stackPlatform's choice). */
  readonly platform: Platform;
  /** Name prefix of every node and resource (and Patroni's scope): 1-25 of a-z, 0-9 and "-". */
  readonly clusterName: string;
  /** Allow every node in one availability zone (a zone outage then takes the cluster down). @default false */
  readonly allowSingleAvailabilityZone?: boolean;
  /** @default 5432 */
  readonly postgresPort?: number;
  /** PostgreSQL max_connections. @default 200 */
  readonly maxConnections?: number;
  /** Extra postgresql.conf parameters; those this library (or Patroni) owns are refused. @default {} */
  readonly postgresqlParameters?: Record<string, string | number | boolean>;
  /** Networks that may connect to PostgreSQL directly, bypassing the proxies. @default [] */
  readonly clientCidrs?: string[];
  /** Allow 0.0.0.0/0 in clientCidrs. @default false */
  readonly allowAnyClient?: boolean;
  /** @default - the platform's default ("m6i.large" on AWS) */
  readonly instanceType?: string;
  /** Size of each node's persistent data volume. @default 100 */
  readonly dataVolumeSizeGiB?: number;
  /** With an archive: a WAL segment is archived at least this often, even when little is written (archive_timeout). @default 60 */
  readonly archiveTimeoutSeconds?: number;
  /**
   * Subscriptions to other clusters' publications: each is created on this cluster's primary once
   * its database and the published tables exist here (logical replication copies rows, not table
   * definitions).
   * @default []
   */
  readonly subscriptions?: SubscriptionProps[];
}
