import { Construct } from 'constructs';
import { LOGICAL_PASSWORD_KEY, publicationsAddition, subscriptionsAddition } from '../node-plan/logical-replication-plan';
import { NodeGroup, Platform, SecretRef } from '../platform/platform';
import { LogicalSlot, PatroniDcsInput, SubscriptionTarget } from '../render/logical-replication';
import { PublicationSpec, SubscriptionSpec, subscriptionSlotName } from '../spec/logical-replication';
import { LogicalPublisher, SubscriptionProps } from './logical-publisher';
import { PUBLISHER, checkReference, isObject } from './references';
import { SpecProblem } from '../spec/problems';

/** What a cluster construct hands its logical replication part. */
export interface LogicalReplicationOwner {
  readonly spec: { readonly clusterName: string; readonly publications: readonly PublicationSpec[]; readonly postgresPort: number };
  readonly platform: Platform;
  /** The networks its pg_hba admits (subscribers' networks are added). */
  readonly hbaNetworks: Set<string>;
  /**
   * A Patroni cluster: Patroni keeps the subscribers' slots (permanent slots in the DCS, which the
   * publications job adds once each slot's publication exists), and the job keeps the DCS settings
   * (`dcs`, read at synth) with Patroni's environment. Without it the job makes the slots itself.
   */
  readonly patroni?: { readonly dcs: (slots: readonly LogicalSlot[]) => PatroniDcsInput; readonly environmentFile: string };
}

/**
 * A cluster's side of logical replication, the same for every kind of cluster: the subscribers'
 * secret and slots when it publishes, the jobs, and the way in for each subscribing cluster.
 * Made before the cluster's nodes (the secret goes into their secrets), attached to them after.
 */
export class ClusterLogicalReplication {
  /** The password subscribers log in with, when the cluster has publications. */
  readonly secret?: SecretRef;
  /** Slots of the clusters subscribed to this one's publications. */
  readonly slots: LogicalSlot[] = [];
  private readonly subscriberGroups = new Set<string>();
  private nodes?: NodeGroup;

  constructor(
    scope: Construct,
    private readonly owner: LogicalReplicationOwner,
  ) {
    if (owner.spec.publications.length > 0) {
      this.secret = owner.platform.createSecret(scope, 'LogicalReplicationSecret', `${owner.spec.clusterName}/logical-replication`, [LOGICAL_PASSWORD_KEY]);
    }
  }

  get publications(): readonly PublicationSpec[] {
    return this.owner.spec.publications;
  }

  get postgresPort(): number {
    return this.owner.spec.postgresPort;
  }

  /** The publications' job, and the subscriptions' job with each publisher told of its subscriber. */
  attach(nodes: NodeGroup, subscriptions: readonly SubscriptionProps[], specs: readonly SubscriptionSpec[]): void {
    this.nodes = nodes;
    const { owner } = this;
    const { clusterName, postgresPort } = owner.spec;
    if (this.secret) {
      const secretName = this.secret.name;
      const { patroni } = owner;
      nodes.extendPlans(() =>
        publicationsAddition({
          publications: this.publications,
          postgresPort,
          secretName,
          ...(patroni ? { patroni: { dcs: patroni.dcs(this.slots), environmentFile: patroni.environmentFile } } : { slots: this.slots }),
        }),
      );
    }
    if (subscriptions.length === 0) return;
    const publisherSecrets: Record<string, string> = {};
    const targets: SubscriptionTarget[] = subscriptions.map((props, index) => {
      const subscription = specs[index];
      const publisher = props.publisher.logicalReplication;
      const publication = publisher.publications.find((p) => p.name === subscription.publication)!;
      const slotName = subscriptionSlotName(clusterName, subscription.name);
      publisherSecrets[props.publisher.clusterName] = publisher.registerSubscriber({ slotName, database: publication.database, publication: publication.name, nodes, clusterName });
      return {
        name: subscription.name,
        database: subscription.database ?? publication.database,
        publication: publication.name,
        publisherDatabase: publication.database,
        publisherCluster: props.publisher.clusterName,
        publisherHosts: props.publisher.members.map((m) => ({ host: m.address, port: publisher.postgresPort })),
        slotName,
        copyExistingData: subscription.copyExistingData,
      };
    });
    nodes.extendPlans(() => subscriptionsAddition({ subscriptions: targets, postgresPort, publisherSecrets }));
  }

  /**
   * Called by a subscribing cluster: keeps its slot on this cluster, lets its nodes reach
   * PostgreSQL (network and pg_hba) and read the subscribers' password. Returns that secret's name.
   */
  registerSubscriber(subscriber: { slotName: string; database: string; publication: string; nodes: NodeGroup; clusterName: string }): string {
    const { owner } = this;
    const { clusterName } = owner.spec;
    if (!this.secret || !this.nodes) {
      throw new Error(`cluster "${clusterName}": cluster "${subscriber.clusterName}" subscribes to it, but it has no publications. Fix: add publications to cluster "${clusterName}".`);
    }
    this.slots.push({ name: subscriber.slotName, database: subscriber.database, publication: subscriber.publication });
    // Once per subscribing cluster, however many of its subscriptions come here.
    if (!this.subscriberGroups.has(subscriber.nodes.groupName)) {
      this.subscriberGroups.add(subscriber.nodes.groupName);
      this.nodes.allowGroup(this.postgresPort, 'PostgreSQL logical replication', subscriber.nodes);
      for (const placement of subscriber.nodes.placements) owner.hbaNetworks.add(placement.network);
      subscriber.nodes.grantSecret(this.secret);
    }
    return this.secret.name;
  }
}


/** Each subscription's publisher must be a cluster; the rest of a subscription is the spec's to check. */
export function checkSubscriptionPublishers(subscriptions: unknown): SpecProblem[] {
  if (!Array.isArray(subscriptions)) return [];
  return subscriptions.flatMap((subscription, index) => (isObject(subscription) ? checkReference(`subscriptions.${index}.publisher`, subscription.publisher, PUBLISHER) : []));
}

/** The spec's part of a cluster's subscriptions: the publisher by name, and what each publisher publishes. */
export function subscriptionSpecInput(subscriptions: readonly SubscriptionProps[] | undefined): { subscriptions?: unknown; knownPublications?: Record<string, PublicationSpec[]> } {
  if (subscriptions === undefined) return {};
  if (!Array.isArray(subscriptions)) return { subscriptions };
  const publishers = subscriptions.map((s) => (isObject(s) && checkReference('', s.publisher, PUBLISHER).length === 0 ? (s.publisher as LogicalPublisher) : undefined));
  return {
    subscriptions: subscriptions.map((s, index) => {
      if (!s || typeof s !== 'object') return s;
      const { publisher: _publisher, ...rest } = s;
      return { ...rest, publisherCluster: publishers[index]?.clusterName };
    }),
    knownPublications: Object.fromEntries(publishers.filter((p): p is LogicalPublisher => p !== undefined).map((p) => [p.clusterName, [...p.logicalReplication.publications]])),
  };
}
