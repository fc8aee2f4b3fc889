import type { ClusterLogicalReplication } from './cluster-logical-replication';
import { NodePlacement } from '../model/placement';

/** A cluster other clusters subscribe to (PatroniCluster, PrimaryWithReplicas): where it answers, and its side of logical replication. */
export interface LogicalPublisher {
  readonly clusterName: string;
  readonly members: readonly NodePlacement[];
  /** @internal The wiring between publishers and subscribers. */
  readonly logicalReplication: ClusterLogicalReplication;
}

/** What a cluster's `subscriptions` prop holds. */
export interface SubscriptionProps {
  /** 1-30 of a-z, 0-9 and "_": the subscription's name on this cluster. */
  readonly name: string;
  /** The cluster that publishes. */
  readonly publisher: LogicalPublisher;
  /** One of the publisher's `publications`. */
  readonly publication: string;
  /** The database on this cluster the rows arrive in. @default the publication's database */
  readonly database?: string;
  /** Copy the rows the tables already hold when subscribing (then stream changes). @default true */
  readonly copyExistingData?: boolean;
}

/** What a cluster's `publications` prop holds. */
export interface PublicationProps {
  /** 1-63 of a-z, 0-9 and "_". */
  readonly name: string;
  /** The database whose tables are published. */
  readonly database: string;
  /** "all": every table of the database, now and later; or a list of "table" / "schema.table". */
  readonly tables: 'all' | string[];
}
