import { NodeGroup, NodePlacement } from '../platform/platform';
import { PublicationSpec } from '../spec/logical-replication';

/** A cluster other clusters subscribe to: its publications, where it answers, and how a subscriber gets in. */
export interface LogicalPublisher {
  readonly clusterName: string;
  readonly publications: readonly PublicationSpec[];
  readonly members: readonly NodePlacement[];
  readonly postgresPort: number;
  /**
   * Called by a subscribing cluster: keeps its slot on this cluster (a permanent slot), lets its
   * nodes reach PostgreSQL (network and pg_hba) and read the subscribers' password.
   * Returns the name of the secret holding that password.
   */
  registerSubscriber(subscriber: { readonly slotName: string; readonly database: string; readonly nodes: NodeGroup; readonly clusterName: string }): string;
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
