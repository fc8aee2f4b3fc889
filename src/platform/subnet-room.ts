import { lastHostNumber, parseIpv4Network } from '../spec/network';
import { SpecError } from '../spec/problems';

/** The platform prop a full subnet is blamed on, and what to change. */
export interface SubnetRoomProblem {
  readonly specName: string;
  readonly platformPath: string;
  readonly field: string;
  readonly fix: string;
}

/**
 * Refuses a placement past the end of its subnet, naming the platform's prop and the node that did
 * not fit: the platform's spec cannot know how many nodes the stack will place.
 */
export function checkSubnetRoom(where: SubnetRoomProblem, cidrBlock: string, host: number, nodeName: string): void {
  const parsed = parseIpv4Network(cidrBlock);
  const lastHost = parsed.ok ? lastHostNumber(parsed.value) : 0;
  if (host <= lastHost) return;
  throw new SpecError(
    where.specName,
    [{ path: where.field, given: cidrBlock, expected: `room for node ${nodeName} at host number ${host}: ${cidrBlock} holds hosts up to ${lastHost}`, fix: where.fix }],
    where.platformPath,
  );
}
