/**
 * EC2 refuses user data over 16 KiB at apply time; the AWS platform refuses it at synth, naming the
 * node and the size, instead.
 */
import { randomBytes } from 'node:crypto';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { awsTestStack, synthesize } from '../../support/aws-stack';

describe('AWS user data limit', () => {
  test('WHEN a node would carry more than 16 KiB of gzipped user data THEN synth fails, naming the node, the size and the limit', () => {
    const { stack, platform } = awsTestStack();
    // 24 KB of random letters in a parameter: it lands in patroni.yml and does not compress below 16 KiB.
    const noise = randomBytes(18_000).toString('base64').replace(/[^A-Za-z]/g, 'x');
    new PatroniCluster(stack, 'Cluster', { clusterName: 'big', platform, postgresqlParameters: { application_name: noise } });
    expect(() => synthesize(stack)).toThrow(/AwsNodeGroup big-pg: node big-pg-1: user data: got \d{5} bytes gzipped; expected at most 16384 \(EC2's limit\)/);
  });

  test('WHEN it fits THEN synth succeeds (the same cluster without the noise)', () => {
    const { stack, platform } = awsTestStack();
    new PatroniCluster(stack, 'Cluster', { clusterName: 'big', platform, postgresqlParameters: { application_name: 'orders' } });
    expect(() => synthesize(stack)).not.toThrow();
  });
});
