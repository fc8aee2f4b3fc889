import { z } from 'zod';
import { awsId } from './aws-platform';
import { coversEveryAddress, ipv4Network, parsedNetwork, refuseAnywhere } from './network';
import { SpecProblem } from './problems';
import { expectation, propProblems } from './validate';

/** Who may reach a port (model/node-plan's Peer): a node group of the stack, a network, or a security group. */
export const peerSchema = z.union(
  [
    z.strictObject({ group: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, expectation('a node group name of this stack, e.g. "monitoring"', 'name a group the stack creates')) }),
    z.strictObject({ cidr: ipv4Network('10.0.0.0/16') }),
    z.strictObject({ securityGroupId: awsId('sg', 'sg-0123456789abcdef0') }),
  ],
  expectation('{ cidr: "10.0.0.0/16" }, { securityGroupId } or { group }', 'pass e.g. { cidr: "10.20.0.0/16" } or { securityGroupId: prometheus.securityGroupId }'),
);

export interface PeerRule {
  /** Who should be there, for the any-address problem. */
  readonly why: string;
  /** The prop that allows every address; without one, every address is always refused. */
  readonly allowField?: string;
  readonly allowed?: boolean;
}

/**
 * Problems of one more peer of a port (a construct's allowClient, allowScraper): well formed, and,
 * with the networks `granted` already, not every IPv4 address unless allowed (two calls with
 * 0.0.0.0/1 and 128.0.0.0/1 open it as wide as one with 0.0.0.0/0).
 */
export function checkAddedPeer(path: string, peer: unknown, rule: PeerRule, granted: readonly string[]): SpecProblem[] {
  const problems = checkPeers(path, [peer], rule);
  if (problems.length > 0 || rule.allowed) return problems;
  const cidr = (peer as { cidr?: string }).cidr;
  const networks = [...granted, ...(cidr === undefined ? [] : [cidr])].map(parsedNetwork);
  if (cidr === undefined || !coversEveryAddress(networks)) return [];
  return [
    {
      path,
      given: peer,
      expected: `${rule.why}: with the networks allowed already (${granted.join(', ')}), this one opens the port to every IPv4 address`,
      fix: `name the client networks${rule.allowField ? `, or set ${rule.allowField}: true if you really mean every address` : ''}`,
    },
  ];
}

/** Problems of a list of peers: each well formed, and together not every IPv4 address unless allowed. */
export function checkPeers(path: string, peers: unknown, rule: PeerRule): SpecProblem[] {
  const shape = { [path]: z.array(peerSchema, expectation('a list of peers', 'pass e.g. [{ cidr: "10.20.0.0/16" }]')) };
  const problems = propProblems(shape, { [path]: peers });
  if (problems.length > 0) return problems;
  // Aligned with the peers ("" for the others), so that a problem names the peer's index.
  const cidrs = (peers as { cidr?: string }[]).map((peer) => peer.cidr ?? '');
  return refuseAnywhere(path, cidrs, rule.allowed ?? false, rule.allowField, rule.why);
}
