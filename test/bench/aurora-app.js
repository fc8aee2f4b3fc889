// The baseline of `npm run bench`: what a user would pick instead of this library, an AWS CDK
// (aws-cdk-lib) Aurora PostgreSQL cluster with a writer, two readers and its own VPC, synthesized
// to CDK_OUTDIR. Plain JavaScript, as our reference app runs compiled: both pay no transpiler.
const { App, Stack } = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const rds = require('aws-cdk-lib/aws-rds');

const app = new App();
const stack = new Stack(app, 'Aurora', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Network', { maxAzs: 3, natGateways: 1 });
new rds.DatabaseCluster(stack, 'Database', {
  engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
  writer: rds.ClusterInstance.provisioned('writer'),
  readers: [rds.ClusterInstance.provisioned('reader1'), rds.ClusterInstance.provisioned('reader2')],
  vpc,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  storageEncrypted: true,
});
app.synth();
