import { Construct } from 'constructs';
import { Peer } from '../model/node-plan';
import { planPrometheusNodes, prometheusRuleFile } from '../node-plan/prometheus-plan';
import { NodeGroup, Platform } from '../platform/platform';
import { renderPrometheusConfig } from '../render/scrape-config';
import { PrometheusServerSpec, PrometheusServerSpecInput, validatePrometheusServerSpec } from '../spec/prometheus-server';
import { SpecError } from '../spec/problems';
import { ClusterMonitoring } from './cluster-monitoring';
import { registerStackOutput } from './stack-output';
import { MONITORING, PLATFORM, checkReference, checkReferenceList, propsObject } from './references';
import { claimName, claimPorts } from './stack-claims';
import { checkAddedPeer } from '../spec/peer';

const SPEC_NAME = 'PrometheusServer spec';

export interface PrometheusServerProps {
  readonly platform: Platform;
  /** The clusters to scrape and judge (one rule file for all: they must share their thresholds). At least one. */
  readonly monitoring: ClusterMonitoring[];
  /** Port of the UI and HTTP API, on the node's private address. @default 9090 */
  readonly port?: number;
  /** How long samples are kept (`--storage.tsdb.retention.time`). @default 15 */
  readonly retentionDays?: number;
  /** @default "t3.medium" */
  readonly instanceType?: string;
  /** Size of the data volume holding the TSDB. @default 50 */
  readonly dataVolumeSizeGiB?: number;
  /**
   * Networks that may open the UI and API (they have no authentication): your operators' or
   * Grafana's. 0.0.0.0/0 is refused. @default - none (open more with allowClient)
   */
  readonly clientCidrs?: string[];
  /** Name of the node group (security group, instance name prefix). @default "monitoring" */
  readonly name?: string;
}

// Compile-time guard: every prop the spec knows is a prop here, with the same type.
const propsMatchSpec: [Required<Omit<PrometheusServerProps, 'platform' | 'monitoring'>>] extends [Required<PrometheusServerSpecInput>] ? true : never = true;
void propsMatchSpec;

/**
 * A Prometheus server (Debian's prometheus) on a node of its own, for teams without one: it scrapes
 * every exporter of the given clusters (EC2 discovery by the clusters' tags on AWS, the node
 * addresses elsewhere), loads their alert rules, keeps `retentionDays` of samples on its
 * data volume, and serves its UI and API on its private address to `clientCidrs` only. It becomes
 * each cluster's scraper (the exporters' ports open to its security group).
 */
export class PrometheusServer extends Construct {
  readonly spec: PrometheusServerSpec;
  /** The group of one node running Prometheus. */
  readonly nodes: NodeGroup;
  /** "http://<address>:<port>": the UI and HTTP API (reachable from clientCidrs). */
  readonly url: string;
  /** The networks the UI is open to so far. */
  private readonly clientNetworks: string[] = [];

  constructor(scope: Construct, id: string, props: PrometheusServerProps) {
    super(scope, id);
    registerStackOutput(this);
    const { platform, monitoring, ...specInput } = propsObject(SPEC_NAME, this.node.path, props);
    const outside = [...checkReference('platform', platform, PLATFORM), ...checkReferenceList('monitoring', monitoring, MONITORING, 1)];
    this.spec = validatePrometheusServerSpec(specInput, this.node.path, { problems: outside, props: ['platform', 'monitoring'] });
    const spec = this.spec;
    const clusters = checkMonitoring(monitoring, this.node.path);

    const groupName = spec.name;
    const claimant = { specName: SPEC_NAME, construct: this };
    claimName(claimant, 'node group', groupName, 'name');
    const [placement] = platform.placeNodes(groupName, 1);
    this.url = `http://${placement.address}:${spec.port}`;
    this.nodes = platform.createNodeGroup(this, 'Nodes', {
      groupName,
      description: `Prometheus server scraping cluster(s) ${clusters.join(', ')}`,
      placements: [placement],
      secrets: [],
      instanceType: spec.instanceType,
      dataVolumeSizeGiB: spec.dataVolumeSizeGiB,
      // At synth: rule files see BackupJobs added after this construct.
      plans: () => {
        // The rules aggregate by cluster, so one file judges every cluster: loading one file per
        // cluster would evaluate each cluster with every file's thresholds (and fire twice).
        const rules = [...new Set(monitoring.map((m) => m.alertRules()))];
        if (rules.length > 1) {
          throw new SpecError(SPEC_NAME, [
            {
              path: 'monitoring',
              given: clusters,
              expected: 'clusters with the same alert thresholds and backup schedules: one server evaluates every rule file on every cluster',
              fix: 'give their ClusterMonitoring the same thresholds (and backupMaxAgeHours), or give each cluster a PrometheusServer of its own',
            },
          ], this.node.path);
        }
        return planPrometheusNodes({
          groupName,
          placements: [placement],
          config: renderPrometheusConfig({
            clusters: monitoring.map((m) => m.scrapeCluster),
            ruleFiles: [prometheusRuleFile('pgha')],
            listenAddress: `${placement.address}:${spec.port}`,
          }),
          ruleFiles: [{ name: 'pgha', content: rules[0] }],
          port: spec.port,
          retentionDays: spec.retentionDays,
          dataVolumeSizeGiB: spec.dataVolumeSizeGiB,
          ports: this.nodes.ports,
        });
      },
    });
    claimPorts(claimant, this.nodes, [{ port: spec.port, field: 'port', what: "Prometheus' UI and API" }]);
    // EC2 service discovery lists the instances (a no-op where targets are static).
    this.nodes.allowInstanceDiscovery();
    for (const m of monitoring) m.allowScraper({ group: groupName });
    for (const network of spec.clientCidrs) this.allowClient({ cidr: network });
  }

  /**
   * Lets one more client open the UI and API: a network (`{ cidr }`), a node group of this stack
   * (`{ group }`, e.g. a Grafana's), or an existing security group (`{ securityGroupId }`).
   */
  allowClient(peer: Peer): void {
    const problems = checkAddedPeer('allowClient(peer)', peer, { why: "a network of your operators or Grafana: Prometheus' UI and API have no authentication" }, this.clientNetworks);
    if (problems.length > 0) throw new SpecError(SPEC_NAME, problems, this.node.path);
    if ('cidr' in peer) this.clientNetworks.push(peer.cidr);
    this.nodes.allow(this.spec.port, 'Prometheus UI and API', peer);
  }
}

/** The clusters' names, in order; each cluster once (the list was checked to hold ClusterMonitorings). */
function checkMonitoring(monitoring: readonly ClusterMonitoring[], constructPath: string): string[] {
  const names = monitoring.map((m) => m.scrapeCluster.cluster);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) {
    throw new SpecError(SPEC_NAME, [
      {
        path: 'monitoring',
        given: names,
        expected: `each cluster once (cluster "${twice}" appears twice)`,
        fix: `pass one ClusterMonitoring per cluster`,
      },
    ], constructPath);
  }
  return names;
}
