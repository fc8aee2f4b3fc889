import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from '../src/cdktf';
import { writeNodeFiles } from '../src/review/node-files';
import { AwsHaStack, AwsHaStackProps } from './aws-ha';

/**
 * The app: `npm run synth` and `cdktf synth` both run this file. Stack settings come from the
 * "context" of cdktf.json (key "aws-ha"), so a deployment is configured without editing code.
 */
function contextFromCdktfJson(): Record<string, unknown> {
  const file = join(__dirname, '..', 'cdktf.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).context ?? {}) : {};
}

const app = new App({ context: process.env.CDKTF_CONTEXT_JSON ? undefined : contextFromCdktfJson() });
const awsHa = new AwsHaStack(app, 'aws-ha', (app.node.tryGetContext('aws-ha') ?? {}) as AwsHaStackProps);
app.synth();
writeNodeFiles(awsHa, join(app.outdir, 'stacks', awsHa.node.id));
