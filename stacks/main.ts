import { App } from 'cdktf';
import { AwsHaStack, AwsHaStackSettings } from './aws-ha';
import { cdktfContext } from './context';
import { LogicalReplicationStack, PrimaryWithReplicasStack } from './examples';
import { LocalDockerStack, LocalDockerStackSettings } from './local-docker';

/**
 * The app: `npm run synth`, `cdktf synth` and the `pgha` command (through cdktf.json's "app") all
 * run this file, compiled. Each stack writes its node files and pgha.json beside its Terraform.
 */
const context = cdktfContext();
const app = new App({ context });
new AwsHaStack(app, 'aws-ha', (context['aws-ha'] ?? {}) as AwsHaStackSettings);
new LocalDockerStack(app, 'local-docker', (context['local-docker'] ?? {}) as LocalDockerStackSettings);
new PrimaryWithReplicasStack(app, 'primary-with-replicas');
new LogicalReplicationStack(app, 'logical-replication');
app.synth();
