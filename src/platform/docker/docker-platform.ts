import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Construct } from 'constructs';
import { Container, ContainerHealthcheck, ContainerPorts, ContainerUpload } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { Volume } from '@cdktf/provider-docker/lib/volume';
import { Password } from '@cdktf/provider-random/lib/password';
import { AssetType, TerraformAsset, TerraformStack } from '../../cdktf';
import { hostAddress, ipv4ToNumber, numberToIpv4 } from '../../node-plan/addresses';
import { NodeAddition, applyAdditions } from '../../node-plan/node-addition';
import { NodeJob, NodePlan, NodePort, NodeService, Peer } from '../../node-plan/node-plan';
import { WalArchiveBucketSpec } from '../../spec/wal-archive-bucket';
import {
  ArchiveRepository,
  Endpoint,
  EndpointListener,
  EndpointProps,
  NodeCertificatesProps,
  NodeGroup,
  NodeGroupProps,
  NodePlacement,
  Platform,
  SecretRef,
} from '../platform';
import { RenderedNode, RendersNodes } from '../rendered-node';
import { beforeStackSynth } from './before-synth';
import { CONTAINER_LAYOUT_PATH, CONTAINER_START_PATH, LayoutEntry, containerStartCommand, renderContainerLayout, renderContainerStart } from './container-start';
import { ARCHIVE_CA_PATH, DockerArchiveRepository } from './docker-archive';
import { DockerNodeCertificates } from './docker-certificates';
import { renderDockerfile } from './dockerfile';
import { JOB_RUNNER_PATH, jobRunnerCommand, renderJobRunner } from './job-runner';
import { ensureRandomProvider } from './random-provider';
import { escapeTerraform } from './terraform-escape';

export interface DockerPlatformProps {
  /**
   * IPv4 subnet of the platform's bridge network; every node gets a fixed address in it.
   * @default "172.28.0.0/24"
   */
  readonly subnet?: string;
  /** Host number of the first node address (Docker gives host 1 to the bridge's gateway). @default 10 */
  readonly firstHostNumber?: number;
  /** Host address the proxies' listener ports are published on. @default "127.0.0.1" (this machine only) */
  readonly publishAddress?: string;
  /** Prefix of every Docker object's name (network, image, containers, volumes). @default "pgha" */
  readonly name?: string;
}


const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DOCKER_NAME = /^[a-z0-9][a-z0-9_.-]{0,39}$/;

/** Health probes run `python3 -c` (Patroni needs python3, so it is in the image; the image has no curl). */
const PYTHON = '/usr/bin/python3';

/**
 * Nodes as Docker containers on one bridge network, from @cdktf/provider-docker. Each node is an
 * "anchor" container that owns the node's fixed address and hostname, plus one container per
 * service and per scheduled job of its plan, sharing the anchor's network namespace and the node's
 * volumes (its data volume, and its runtime directories such as PostgreSQL's socket directory): the
 * containers of a node reach each other as the services of a VM do. One image serves every node:
 * Debian 12 with the plans' packages (see dockerfile.ts). Each container gets the node's files as
 * uploads, and starts with container-start, which gives the files and directories their planned
 * owners and runs exactly the plan's command as the plan's user. Secrets are random_password
 * resources passed as environment variables (certificates as uploaded files), never baked in.
 * A WAL archive is a MinIO container with TLS (docker-archive.ts).
 */
export class DockerPlatform extends Construct implements Platform {
  readonly scrapeDiscovery = { kind: 'static' } as const;
  readonly subnet: string;
  readonly firstHostNumber: number;
  readonly publishAddress: string;
  /** Prefix of the Docker object names. */
  readonly namePrefix: string;
  readonly network: Network;
  private imageResource?: Image;
  private readonly groups: DockerNodeGroup[] = [];
  private readonly archives: DockerArchiveRepository[] = [];
  /** Secret name -> key -> value (a Terraform reference, or a fixed value). */
  private readonly secretValues = new Map<string, Readonly<Record<string, string>>>();
  private nextHost: number;
  private readonly lastHost: number;

  constructor(scope: Construct, id: string, props: DockerPlatformProps = {}) {
    super(scope, id);
    this.subnet = props.subnet ?? '172.28.0.0/24';
    this.firstHostNumber = props.firstHostNumber ?? 10;
    this.publishAddress = props.publishAddress ?? '127.0.0.1';
    this.namePrefix = props.name ?? 'pgha';
    const where = `DockerPlatform ${this.node.path}`;
    const cidr = /^([^/]+)\/(\d{1,2})$/.exec(this.subnet);
    const prefix = cidr ? Number(cidr[2]) : NaN;
    if (!cidr || !IPV4.test(cidr[1]) || prefix < 8 || prefix > 29) {
      throw new Error(`${where}: subnet: got "${this.subnet}"; expected an IPv4 CIDR block from /8 to /29, e.g. "172.28.0.0/24". Fix: pass a private range no other Docker network uses.`);
    }
    if (ipv4ToNumber(cidr[1]) % 2 ** (32 - prefix) !== 0) {
      throw new Error(`${where}: subnet: got "${this.subnet}", whose address has host bits set; expected the network address. Fix: use "${numberToIpv4(ipv4ToNumber(cidr[1]) - (ipv4ToNumber(cidr[1]) % 2 ** (32 - prefix)))}/${prefix}".`);
    }
    this.lastHost = 2 ** (32 - prefix) - 2;
    if (!Number.isInteger(this.firstHostNumber) || this.firstHostNumber < 2 || this.firstHostNumber > this.lastHost) {
      throw new Error(`${where}: firstHostNumber: got ${this.firstHostNumber}; expected an integer from 2 to ${this.lastHost} (host 1 is the bridge's gateway in ${this.subnet}). Fix: use 10.`);
    }
    if (!IPV4.test(this.publishAddress)) {
      throw new Error(`${where}: publishAddress: got "${this.publishAddress}"; expected an IPv4 address of the Docker host. Fix: use "127.0.0.1" (this machine only) or the address clients reach.`);
    }
    if (!DOCKER_NAME.test(this.namePrefix)) {
      throw new Error(`${where}: name: got "${this.namePrefix}"; expected 1-40 lowercase letters, digits, "_", "." or "-", starting with a letter or digit (it prefixes Docker object names). Fix: use e.g. "pgha".`);
    }
    this.nextHost = this.firstHostNumber;
    this.network = new Network(this, 'Network', {
      name: `${this.namePrefix}-net`,
      driver: 'bridge',
      internal: false,
      ipamConfig: [{ subnet: this.subnet }],
    });
  }

  /** The one image of the nodes, created with the first node group (its Dockerfile needs their plans). */
  get image(): Image {
    if (!this.imageResource) {
      const holder = new Construct(this, 'NodeImage');
      // The Dockerfile is final only now (at synth): write it into a build context of its own,
      // which cdktf copies beside cdk.tf.json as an asset. Named by its content, so that every
      // synth of the same Dockerfile reuses one directory instead of leaving a new one behind.
      const dockerfile = this.dockerfile();
      const digest = createHash('sha256').update(dockerfile).digest('hex');
      const context = join(tmpdir(), `pgha-docker-image-${digest.slice(0, 16)}`);
      mkdirSync(context, { recursive: true });
      writeFileSync(join(context, 'Dockerfile'), dockerfile);
      const asset = new TerraformAsset(holder, 'Context', { path: context, type: AssetType.DIRECTORY });
      this.imageResource = new Image(holder, 'Resource', {
        name: `${this.namePrefix}-node:local`,
        keepLocally: true,
        buildAttribute: {
          context: `\${path.module}/${asset.path}`,
          tag: [`${this.namePrefix}-node:local`],
        },
        // A new Dockerfile (new packages, new base) rebuilds the image.
        triggers: { dockerfile_sha256: digest },
      });
    }
    return this.imageResource;
  }

  /** The image's Dockerfile: Debian 12 and every package of every node group's plans. */
  dockerfile(): string {
    return renderDockerfile({ plans: this.groups.flatMap((group) => group.renderedNodes().map((node) => node.plan)) });
  }

  previewZones(count: number): undefined[] {
    return Array.from({ length: count }, () => undefined);
  }

  placeNodes(groupName: string, count: number): NodePlacement[] {
    return Array.from({ length: count }, (_, index) => {
      const host = this.nextHost++;
      if (host > this.lastHost - this.archives.length) {
        throw new Error(`DockerPlatform ${this.node.path}: subnet ${this.subnet} is full at node ${groupName}-${index + 1}; expected room for every node from host ${this.firstHostNumber}. Fix: pass a larger subnet.`);
      }
      return { name: `${groupName}-${index + 1}`, address: hostAddress(this.subnet, host), zone: undefined, network: this.subnet };
    });
  }

  createSecret(scope: Construct, id: string, name: string, keys: readonly string[], fixedValues: Readonly<Record<string, string>> = {}): SecretRef {
    if (this.secretValues.has(name)) {
      throw new Error(`DockerPlatform ${this.node.path}: secret "${name}" is created twice; expected one secret per name. Fix: give each secret a distinct name.`);
    }
    ensureRandomProvider(this);
    const holder = new Construct(scope, id);
    const values: Record<string, string> = { ...fixedValues };
    for (const key of keys) {
      // Letters and digits only: the values become environment variables and KEY=value lines.
      values[key] = new Password(holder, `Random-${key}`, { length: 32, special: false, upper: true, lower: true, numeric: true }).result;
    }
    this.secretValues.set(name, values);
    return { name, id: name };
  }

  createNodeCertificates(scope: Construct, id: string, props: NodeCertificatesProps): SecretRef {
    const name = `${props.name}/tls`;
    if (this.secretValues.has(name)) {
      throw new Error(`DockerPlatform ${this.node.path}: certificates "${name}" are created twice. Fix: give each group's certificates a distinct name.`);
    }
    this.secretValues.set(name, new DockerNodeCertificates(scope, id, props).values);
    return { name, id: name };
  }

  /** The value of `key` of secret `name`, for a node's environment or files. */
  secretValue(name: string, key: string, usedBy: string): string {
    const values = this.secretValues.get(name);
    const value = values?.[key];
    if (value === undefined) {
      throw new Error(
        `DockerPlatform ${this.node.path}: ${usedBy}: secret "${name}" ${values ? `has no key "${key}" (it has ${Object.keys(values).join(', ')})` : 'was not created by this platform'}. ` +
          'Fix: create the secret with platform.createSecret (or createNodeCertificates) with that key.',
      );
    }
    return value;
  }

  /** Every container has a filesystem of its own: a peer's path is the same path. */
  peerPath(_nodeName: string, path: string): string {
    return path;
  }

  /** A MinIO container with TLS at the next fixed address, and its bucket (see docker-archive.ts). */
  createArchiveRepository(scope: Construct, id: string, spec: WalArchiveBucketSpec): ArchiveRepository {
    // From the top of the subnet down, so that the nodes' addresses do not depend on whether there is an archive.
    const host = this.lastHost - this.archives.length;
    if (host < this.nextHost) throw new Error(`DockerPlatform ${this.node.path}: subnet ${this.subnet} is full at archive ${spec.name}. Fix: pass a larger subnet.`);
    const placement: NodePlacement = { name: `archive-${spec.name}`, address: hostAddress(this.subnet, host), zone: undefined, network: this.subnet };
    const repository = new DockerArchiveRepository(scope, id, { spec, placement, namePrefix: this.namePrefix, networkName: this.network.name });
    this.archives.push(repository);
    return repository;
  }

  /** The archives a group of nodes was granted: its containers get their CA and wait for their bucket. */
  archivesOf(group: NodeGroup): DockerArchiveRepository[] {
    return this.archives.filter((archive) => archive.groups.includes(group));
  }

  createNodeGroup(scope: Construct, id: string, props: NodeGroupProps): NodeGroup {
    const foreign = props.placements.find((p) => p.network !== this.subnet);
    if (foreign) throw new Error(`DockerPlatform ${this.node.path}: node ${foreign.name} was not placed by this platform (network ${foreign.network}, expected ${this.subnet}).`);
    const group = new DockerNodeGroup(scope, id, { ...props, platform: this });
    this.groups.push(group);
    return group;
  }

  createEndpoint(scope: Construct, id: string, props: EndpointProps): Endpoint {
    return new DockerEndpoint(scope, id, { ...props, platform: this });
  }
}

export interface DockerNodeGroupProps extends NodeGroupProps {
  readonly platform: DockerPlatform;
}

/** Names of the Docker objects of one node. */
export interface DockerNodeNames {
  readonly anchor: string;
  /** Volume name -> mount path: the data volume and the runtime directories the node's containers share. */
  readonly volumes: Readonly<Record<string, string>>;
  /** Service name -> container name. */
  readonly services: Readonly<Record<string, string>>;
  /** Job name -> container name. */
  readonly jobs: Readonly<Record<string, string>>;
}

/**
 * A group of nodes as containers. Docker's bridge network has no firewall between containers:
 * port grants are recorded for the plans (pg_hba, configs) as on the local platform, not enforced.
 */
export class DockerNodeGroup extends Construct implements NodeGroup, RendersNodes {
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  private readonly props: DockerNodeGroupProps;
  private readonly granted = new Map<number, { purpose: string; from: Peer[] }>();
  private readonly additions: ((plan: NodePlan) => NodeAddition)[] = [];
  private rendered?: RenderedNode[];
  private materialized = false;
  /** Ports published on the Docker host from the group's first node. */
  private readonly publishedPorts: number[] = [];
  /** The endpoint's health port (HAProxy's /healthz), for the proxies' health check. */
  private healthPort?: number;

  constructor(scope: Construct, id: string, props: DockerNodeGroupProps) {
    super(scope, id);
    this.props = props;
    this.groupName = props.groupName;
    this.placements = props.placements;
    // The image's Dockerfile and each node's containers need the final plans: created at synth
    // (the image by the first group that materializes, once every group is there).
    beforeStackSynth(TerraformStack.of(this), () => this.materialize());
  }

  get ports(): readonly NodePort[] {
    return [...this.granted.entries()].map(([port, { purpose, from }]) => ({ port, purpose, from: [...from] }));
  }

  allow(port: number, purpose: string, peer: Peer): void {
    const existing = this.granted.get(port);
    if (existing) existing.from.push(peer);
    else this.granted.set(port, { purpose, from: [peer] });
  }

  allowGroup(port: number, purpose: string, other: NodeGroup): void {
    this.allow(port, purpose, { group: other.groupName });
  }

  grantSecret(): void {
    // Secrets reach the containers that use them as environment variables or uploads: nothing to grant.
  }

  allowInstanceDiscovery(): void {
    // Scrape targets are listed on this platform: there is nothing to discover.
  }

  extendPlans(addition: (plan: NodePlan) => NodeAddition): void {
    if (this.rendered) throw new Error(`${this.groupName}: extendPlans after the nodes were rendered; extend before synth`);
    this.additions.push(addition);
  }

  renderedNodes(): RenderedNode[] {
    this.rendered ??= applyAdditions(this.props.plans(), this.additions).map((plan) => ({ plan, files: plan.files }));
    return this.rendered;
  }

  /** Publishes the listener ports on the first node's anchor (the endpoint calls this at construction). */
  publish(listeners: readonly EndpointListener[], healthPort: number): void {
    if (this.healthPort !== undefined) throw new Error(`${this.groupName}: a second endpoint; expected one per group on the Docker platform (the first node publishes its ports).`);
    this.healthPort = healthPort;
    this.publishPorts(listeners.map((listener) => listener.port));
  }

  /** Publishes more ports of the group's first node on the Docker host (e.g. a Prometheus UI). */
  publishPorts(ports: readonly number[]): void {
    if (this.materialized) throw new Error(`${this.groupName}: ports published after the containers were created; publish before synth`);
    this.publishedPorts.push(...ports.filter((port) => !this.publishedPorts.includes(port)));
  }

  /** The Docker object names of a node of this group. */
  namesOf(plan: NodePlan): DockerNodeNames {
    const prefix = `${this.props.platform.namePrefix}-${plan.name}`;
    const volumes: Record<string, string> = {};
    if (plan.dataVolume) volumes[`${prefix}-data`] = plan.dataVolume.mountPath;
    // A VM's services share /run: PostgreSQL's socket directory is how Patroni, the jobs and the
    // exporter reach it. A volume per runtime directory gives the node's containers the same.
    for (const dir of plan.directories.filter((d) => d.path.startsWith('/run/'))) {
      volumes[`${prefix}-run-${dir.path.slice('/run/'.length).replace(/\//g, '-')}`] = dir.path;
    }
    return {
      anchor: prefix,
      volumes,
      services: Object.fromEntries(plan.services.map((service) => [service.name, `${prefix}-${service.name}`])),
      jobs: Object.fromEntries((plan.jobs ?? []).map((job) => [job.name, `${prefix}-${job.name}`])),
    };
  }

  private materialize(): void {
    if (this.materialized) return;
    this.materialized = true;
    const { platform } = this.props;
    const image = platform.image.imageId;
    const archives = platform.archivesOf(this);
    this.renderedNodes().forEach((node, index) => {
      const plan = node.plan;
      const names = this.namesOf(plan);
      const scope = new Construct(this, plan.name);
      const volumes = Object.entries(names.volumes).map(([name, containerPath], i) => ({
        volumeName: new Volume(scope, i === 0 && plan.dataVolume ? 'DataVolume' : `RunVolume-${containerPath.replace(/\//g, '-')}`, { name }).name,
        containerPath,
      }));
      const ports: ContainerPorts[] =
        index === 0 ? this.publishedPorts.map((port) => ({ internal: port, external: port, ip: platform.publishAddress, protocol: 'tcp' })) : [];
      // Owns the node's address, hostname and published ports; its services join its network namespace.
      const anchor = new Container(scope, 'Anchor', {
        name: names.anchor,
        image,
        command: ['sleep', 'infinity'],
        user: 'nobody',
        hostname: plan.name,
        networksAdvanced: [{ name: platform.network.name, ipv4Address: plan.address }],
        ports: ports.length > 0 ? ports : undefined,
        restart: 'unless-stopped',
        init: true,
      });
      const uploads: ContainerUpload[] = [
        ...this.uploadsOf(plan),
        ...archives.map((archive) => ({ file: ARCHIVE_CA_PATH, content: archive.caCertificate, permissions: '0644' })),
      ];
      const common = {
        image,
        networkMode: `container:${anchor.name}`,
        // Root only until container-start has given the node's files their owners; it then runs the
        // plan's command as the plan's user (setpriv, no capabilities left).
        user: 'root',
        volumes: volumes.length > 0 ? volumes : undefined,
        restart: 'unless-stopped',
        init: true,
        dependsOn: archives.length > 0 ? archives.map((archive) => archive.bucketCreated) : undefined,
      };
      for (const service of plan.services) {
        new Container(scope, service.name, {
          ...common,
          name: names.services[service.name],
          command: containerStartCommand(service.user, service.group, service.command),
          env: this.environmentOf(plan, service),
          upload: uploads,
          stopTimeout: service.stopTimeoutSeconds,
          healthcheck: this.healthcheckOf(plan, service),
        });
      }
      // A VM runs the jobs from systemd timers; here each job's container runs the same schedule.
      for (const job of plan.jobs ?? []) {
        new Container(scope, job.name, {
          ...common,
          name: names.jobs[job.name],
          command: containerStartCommand(job.user, job.group, jobRunnerCommand(job)),
          env: this.environmentOf(plan, job),
          upload: [...uploads, { file: JOB_RUNNER_PATH, content: escapeTerraform(renderJobRunner()), permissions: '0755' }],
          // The runner stops a running job with TERM and KILLs it 30 s later: give it that long.
          stopTimeout: 40,
        });
      }
    });
  }

  /** KEY=value pairs: the service's (or job's) environment, then its environment files (secrets' variables, or planned files' lines). */
  environmentOf(plan: NodePlan, runnable: NodeService | NodeJob): string[] {
    const environment = 'environment' in runnable ? runnable.environment : undefined;
    const env = new Map<string, string>(Object.entries(environment ?? {}).map(([k, v]) => [k, escapeTerraform(v)]));
    for (const file of runnable.environmentFiles ?? []) {
      const secrets = plan.secrets.filter((secret) => secret.environmentFile === file);
      const planned = plan.files.find((f) => f.path === file);
      if (secrets.length > 0) {
        for (const secret of secrets) {
          for (const [variable, key] of Object.entries(secret.variables)) {
            env.set(variable, this.props.platform.secretValue(secret.name, key, `node ${plan.name} ${runnable.name} (${variable})`));
          }
        }
      } else if (planned) {
        // A planned (non-secret) environment file: its KEY=value lines, as systemd reads them (the file is uploaded too).
        for (const line of planned.content.split('\n')) {
          const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
          if (match && !line.trimStart().startsWith('#')) env.set(match[1], escapeTerraform(match[2].replace(/^"(.*)"$/, '$1')));
        }
      } else {
        throw new Error(
          `DockerPlatform: node ${plan.name} ${runnable.name}: environmentFiles: got "${file}", which is neither a secret's environment file nor a planned file; ` +
            'expected one of them (a container has no boot script to write it). Fix: plan the file, or name it as a NodeSecret environmentFile.',
        );
      }
    }
    return [...env.entries()].map(([key, value]) => `${key}=${value}`);
  }

  /**
   * The plan's files and secret files, uploaded into every container of the node (a VM's services
   * share one filesystem), with container-start and the layout it applies. Uploads are root-owned
   * with the planned mode; container-start gives each its planned owner before the service starts.
   */
  private uploadsOf(plan: NodePlan): ContainerUpload[] {
    const files: ContainerUpload[] = plan.files.map((file) => ({ file: file.path, content: escapeTerraform(file.content), permissions: file.mode }));
    const secretFiles = plan.secretFiles ?? [];
    for (const secretFile of secretFiles) {
      files.push({ file: secretFile.path, content: this.props.platform.secretValue(secretFile.secret, secretFile.key, `node ${plan.name} file ${secretFile.path}`), permissions: '0600' });
    }
    const layout: LayoutEntry[] = [
      ...plan.directories.map((dir) => ({ kind: 'directory' as const, path: dir.path, mode: dir.mode, owner: dir.owner })),
      ...plan.files.map((file) => ({ kind: 'file' as const, path: file.path, mode: file.mode, owner: file.owner })),
      ...secretFiles.map((file) => ({ kind: 'file' as const, path: file.path, mode: '0600', owner: file.owner })),
    ];
    files.push(
      { file: CONTAINER_START_PATH, content: escapeTerraform(renderContainerStart()), permissions: '0755' },
      { file: CONTAINER_LAYOUT_PATH, content: renderContainerLayout(layout), permissions: '0644' },
    );
    return files;
  }

  /** Patroni's REST /health, etcd's endpoint health, HAProxy's /healthz; none for other services. */
  private healthcheckOf(plan: NodePlan, service: NodeService): ContainerHealthcheck | undefined {
    const program = service.command[0]?.split('/').pop();
    const portOf = (purpose: RegExp) => plan.ports.find((p) => purpose.test(p.purpose))?.port;
    const httpGet = (url: string) => ['CMD', PYTHON, '-c', `import urllib.request; urllib.request.urlopen('${url}', timeout=4)`];
    const check = (test: string[], startPeriod: string): ContainerHealthcheck => ({ test, interval: '10s', timeout: '5s', retries: 3, startPeriod });
    if (program === 'patroni') {
      const port = portOf(/^Patroni REST API/);
      // 200 while PostgreSQL runs (primary or replica); urlopen raises on 503, so the probe fails.
      return port ? check(httpGet(`http://${plan.address}:${port}/health`), '60s') : undefined;
    }
    if (program === 'etcd') {
      const port = portOf(/^etcd clients/);
      if (!port) return undefined;
      return plan.packages.includes('etcd-client')
        ? check(['CMD', '/usr/bin/etcdctl', `--endpoints=http://${plan.address}:${port}`, 'endpoint', 'health'], '30s')
        : // etcdctl is in Debian's etcd-client, which the plans do not install: etcd's own /health.
          check(httpGet(`http://${plan.address}:${port}/health`), '30s');
    }
    if (program === 'haproxy' && this.healthPort !== undefined) {
      return check(httpGet(`http://${plan.address}:${this.healthPort}/healthz`), '10s');
    }
    return undefined;
  }
}

export interface DockerEndpointProps extends EndpointProps {
  readonly platform: DockerPlatform;
}

/**
 * The group's first node, reached on the Docker host: its listener ports are published on the
 * platform's publishAddress. No load balancer: if that node stops, clients must use another.
 */
export class DockerEndpoint extends Construct implements Endpoint {
  readonly host: string;

  constructor(scope: Construct, id: string, props: DockerEndpointProps) {
    super(scope, id);
    if (!(props.group instanceof DockerNodeGroup)) throw new Error('DockerEndpoint needs a node group of the Docker platform.');
    if (props.group.placements.length === 0) throw new Error(`DockerEndpoint: group ${props.group.groupName} has no nodes to publish.`);
    props.group.publish(props.listeners, props.healthPort);
    this.host = props.platform.publishAddress;
  }

  allowClient(): void {
    // Published ports admit whoever reaches publishAddress on the Docker host; there are no client rules.
  }
}
