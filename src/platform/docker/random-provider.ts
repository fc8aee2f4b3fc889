import { IConstruct } from 'constructs';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { TerraformStack } from '../../cdktf';

/** The stack's random provider, created by the first construct that needs random passwords. */
export function ensureRandomProvider(scope: IConstruct): void {
  const stack = TerraformStack.of(scope);
  if (!stack.node.findAll().some((c) => c instanceof RandomProvider)) new RandomProvider(stack, 'random');
}
