/**
 * The corpus of bad inputs (issue 15): each is given to one construct or platform of the public
 * API among valid neighbours, in an app that would synthesize next, as a user's main.ts does. Each
 * must be refused with a SpecError naming the construct's path and the field, with an expected
 * value and a fix, and nothing may be synthesized.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  AwsPlatform,
  AwsVpc,
  BackupJob,
  ClusterMonitoring,
  DockerPlatform,
  HaproxyFrontends,
  LocalPlatform,
  PatroniCluster,
  PrimaryWithReplicas,
  PrometheusServer,
  SpecError,
  WalArchiveBucket,
  stackPlatform,
} from '../../src/index';
import { THREE_ZONE_SUBNETS } from '../support/aws-stack';
import { BAD_PARAMETER_VALUES } from '../support/bad-parameter-values';
import { ConstructEnv, constructEnv, loose } from '../support/construct-env';

type Build = (env: ConstructEnv) => unknown;
/** [what is wrong, build, the construct path named, the field named, words of the message] */
type Case = [string, Build, string, string, RegExp?];

const AWS = { vpcId: 'vpc-0123456789abcdef0', subnets: THREE_ZONE_SUBNETS };
const subnet = (index: number, cidrBlock: string, zone = `eu-west-1${'abc'[index % 3]}`) => ({ subnetId: `subnet-0${String(index).repeat(16)}`, availabilityZone: zone, cidrBlock });

const aws = (props: unknown): Build => (e) => new AwsPlatform(e.stack, 'Bad', loose(props));
const vpc = (props: unknown): Build => (e) => new AwsVpc(e.stack, 'Bad', loose({ name: 'orders', availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'], ...(props as object) }));
const local = (props: unknown): Build => (e) => new LocalPlatform(e.stack, 'Bad', loose(props));
const docker = (props: unknown): Build => (e) => new DockerPlatform(e.stack, 'Bad', loose(props));
const patroni = (props: Record<string, unknown>): Build => (e) => new PatroniCluster(e.stack, 'Bad', loose({ platform: e.aws(), clusterName: 'orders', ...props }));
const replicas = (props: Record<string, unknown>): Build => (e) => new PrimaryWithReplicas(e.stack, 'Bad', loose({ platform: e.aws(), clusterName: 'orders', ...props }));
const frontends = (props: Record<string, unknown>): Build => (e) => new HaproxyFrontends(e.stack, 'Bad', loose({ platform: e.aws(), cluster: e.cluster(), ...props }));
const archive = (props: Record<string, unknown>): Build => (e) => new WalArchiveBucket(e.stack, 'Bad', loose({ platform: e.aws(), name: 'orders-archive', ...props }));
const backups = (props: Record<string, unknown>): Build => (e) => new BackupJob(e.stack, 'Bad', loose({ cluster: e.cluster(), ...props }));
const monitoring = (props: Record<string, unknown>): Build => (e) => new ClusterMonitoring(e.stack, 'Bad', loose({ cluster: e.cluster(), ...props }));
const prometheus = (props: Record<string, unknown>): Build => (e) => new PrometheusServer(e.stack, 'Bad', loose({ platform: e.aws(), monitoring: [e.monitoring()], ...props }));
/** A cluster on the local or Docker platform made with bad platform props: the placement is refused. */
const clusterOn = (platform: (e: ConstructEnv) => unknown): Build => (e) => new PatroniCluster(e.stack, 'Cluster', loose({ platform: platform(e), clusterName: 'orders', allowSingleAvailabilityZone: true }));

const BAD = 'test/Bad';

const platforms: Case[] = [
  // AwsPlatform
  ['AwsPlatform: a misspelt prop', aws({ ...AWS, subnet: THREE_ZONE_SUBNETS }), BAD, 'subnet', /did you mean subnets\?/],
  ['AwsPlatform: no vpcId', aws({ subnets: THREE_ZONE_SUBNETS }), BAD, 'vpcId', /a vpc id/],
  ['AwsPlatform: a subnet id as vpcId', aws({ ...AWS, vpcId: 'subnet-0123456789abcdef0' }), BAD, 'vpcId', /vpc id such as/],
  ['AwsPlatform: no subnets', aws({ ...AWS, subnets: [] }), BAD, 'subnets', /at least one private subnet/],
  ['AwsPlatform: subnets not a list', aws({ ...AWS, subnets: 'subnet-0123456789abcdef0' }), BAD, 'subnets', /a list of private subnets/],
  ['AwsPlatform: a subnet without its CIDR block', aws({ ...AWS, subnets: [{ subnetId: 'subnet-01111111111111111', availabilityZone: 'eu-west-1a' }] }), BAD, 'subnets.0.cidrBlock'],
  ['AwsPlatform: a subnet with a misspelt key', aws({ ...AWS, subnets: [{ ...subnet(1, '10.0.1.0/24'), zone: 'eu-west-1a' }] }), BAD, 'subnets.0'],
  ['AwsPlatform: overlapping subnets', aws({ ...AWS, subnets: [subnet(1, '10.0.1.0/24'), subnet(2, '10.0.1.128/25')] }), BAD, 'subnets.1', /the same addresses/],
  ['AwsPlatform: one subnet twice', aws({ ...AWS, subnets: [subnet(1, '10.0.1.0/24'), subnet(1, '10.0.2.0/24')] }), BAD, 'subnets.1'],
  ['AwsPlatform: a /29 subnet', aws({ ...AWS, subnets: [subnet(1, '10.0.1.0/29')] }), BAD, 'subnets.0.cidrBlock', /\/16 to \/28/],
  ['AwsPlatform: a /8 subnet', aws({ ...AWS, subnets: [subnet(1, '10.0.0.0/8')] }), BAD, 'subnets.0.cidrBlock', /\/16 to \/28/],
  ['AwsPlatform: a subnet CIDR with host bits', aws({ ...AWS, subnets: [subnet(1, '10.0.1.5/24')] }), BAD, 'subnets.0.cidrBlock', /write "10\.0\.1\.0\/24"/],
  ['AwsPlatform: a subnet CIDR known only at apply', aws({ ...AWS, subnets: [subnet(1, '${TfToken[TOKEN.12]}')] }), BAD, 'subnets.0.cidrBlock', /known at synth time/],
  ['AwsPlatform: a region as the zone', aws({ ...AWS, subnets: [subnet(1, '10.0.1.0/24', 'eu-west-1')] }), BAD, 'subnets.0.availabilityZone', /not the region/],
  ['AwsPlatform: zones of two regions', aws({ ...AWS, subnets: [subnet(1, '10.0.1.0/24', 'eu-west-1a'), subnet(2, '10.0.2.0/24', 'us-east-1b')] }), BAD, 'subnets', /one region/],
  ['AwsPlatform: firstHostNumber NaN', aws({ ...AWS, firstHostNumber: Number.NaN }), BAD, 'firstHostNumber'],
  ['AwsPlatform: firstHostNumber as text', aws({ ...AWS, firstHostNumber: '10' }), BAD, 'firstHostNumber', /whole number/],
  ['AwsPlatform: firstHostNumber in the reserved hosts', aws({ ...AWS, firstHostNumber: 3 }), BAD, 'firstHostNumber', /AWS reserves hosts 1 to 3\): a whole number from 4/],
  ['AwsPlatform: firstHostNumber outside the subnet', aws({ ...AWS, firstHostNumber: 300 }), BAD, 'firstHostNumber', /holds hosts 4 to 254/],
  ['AwsPlatform: a subnet too small for the nodes', (e) => new PatroniCluster(e.stack, 'Cluster', { platform: new AwsPlatform(e.stack, 'Bad', { ...AWS, subnets: [subnet(1, '10.0.1.0/28')], firstHostNumber: 13 }), clusterName: 'orders', allowSingleAvailabilityZone: true }), BAD, 'subnets.0.cidrBlock', /room for node orders-pg-3 at host number 15: 10\.0\.1\.0\/28 holds hosts up to 14/],
  ['AwsPlatform: an AMI name as amiId', aws({ ...AWS, amiId: 'debian-13' }), BAD, 'amiId', /AMI id/],
  ['AwsPlatform: a KMS alias as kmsKeyArn', aws({ ...AWS, kmsKeyArn: 'alias/pgha' }), BAD, 'kmsKeyArn', /key's ARN/],
  ['AwsPlatform: a secret prefix with a space', aws({ ...AWS, secretNamePrefix: 'pgha orders/' }), BAD, 'secretNamePrefix'],
  ['AwsPlatform: an instance type without a size', aws({ ...AWS, defaultInstanceType: 'large' }), BAD, 'defaultInstanceType', /family\.size/],
  ['AwsPlatform: no props', aws(undefined), BAD, '(spec)'],
  // AwsVpc
  ['AwsVpc: a /8 network', vpc({ cidrBlock: '10.0.0.0/8' }), BAD, 'cidrBlock', /\/16 to \/28/],
  ['AwsVpc: a /29 network', vpc({ cidrBlock: '10.40.0.0/29' }), BAD, 'cidrBlock', /\/16 to \/28/],
  ['AwsVpc: a /23 for three zones', vpc({ cidrBlock: '10.40.0.0/23' }), BAD, 'cidrBlock', /room for 4 \/24 subnets/],
  ['AwsVpc: an octet with a leading zero', vpc({ cidrBlock: '010.40.0.0/16' }), BAD, 'cidrBlock', /write "10\.40\.0\.0\/16"/],
  ['AwsVpc: host bits set', vpc({ cidrBlock: '10.40.3.0/16' }), BAD, 'cidrBlock', /write "10\.40\.0\.0\/16"/],
  ['AwsVpc: no zones', vpc({ availabilityZones: [] }), BAD, 'availabilityZones', /at least one availability zone/],
  ['AwsVpc: a zone twice', vpc({ availabilityZones: ['eu-west-1a', 'eu-west-1a'] }), BAD, 'availabilityZones.1', /each zone once/],
  ['AwsVpc: zones of two regions', vpc({ availabilityZones: ['eu-west-1a', 'us-east-1a'] }), BAD, 'availabilityZones', /one region/],
  ['AwsVpc: an empty name', vpc({ name: '' }), BAD, 'name'],
  ['AwsVpc: a misspelt prop', vpc({ cidr: '10.40.0.0/16' }), BAD, 'cidr', /did you mean cidrBlock\?/],
  // LocalPlatform
  ['LocalPlatform: address block 0', local({ addressBlock: 0 }), BAD, 'addressBlock', /from 1 to 254/],
  ['LocalPlatform: address block 255', local({ addressBlock: 255 }), BAD, 'addressBlock', /from 1 to 254/],
  ['LocalPlatform: address block as text', local({ addressBlock: '42' }), BAD, 'addressBlock'],
  ['LocalPlatform: a fractional address block', local({ addressBlock: 1.5 }), BAD, 'addressBlock'],
  ['LocalPlatform: no pseudo-subnets', local({ subnets: 0 }), BAD, 'subnets'],
  ['LocalPlatform: host 255', local({ firstHostNumber: 255 }), BAD, 'firstHostNumber'],
  ['LocalPlatform: an unknown archive store type', local({ archiveStore: { type: 'nfs', dir: '/tmp/a' } }), BAD, 'archiveStore.type', /type: "posix"/],
  ['LocalPlatform: a relative archive directory', local({ archiveStore: { type: 'posix', dir: 'archive' } }), BAD, 'archiveStore.dir', /absolute path/],
  ['LocalPlatform: an S3 store on a privileged port', local({ archiveStore: { type: 's3', dir: '/tmp/s3', port: 443 } }), BAD, 'archiveStore.port', /1024 to 65535/],
  ['LocalPlatform: a misspelt archive store key', local({ archiveStore: { type: 'posix', directory: '/tmp/a' } }), BAD, 'archiveStore'],
  ['LocalPlatform: a relative nodes directory', local({ nodesDir: 'nodes' }), BAD, 'nodesDir'],
  ['LocalPlatform: an unknown failover profile', local({ failover: 'turbo' }), BAD, 'failover', /"default" or "fast"/],
  ['LocalPlatform: a misspelt prop', local({ adressBlock: 42 }), BAD, 'adressBlock', /did you mean addressBlock\?/],
  ['LocalPlatform: a full pseudo-subnet', clusterOn((e) => new LocalPlatform(e.stack, 'Bad', { subnets: 1, firstHostNumber: 253 })), BAD, 'subnets', /room for node orders-pg-3 .*use more pseudo-subnets/],
  // DockerPlatform
  ['DockerPlatform: an address without a prefix', docker({ subnet: '172.28.0.0' }), BAD, 'subnet', /address\/prefix/],
  ['DockerPlatform: host bits set', docker({ subnet: '172.28.0.5/24' }), BAD, 'subnet', /write "172\.28\.0\.0\/24"/],
  ['DockerPlatform: a /30 network', docker({ subnet: '10.0.0.0/30' }), BAD, 'subnet', /\/8 to \/29/],
  ['DockerPlatform: the gateway as first host', docker({ firstHostNumber: 1 }), BAD, 'firstHostNumber', /from 2/],
  ['DockerPlatform: a first host outside the network', docker({ firstHostNumber: 300 }), BAD, 'firstHostNumber', /from 2 to 254/],
  ['DockerPlatform: a host name as publish address', docker({ publishAddress: 'localhost' }), BAD, 'publishAddress', /IPv4 address/],
  ['DockerPlatform: an octet with leading zeros', docker({ publishAddress: '127.000.0.1' }), BAD, 'publishAddress', /write "127\.0\.0\.1"/],
  ['DockerPlatform: a name with a space', docker({ name: 'Bad Name' }), BAD, 'name'],
  ['DockerPlatform: a misspelt prop', docker({ subnetCidr: '172.28.0.0/24' }), BAD, 'subnetCidr', /did you mean subnet\?/],
  ['DockerPlatform: a full network', clusterOn((e) => new DockerPlatform(e.stack, 'Bad', { subnet: '10.9.0.0/29', firstHostNumber: 5 })), BAD, 'subnet', /room for node orders-pg-3/],
];

const references: Case[] = [
  ['PatroniCluster: no platform', (e) => new PatroniCluster(e.stack, 'Bad', loose({ clusterName: 'orders' })), BAD, 'platform', /it is required/],
  ['PatroniCluster: an empty object as platform', patroni({ platform: {} }), BAD, 'platform', /a platform/],
  ['PatroniCluster: a cluster as platform', (e) => new PatroniCluster(e.stack, 'Bad', loose({ clusterName: 'orders', platform: e.cluster() })), BAD, 'platform', /got a PatroniCluster/],
  ['PatroniCluster: a bucket name as archive', patroni({ archive: 'orders-archive' }), BAD, 'archive', /a WalArchiveBucket/],
  ['PatroniCluster: restoreFrom without its archive', patroni({ restoreFrom: { sourceCluster: 'main', latest: true } }), BAD, 'restoreFrom.archive', /a WalArchiveBucket/],
  ['PatroniCluster: a subscription without a publisher', patroni({ subscriptions: [{ name: 'orders_sub', publication: 'orders_pub' }] }), BAD, 'subscriptions.0.publisher'],
  ['PatroniCluster: a cluster name as publisher', patroni({ subscriptions: [{ name: 'orders_sub', publisher: 'main', publication: 'orders_pub' }] }), BAD, 'subscriptions.0.publisher'],
  ['PatroniCluster: no props at all', (e) => new PatroniCluster(e.stack, 'Bad', loose(undefined)), BAD, '(props)'],
  ['PrimaryWithReplicas: no platform', (e) => new PrimaryWithReplicas(e.stack, 'Bad', loose({ clusterName: 'orders' })), BAD, 'platform'],
  ['PrimaryWithReplicas: a string as archive', replicas({ archive: 's3://bucket' }), BAD, 'archive'],
  ['PrimaryWithReplicas: props as a string', (e) => new PrimaryWithReplicas(e.stack, 'Bad', loose('orders')), BAD, '(props)'],
  ['HaproxyFrontends: no cluster', (e) => new HaproxyFrontends(e.stack, 'Bad', loose({ platform: e.aws() })), BAD, 'cluster', /a PatroniCluster or a PrimaryWithReplicas/],
  ['HaproxyFrontends: an archive as cluster', (e) => new HaproxyFrontends(e.stack, 'Bad', loose({ platform: e.aws(), cluster: e.archive() })), BAD, 'cluster', /got a WalArchiveBucket/],
  ['HaproxyFrontends: no platform', (e) => new HaproxyFrontends(e.stack, 'Bad', loose({ cluster: e.cluster() })), BAD, 'platform'],
  ['HaproxyFrontends: null props', (e) => new HaproxyFrontends(e.stack, 'Bad', loose(null)), BAD, '(props)'],
  ['WalArchiveBucket: no platform', (e) => new WalArchiveBucket(e.stack, 'Bad', loose({ name: 'orders-archive' })), BAD, 'platform'],
  ['WalArchiveBucket: a region as platform', archive({ platform: 'eu-west-1' }), BAD, 'platform'],
  ['BackupJob: no cluster', (e) => new BackupJob(e.stack, 'Bad', loose({})), BAD, 'cluster', /a PatroniCluster/],
  ['BackupJob: a PrimaryWithReplicas', (e) => new BackupJob(e.stack, 'Bad', loose({ cluster: e.replicas() })), BAD, 'cluster', /got a PrimaryWithReplicas/],
  ['BackupJob: props as a list', (e) => new BackupJob(e.stack, 'Bad', loose([e.cluster()])), BAD, '(props)'],
  ['ClusterMonitoring: no cluster', (e) => new ClusterMonitoring(e.stack, 'Bad', loose({})), BAD, 'cluster'],
  ['ClusterMonitoring: a cluster as frontends', (e) => new ClusterMonitoring(e.stack, 'Bad', loose({ cluster: e.cluster(), frontends: e.cluster() })), BAD, 'frontends', /a HaproxyFrontends/],
  ['ClusterMonitoring: scrapers as a security group id', monitoring({ scrapers: 'sg-0123456789abcdef0' }), BAD, 'scrapers', /a list of peers/],
  ['ClusterMonitoring: a scraper that is no peer', monitoring({ scrapers: [{ network: '10.0.0.0/16' }] }), BAD, 'scrapers.0'],
  ['ClusterMonitoring: a scraper with a malformed CIDR', monitoring({ scrapers: [{ cidr: '10/8' }] }), BAD, 'scrapers.0.cidr'],
  ['PrometheusServer: no monitoring', (e) => new PrometheusServer(e.stack, 'Bad', loose({ platform: e.aws() })), BAD, 'monitoring', /a ClusterMonitoring/],
  ['PrometheusServer: a cluster in monitoring', (e) => new PrometheusServer(e.stack, 'Bad', loose({ platform: e.aws(), monitoring: [e.cluster()] })), BAD, 'monitoring.0', /got a PatroniCluster/],
  ['PrometheusServer: a platform name', prometheus({ platform: 'aws' }), BAD, 'platform'],
];

const networks: Case[] = [
  ['PatroniCluster: 0.0.0.0/00', patroni({ clientCidrs: ['0.0.0.0/00'] }), BAD, 'clientCidrs.0', /write "0\.0\.0\.0\/0"/],
  ['PatroniCluster: an octal-looking octet', patroni({ clientCidrs: ['010.0.0.0/8'] }), BAD, 'clientCidrs.0', /write "10\.0\.0\.0\/8": a leading zero reads as octal/],
  ['PatroniCluster: host bits set', patroni({ clientCidrs: ['10.0.0.5/16'] }), BAD, 'clientCidrs.0', /write "10\.0\.0\.0\/16"/],
  ['PatroniCluster: the whole internet in two halves', patroni({ clientCidrs: ['0.0.0.0/1', '128.0.0.0/1'] }), BAD, 'clientCidrs.0', /cover every IPv4 address/],
  ['PatroniCluster: 0.0.0.0/0 without allowAnyClient', patroni({ clientCidrs: ['0.0.0.0/0'] }), BAD, 'clientCidrs.0', /allowAnyClient: true/],
  ['PatroniCluster: a CIDR with a space', patroni({ clientCidrs: [' 10.0.0.0/8'] }), BAD, 'clientCidrs.0'],
  ['PatroniCluster: a bare address', patroni({ clientCidrs: ['10.0.0.1'] }), BAD, 'clientCidrs.0', /address\/prefix/],
  ['PatroniCluster: a prefix of 33', patroni({ clientCidrs: ['10.0.0.0/33'] }), BAD, 'clientCidrs.0'],
  ['PrimaryWithReplicas: 0.0.0.0/00', replicas({ clientCidrs: ['0.0.0.0/00'] }), BAD, 'clientCidrs.0', /write "0\.0\.0\.0\/0"/],
  ['PrimaryWithReplicas: host bits set', replicas({ clientCidrs: ['192.168.1.1/24'] }), BAD, 'clientCidrs.0', /write "192\.168\.1\.0\/24"/],
  ['PrimaryWithReplicas: the whole internet without the flag', replicas({ clientCidrs: ['0.0.0.0/0'] }), BAD, 'clientCidrs.0', /allowAnyClient/],
  ['HaproxyFrontends: 0.0.0.0/00', frontends({ clientCidrs: ['0.0.0.0/00'] }), BAD, 'clientCidrs.0'],
  ['HaproxyFrontends: the whole internet in four quarters', frontends({ clientCidrs: ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2', '192.0.0.0/2'] }), BAD, 'clientCidrs.0', /cover every IPv4 address/],
  ['HaproxyFrontends: allowClient of every address', (e) => new HaproxyFrontends(e.stack, 'Bad', { platform: e.aws(), cluster: e.replicas() }).allowClient({ cidr: '0.0.0.0/0' }), BAD, 'allowClient(peer).0', /allowAnyClient/],
  ['HaproxyFrontends: allowClient of the other half of the internet', (e) => new HaproxyFrontends(e.stack, 'Bad', { platform: e.aws(), cluster: e.replicas(), clientCidrs: ['0.0.0.0/1'] }).allowClient({ cidr: '128.0.0.0/1' }), BAD, 'allowClient(peer)', /with the networks allowed already \(0\.0\.0\.0\/1\), this one opens the port to every IPv4 address/],
  ['PrometheusServer: two allowClient calls that cover every address', (e) => {
    const prometheus = new PrometheusServer(e.stack, 'Bad', { platform: e.aws(), monitoring: [e.monitoring()] });
    prometheus.allowClient({ cidr: '0.0.0.0/1' });
    return prometheus.allowClient({ cidr: '128.0.0.0/1' });
  }, BAD, 'allowClient(peer)', /every IPv4 address/],
  ['ClusterMonitoring: scrapers from every address', monitoring({ scrapers: [{ cidr: '0.0.0.0/0' }] }), BAD, 'scrapers.0', /without authentication/],
  ['ClusterMonitoring: allowScraper of every address', (e) => new ClusterMonitoring(e.stack, 'Bad', { cluster: e.cluster() }).allowScraper({ cidr: '0.0.0.0/0' }), BAD, 'allowScraper(peer).0'],
  ['PrometheusServer: clients from every address', prometheus({ clientCidrs: ['0.0.0.0/0'] }), BAD, 'clientCidrs.0', /no authentication/],
  ['PrometheusServer: clients from 0.0.0.0/00', prometheus({ clientCidrs: ['0.0.0.0/00'] }), BAD, 'clientCidrs.0'],
  ['PrometheusServer: allowClient of every address', (e) => new PrometheusServer(e.stack, 'Bad', { platform: e.aws(), monitoring: [e.monitoring()] }).allowClient({ cidr: '0.0.0.0/0' }), BAD, 'allowClient(peer).0'],
  ['DockerPlatform: publishing on every interface', docker({ publishAddress: '0.0.0.0' }), BAD, 'publishAddress', /allowPublishOnEveryInterface/],
];

const clashes: Case[] = [
  ['HAProxy stats on the node_exporter port', (e) => {
    const proxies = new HaproxyFrontends(e.stack, 'Proxies', { platform: e.aws(), cluster: e.cluster(), statsPort: 9100 });
    return new ClusterMonitoring(e.stack, 'Bad', { cluster: e.cluster(), frontends: proxies });
  }, BAD, 'nodeExporterPort', /9100 is HAProxy's stats page there \(statsPort of test\/Proxies\)/],
  ['postgres_exporter on the Patroni REST port', monitoring({ exporterPort: 8008 }), BAD, 'exporterPort', /Patroni's REST API there \(restApiPort of test\/Main\)/],
  ['postgres_exporter on the PostgreSQL port', monitoring({ exporterPort: 5432 }), BAD, 'exporterPort', /PostgreSQL there/],
  ['node_exporter on the colocated etcd client port', monitoring({ nodeExporterPort: 2379 }), BAD, 'nodeExporterPort', /etcd's client port/],
  ['node_exporter on a proxy frontend port', (e) => new ClusterMonitoring(e.stack, 'Bad', { cluster: e.cluster(), frontends: e.frontends(), nodeExporterPort: 5000 }), BAD, 'nodeExporterPort', /read-write frontend/],
  ['backups from a standby on the exporter port', (e) => {
    new ClusterMonitoring(e.stack, 'Monitor', { cluster: e.cluster(), exporterPort: 8432 });
    return new BackupJob(e.stack, 'Bad', { cluster: e.cluster(), backupStandby: true });
  }, BAD, 'backupStandby', /postgres_exporter there \(exporterPort of test\/Monitor\)/],
  ['two clusters named alike', (e) => {
    e.cluster();
    return new PatroniCluster(e.stack, 'Bad', { platform: e.aws(), clusterName: 'main' });
  }, BAD, 'clusterName', /test\/Main has "main" already/],
  ['a PrimaryWithReplicas named like a PatroniCluster', (e) => {
    e.cluster();
    return new PrimaryWithReplicas(e.stack, 'Bad', { platform: e.aws(), clusterName: 'main' });
  }, BAD, 'clusterName', /test\/Main/],
  ['two archives named alike', (e) => {
    e.archive();
    return new WalArchiveBucket(e.stack, 'Bad', { platform: e.aws(), name: 'main-archive' });
  }, BAD, 'name', /test\/Archive has "main-archive" already/],
  ['a Prometheus group named like a cluster group', (e) => {
    e.cluster();
    return new PrometheusServer(e.stack, 'Bad', { platform: e.aws(), monitoring: [e.monitoring()], name: 'main-pg' });
  }, BAD, 'name', /test\/Main has "main-pg" already/],
  ['two frontends for one cluster', (e) => {
    e.frontends();
    return new HaproxyFrontends(e.stack, 'Bad', { platform: e.aws(), cluster: e.cluster() });
  }, BAD, 'cluster', /test\/Frontends has "main-proxy" already/],
  ['a BackupJob for a cluster without an archive', (e) => new BackupJob(e.stack, 'Bad', { cluster: new PatroniCluster(e.stack, 'Bare', { platform: e.aws(), clusterName: 'bare' }) }), BAD, 'cluster', /test\/Bare has none to back up into/],
  ['two BackupJobs for one cluster', (e) => {
    new BackupJob(e.stack, 'Backups', { cluster: e.cluster() });
    return new BackupJob(e.stack, 'Bad', { cluster: e.cluster() });
  }, BAD, 'cluster', /test\/Backups is test\/Main's already/],
  ['two ports of one construct', frontends({ statsPort: 5000 }), BAD, 'statsPort', /different from readWritePort/],
];

/** The corpus's values PostgreSQL itself refuses (shown against the real postgres in test/tools/postgresql-catalogue.test.ts). */
const refusedByPostgres = (constructName: 'PatroniCluster' | 'PrimaryWithReplicas'): Case[] =>
  BAD_PARAMETER_VALUES.map(([name, value]) => [
    `${constructName}: ${name} = ${JSON.stringify(value)}`,
    (constructName === 'PatroniCluster' ? patroni : replicas)({ postgresqlParameters: { [name]: value } }),
    BAD,
    `postgresqlParameters.${name}`,
  ]);

const parameters: Case[] = [
  ...refusedByPostgres('PatroniCluster'),
  ...refusedByPostgres('PrimaryWithReplicas'),
  ['a value with a quote and a newline (postgres refuses to start: test/tools/postgresql-catalogue.test.ts)', patroni({ postgresqlParameters: { application_name: "x'\nfsync = off" } }), BAD, 'postgresqlParameters.application_name'],
  ['archiving off on a cluster with an archive', (e) => new PatroniCluster(e.stack, 'Bad', { platform: e.aws(), clusterName: 'orders', archive: e.archive(), postgresqlParameters: { archive_mode: 'off' } }), BAD, 'postgresqlParameters.archive_mode', /silently|archiv/],
  ['md5 passwords where pg_hba requires scram', patroni({ postgresqlParameters: { password_encryption: 'md5' } }), BAD, 'postgresqlParameters.password_encryption', /scram-sha-256/],
  ['PrimaryWithReplicas: md5 passwords', replicas({ postgresqlParameters: { password_encryption: 'md5' } }), BAD, 'postgresqlParameters.password_encryption'],
  ['a misspelt parameter gets the nearest name', patroni({ postgresqlParameters: { work_mme: '16MB' } }), BAD, 'postgresqlParameters.work_mme', /work_mem/],
  ['the slow query threshold set twice', patroni({ postgresqlParameters: { log_min_duration_statement: 500 } }), BAD, 'postgresqlParameters.log_min_duration_statement', /slowQueryThresholdMs/],
];

const schedules: Case[] = [
  ['a full backup on February 30', backups({ fullSchedule: '*-02-30 01:00:00' }), BAD, 'fullSchedule'],
  ['a check on April 31', backups({ checkSchedule: '*-04-31 01:00:00' }), BAD, 'checkSchedule'],
  ['a verify in a past year', backups({ verifySchedule: '2020-01-01 05:00:00' }), BAD, 'verifySchedule'],
  ['a dump on February 30', backups({ logicalDump: { schedule: '*-02-30 02:30:00' } }), BAD, 'logicalDump.schedule'],
  ['daily and midnight for full and differential backups', backups({ fullSchedule: 'daily', differentialSchedule: '*-*-* 00:00:00' }), BAD, 'differentialSchedule'],
  ['weekly full and a daily differential at the same hour', backups({ fullSchedule: 'Sun *-*-* 01:00:00', differentialSchedule: '*-*-* 01:00:00' }), BAD, 'differentialSchedule'],
  ['incrementals that meet the full backup', backups({ fullSchedule: 'Sun *-*-* 06:00:00', incrementalSchedule: '*-*-* 00/6:00:00' }), BAD, 'incrementalSchedule'],
  ['a schedule that is no calendar', backups({ fullSchedule: 'every sunday' }), BAD, 'fullSchedule'],
];

const nested: Case[] = [
  ['restoreFrom with a misspelt key', (e) => new PatroniCluster(e.stack, 'Bad', { platform: e.aws(), clusterName: 'orders', restoreFrom: loose({ archive: e.archive(), sourceCluster: 'main', latest: true, targetInclsive: false }) }), BAD, 'restoreFrom', /did you mean targetInclusive\?/],
  ['pooling with a misspelt key', frontends({ pooling: { databases: ['app'], poolmode: 'session' } }), BAD, 'pooling', /did you mean poolMode\?/],
  ['logicalDump with a misspelt key', backups({ logicalDump: { retention: 7 } }), BAD, 'logicalDump', /did you mean retentionDays\?/],
  ['failover timings with a misspelt key', patroni({ failover: { ttl: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 10 } }), BAD, 'failover'],
  ['a threshold with a misspelt key', monitoring({ cacheHitPercent: { warn: 98 } }), BAD, 'cacheHitPercent', /did you mean warning\?/],
  ['a publication with a misspelt key', patroni({ publications: [{ name: 'orders_pub', database: 'app', tabels: 'all' }] }), BAD, 'publications.0'],
  ['a subscription with a misspelt key', (e) => new PatroniCluster(e.stack, 'Bad', loose({ platform: e.aws(), clusterName: 'orders', subscriptions: [{ name: 'orders_sub', publisher: e.cluster(), publication: 'p', copyData: false }] })), BAD, 'subscriptions.0'],
  ['a key named constructor', patroni({ constructor: 1 }), BAD, 'constructor'],
  ['a key named toString', frontends({ toString: 'x' }), BAD, 'toString'],
  ['a key named hasOwnProperty', archive({ hasOwnProperty: true }), BAD, 'hasOwnProperty'],
  ['an archive store with a misspelt key', local({ archiveStore: { type: 's3', dir: '/tmp/s3', prot: 9000 } }), BAD, 'archiveStore'],
  ['a subnet with an extra key', aws({ ...AWS, subnets: [{ ...subnet(1, '10.0.1.0/24'), routeTableId: 'rtb-1' }] }), BAD, 'subnets.0'],
];

const dataProps: Case[] = [
  ['PatroniCluster: an instance type without a size', patroni({ instanceType: 'big' }), BAD, 'instanceType', /family\.size/],
  ['PatroniCluster: a data volume of 0 GiB', patroni({ dataVolumeSizeGiB: 0 }), BAD, 'dataVolumeSizeGiB'],
  ['PatroniCluster: an etcd volume as text', patroni({ etcdPlacement: 'dedicated', etcdDataVolumeSizeGiB: '20' }), BAD, 'etcdDataVolumeSizeGiB'],
  ['PatroniCluster: a misspelt etcd instance type prop', patroni({ etcdInstance: 't3.small' }), BAD, 'etcdInstance', /did you mean etcdInstanceType\?/],
  ['PatroniCluster: maxConnection', patroni({ maxConnection: 300 }), BAD, 'maxConnection', /did you mean maxConnections\?/],
  ['PatroniCluster: a platfrom', (e) => new PatroniCluster(e.stack, 'Bad', loose({ platfrom: e.aws(), clusterName: 'orders' })), BAD, 'platfrom', /did you mean platform\?/],
  ['PatroniCluster: two nodes', patroni({ nodeCount: 2 }), BAD, 'nodeCount'],
  ['PatroniCluster: an upper-case name', patroni({ clusterName: 'Orders' }), BAD, 'clusterName'],
  ['PatroniCluster: a port as text', patroni({ postgresPort: '5432' }), BAD, 'postgresPort'],
  ['PatroniCluster: a huge slow query threshold', patroni({ slowQueryThresholdMs: 1e12 }), BAD, 'slowQueryThresholdMs'],
  ['PrimaryWithReplicas: a volume above the EBS limit', replicas({ dataVolumeSizeGiB: 20_000 }), BAD, 'dataVolumeSizeGiB'],
  ['PrimaryWithReplicas: a negative standby count', replicas({ standbyCount: -1 }), BAD, 'standbyCount'],
  ['HaproxyFrontends: an output prefix starting with a digit', frontends({ outputPrefix: '1orders_' }), BAD, 'outputPrefix'],
  ['HaproxyFrontends: an instance type as a number', frontends({ instanceType: 5 }), BAD, 'instanceType'],
  ['HaproxyFrontends: one proxy', frontends({ proxyCount: 1 }), BAD, 'proxyCount'],
  ['HaproxyFrontends: pooling without databases', frontends({ pooling: { databases: [] } }), BAD, 'pooling.databases'],
  ['WalArchiveBucket: an upper-case name', archive({ name: 'Orders' }), BAD, 'name'],
  ['WalArchiveBucket: retention of 0 days', archive({ retentionDays: 0 }), BAD, 'retentionDays'],
  ['BackupJob: retention as text', backups({ retentionFull: '14' }), BAD, 'retentionFull'],
  ['BackupJob: an unknown retention type', backups({ retentionFullType: 'weeks' }), BAD, 'retentionFullType'],
  ['ClusterMonitoring: a warning below critical for cache hits', monitoring({ cacheHitPercent: { warning: 90, critical: 95 } }), BAD, 'cacheHitPercent.warning'],
  ['ClusterMonitoring: a misspelt threshold', monitoring({ replicationLagSecond: { warning: 1, critical: 2 } }), BAD, 'replicationLagSecond', /did you mean replicationLagSeconds\?/],
  ['PrometheusServer: retention of 0 days', prometheus({ retentionDays: 0 }), BAD, 'retentionDays'],
  ['PrometheusServer: a privileged port', prometheus({ port: 80 }), BAD, 'port'],
];

const corpus: [string, Case[]][] = [
  ['1. platforms', platforms],
  ['2. references', references],
  ['3. networks', networks],
  ['4. PostgreSQL parameters', parameters],
  ['5. clashes across constructs', clashes],
  ['6. schedules', schedules],
  ['7. nested unknown keys', nested],
  ['other data props', dataProps],
];

/** Builds like a user's main.ts: the constructs, then the synth. */
function tryApp(build: Build): { env: ConstructEnv; error: unknown } {
  const env = constructEnv();
  try {
    build(env);
    env.app.synth();
  } catch (error) {
    return { env, error };
  }
  return { env, error: undefined };
}

test('the corpus holds at least 150 bad inputs', () => {
  expect(corpus.reduce((sum, [, cases]) => sum + cases.length, 0)).toBeGreaterThanOrEqual(150);
});

describe.each(corpus)('bad input, class %s', (_class, cases) => {
  // Every row of five: a row of four would leave jest to pass its `done` callback as the fifth.
  test.each(cases.map(([what, build, path, field, words]): Required<Case> => [what, build, path, field, words ?? /./]))('%s', (_what, build, constructPath, field, words) => {
    const { env, error } = tryApp(build);
    if (!(error instanceof SpecError)) throw new Error(`expected a SpecError, got ${error instanceof Error ? error.stack : String(error)}`);
    expect(error.constructPath).toBe(constructPath);
    expect(error.message.split('\n')[0]).toContain(` of ${constructPath} (`);
    const problem = error.problems.find((p) => p.path === field);
    if (!problem) throw new Error(`no problem at "${field}" in:\n${error.message}`);
    expect(problem.expected.length).toBeGreaterThan(5);
    expect(problem.fix.length).toBeGreaterThan(5);
    if (words) expect(error.message).toMatch(words);
    // Nothing synthesized: the app stopped before its synth wrote the stack.
    expect(existsSync(join(env.outdir, 'stacks', 'test', 'cdk.tf.json'))).toBe(false);
  });
});

test('stackPlatform refuses a scope that is no stack and a cloud that is no function, naming both', () => {
  const env = constructEnv();
  let error: unknown;
  try {
    stackPlatform(loose(env.app), loose('aws'));
  } catch (thrown) {
    error = thrown;
  }
  if (!(error instanceof SpecError)) throw new Error(`expected a SpecError, got ${String(error)}`);
  expect(error.problems.map((p) => p.path)).toEqual(['stack', 'cloud']);
  expect(error.message).toMatch(/stack: got an App; expected the TerraformStack itself/);
});

test('props given as a class instance are read through its getters, as a spread would not', () => {
  const env = constructEnv();
  class OrdersProps {
    get clusterName() {
      return 'orders';
    }
    get platform() {
      return env.aws();
    }
  }
  expect(new PatroniCluster(env.stack, 'Orders', loose(new OrdersProps())).clusterName).toBe('orders');
  class BadProps {
    get clusterName() {
      return 'Orders';
    }
  }
  expect(() => new PatroniCluster(env.stack, 'Bad', loose(new BadProps()))).toThrow(/platform: got nothing[\s\S]*clusterName: got "Orders"/);
});

test('negative control: the neighbours the corpus builds on synthesize', () => {
  const { env, error } = tryApp((e) => {
    e.monitoring();
    e.replicas();
    new BackupJob(e.stack, 'Backups', { cluster: e.cluster(), backupStandby: true });
    new PrometheusServer(e.stack, 'Prometheus', { platform: e.aws(), monitoring: [e.monitoring()], clientCidrs: ['10.0.0.0/16'] });
    new AwsVpc(e.stack, 'Vpc', { name: 'orders', availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] });
    e.local();
    e.docker();
  });
  expect(error).toBeUndefined();
  expect(existsSync(join(env.outdir, 'stacks', 'test', 'cdk.tf.json'))).toBe(true);
});
