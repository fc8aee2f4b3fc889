import { NodeGroup } from '../platform/platform';
import { HaproxyBackendMember } from '../render/haproxy-config';
import { ParameterValue } from '../spec/postgresql-parameters';

/** What a cluster's frontends give its clients: "host:port" of each endpoint. */
export interface ClusterEndpoints {
  readonly writerEndpoint: string;
  readonly readerEndpoint: string;
  readonly pooledWriterEndpoint?: string;
  readonly pooledReaderEndpoint?: string;
}

/**
 * A cluster HaproxyFrontends can route to: PatroniCluster, or PrimaryWithReplicas (whose role agents
 * answer Patroni's health checks). Its members answer `/primary` and `/replica?lag=` on
 * `restApiPort`; `/sync` only when `syncAware`.
 */
export interface RoutedCluster {
  readonly clusterName: string;
  readonly spec: { readonly postgresPort: number; readonly maxConnections: number; readonly postgresqlParameters: Readonly<Record<string, ParameterValue>> };
  readonly nodes: NodeGroup;
  readonly backendMembers: HaproxyBackendMember[];
  /** Whether the members answer Patroni's `/sync` (the synchronous-standby frontend needs it). */
  readonly syncAware: boolean;
  allowProxies(proxies: NodeGroup): void;
  registerFrontends(frontends: ClusterEndpoints): void;
}

/** The endpoints of a cluster, once its HaproxyFrontends registered them. */
export class FrontendsSlot {
  private frontends?: ClusterEndpoints;

  constructor(private readonly describe: string) {}

  register(frontends: ClusterEndpoints): void {
    if (this.frontends) {
      throw new Error(`${this.describe}: a second HaproxyFrontends; expected one per cluster (its endpoints are the cluster's). Fix: give the one HaproxyFrontends more proxies instead.`);
    }
    this.frontends = frontends;
  }

  get(attribute: string): ClusterEndpoints {
    if (!this.frontends) {
      throw new Error(
        `${this.describe}: ${attribute}: the cluster has no HaproxyFrontends, which provide its endpoints. ` +
          'Fix: add new HaproxyFrontends(scope, id, { platform, cluster }) before reading it, or connect to `members` directly.',
      );
    }
    return this.frontends;
  }
}
