import { EtcdMember, renderEtcdConfig } from '../render/etcd-config';
import { NodeDirectory, NodeFile, NodeService } from '../model/node-plan';
import { LAYOUT, etcdDataDir } from '../model/layout';

export interface EtcdMemberPlanInput {
  readonly member: EtcdMember;
  readonly members: readonly EtcdMember[];
  readonly clientPort: number;
  readonly peerPort: number;
  /** Names the etcd cluster, so members of two clusters never join each other. */
  readonly clusterToken: string;
}

/** The part of a node plan that runs one etcd member (on a PostgreSQL node or a node of its own). */
export interface EtcdMemberPlan {
  readonly packages: readonly string[];
  readonly directories: readonly NodeDirectory[];
  readonly files: readonly NodeFile[];
  readonly service: NodeService;
}

export const ETCD_SERVICE = 'pgha-etcd';

export function planEtcdMember(input: EtcdMemberPlanInput): EtcdMemberPlan {
  const dataDir = etcdDataDir(input.member.name);
  return {
    packages: ['etcd-server', 'etcd-client'],
    directories: [{ path: dataDir, mode: '0700', owner: 'etcd:etcd' }],
    files: [
      {
        path: LAYOUT.etcdConfig,
        mode: '0644',
        owner: 'root:root',
        content: renderEtcdConfig({ ...input, dataDir }),
      },
    ],
    service: {
      name: ETCD_SERVICE,
      description: `etcd member ${input.member.name} (Patroni's DCS)`,
      readiness: 'notify',
      user: 'etcd',
      group: 'etcd',
      command: ['/usr/bin/etcd', '--config-file', LAYOUT.etcdConfig],
      limitNoFile: 65536,
    },
  };
}

/** etcd wants an odd member count: 1, 3 or 5 of the cluster's nodes carry a member. */
export function colocatedEtcdMemberCount(nodeCount: number): number {
  return Math.min(5, nodeCount % 2 === 1 ? nodeCount : nodeCount - 1);
}
