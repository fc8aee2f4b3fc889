import { parseIpv4Network } from '../spec/network';
import { SpecError } from '../spec/problems';

/**
 * Refuses a placement past the end of its subnet, naming the platform's subnet and the node that
 * did not fit: the platform's spec cannot know how many nodes the stack will place.
 */
export function checkSubnetRoom(platformPath: string, subnetIndex: number, cidrBlock: string, host: number, nodeName: string, specName = 'AwsPlatform spec'): void {
  const parsed = parseIpv4Network(cidrBlock);
  const lastHost = parsed.ok ? parsed.value.size - 2 : 0;
  if (host <= lastHost) return;
  throw new SpecError(
    specName,
    [
      {
        path: `subnets.${subnetIndex}.cidrBlock`,
        given: cidrBlock,
        expected: `room for node ${nodeName} at host number ${host}: ${cidrBlock} holds hosts up to ${lastHost}`,
        fix: 'give larger subnets (a /24 holds 245 nodes from host 10), more subnets, or a lower firstHostNumber',
      },
    ],
    platformPath,
  );
}
