import { join } from 'node:path';
import { App } from '../src/cdktf';
import { writeNodeFiles } from '../src/review/node-files';
import { AwsHaStack, AwsHaStackSettings } from './aws-ha';
import { cdktfContext } from './context';
import { LocalDockerStack, LocalDockerStackSettings } from './local-docker';

/** The app: `npm run synth` and `cdktf synth` both run this file. */
const context = cdktfContext();
const app = new App({ context });
const awsHa = new AwsHaStack(app, 'aws-ha', (context['aws-ha'] ?? {}) as AwsHaStackSettings);
const localDocker = new LocalDockerStack(app, 'local-docker', (context['local-docker'] ?? {}) as LocalDockerStackSettings);
app.synth();
for (const stack of [awsHa, localDocker]) writeNodeFiles(stack, join(app.outdir, 'stacks', stack.node.id));
