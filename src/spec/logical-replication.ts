import { z } from 'zod';
import { SpecProblem } from './problems';
import { expectation } from './validate';

/**
 * Logical replication between clusters: publications on one, subscriptions on another. A
 * subscription streams through a logical slot on the publisher named after the subscriber cluster
 * and the subscription, so that two subscribers never share a slot.
 */

/** A lower-case SQL identifier that needs no quoting anywhere (SQL, a conninfo, a slot name). */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Subscription names are short enough that "sub_<cluster>_<name>" stays within 63 characters. */
const SUBSCRIPTION_NAME = /^[a-z_][a-z0-9_]{0,29}$/;
/** A table as the publication names it: "table" (schema public) or "schema.table". */
const TABLE = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/;

const identifier = (what: string, example: string) =>
  z
    .string(expectation(`a ${what} name`, `give a name such as "${example}"`))
    .regex(IDENTIFIER, expectation(`a ${what} name of 1-63 lower-case letters, digits and "_", not starting with a digit`, `use a name such as "${example}"`));

export const publicationSchema = z.strictObject(
  {
    name: identifier('publication', 'orders_pub'),
    database: identifier('database', 'app').refine(
      (name) => name !== 'postgres',
      expectation('an application database, not "postgres" (the maintenance database, which holds the cluster\'s own tables)', 'publish the database the application uses, e.g. "app"'),
    ),
    /** "all": every table of the database, now and later (FOR ALL TABLES); or a list of tables. */
    tables: z.union(
      [
        z.literal('all'),
        z
          .array(z.string().regex(TABLE, expectation('"table" or "schema.table" in lower case', 'write e.g. "orders" or "sales.orders"')))
          .min(1, expectation('at least one table', 'name the tables, or use "all"')),
      ],
      expectation('"all" or a list of tables', 'write tables: "all", or e.g. tables: ["orders", "sales.items"]'),
    ),
  },
  expectation('{ name, database, tables }', 'write e.g. { name: "orders_pub", database: "app", tables: "all" }'),
);

export const subscriptionSchema = z.strictObject(
  {
    name: z
      .string(expectation('a subscription name', 'give a name such as "orders_sub"'))
      .regex(SUBSCRIPTION_NAME, expectation('a subscription name of 1-30 lower-case letters, digits and "_", not starting with a digit', 'use a name such as "orders_sub"')),
    /** The publishing cluster's name (the construct fills it in from `publisher`). */
    publisherCluster: z.string(),
    publication: identifier('publication', 'orders_pub'),
    /** The database the rows arrive in, on the subscriber. @default the publication's database */
    database: identifier('database', 'app').optional(),
    /** Copy the rows the published tables hold when the subscription is created (then stream changes). */
    copyExistingData: z.boolean(expectation('true or false', 'use a boolean')).default(true),
  },
  expectation('{ name, publisher, publication }', 'write e.g. { name: "orders_sub", publisher: ordersCluster, publication: "orders_pub" }'),
);

export const publicationsField = z.array(publicationSchema, expectation('a list of publications', 'pass e.g. [{ name: "orders_pub", database: "app", tables: "all" }]')).default([]);
export const subscriptionsField = z.array(subscriptionSchema, expectation('a list of subscriptions', 'pass e.g. [{ name: "orders_sub", publisher: orders, publication: "orders_pub" }]')).default([]);

export type PublicationSpec = z.output<typeof publicationSchema>;
export type SubscriptionSpec = z.output<typeof subscriptionSchema>;
export type PublicationInput = z.input<typeof publicationSchema>;

/** The publications each publishing cluster declares, by cluster name (set by the constructs). */
export const knownPublicationsField = z.record(z.string(), z.array(publicationSchema)).default({});

/** The login role subscribers connect to a publisher as. */
export const LOGICAL_REPLICATION_ROLE = 'pgha_logical';

/** The publisher's slot of a subscription: unique per subscriber cluster and subscription. */
export const subscriptionSlotName = (subscriberCluster: string, subscription: string) => `sub_${subscriberCluster.replace(/-/g, '_')}_${subscription}`;

/**
 * Worker and slot headroom: each subscription takes one slot and walsender on the publisher (and,
 * while its tables are first copied, up to max_sync_workers_per_subscription (2) more), and one
 * apply worker plus up to 2 table-sync workers on the subscriber.
 */
export const CONNECTIONS_PER_SUBSCRIPTION = 3;

/** max_wal_senders and max_replication_slots: 10, or more for `physical` standby slots (with spare) and the subscribers' slots. */
export function replicationSenderLimit(physical: number, logicalSlots: number): number {
  return Math.max(10, physical + CONNECTIONS_PER_SUBSCRIPTION * logicalSlots);
}

/**
 * A subscriber's worker settings: each subscription takes an apply worker and up to 2 table-sync
 * workers (the launcher and parallel queries keep PostgreSQL's defaults: 4 logical of 8 workers).
 */
export function logicalWorkerParameters(subscriptions: number): Record<string, number> {
  const logicalWorkers = CONNECTIONS_PER_SUBSCRIPTION * subscriptions + 1;
  return logicalWorkers > 4 ? { max_logical_replication_workers: logicalWorkers, max_worker_processes: logicalWorkers + 4 } : {};
}

interface LogicalSpec {
  readonly clusterName: string;
  readonly publications: readonly PublicationSpec[];
  readonly subscriptions: readonly SubscriptionSpec[];
  readonly knownPublications: Readonly<Record<string, readonly PublicationSpec[]>>;
}

/** Names unique, no subscription to the cluster itself, every subscription to a publication its publisher declares. */
export function checkLogicalReplication(s: LogicalSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const databaseOf = (subscription: SubscriptionSpec) =>
    subscription.database ?? s.knownPublications[subscription.publisherCluster]?.find((p) => p.name === subscription.publication)?.database;
  const duplicates = (names: readonly string[]) => names.filter((name, index) => names.indexOf(name) !== index);
  for (const name of new Set(duplicates(s.publications.map((p) => p.name)))) {
    problems.push({ path: 'publications', given: name, expected: 'each publication name once', fix: `rename or merge the publications named "${name}"` });
  }
  for (const name of new Set(duplicates(s.subscriptions.map((p) => p.name)))) {
    problems.push({ path: 'subscriptions', given: name, expected: 'each subscription name once', fix: `rename one of the subscriptions named "${name}"` });
  }
  s.subscriptions.forEach((subscription, index) => {
    const path = `subscriptions.${index}`;
    if (subscription.publisherCluster === s.clusterName) {
      problems.push({
        path: `${path}.publisher`,
        given: subscription.publisherCluster,
        expected: 'another cluster: a cluster does not subscribe to its own publications (its replicas already have every row)',
        fix: 'subscribe from another cluster, or read the rows where they are',
      });
      return;
    }
    const offered = s.knownPublications[subscription.publisherCluster] ?? [];
    const publication = offered.find((p) => p.name === subscription.publication);
    if (!publication) {
      problems.push({
        path: `${path}.publication`,
        given: subscription.publication,
        expected: offered.length
          ? `a publication of cluster "${subscription.publisherCluster}": ${offered.map((p) => `"${p.name}" (database ${p.database})`).join(', ')}`
          : `a publication of cluster "${subscription.publisherCluster}", which declares none`,
        fix: offered.length ? 'name one of those publications' : `add it to the publications of cluster "${subscription.publisherCluster}", e.g. { name: "${subscription.publication}", database: "app", tables: "all" }`,
      });
    }
    const twice = s.subscriptions.findIndex((other) => other.publisherCluster === subscription.publisherCluster && other.publication === subscription.publication && databaseOf(other) === databaseOf(subscription));
    if (twice < index) {
      problems.push({
        path: `${path}.publication`,
        given: subscription.publication,
        expected: `one subscription per publication and database (subscriptions.${twice} already brings "${subscription.publication}" of "${subscription.publisherCluster}" into database ${databaseOf(subscription)}): two would apply every change twice`,
        fix: `remove subscriptions.${index}`,
      });
    }
  });
  return problems;
}

/** A publication needs wal_level "logical": a parameter set to "replica" contradicts it. */
export function checkWalLevel(publications: readonly PublicationSpec[], walLevel: unknown): SpecProblem[] {
  if (publications.length === 0 || walLevel === undefined || walLevel === 'logical') return [];
  return [
    {
      path: 'postgresqlParameters.wal_level',
      given: walLevel,
      expected: `"logical" or nothing: the publications ${publications.map((p) => p.name).join(', ')} need wal_level logical, which the cluster then sets`,
      fix: 'remove wal_level',
    },
  ];
}
