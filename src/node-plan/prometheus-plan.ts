import { LAYOUT } from '../model/layout';
import { NodeFile, NodePlan, NodePort, NodeService } from '../model/node-plan';
import { unitFile } from '../render/unit-files';
import { NodePlacement } from '../model/placement';

export const PROMETHEUS_SERVICE = 'pgha-prometheus';

/** Where the Prometheus node keeps its configuration, rules and data. */
export const PROMETHEUS_LAYOUT = {
  configDir: '/etc/pgha/prometheus',
  config: '/etc/pgha/prometheus/prometheus.yml',
  rulesDir: '/etc/pgha/prometheus/rules',
  /** On the data volume: the TSDB survives a replaced instance. */
  dataDir: `${LAYOUT.dataMount}/prometheus`,
} as const;

/** An alert rule file on the Prometheus node, by name. */
export const prometheusRuleFile = (name: string) => `${PROMETHEUS_LAYOUT.rulesDir}/${name}.yml`;

export interface PrometheusRuleFile {
  /** The file is `rules/<name>.yml`. */
  readonly name: string;
  readonly content: string;
}

export interface PrometheusPlanInput {
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  /** The whole prometheus.yml (it names the rule files by their paths on the node). */
  readonly config: string;
  readonly ruleFiles: readonly PrometheusRuleFile[];
  readonly port: number;
  readonly retentionDays: number;
  readonly dataVolumeSizeGiB: number;
  readonly ports: readonly NodePort[];
}

/** The argv of the Prometheus server on a node: its own address only, the TSDB on the data volume. */
export function prometheusCommand(address: string, port: number, retentionDays: number): string[] {
  return [
    '/usr/bin/prometheus',
    `--config.file=${PROMETHEUS_LAYOUT.config}`,
    `--storage.tsdb.path=${PROMETHEUS_LAYOUT.dataDir}`,
    `--storage.tsdb.retention.time=${retentionDays}d`,
    `--web.listen-address=${address}:${port}`,
  ];
}

/**
 * A Prometheus server node (Debian's prometheus 2.42): the generated prometheus.yml and the alert
 * rule files, run as `pgha-prometheus` in place of Debian's `prometheus` unit (which
 * would listen on every address with the package's sample configuration).
 */
export function planPrometheusNodes(input: PrometheusPlanInput): NodePlan[] {
  return input.placements.map((placement) => {
    const service: NodeService = {
      name: PROMETHEUS_SERVICE,
      description: `Prometheus on ${placement.name}: scrapes the clusters' exporters and evaluates their alert rules`,
      user: 'prometheus',
      group: 'prometheus',
      command: prometheusCommand(placement.address, input.port, input.retentionDays),
      reloadSignal: 'HUP',
      // Prometheus writes out its head block on a clean stop: give it time before SIGKILL.
      stopTimeoutSeconds: 120,
    };
    const files: NodeFile[] = [
      { path: PROMETHEUS_LAYOUT.config, mode: '0644', owner: 'root:root', content: input.config },
      ...input.ruleFiles.map((rules) => ({ path: prometheusRuleFile(rules.name), mode: '0644', owner: 'root:root', content: rules.content })),
      unitFile(service),
    ];
    return {
      name: placement.name,
      group: input.groupName,
      address: placement.address,
      zone: placement.zone,
      packages: ['prometheus'],
      directories: [
        { path: PROMETHEUS_LAYOUT.configDir, mode: '0755', owner: 'root:root' },
        { path: PROMETHEUS_LAYOUT.rulesDir, mode: '0755', owner: 'root:root' },
        { path: PROMETHEUS_LAYOUT.dataDir, mode: '0750', owner: 'prometheus:prometheus' },
      ],
      files,
      services: [service],
      // Debian's prometheus recommends prometheus-node-exporter, which apt installs and starts on
      // every address (0.0.0.0:9100): neither Debian unit may run beside ours.
      replacesServices: ['prometheus', 'prometheus-node-exporter'],
      ports: input.ports,
      secrets: [],
      dataVolume: { mountPath: LAYOUT.dataMount, sizeGiB: input.dataVolumeSizeGiB },
    };
  });
}
