import { SpecError, SpecProblem } from '../spec/problems';

/**
 * Props that are other constructs (a platform, a cluster, an archive) cannot be parsed by a schema
 * like the data props: each construct checks them here first, so a missing or wrong one is a
 * problem naming the prop, not a TypeError from deep inside. Checked by shape (the members the
 * construct uses), not by class: a platform may be the user's own implementation of Platform, and
 * an app may load two copies of the library.
 */
export interface ReferenceKind {
  /** What the prop must be, for the problem's "expected". */
  readonly expected: string;
  readonly fix: string;
  readonly methods: readonly string[];
  /** Members that must be present (checked with `in`: some are getters that throw until wired). */
  readonly members?: readonly string[];
}

export const PLATFORM: ReferenceKind = {
  expected: 'a platform: an AwsPlatform, DockerPlatform or LocalPlatform (or the one stackPlatform() returns)',
  fix: 'pass the platform construct the nodes run on, e.g. platform: new AwsPlatform(this, "Platform", { ... })',
  methods: ['placeNodes', 'previewZones', 'createNodeGroup', 'createSecret', 'createEndpoint', 'createArchiveRepository', 'peerPath'],
};

export const ARCHIVE: ReferenceKind = {
  expected: 'a WalArchiveBucket',
  fix: 'pass a WalArchiveBucket construct, e.g. new WalArchiveBucket(this, "Archive", { platform, name: "orders-archive" })',
  methods: ['grant'],
  members: ['archiveId', 'repository', 'secret', 'secretVariables', 'spec'],
};

export const ROUTED_CLUSTER: ReferenceKind = {
  expected: 'a cluster: a PatroniCluster or a PrimaryWithReplicas',
  fix: 'pass the cluster construct the proxies route to',
  methods: ['registerFrontends', 'allowProxies'],
  members: ['clusterName', 'spec', 'nodes', 'backendMembers', 'syncAware'],
};

export const PATRONI_CLUSTER: ReferenceKind = {
  expected: 'a PatroniCluster',
  fix: 'pass a PatroniCluster construct (a PrimaryWithReplicas has no Patroni to coordinate jobs with)',
  methods: ['registerFrontends', 'allowProxies', 'attachBackup', 'describeCluster'],
  members: ['clusterName', 'spec', 'nodes', 'platform', 'members', 'etcdMembers'],
};

export const FRONTENDS: ReferenceKind = {
  expected: 'a HaproxyFrontends',
  fix: 'pass the HaproxyFrontends construct in front of this cluster, or leave it unset',
  methods: ['allowClient'],
  members: ['cluster', 'nodes', 'endpoint', 'spec'],
};

export const MONITORING: ReferenceKind = {
  expected: 'a ClusterMonitoring',
  fix: 'pass the ClusterMonitoring construct of each cluster to scrape',
  methods: ['alertRules', 'allowScraper', 'artifacts'],
  members: ['scrapeCluster', 'spec'],
};

export const PUBLISHER: ReferenceKind = {
  expected: 'a cluster with publications: a PatroniCluster or a PrimaryWithReplicas',
  fix: 'pass the publishing cluster construct, e.g. publisher: ordersCluster',
  methods: [],
  members: ['clusterName', 'members', 'logicalReplication'],
};

function isKind(value: unknown, kind: ReferenceKind): boolean {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return kind.methods.every((name) => typeof record[name] === 'function') && (kind.members ?? []).every((name) => name in record);
}

/** A plain-object value (not null, not a list). */
export const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The problem with a reference prop, if any. */
export function checkReference(path: string, value: unknown, kind: ReferenceKind, optional = false): SpecProblem[] {
  if (value === undefined && optional) return [];
  if (isKind(value, kind)) return [];
  return [{ path, given: value, expected: value === undefined ? `${kind.expected} (it is required)` : kind.expected, fix: kind.fix }];
}

/** The problems with a list of references: a list, at least `min` long, each entry of the kind. */
export function checkReferenceList(path: string, value: unknown, kind: ReferenceKind, min: number, optional = false): SpecProblem[] {
  if (value === undefined && optional) return [];
  if (!Array.isArray(value) || value.length < min) {
    return [{ path, given: value, expected: `a list of at least ${min}: ${kind.expected}`, fix: kind.fix }];
  }
  return value.flatMap((entry, index) => checkReference(`${path}.${index}`, entry, kind));
}

/**
 * The props object itself: constructs destructure it first, so `undefined` or a string must be
 * refused before that, as a SpecError like every other problem. Props given as a class instance
 * (getters on its prototype) are read into a plain object, which a spread would leave empty.
 */
export function propsObject<T>(specName: string, constructPath: string, props: T): T {
  if (props === null || typeof props !== 'object' || Array.isArray(props)) {
    throw new SpecError(specName, [{ path: '(props)', given: props, expected: 'a props object', fix: 'pass the props as an object, e.g. { clusterName: "main", platform }' }], constructPath);
  }
  const plain: Record<string, unknown> = { ...(props as Record<string, unknown>) };
  for (let prototype = Object.getPrototypeOf(props) as object | null; prototype && prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype) as object | null) {
    for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(prototype))) {
      if (descriptor.get && !(name in plain)) plain[name] = (props as Record<string, unknown>)[name];
    }
  }
  return plain as T;
}
