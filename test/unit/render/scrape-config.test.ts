import { parse } from 'yaml';
import { SCRAPE_JOBS, TARGET_LABELS } from '../../../src/render/monitoring-metrics';
import {
  AWS_INSTANCE_TAGS,
  ScrapeCluster,
  ScrapeNode,
  nodeGroupName,
  renderPrometheusConfig,
  renderScrapeConfig,
  scrapeConfigs,
} from '../../../src/render/scrape-config';

const NODES: ScrapeNode[] = [
  { name: 'main-pg-2', address: '10.0.2.11', role: 'postgres' },
  { name: 'main-proxy-1', address: '10.0.1.20', role: 'proxy' },
  { name: 'main-pg-1', address: '10.0.1.11', role: 'postgres' },
  { name: 'main-etcd-1', address: '10.0.1.30', role: 'etcd' },
];

function cluster(overrides: Partial<ScrapeCluster> = {}): ScrapeCluster {
  return { cluster: 'main', targets: 'static', nodes: NODES, exporterPort: 9187, nodeExporterPort: 9100, ...overrides };
}

const ec2 = (overrides: Partial<ScrapeCluster> = {}) => cluster({ targets: 'ec2', region: 'eu-west-1', ...overrides });

/** The parsed `scrape_configs` of renderScrapeConfig's text. */
function jobs(...clusters: ScrapeCluster[]): any[] {
  return parse(renderScrapeConfig({ clusters })).scrape_configs;
}

const byName = (all: any[], name: string) => all.find((j) => j.job_name === name);

// --- A small model of Prometheus' relabeling (model/relabel, 2.53.3; the same for these actions in 2.42): replace, keep, drop, labeldrop,
// regexes anchored at both ends, "$1" expansion, an empty result deletes the target label.
type Labels = Record<string, string>;

function relabel(input: Labels, rules: any[]): Labels | undefined {
  const labels = { ...input };
  for (const rule of rules) {
    const action = rule.action ?? 'replace';
    const regex = new RegExp(`^(?:${rule.regex ?? '(.*)'})$`);
    if (action === 'labeldrop') {
      for (const key of Object.keys(labels)) if (regex.test(key)) delete labels[key];
      continue;
    }
    const value = (rule.source_labels ?? []).map((name: string) => labels[name] ?? '').join(rule.separator ?? ';');
    if (action === 'keep' && !regex.test(value)) return undefined;
    if (action === 'drop' && regex.test(value)) return undefined;
    if (action === 'replace') {
      const match = regex.exec(value);
      if (!match) continue;
      const result = String(rule.replacement ?? '$1').replace(/\$(\d+)/g, (_, index) => match[Number(index)] ?? '');
      if (result === '') delete labels[rule.target_label];
      else labels[rule.target_label] = result;
    }
  }
  return labels;
}

/** A discovered target after relabeling, as Prometheus keeps it: no "__" labels, instance = address. */
function targetLabels(discovered: Labels, rules: any[]): Labels | undefined {
  const result = relabel(discovered, rules);
  if (!result) return undefined;
  const kept = Object.fromEntries(Object.entries(result).filter(([key]) => !key.startsWith('__')));
  return { ...kept, instance: kept.instance ?? result.__address__ };
}

/** What Prometheus' EC2 discovery gives an instance (2.53.3 labels, as in 2.42; tag keys with ":" become "_"). */
function instance(group: string, name: string | undefined, ip: string, state = 'running', port = 9100): Labels {
  return {
    __address__: `${ip}:${port}`,
    __meta_ec2_instance_id: `i-0${ip.replace(/\./g, '')}`,
    __meta_ec2_instance_state: state,
    __meta_ec2_private_ip: ip,
    __meta_ec2_tag_pgha_group: group,
    ...(name === undefined ? {} : { __meta_ec2_tag_Name: name }),
  };
}

describe('renderScrapeConfig: static targets', () => {
  test('pgha-postgres scrapes postgres_exporter on the PostgreSQL nodes only, with cluster, node and role labels', () => {
    // WHEN
    const postgres = byName(jobs(cluster()), SCRAPE_JOBS.postgres);
    // THEN
    expect(postgres.static_configs).toEqual([
      { targets: ['10.0.1.11:9187'], labels: { [TARGET_LABELS.cluster]: 'main', [TARGET_LABELS.node]: 'main-pg-1', [TARGET_LABELS.role]: 'postgres' } },
      { targets: ['10.0.2.11:9187'], labels: { [TARGET_LABELS.cluster]: 'main', [TARGET_LABELS.node]: 'main-pg-2', [TARGET_LABELS.role]: 'postgres' } },
    ]);
    expect(postgres.relabel_configs).toBeUndefined();
    expect(postgres.ec2_sd_configs).toBeUndefined();
  });

  test('pgha-node scrapes node_exporter on every node, sorted by name', () => {
    // WHEN
    const node = byName(jobs(cluster()), SCRAPE_JOBS.node);
    // THEN
    expect(node.static_configs.map((c: any) => [c.targets, c.labels.node, c.labels.pgha_role])).toEqual([
      [['10.0.1.30:9100'], 'main-etcd-1', 'etcd'],
      [['10.0.1.11:9100'], 'main-pg-1', 'postgres'],
      [['10.0.2.11:9100'], 'main-pg-2', 'postgres'],
      [['10.0.1.20:9100'], 'main-proxy-1', 'proxy'],
    ]);
  });

  test('the two jobs are named from SCRAPE_JOBS, postgres first; the text starts with a header comment', () => {
    // WHEN
    const text = renderScrapeConfig({ clusters: [cluster()] });
    // THEN
    expect(jobs(cluster()).map((j) => j.job_name)).toEqual([SCRAPE_JOBS.postgres, SCRAPE_JOBS.node]);
    expect(text.split('\n')[0]).toMatch(/^# .*generated, do not edit/);
    expect(Object.keys(parse(text))).toEqual(['scrape_configs']);
  });

  test('an IPv6 address is bracketed', () => {
    // WHEN
    const postgres = byName(jobs(cluster({ nodes: [{ name: 'v6-1', address: 'fd00::11', role: 'postgres' }] })), SCRAPE_JOBS.postgres);
    // THEN
    expect(postgres.static_configs[0].targets).toEqual(['[fd00::11]:9187']);
  });

  test('the same clusters and nodes in any order give the same text', () => {
    // GIVEN
    const other = cluster({ cluster: 'orders', nodes: [{ name: 'orders-pg-1', address: '10.1.0.5', role: 'postgres' }], exporterPort: 19187 });
    // WHEN
    const a = renderScrapeConfig({ clusters: [cluster(), other] });
    const b = renderScrapeConfig({ clusters: [other, cluster({ nodes: [...NODES].reverse() })] });
    // THEN
    expect(a).toBe(b);
    expect(byName(parse(a).scrape_configs, SCRAPE_JOBS.postgres).static_configs.map((c: any) => c.targets[0])).toEqual([
      '10.0.1.11:9187',
      '10.0.2.11:9187',
      '10.1.0.5:19187',
    ]);
  });

  test('node_exporter series of the backup jobs get their job name back as "job" and no exported_* duplicates', () => {
    // GIVEN a textfile series as node_exporter serves it, after Prometheus merged the target labels
    const node = byName(jobs(cluster()), SCRAPE_JOBS.node);
    const scraped = {
      __name__: 'pgha_job_last_success_timestamp_seconds',
      job: SCRAPE_JOBS.node,
      exported_job: 'backup-full',
      cluster: 'main',
      exported_cluster: 'main',
      node: 'main-pg-1',
      exported_node: 'main-pg-1',
      pgha_role: 'postgres',
      instance: '10.0.1.11:9100',
    };
    // WHEN
    const series = relabel(scraped, node.metric_relabel_configs);
    const plain = relabel({ __name__: 'node_load1', job: SCRAPE_JOBS.node, cluster: 'main', node: 'main-pg-1' }, node.metric_relabel_configs);
    // THEN
    expect(series).toEqual({
      __name__: 'pgha_job_last_success_timestamp_seconds',
      job: 'backup-full',
      cluster: 'main',
      node: 'main-pg-1',
      pgha_role: 'postgres',
      instance: '10.0.1.11:9100',
    });
    expect(plain).toEqual({ __name__: 'node_load1', job: SCRAPE_JOBS.node, cluster: 'main', node: 'main-pg-1' });
    expect(byName(jobs(cluster()), SCRAPE_JOBS.postgres).metric_relabel_configs).toBeUndefined();
  });

  test('holds no credentials or auth settings', () => {
    // WHEN
    const text = renderPrometheusConfig({ clusters: [cluster(), ec2({ cluster: 'aws' })], ruleFiles: ['r.yml'] });
    // THEN
    expect(text).not.toMatch(/password|secret|access_key|basic_auth|authorization|bearer/i);
  });
});

describe('renderScrapeConfig: EC2 service discovery', () => {
  test('discovers running instances of the cluster\'s groups by the pgha:group tag, in the region, on the exporter ports', () => {
    // WHEN
    const all = jobs(ec2());
    const postgres = byName(all, SCRAPE_JOBS.postgres);
    const node = byName(all, SCRAPE_JOBS.node);
    // THEN
    expect(postgres.ec2_sd_configs).toEqual([
      {
        region: 'eu-west-1',
        port: 9187,
        filters: [
          { name: `tag:${AWS_INSTANCE_TAGS.group}`, values: ['main-pg'] },
          { name: 'instance-state-name', values: ['running'] },
        ],
      },
    ]);
    expect(node.ec2_sd_configs[0].port).toBe(9100);
    expect(node.ec2_sd_configs[0].filters[0]).toEqual({ name: 'tag:pgha:group', values: ['main-etcd', 'main-pg', 'main-proxy'] });
    expect(postgres.static_configs).toBeUndefined();
  });

  test('the group names are the ones the constructs give (<cluster>-pg, -proxy, -etcd)', () => {
    expect([nodeGroupName('main', 'postgres'), nodeGroupName('main', 'proxy'), nodeGroupName('main', 'etcd')]).toEqual(['main-pg', 'main-proxy', 'main-etcd']);
  });

  test('node_exporter discovery covers only the groups of the roles the cluster has', () => {
    // WHEN a cluster without dedicated etcd nodes
    const node = byName(jobs(ec2({ nodes: NODES.filter((n) => n.role !== 'etcd') })), SCRAPE_JOBS.node);
    // THEN
    expect(node.ec2_sd_configs[0].filters[0].values).toEqual(['main-pg', 'main-proxy']);
  });

  test('a discovered PostgreSQL instance gets the same labels as a static target: cluster, node (Name tag), pgha_role, private IP:port', () => {
    // GIVEN
    const postgres = byName(jobs(ec2()), SCRAPE_JOBS.postgres);
    const node = byName(jobs(ec2()), SCRAPE_JOBS.node);
    // WHEN
    const pg = targetLabels(instance('main-pg', 'main-pg-1', '10.0.1.11', 'running', 80), postgres.relabel_configs);
    const proxy = targetLabels(instance('main-proxy', 'main-proxy-1', '10.0.1.20'), node.relabel_configs);
    // THEN
    expect(pg).toEqual({ cluster: 'main', node: 'main-pg-1', pgha_role: 'postgres', instance: '10.0.1.11:9187' });
    expect(proxy).toEqual({ cluster: 'main', node: 'main-proxy-1', pgha_role: 'proxy', instance: '10.0.1.20:9100' });
  });

  test('stopped, pending and terminated instances and other groups are dropped', () => {
    // GIVEN
    const { relabel_configs: rules } = byName(jobs(ec2()), SCRAPE_JOBS.node);
    // THEN
    for (const state of ['pending', 'stopping', 'stopped', 'shutting-down', 'terminated']) {
      expect(targetLabels(instance('main-pg', 'main-pg-1', '10.0.1.11', state), rules)).toBeUndefined();
    }
    expect(targetLabels(instance('other-pg', 'other-pg-1', '10.0.9.9'), rules)).toBeUndefined();
    expect(targetLabels(instance('main-pgx', 'x', '10.0.9.9'), rules)).toBeUndefined();
    expect(targetLabels(instance('', 'untagged', '10.0.9.9'), rules)).toBeUndefined();
    // the PostgreSQL job drops the proxies
    const { relabel_configs: pgRules } = byName(jobs(ec2()), SCRAPE_JOBS.postgres);
    expect(targetLabels(instance('main-proxy', 'main-proxy-1', '10.0.1.20'), pgRules)).toBeUndefined();
  });

  test('an instance without a Name tag is named by its instance id', () => {
    // GIVEN
    const { relabel_configs: rules } = byName(jobs(ec2()), SCRAPE_JOBS.postgres);
    // WHEN
    const labels = targetLabels(instance('main-pg', undefined, '10.0.1.11'), rules);
    // THEN
    expect(labels?.node).toBe('i-0100111');
  });

  test('clusters in one job keep their own ports and regions, and static clusters pass the EC2 rules untouched', () => {
    // GIVEN an EC2 cluster per region and a static one
    const all = jobs(
      ec2({ cluster: 'east', region: 'us-east-1', exporterPort: 19187 }),
      ec2({ cluster: 'west', region: 'eu-west-1' }),
      cluster({ cluster: 'lab', nodes: [{ name: 'lab-pg-1', address: '127.0.0.5', role: 'postgres' }] }),
    );
    const postgres = byName(all, SCRAPE_JOBS.postgres);
    // THEN
    expect(postgres.ec2_sd_configs.map((c: any) => [c.region, c.port, c.filters[0].values])).toEqual([
      ['us-east-1', 19187, ['east-pg']],
      ['eu-west-1', 9187, ['west-pg']],
    ]);
    expect(targetLabels(instance('east-pg', 'east-pg-1', '10.1.0.1'), postgres.relabel_configs)).toEqual({
      cluster: 'east',
      node: 'east-pg-1',
      pgha_role: 'postgres',
      instance: '10.1.0.1:19187',
    });
    expect(targetLabels(instance('west-pg', 'west-pg-1', '10.2.0.1'), postgres.relabel_configs)?.instance).toBe('10.2.0.1:9187');
    const staticTarget = { __address__: '127.0.0.5:9187', ...postgres.static_configs[0].labels };
    expect(targetLabels(staticTarget, postgres.relabel_configs)).toEqual({ cluster: 'lab', node: 'lab-pg-1', pgha_role: 'postgres', instance: '127.0.0.5:9187' });
  });

  test('a cluster whose name another\'s group name starts with does not catch that group', () => {
    // GIVEN clusters "a" and "a-pg" (groups a-pg, and a-pg-pg)
    const postgres = byName(jobs(ec2({ cluster: 'a' }), ec2({ cluster: 'a-pg' })), SCRAPE_JOBS.postgres);
    // THEN
    expect(targetLabels(instance('a-pg', 'a-pg-1', '10.0.0.1'), postgres.relabel_configs)?.cluster).toBe('a');
    expect(targetLabels(instance('a-pg-pg', 'a-pg-pg-1', '10.0.0.2'), postgres.relabel_configs)?.cluster).toBe('a-pg');
  });
});

describe('renderScrapeConfig: rejected input', () => {
  test.each<[string, ScrapeCluster[], RegExp]>([
    ['ec2 without a region', [ec2({ region: undefined })], /clusters\[0\]\.region: got undefined; expected an AWS region/],
    ['ec2 with a malformed region', [ec2({ region: 'Ireland' })], /region: got "Ireland"/],
    ['the same cluster twice', [cluster(), cluster()], /"main" appears twice/],
    ['no PostgreSQL node', [cluster({ nodes: NODES.filter((n) => n.role !== 'postgres') })], /has no node with role "postgres"/],
    ['a bad port', [cluster({ exporterPort: 70000 })], /exporterPort: got 70000; expected a TCP port/],
    ['a duplicate node name', [cluster({ nodes: [...NODES, NODES[0]] })], /"main-pg-2" appears twice/],
    ['an address with a space', [cluster({ nodes: [{ name: 'x-1', address: '10.0.0.1 #', role: 'postgres' }] })], /address: got "10.0.0.1 #"/],
    ['a cluster name with a quote', [cluster({ cluster: 'a"b' })], /cluster: got "a\\"b"/],
    ['no clusters', [], /got none/],
  ])('%s', (_name, clusters, message) => {
    expect(() => renderScrapeConfig({ clusters })).toThrow(message);
  });
});

describe('renderPrometheusConfig', () => {
  test('global 15 s intervals, the rule files, the pgha jobs', () => {
    // WHEN
    const config = parse(renderPrometheusConfig({ clusters: [cluster()], ruleFiles: ['rules/pgha.yml'] }));
    // THEN
    expect(config.global).toEqual({ scrape_interval: '15s', evaluation_interval: '15s' });
    expect(config.rule_files).toEqual(['rules/pgha.yml']);
    expect(config.scrape_configs).toEqual(scrapeConfigs({ clusters: [cluster()] }));
  });

  test('a listen address adds a self-scrape job after the pgha jobs; intervals can be set', () => {
    // WHEN
    const config = parse(
      renderPrometheusConfig({ clusters: [cluster()], ruleFiles: [], listenAddress: '10.0.1.5:9090', scrapeIntervalSeconds: 30, evaluationIntervalSeconds: 60 }),
    );
    // THEN
    expect(config.global).toEqual({ scrape_interval: '30s', evaluation_interval: '60s' });
    expect(config.scrape_configs.map((j: any) => j.job_name)).toEqual([SCRAPE_JOBS.postgres, SCRAPE_JOBS.node, 'prometheus']);
    expect(config.scrape_configs[2].static_configs).toEqual([{ targets: ['10.0.1.5:9090'] }]);
  });

  test.each<[string, object, RegExp]>([
    ['a listen address without a port', { listenAddress: '10.0.1.5' }, /listenAddress: got "10.0.1.5"; expected "host:port"/],
    ['a zero interval', { scrapeIntervalSeconds: 0 }, /scrapeIntervalSeconds: got 0/],
    ['an empty rule file', { ruleFiles: [''] }, /ruleFiles: got ""/],
  ])('rejects %s', (_name, overrides, message) => {
    expect(() => renderPrometheusConfig({ clusters: [cluster()], ruleFiles: [], ...overrides })).toThrow(message);
  });
});
