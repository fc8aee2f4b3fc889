import { z } from 'zod';
import { didYouMean } from './nearest-name';
import { SpecError, SpecProblem } from './problems';

/**
 * A rule across fields, as data: it runs only when every field it `uses` parsed on its own,
 * so that one bad field does not hide the problems of the others.
 */
export interface CrossFieldRule<T> {
  readonly uses: readonly (keyof T & string)[];
  check(spec: T): SpecProblem[];
}

/** Field messages are written "expected ...; fix: ..." so a problem can carry both parts. */
const FIX_SEPARATOR = '; fix: ';

export function expectation(expected: string, fix: string): { error: string } {
  return { error: `${expected}${FIX_SEPARATOR}${fix}` };
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * For a value that matched no alternative of a union, the alternative that got furthest (its
 * issues reach deepest into the value) says best what is wrong: `failover: { ... }` missing
 * `ttlSeconds` is about the object form, not the profile names.
 */
function closestAlternative(issue: z.core.$ZodIssue): z.core.$ZodIssue[] | undefined {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return undefined;
  const depth = (issues: z.core.$ZodIssue[]) => Math.max(...issues.map((i) => i.path.length));
  const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0];
  return depth(best) > 0 ? best : undefined;
}

function problemsFromIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[], root: unknown, fieldSchema: z.core.$ZodType): SpecProblem[] {
  const alternative = closestAlternative(issue);
  if (alternative) return alternative.flatMap((inner) => problemsFromIssue({ ...inner, path: [...issue.path, ...inner.path] }, prefix, root, fieldSchema));
  return [problemFromIssue(issue, prefix, root, fieldSchema)];
}

function problemFromIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[], root: unknown, fieldSchema: z.core.$ZodType): SpecProblem {
  const fullPath = [...prefix, ...issue.path];
  const path = fullPath.map(String).join('.');
  const given = 'input' in issue && issue.input !== undefined ? issue.input : valueAt(root, fullPath);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    const known = objectSchemasAt(fieldSchema, issue.path).flatMap((shape) => Object.keys(shape));
    return {
      path: path || '(spec)',
      given: keys,
      expected: 'only documented fields',
      fix: `remove or correct the unknown field(s) ${issue.keys.map((key) => `${key}${didYouMean(key, known)}`).join(', ')} (check the spelling against the README)`,
    };
  }
  const [expected, fix] = issue.message.includes(FIX_SEPARATOR)
    ? issue.message.split(FIX_SEPARATOR, 2)
    : [issue.message.replace(/^Invalid input: expected /, ''), `set ${path} to a valid value`];
  return { path, given, expected, fix };
}

interface SchemaDef {
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly element?: z.core.$ZodType;
  readonly valueType?: z.core.$ZodType;
  readonly options?: readonly z.core.$ZodType[];
  readonly shape?: Record<string, z.core.$ZodType>;
}

const defOf = (schema: z.core.$ZodType): SchemaDef => schema._zod.def as SchemaDef;

/** The object schemas `schema` may be at `path`, through optional/default/pipe wrappers, arrays, records and unions. */
function objectSchemasAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): Record<string, z.core.$ZodType>[] {
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  if (inner) return objectSchemasAt(inner, path);
  if (def.options) return def.options.flatMap((option) => objectSchemasAt(option, path));
  if (path.length === 0) return def.shape ? [def.shape] : [];
  const [key, ...rest] = path;
  if (def.element && typeof key === 'number') return objectSchemasAt(def.element, rest);
  if (def.valueType) return objectSchemasAt(def.valueType, rest);
  const field = def.shape && typeof key === 'string' && Object.hasOwn(def.shape, key) ? def.shape[key] : undefined;
  return field ? objectSchemasAt(field, rest) : [];
}

/** What a construct checked itself, outside its spec: see validateSpec. */
export interface OutsideProps {
  readonly problems?: readonly SpecProblem[];
  readonly props?: readonly string[];
}

/** Each field of `shape` parsed from `record` on its own: the values, the fields that failed, and their problems. */
function parseFields(shape: z.ZodRawShape, record: Record<string, unknown>): { parsed: Record<string, unknown>; failed: Set<string>; problems: SpecProblem[] } {
  const parsed: Record<string, unknown> = {};
  const failed = new Set<string>();
  const problems: SpecProblem[] = [];
  for (const [key, fieldSchema] of Object.entries(shape)) {
    const result = (fieldSchema as z.ZodType).safeParse(record[key], { reportInput: true });
    if (result.success) {
      parsed[key] = result.data;
    } else {
      failed.add(key);
      // A loop, not push(...spread): a list of 300,000 bad entries would overflow the call stack.
      for (const issue of result.error.issues) {
        for (const problem of problemsFromIssue(issue, [key], record, fieldSchema as z.core.$ZodType)) problems.push(problem);
      }
    }
  }
  return { parsed, failed, problems };
}

/**
 * The problems of props a construct keeps outside its spec (machine sizes, output names): parsed
 * with `shape` like spec fields, reported with them (validateSpec's `outside`).
 */
export function propProblems(shape: z.ZodRawShape, props: object): SpecProblem[] {
  return parseFields(shape, props as Record<string, unknown>).problems;
}

/**
 * Parses `input` field by field with `schema`, then applies the cross-field `rules`.
 * Throws a SpecError listing every problem; returns the spec with defaults applied.
 */
export function validateSpec<Shape extends z.ZodRawShape>(
  specName: string,
  schema: z.ZodObject<Shape>,
  rules: readonly CrossFieldRule<z.output<z.ZodObject<Shape>>>[],
  input: unknown,
  /** The construct whose props these are, named in the error. */
  constructPath?: string,
  /**
   * What the construct checked itself in props it keeps outside the spec (references to other
   * constructs, machine sizes): their problems, reported together with the spec's, and their names,
   * suggested for misspelt fields.
   */
  outside: OutsideProps = {},
): z.output<z.ZodObject<Shape>> {
  type Spec = z.output<z.ZodObject<Shape>>;
  const problems: SpecProblem[] = [...(outside.problems ?? [])];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new SpecError(specName, [{ path: '(spec)', given: input, expected: 'an object', fix: 'pass the props object' }], constructPath);
  }
  const record = input as Record<string, unknown>;
  const known = [...Object.keys(schema.shape), ...(outside.props ?? [])];

  // Own keys only: "constructor" or "toString" are not fields because every object inherits them.
  const unknownKeys = Object.keys(record).filter((key) => !Object.hasOwn(schema.shape, key) && record[key] !== undefined);
  // One problem per unknown field, the first 20 of them (a file of thousands says as much with 20).
  for (const key of unknownKeys.slice(0, 20)) {
    problems.push({
      path: key,
      given: record[key],
      expected: 'only documented fields',
      fix: `remove or correct ${key}${didYouMean(key, known)} (check the spelling against the README)`,
    });
  }
  if (unknownKeys.length > 20) {
    problems.push({ path: '(spec)', given: unknownKeys.length, expected: 'only documented fields', fix: `remove the other ${unknownKeys.length - 20} unknown fields too` });
  }
  const fields = parseFields(schema.shape, record);
  for (const problem of fields.problems) problems.push(problem);
  const { parsed, failed } = fields;
  for (const rule of rules) {
    if (rule.uses.every((key) => !failed.has(key))) {
      for (const problem of rule.check(parsed as Spec)) problems.push(problem);
    }
  }
  if (problems.length > 0) throw new SpecError(specName, problems, constructPath);
  return parsed as Spec;
}
