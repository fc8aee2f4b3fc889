/** etcd's own view of a running test cluster, through its v3 JSON gateway. */
import { http } from '../../src/runner/cluster-checks';
import { eventually, memberAddress, TestCluster } from './local-cluster';

const memberNames = (cluster: TestCluster) => cluster.endpoints.members.map((m) => m.name);

/** The etcd client endpoint on a member's node (etcd is colocated in the reference topology). */
export const etcdEndpointOf = (cluster: TestCluster, name: string) =>
  `${memberAddress(cluster, name).host}:${cluster.endpoints.etcd[0].split(':')[1]}`;

interface EtcdStatus {
  readonly memberId: string;
  readonly leader: string;
}

/** etcd's own view (v3 gRPC gateway): this member's id and the raft leader's id. */
export async function etcdStatus(endpoint: string): Promise<EtcdStatus> {
  const answer = await http(`http://${endpoint}/v3/maintenance/status`, { method: 'POST', body: {} });
  if (answer.status !== 200) throw new Error(`etcd ${endpoint} status answered ${answer.status}: ${answer.body}`);
  const status = JSON.parse(answer.body);
  return { memberId: status.header.member_id, leader: status.leader };
}

/** The member (node name) whose etcd is the raft leader. */
export async function etcdRaftLeader(cluster: TestCluster): Promise<string> {
  const statuses = await Promise.all(memberNames(cluster).map(async (name) => ({ name, status: await etcdStatus(etcdEndpointOf(cluster, name)) })));
  const leaderId = statuses[0].status.leader;
  const leader = statuses.find((s) => s.status.memberId === leaderId);
  if (!leader || statuses.some((s) => s.status.leader !== leaderId)) throw new Error(`etcd members disagree on the raft leader: ${JSON.stringify(statuses)}`);
  return leader.name;
}

/** Hands etcd raft leadership to the member on `name`'s node (asked of the current raft leader). */
export async function moveEtcdLeadership(cluster: TestCluster, name: string): Promise<void> {
  const current = await etcdRaftLeader(cluster);
  if (current === name) return;
  const target = await etcdStatus(etcdEndpointOf(cluster, name));
  const answer = await http(`http://${etcdEndpointOf(cluster, current)}/v3/maintenance/transfer-leadership`, { method: 'POST', body: { targetID: target.memberId }, timeoutMs: 10_000 });
  if (answer.status !== 200) throw new Error(`etcd transfer-leadership answered ${answer.status}: ${answer.body}`);
  await eventually(`etcd raft leadership on ${name}`, 10_000, async () => (await etcdRaftLeader(cluster)) === name);
}

