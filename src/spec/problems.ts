/** One thing wrong with a spec: where, what was given, what is expected and how to fix it. */
export interface SpecProblem {
  /** Dotted path of the offending field, e.g. `failover.ttlSeconds`. */
  readonly path: string;
  readonly given: unknown;
  readonly expected: string;
  readonly fix: string;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

export function formatProblem(problem: SpecProblem): string {
  return `${problem.path || '(spec)'}: got ${describeValue(problem.given)}; expected ${problem.expected}. Fix: ${problem.fix}`;
}

/**
 * Thrown when a spec is invalid. Carries every problem found, not just the first, and the path of
 * the construct whose props they are (e.g. "orders/Cluster"), when a construct validated them.
 */
export class SpecError extends Error {
  constructor(
    readonly specName: string,
    readonly problems: readonly SpecProblem[],
    readonly constructPath?: string,
  ) {
    super(
      `Invalid ${specName}${constructPath ? ` of ${constructPath}` : ''} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'SpecError';
  }
}
