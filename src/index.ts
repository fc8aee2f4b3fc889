// The public API of cdktf-postgres-ha: named re-exports only. Everything else is internal and may
// change in any release. The runner and the CLI (pgha local) are not exported: a synth never loads them.

// Constructs and their props.
export { ClusterBaseProps } from './constructs/cluster-props';
export { PatroniCluster, PatroniClusterProps, RestoreFromProps } from './constructs/patroni-cluster';
export { PrimaryWithReplicas, PrimaryWithReplicasProps } from './constructs/primary-with-replicas';
export { HaproxyFrontends, HaproxyFrontendsProps } from './constructs/haproxy-frontends';
export { WalArchiveBucket, WalArchiveBucketProps } from './constructs/wal-archive-bucket';
export { BackupJob, BackupJobProps, LogicalDumpProps } from './constructs/backup-job';
export { ClusterMonitoring, ClusterMonitoringProps, ThresholdPair } from './constructs/cluster-monitoring';
export { PrometheusServer, PrometheusServerProps } from './constructs/prometheus-server';
export { ClusterEndpoints, RoutedCluster } from './constructs/routed-cluster';
export { LogicalPublisher, PublicationProps, SubscriptionProps } from './constructs/logical-publisher';

// Platforms.
export { Platform, NodeGroup, NodeGroupProps, NodeSize, SecretRef, Endpoint, EndpointProps, EndpointListener, ArchiveRepository, NodeCertificatesProps, ScrapeDiscovery, PlatformDescription } from './platform/platform';
export { stackPlatform, LocalPlatformRequest, LOCAL_PLATFORM_REQUEST_VARIABLE } from './platform/stack-platform';
export { AwsPlatform, AwsPlatformProps } from './platform/aws/aws-platform';
export { AwsVpc, AwsVpcProps } from './platform/aws/vpc';
export { AwsSubnet } from './platform/aws/subnet';
export { AwsArchiveBucket } from './platform/aws/archive-bucket';
export { DockerPlatform, DockerPlatformProps } from './platform/docker/docker-platform';
export { DockerNodeGroup } from './platform/docker/docker-node-group';
export { DockerArchiveRepository } from './platform/docker/docker-archive';
export { LocalPlatform, LocalPlatformProps, LocalPlatformDescription, LocalSecret } from './platform/local/local-platform';
export { LocalArchiveStore } from './platform/local/archive-store';

// The vocabulary of props and attributes.
export { NodePlacement } from './model/placement';
export { NodePlan, NodeFile, NodeDirectory, NodeService, NodeJob, NodePort, Peer, NodeSecret, NodeSecretFile, NodeDataVolume, NodeWatchdog } from './model/node-plan';
export { NodeAddition } from './node-plan/node-addition';
export { HaproxyBackendMember } from './render/haproxy-config';
export { RenderedNode, StackArtifact, RendersArtifacts } from './platform/rendered-node';
export { FailoverProfile, FailoverTiming, FAILOVER_PROFILES } from './spec/failover';
export { ReplicationMode, PatroniClusterSpec } from './spec/patroni-cluster';
export { ParameterValue } from './spec/postgresql-parameters';
export { PrimaryWithReplicasSpec } from './spec/primary-with-replicas';
export { HaproxyFrontendsSpec } from './spec/haproxy-frontends';
export { PoolingSpec, PoolMode } from './spec/pooling';
export { WalArchiveBucketSpec } from './spec/wal-archive-bucket';
export { BackupJobSpec } from './spec/backup-job';
export { MonitoringSpec } from './spec/monitoring';
export { SpecError, SpecProblem } from './spec/problems';

// Review: what a synthesized stack is and what it promises.
export {
  StackDescription,
  ClusterDescription,
  ClusterDescriptionBase,
  PatroniClusterDescription,
  PrimaryWithReplicasDescription,
  FrontendsDescription,
  describeStack,
} from './constructs/stack-description';
export { STACK_DESCRIPTION_FILE, readStackOutput, writeStackOutput } from './constructs/stack-output';
export { RecoveryObjective, RecoveryObjectivesInput, recoveryObjectives, recoveryReport, recoveryReportOf, renderRecoveryReport } from './review/recovery-objectives';
