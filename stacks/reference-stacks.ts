import { App, TerraformStack } from '../src/cdktf';
import { AwsHaStack, AwsHaStackSettings } from './aws-ha';
import { cdktfContext } from './context';
import { LocalDockerStack, LocalDockerStackSettings } from './local-docker';

/** The app's stacks by name, with their settings from cdktf.json: what `pgha plan-report` reads. */
export const REFERENCE_STACKS: Record<string, (app: App) => TerraformStack> = {
  'aws-ha': (app) => new AwsHaStack(app, 'aws-ha', (cdktfContext()['aws-ha'] ?? {}) as AwsHaStackSettings),
  'local-docker': (app) => new LocalDockerStack(app, 'local-docker', (cdktfContext()['local-docker'] ?? {}) as LocalDockerStackSettings),
};
