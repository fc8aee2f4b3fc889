// Public API of cdktf-postgres-ha: re-exports only.
export * from './constructs/patroni-cluster';
export * from './constructs/haproxy-frontends';
export * from './platform/platform';
export * from './platform/aws/aws-platform';
export * from './platform/aws/subnet';
export * from './platform/aws/vpc';
export * from './spec/patroni-cluster';
export * from './spec/haproxy-frontends';
export * from './spec/failover';
export * from './spec/problems';
export * from './node-plan/node-plan';
export { collectRenderedNodes, writeNodeFiles } from './review/node-files';
