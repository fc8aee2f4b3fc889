import { Construct } from 'constructs';
import { Container, ContainerHealthcheck, ContainerPorts, ContainerUpload } from '@cdktf/provider-docker/lib/container';
import { Volume } from '@cdktf/provider-docker/lib/volume';
import { TerraformStack } from '../../cdktf';
import { NodeJob, NodePlan, NodeService } from '../../model/node-plan';
import { EndpointListener, NodeGroupProps } from '../platform';
import { RecordedNodeGroup } from '../recorded-node-group';
import { beforeStackSynth } from './before-synth';
import { CONTAINER_LAYOUT_PATH, CONTAINER_START_PATH, LayoutEntry, containerStartCommand, renderContainerLayout, renderContainerStart } from './container-start';
import type { DockerPlatform } from './docker-platform';
import { JOB_RUNNER_PATH, jobRunnerCommand, renderJobRunner } from './job-runner';
import { escapeTerraform } from './terraform-escape';

/** Health probes run `python3 -c` (Patroni needs python3, so it is in the image; the image has no curl). */
const PYTHON = '/usr/bin/python3';

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
export class DockerNodeGroup extends RecordedNodeGroup {
  private readonly props: DockerNodeGroupProps;
  private materialized = false;
  /** Ports published on the Docker host from the group's first node. */
  private readonly publishedPorts: number[] = [];
  /** The endpoint's health port (HAProxy's /healthz), for the proxies' health check. */
  private healthPort?: number;

  /** @internal DockerPlatform.createNodeGroup makes them. */
  constructor(scope: Construct, id: string, props: DockerNodeGroupProps) {
    super(scope, id, props);
    this.props = props;
    // The image's Dockerfile and each node's containers need the final plans: created at synth
    // (the image by the first group that materializes, once every group is there).
    beforeStackSynth(TerraformStack.of(this), () => this.materialize());
  }

  grantSecret(): void {
    // Secrets reach the containers that use them as environment variables or uploads: nothing to grant.
  }

  allowInstanceDiscovery(): void {
    // Scrape targets are listed on this platform: there is nothing to discover.
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

  /**
   * The Docker object names of a node of this group.
   * @internal The Docker platform calls it.
   */
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
        ...archives.map((archive) => ({ file: archive.caPath, content: archive.caCertificate, permissions: '0644' })),
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
          // As the unit's KillSignal: PgBouncer stops at once on SIGINT (SIGTERM waits for its clients).
          ...(service.stopSignal && service.stopSignal !== 'SIGTERM' ? { stopSignal: service.stopSignal } : {}),
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
