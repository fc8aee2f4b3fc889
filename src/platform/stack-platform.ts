import { TerraformStack } from '../cdktf';
import { FAILOVER_PROFILES, FailoverProfile } from '../spec/failover';
import { LocalArchiveStore } from './local/archive-store';
import { LocalPlatform, LocalPlatformProps } from './local/local-platform';
import { Platform } from './platform';
import { SpecError, SpecProblem } from '../spec/problems';

/**
 * How `pgha local up --stack <name>` asks the user's app to build that stack on this machine: it
 * runs the app (cdktf.json's `app`) with this variable set to a JSON LocalPlatformRequest.
 */
export const LOCAL_PLATFORM_REQUEST_VARIABLE = 'PGHA_LOCAL_PLATFORM';

/** What `pgha local up` passes to the app: which stack to build locally, and the local platform's settings. */
export interface LocalPlatformRequest {
  readonly stack: string;
  readonly platform: Pick<LocalPlatformProps, 'addressBlock' | 'nodesDir' | 'archiveStore' | 'failover'>;
}

function invalidRequest(text: string, reason: string): Error {
  return new Error(`${LOCAL_PLATFORM_REQUEST_VARIABLE}: ${reason}; got ${text}. It is set by \`pgha local up\`: unset it to synthesize the app as usual.`);
}

function isArchiveStore(value: unknown): value is LocalArchiveStore {
  const store = value as Partial<{ type: string; dir: string; port: number }> | undefined;
  if (typeof store?.dir !== 'string') return false;
  return store.type === 'posix' || (store.type === 's3' && Number.isInteger(store.port));
}

/** The request in the environment, if `pgha local up` runs this app; undefined for a plain synth. */
export function localPlatformRequest(env: NodeJS.ProcessEnv = process.env): LocalPlatformRequest | undefined {
  const text = env[LOCAL_PLATFORM_REQUEST_VARIABLE];
  if (text === undefined || text === '') return undefined;
  let request: Partial<LocalPlatformRequest>;
  try {
    request = JSON.parse(text) as Partial<LocalPlatformRequest>;
  } catch {
    throw invalidRequest(text, 'not JSON');
  }
  const platform = request.platform;
  if (typeof request.stack !== 'string' || typeof platform !== 'object' || platform === null) throw invalidRequest(text, 'expected { "stack": <name>, "platform": {...} }');
  if (platform.archiveStore !== undefined && !isArchiveStore(platform.archiveStore)) throw invalidRequest(text, 'platform.archiveStore: expected { type: "posix", dir } or { type: "s3", dir, port }');
  if (platform.failover !== undefined && !(platform.failover in FAILOVER_PROFILES)) throw invalidRequest(text, `platform.failover: expected ${Object.keys(FAILOVER_PROFILES).join(' or ')}`);
  return { stack: request.stack, platform: { ...platform, failover: platform.failover as FailoverProfile | undefined } };
}

/**
 * The platform of a stack: the one `cloud` creates (with its provider and network), unless
 * `pgha local up --stack <this stack>` runs the app: then a LocalPlatform, so the same topology
 * runs as processes on this machine. Write the topology once against the returned `Platform`:
 *
 * ```ts
 * const platform = stackPlatform(this, () => {
 *   new AwsProvider(this, 'aws', { region: 'eu-west-1' });
 *   return new AwsPlatform(this, 'Platform', { vpcId, subnets });
 * });
 * const cluster = new PatroniCluster(this, 'Cluster', { platform, clusterName: 'orders' });
 * ```
 *
 * The local platform is the construct `Platform` of the stack; `cloud` is not called then.
 */
export function stackPlatform(stack: TerraformStack, cloud: () => Platform): Platform {
  const problems: SpecProblem[] = [];
  if (!TerraformStack.isStack(stack)) {
    problems.push({ path: 'stack', given: stack, expected: 'the TerraformStack itself', fix: 'call stackPlatform(this, ...) in the stack\'s constructor' });
  }
  if (typeof cloud !== 'function') {
    problems.push({ path: 'cloud', given: cloud, expected: 'a function that creates the cloud platform', fix: 'pass () => new AwsPlatform(this, "Platform", { ... })' });
  }
  if (problems.length > 0) throw new SpecError('stackPlatform arguments', problems);
  const request = localPlatformRequest();
  if (request?.stack === stack.node.id) return new LocalPlatform(stack, 'Platform', request.platform);
  return cloud();
}
