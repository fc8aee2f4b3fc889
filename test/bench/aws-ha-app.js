// One stack of the reference app, compiled (npm run build:app): the AWS reference topology with its
// VPC, archive, backups and monitoring. The like-for-like peer of aurora-app.js: one HA cluster.
const { App } = require('cdktf');
const { AwsHaStack } = require('../../dist/stacks/aws-ha');

const app = new App();
new AwsHaStack(app, 'aws-ha');
app.synth();
