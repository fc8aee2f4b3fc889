import { TerraformStack } from '../../cdktf';

/**
 * Runs `callback` once, when the stack is first turned into Terraform (by `app.synth()`,
 * `Testing.synth`, `Testing.fullSynth` or `Testing.synthHcl`), before cdktf collects the stack's
 * resources: the Docker platform creates one container per service of each node, and a node's
 * services are known only from its plans, which are final only at synth.
 *
 * Why not an aspect: `Aspects` is not exported by src/cdktf.ts (the one module that may import the
 * cdktf core), and this helper's directory may not change it. With `Aspects` exported, replace this
 * with `Aspects.of(stack).add({ visit: (node) => node === stack && callback() })` (aspects run first
 * in every synth path too). Until then the stack instance's three entry points are wrapped: each
 * runs the pending callbacks, then cdktf's own method.
 *
 * Caveat: `Testing.synth` runs the stack's aspects before `toTerraform`, so an aspect (a policy
 * rule) sees these resources under `app.synth()` (which calls `prepareStack` first) but not under
 * `Testing.synth`.
 */
export function beforeStackSynth(stack: TerraformStack, callback: () => void): void {
  const hooked = stack as unknown as HookedStack;
  if (!hooked[PENDING]) {
    const pending: (() => void)[] = [];
    Object.defineProperty(hooked, PENDING, { value: pending, enumerable: false });
    const runPending = () => {
      // Callbacks may register more (a group rendered late): run until none is left.
      while (pending.length > 0) pending.shift()!();
    };
    for (const method of ['prepareStack', 'toTerraform', 'toHclTerraform'] as const) {
      const original = hooked[method].bind(stack) as (...args: unknown[]) => unknown;
      Object.defineProperty(hooked, method, {
        value: (...args: unknown[]) => {
          runPending();
          return original(...args);
        },
        enumerable: false,
        configurable: true,
        writable: true,
      });
    }
  }
  hooked[PENDING]!.push(callback);
}

const PENDING = Symbol('pgha/docker/before-synth');

type HookedStack = {
  [PENDING]?: (() => void)[];
  prepareStack: (...args: unknown[]) => unknown;
  toTerraform: (...args: unknown[]) => unknown;
  toHclTerraform: (...args: unknown[]) => unknown;
};
