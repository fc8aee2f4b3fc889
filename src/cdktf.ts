/**
 * The only module that imports from the `cdktf` core. CDK for Terraform is archived upstream;
 * moving to its community fork is a change of this file alone.
 */
export { Annotations, App, Aspects, AssetType, Fn, Lazy, LocalBackend, TerraformAsset, TerraformOutput, TerraformStack, Testing, Token } from 'cdktf';
export type { AppConfig, IResolvable, ISynthesisSession } from 'cdktf';
/**
 * Lets a construct write files of its own into the stack's output at synth (as TerraformAsset does).
 * Not in cdktf's index: a deep import, which the peer range (^0.21.0, so 0.21.x) keeps stable.
 */
export { addCustomSynthesis } from 'cdktf/lib/synthesize/synthesizer';
