import { Construct } from 'constructs';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { LocalBackend, TerraformOutput, TerraformStack } from 'cdktf';
import { DockerArchiveRepository, DockerNodeGroup, DockerPlatform, DockerPlatformProps, HaproxyFrontends, PatroniCluster } from 'cdktf-postgres-ha';
import { AwsHaStackSettings, withReferenceDefaults } from './aws-ha';
import { haTopology } from './ha-topology';

/** The stack's settings as cdktf.json's context gives them: the topology's, as for aws-ha, and the platform's. */
export type LocalDockerStackSettings = Omit<AwsHaStackSettings, 'region' | 'availabilityZones' | 'existingNetwork'> & {
  /** Network, published address and name prefix of the containers. */
  readonly platform?: DockerPlatformProps;
};

/**
 * The reference topology as containers on one Docker host (the one DOCKER_HOST names, else the
 * local socket): 3 PostgreSQL nodes with Patroni and etcd, 2 HAProxy nodes, a MinIO archive with
 * scheduled backups, and the exporters; the same constructs and node plans as aws-ha. Only the
 * first proxy's read-write and read-only ports are published, on 127.0.0.1.
 */
export class LocalDockerStack extends TerraformStack {
  readonly platform: DockerPlatform;
  readonly cluster: PatroniCluster;
  readonly frontends: HaproxyFrontends;

  constructor(scope: Construct, id: string, settings: LocalDockerStackSettings = {}) {
    super(scope, id);
    const { platform: platformProps, ...topologySettings } = settings;
    // No host here: the provider reads DOCKER_HOST (and DOCKER_CERT_PATH), as the docker CLI does.
    new DockerProvider(this, 'docker', {});
    new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    this.platform = new DockerPlatform(this, 'Platform', platformProps);
    const topology = withReferenceDefaults(topologySettings);
    const { cluster, frontends, archive, prometheusServer } = haTopology(this, this.platform, {
      ...topology,
      // One Docker host is one failure domain: there are no zones to spread the nodes over.
      cluster: { allowSingleAvailabilityZone: true, ...topology.cluster },
      // Clients are containers on the network; the published ports reach the proxies from the bridge's gateway, inside it.
      clientCidrs: topology.clientCidrs ?? [this.platform.subnet],
    });
    this.cluster = cluster;
    this.frontends = frontends;
    if (prometheusServer) {
      // Prometheus's UI on the Docker host too, beside the proxies' ports.
      (prometheusServer.nodes as DockerNodeGroup).publishPorts([prometheusServer.spec.port]);
      new TerraformOutput(this, 'prometheus_url', { staticId: true, value: `http://${this.platform.publishAddress}:${prometheusServer.spec.port}`, description: 'Prometheus UI and API, published on the Docker host' });
    }
    if (archive) {
      const repository = archive.repository as DockerArchiveRepository;
      new TerraformOutput(this, 'archive_bucket_name', { staticId: true, value: repository.bucket, description: `pgBackRest repository: ${repository.description}` });
    }
    new TerraformOutput(this, 'cluster_members', {
      staticId: true,
      value: cluster.members.map((m) => `${m.name}=${m.address}`).join(','),
      description: 'Patroni members (name=address on the Docker network); each serves its REST API on port 8008',
    });
  }
}
