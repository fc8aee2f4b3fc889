/** One thing wrong with a spec: where, what was given, what is expected and how to fix it. */
export interface SpecProblem {
  /** Dotted path of the offending field, e.g. `failover.ttlSeconds`. */
  readonly path: string;
  readonly given: unknown;
  readonly expected: string;
  readonly fix: string;
}

const MAX_VALUE_TEXT = 80;

/** At most `depth` levels and `breadth` entries of each: a given value may be huge or deeply nested. */
function bounded(value: unknown, depth: number, breadth = 10): unknown {
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) return Object.is(value, -0) ? '-0' : String(value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? `${value}n` : value;
  if (depth === 0) return Array.isArray(value) ? '[...]' : '{...}';
  if (Array.isArray(value)) {
    const items = value.slice(0, breadth).map((item) => bounded(item, depth - 1, breadth));
    return value.length > breadth ? [...items, `... ${value.length - breadth} more`] : items;
  }
  const keys = Object.keys(value);
  const entries = keys.slice(0, breadth).map((key) => [key, bounded((value as Record<string, unknown>)[key], depth - 1, breadth)]);
  if (keys.length > breadth) entries.push(['...', `${keys.length - breadth} more`]);
  return Object.fromEntries(entries);
}

/** The class of an object that is not a plain object or array ("a PatroniCluster" says more than its fields). */
function classNameOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) return undefined;
  const name = (prototype as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object of a class';
}

/** A short text for any value, whatever it is (huge, nested, cyclic, a function, a class instance): never throws. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > MAX_VALUE_TEXT ? `${value.slice(0, MAX_VALUE_TEXT - 3)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  // JSON would print NaN and the infinities as null, and -0 as 0.
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  const className = classNameOf(value);
  if (className) return `${/^[AEIOU]/.test(className) ? 'an' : 'a'} ${className}`;
  try {
    const text = JSON.stringify(bounded(value, 3)) ?? typeof value;
    return text.length > MAX_VALUE_TEXT ? `${text.slice(0, MAX_VALUE_TEXT - 3)}...` : text;
  } catch {
    return `a ${typeof value}`;
  }
}

export function formatProblem(problem: SpecProblem): string {
  return `${problem.path || '(spec)'}: got ${describeValue(problem.given)}; expected ${problem.expected}. Fix: ${problem.fix}`;
}

/** Problems listed in a message; the rest are counted (all stay in `problems`). */
const LISTED_PROBLEMS = 50;

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
    const listed = problems.slice(0, LISTED_PROBLEMS).map((p) => `  - ${formatProblem(p)}`);
    if (problems.length > LISTED_PROBLEMS) listed.push(`  - ... and ${problems.length - LISTED_PROBLEMS} more problems (fix these first, or read error.problems)`);
    super(`Invalid ${specName}${constructPath ? ` of ${constructPath}` : ''} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + listed.join('\n'));
    this.name = 'SpecError';
  }
}
