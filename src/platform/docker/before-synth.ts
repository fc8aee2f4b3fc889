import { Aspects, TerraformStack } from '../../cdktf';

/**
 * Runs `callback` once, when the stack is synthesized, before cdktf collects its resources: the
 * Docker platform creates one container per service of each node, and a node's services are known
 * only from its plans, which are final only at synth. An aspect on the stack: cdktf runs aspects
 * first in every synth path (`app.synth()`, `Testing.synth`), and visits the constructs the
 * callback adds too.
 */
export function beforeStackSynth(stack: TerraformStack, callback: () => void): void {
  let done = false;
  Aspects.of(stack).add({
    visit: (node) => {
      if (node !== stack || done) return;
      done = true;
      callback();
    },
  });
}
