import { join } from 'node:path';
import { App } from '../src/cdktf';
import { writeNodeFiles } from '../src/review/node-files';
import { AwsHaStack, AwsHaStackSettings } from './aws-ha';
import { cdktfContext } from './context';

/** The app: `npm run synth` and `cdktf synth` both run this file. */
const context = cdktfContext();
const app = new App({ context });
const awsHa = new AwsHaStack(app, 'aws-ha', (context['aws-ha'] ?? {}) as AwsHaStackSettings);
app.synth();
writeNodeFiles(awsHa, join(app.outdir, 'stacks', awsHa.node.id));
