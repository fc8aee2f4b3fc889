import { NodeDirectory, NodeFile, NodeJob, NodePlan, NodeSecret, NodeSecretFile, NodeService } from '../model/node-plan';

/** What a feature adds to a node that another construct planned (an exporter, an agent). */
export interface NodeAddition {
  readonly packages?: readonly string[];
  readonly directories?: readonly NodeDirectory[];
  readonly files?: readonly NodeFile[];
  readonly services?: readonly NodeService[];
  readonly jobs?: readonly NodeJob[];
  readonly secrets?: readonly NodeSecret[];
  readonly secretFiles?: readonly NodeSecretFile[];
  readonly replacesServices?: readonly string[];
}

/** The plan with the addition: lists appended, packages and replaced units once each. */
export function withAddition(plan: NodePlan, addition: NodeAddition): NodePlan {
  const paths = new Set(plan.files.map((file) => file.path));
  const clash = (addition.files ?? []).find((file) => paths.has(file.path));
  if (clash) throw new Error(`node ${plan.name}: ${clash.path} is planned twice`);
  return {
    ...plan,
    packages: [...new Set([...plan.packages, ...(addition.packages ?? [])])],
    directories: [...plan.directories, ...(addition.directories ?? []).filter((dir) => !plan.directories.some((d) => d.path === dir.path))],
    files: [...plan.files, ...(addition.files ?? [])],
    services: [...plan.services, ...(addition.services ?? [])],
    jobs: [...(plan.jobs ?? []), ...(addition.jobs ?? [])],
    secrets: [...plan.secrets, ...(addition.secrets ?? [])],
    secretFiles: [...(plan.secretFiles ?? []), ...(addition.secretFiles ?? [])],
    replacesServices: [...new Set([...plan.replacesServices, ...(addition.replacesServices ?? [])])],
  };
}

/** Each plan with every addition a group was given, in order. */
export function applyAdditions(plans: readonly NodePlan[], additions: readonly ((plan: NodePlan) => NodeAddition)[]): NodePlan[] {
  return plans.map((plan) => additions.reduce((current, addition) => withAddition(current, addition(current)), plan));
}
