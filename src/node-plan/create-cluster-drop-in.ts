import { LAYOUT } from '../model/layout';
import { NodeFile } from '../model/node-plan';

/** Keeps Debian's postgresql package from creating (and starting) its own "main" cluster: ours is the only one. */
export const CREATE_CLUSTER_DROP_IN: NodeFile = {
  path: LAYOUT.createClusterDropIn,
  mode: '0644',
  owner: 'root:root',
  content: '# Patroni (or pgha-postgres-start) creates and runs the cluster: no Debian "main" cluster on port 5432.\ncreate_main_cluster = false\n',
};
