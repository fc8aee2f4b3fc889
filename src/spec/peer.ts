import { z } from 'zod';
import { awsId } from './aws-platform';
import { ipv4Network, refuseAnywhere } from './network';
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

/** Problems of a list of peers: each well formed, and together not every IPv4 address unless allowed. */
export function checkPeers(path: string, peers: unknown, rule: PeerRule): SpecProblem[] {
  const shape = { [path]: z.array(peerSchema, expectation('a list of peers', 'pass e.g. [{ cidr: "10.20.0.0/16" }]')) };
  const problems = propProblems(shape, { [path]: peers });
  if (problems.length > 0) return problems;
  // Aligned with the peers ("" for the others), so that a problem names the peer's index.
  const cidrs = (peers as { cidr?: string }[]).map((peer) => peer.cidr ?? '');
  return refuseAnywhere(path, cidrs, rule.allowed ?? false, rule.allowField, rule.why);
}
