import { Testing } from 'cdktf';
import { OrdersStack } from './stack';

test('orders: 3 database nodes and 2 proxies, the writer endpoint as an output', () => {
  const stack = new OrdersStack(Testing.app(), 'orders');
  const synth = JSON.parse(Testing.synth(stack)) as { resource: Record<string, Record<string, { tags?: Record<string, string> }>>; output: Record<string, unknown> };
  const names = Object.values(synth.resource['aws_instance'] ?? {}).map((instance) => instance.tags?.['Name']);
  expect(names).toEqual(['orders-pg-1', 'orders-pg-2', 'orders-pg-3', 'orders-proxy-1', 'orders-proxy-2']);
  expect(Object.keys(synth.output)).toContain('writer_endpoint');
  expect(stack.cluster.members).toHaveLength(3);
});
