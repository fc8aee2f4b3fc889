import { HaproxyBackendMember, renderHaproxyConfig } from '../render/haproxy-config';
import { HaproxyFrontendsSpec } from '../spec/haproxy-frontends';
import { LAYOUT } from '../model/layout';
import { NodePlan, NodePort, NodeService } from '../model/node-plan';
import { unitFile } from '../render/unit-files';
import { NodePlacement } from '../model/placement';

export interface HaproxyPlanInput {
  readonly spec: HaproxyFrontendsSpec;
  readonly groupName: string;
  readonly placements: readonly NodePlacement[];
  readonly members: readonly HaproxyBackendMember[];
  readonly secretName: string;
  readonly ports: readonly NodePort[];
}

export const HAPROXY_SERVICE = 'pgha-haproxy';
export const HAPROXY_STATS_USER = 'admin';
export const HAPROXY_SECRET_VARIABLES: Record<string, string> = { HAPROXY_STATS_PASSWORD: 'stats_password' };

export function planHaproxyNodes(input: HaproxyPlanInput): NodePlan[] {
  return input.placements.map((placement) => {
    const service: NodeService = {
      name: HAPROXY_SERVICE,
      description: `HAProxy ${placement.name}: read-write and read-only routing by Patroni health checks`,
      user: 'haproxy',
      group: 'haproxy',
      // -Ws: master-worker mode that tells systemd when it is ready and reloads without dropping connections.
      readiness: 'notify',
      command: ['/usr/sbin/haproxy', '-Ws', '-f', LAYOUT.haproxyConfig],
      environmentFiles: [LAYOUT.haproxySecretsEnv],
      reloadSignal: 'USR2',
      limitNoFile: Math.max(65536, input.spec.maxConnections * 2 + 1024),
    };
    return {
      name: placement.name,
      group: input.groupName,
      address: placement.address,
      zone: placement.zone,
      packages: ['haproxy'],
      directories: [],
      files: [
        {
          path: LAYOUT.haproxyConfig,
          mode: '0644',
          owner: 'root:root',
          content: renderHaproxyConfig({
            spec: input.spec,
            bindAddress: placement.address,
            members: input.members,
            statsUser: HAPROXY_STATS_USER,
            statsPasswordVariable: Object.keys(HAPROXY_SECRET_VARIABLES)[0],
          }),
        },
        unitFile(service),
      ],
      services: [service],
      replacesServices: ['haproxy'],
      ports: input.ports,
      secrets: [
        {
          name: input.secretName,
          environmentFile: LAYOUT.haproxySecretsEnv,
          owner: 'haproxy:haproxy',
          variables: HAPROXY_SECRET_VARIABLES,
        },
      ],
    };
  });
}
