import { didYouMean } from './nearest-name';
import { POSTGRESQL_CATALOGUE } from './postgresql-catalogue.data';
import { BaseUnit, MEMORY_UNIT_NAMES, TIME_UNIT_NAMES, baseUnit, lookupGucEnum, parseGucBool, parseGucInt, parseGucReal } from './postgresql-guc-values';
import { SpecProblem } from './problems';

/** A value of `postgresqlParameters`. */
export type ParameterValue = string | number | boolean;

export type ParameterType = 'bool' | 'integer' | 'real' | 'enum' | 'string';
export type ParameterContext = 'internal' | 'postmaster' | 'sighup' | 'superuser-backend' | 'backend' | 'superuser' | 'user';

/** One row of pg_settings, less what depends on the machine (boot and reset values). */
export interface PostgresqlParameterDefinition {
  readonly vartype: ParameterType;
  readonly context: ParameterContext;
  /** "B", "kB", "8kB", "MB", "ms", "s" or "min": what a bare number counts. */
  readonly unit?: string;
  /** In the unit. */
  readonly min_val?: number;
  readonly max_val?: number;
  readonly enumvals?: readonly string[];
  /** Spellings PostgreSQL takes although pg_settings does not list them (e.g. "true" for an on/off enum). */
  readonly hidden_enumvals?: readonly string[];
}

/** The parameters of the PostgreSQL the nodes run (src/spec/postgresql-catalogue.data.ts, generated). */
export interface PostgresqlCatalogue {
  readonly major: number;
  readonly parameters: Readonly<Record<string, PostgresqlParameterDefinition>>;
}

/**
 * The text PostgreSQL parses for a value. Both renderers write a boolean as on/off and a number as
 * JavaScript prints it (patroni.yml through PyYAML and Patroni's str(); postgresql.conf verbatim).
 */
export function settingText(value: ParameterValue): string {
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
}

/**
 * A line feed inside a quoted postgresql.conf value is a syntax error (PostgreSQL refuses to start);
 * a NUL silently cuts the value short; a carriage return the PrimaryWithReplicas renderer refuses.
 */
const UNWRITABLE = /[\n\r\0]/;

/**
 * What is wrong with setting `name` to `value` on the nodes' PostgreSQL, or undefined when it
 * takes it: an unknown or read-only parameter, or a value its own parser (guc.c) refuses.
 * Dotted names not in the catalogue are custom placeholders PostgreSQL takes as any text.
 */
export function checkPostgresqlSetting(name: string, value: ParameterValue, catalogue: PostgresqlCatalogue = POSTGRESQL_CATALOGUE): SpecProblem | undefined {
  const path = `postgresqlParameters.${name}`;
  const definition = definitionOf(catalogue, name);
  const text = settingText(value);
  if (UNWRITABLE.test(text)) {
    return {
      path,
      given: value,
      expected: 'one line of text without line breaks or NUL characters: a postgresql.conf value cannot hold them (PostgreSQL refuses to start on a line break)',
      fix: 'remove the line breaks; a list parameter takes commas, e.g. "a, b"',
    };
  }
  if (!definition) {
    if (name.includes('.')) return undefined;
    return {
      path,
      given: value,
      expected: `a parameter of PostgreSQL ${catalogue.major} (custom ones are named "prefix.name")`,
      fix: `correct the name${didYouMean(name, indexOf(catalogue).keys())} or remove it`,
    };
  }
  if (definition.context === 'internal') {
    return {
      path,
      given: value,
      expected: `no "${name}": it is read-only in PostgreSQL, fixed when the server was built or the cluster initialised`,
      fix: 'remove it',
    };
  }
  const problem = (expected: string, fix: string): SpecProblem => ({ path, given: value, expected, fix });
  switch (definition.vartype) {
    case 'bool':
      return parseGucBool(text) === undefined ? problem('a boolean: on or off (true/false, yes/no, 1/0 also work)', 'write true or false, or "on" / "off"') : undefined;
    case 'enum':
      return checkEnum(text, definition, problem);
    case 'integer':
    case 'real':
      return checkNumber(name, text, definition, problem);
    case 'string':
      return undefined;
  }
}

/** PostgreSQL matches names in any case (pg_settings says "DateStyle", a config may say datestyle). */
const indexes = new WeakMap<PostgresqlCatalogue, Map<string, PostgresqlParameterDefinition>>();
function indexOf(catalogue: PostgresqlCatalogue): Map<string, PostgresqlParameterDefinition> {
  let index = indexes.get(catalogue);
  if (!index) {
    index = new Map(Object.entries(catalogue.parameters).map(([name, definition]) => [name.toLowerCase(), definition]));
    indexes.set(catalogue, index);
  }
  return index;
}

export const definitionOf = (catalogue: PostgresqlCatalogue, name: string) => indexOf(catalogue).get(name.toLowerCase());

type Problem = (expected: string, fix: string) => SpecProblem;

function checkEnum(text: string, definition: PostgresqlParameterDefinition, problem: Problem): SpecProblem | undefined {
  const options = definition.enumvals ?? [];
  if (lookupGucEnum(text, [...options, ...(definition.hidden_enumvals ?? [])]) !== undefined) return undefined;
  const list = options.map((option) => `"${option}"`).join(', ');
  return problem(`one of ${list} (any case)`, `write one of ${list}${didYouMean(text, options)}`);
}

function checkNumber(name: string, text: string, definition: PostgresqlParameterDefinition, problem: Problem): SpecProblem | undefined {
  const unit = baseUnit(definition.unit);
  const min = definition.min_val ?? -Infinity;
  const max = definition.max_val ?? Infinity;
  const integer = definition.vartype === 'integer';
  const parsed = integer ? parseGucInt(text, unit) : parseGucReal(text, unit);
  const expected = describeRange(integer, unit, min, max);
  if (!parsed.ok) {
    const units = unit ? [...(unit.kind === 'memory' ? MEMORY_UNIT_NAMES : TIME_UNIT_NAMES)].reverse() : [];
    const written = /^[^a-zA-Z]*([a-zA-Z]+)\s*$/.exec(text)?.[1];
    const caseHint = written && units.find((u) => u.toLowerCase() === written.toLowerCase() && u !== written);
    const fix =
      parsed.reason === 'overflow'
        ? `use a value ${rangeText(unit, min, max)} (PostgreSQL keeps it as a 32-bit integer${unit ? ` of ${unit.name}` : ''})`
        : unit
          ? `write a number and one of the units ${units.join(', ')} (case matters${caseHint ? `: "${caseHint}", not "${written}"` : ''}), e.g. ${example(unit, min, max)}`
          : `write a ${integer ? 'whole number' : 'number'} without a unit, e.g. ${example(unit, min, max)}`;
    return problem(expected, fix);
  }
  // What PostgreSQL made of it, in the parameter's unit, as its own message says: "-1MB" is -1024kB.
  const reading = [String(parsed.value), inUnit(parsed.value, unit)].includes(text.trim()) ? `"${text}"` : `"${text}" is ${inUnit(parsed.value, unit)}`;
  if (parsed.value < min || parsed.value > max) return problem(expected, `${reading}: use a value ${rangeText(unit, min, max)}`);
  const limit = HIDDEN_LIMITS[name.toLowerCase()];
  if (limit && !limit.accepts(parsed.value)) return problem(`${expected}, and ${limit.expected}`, `${reading}: ${limit.fix}`);
  return undefined;
}

/** The SLRU caches' sizes (PostgreSQL 17 guc_hooks check_slru_buffers: banks of 16 blocks). */
const SLRU_BUFFERS = ['commit_timestamp_buffers', 'multixact_member_buffers', 'multixact_offset_buffers', 'notify_buffers', 'serializable_buffers', 'subtransaction_buffers', 'transaction_buffers'];

/**
 * Limits PostgreSQL 17 keeps in a parameter's check hook or checks at start, which pg_settings
 * does not show; in the parameter's unit. Each is checked against the server by
 * test/tools/postgresql-catalogue.test.ts.
 */
const HIDDEN_LIMITS: Record<string, { readonly accepts: (value: number) => boolean; readonly expected: string; readonly fix: string }> = {
  ...Object.fromEntries(
    SLRU_BUFFERS.map((name) => [name, { accepts: (blocks: number) => blocks % 16 === 0, expected: 'a multiple of 16 blocks (128kB): the cache is kept in banks of 16', fix: 'use a multiple of 16 blocks, e.g. "1MB" (128 blocks)' }]),
  ),
  // check_vacuum_buffer_usage_limit: 0 turns the ring buffer off.
  vacuum_buffer_usage_limit: { accepts: (kB) => kB === 0 || (kB >= 128 && kB <= 16 * 1024 * 1024), expected: '0 or from 128kB to 16GB', fix: 'use 0 or from "128kB" to "16GB"' },
  // xlog.c at start: FATAL "min_wal_size" must be at least twice "wal_segment_size"; the nodes' initdb keeps its 16MB segments.
  min_wal_size: { accepts: (mb) => mb >= 32, expected: 'at least 32MB: twice the WAL segment size (16MB), or PostgreSQL refuses to start', fix: 'use "32MB" or more' },
  max_wal_size: { accepts: (mb) => mb >= 32, expected: 'at least 32MB: twice the WAL segment size (16MB), or PostgreSQL refuses to start', fix: 'use "32MB" or more' },
};

/**
 * Settings PostgreSQL takes one by one but not together (guc_hooks check_log_stats and
 * check_stage_log_stats): log_statement_stats reports what the per-stage ones report.
 */
export function checkPostgresqlCombinations(parameters: Readonly<Record<string, ParameterValue>>): SpecProblem[] {
  const on = (name: string) => parameters[name] !== undefined && parseGucBool(settingText(parameters[name])) === true;
  const stages = ['log_parser_stats', 'log_planner_stats', 'log_executor_stats'].filter(on);
  if (!on('log_statement_stats') || stages.length === 0) return [];
  return [
    {
      path: 'postgresqlParameters.log_statement_stats',
      given: parameters.log_statement_stats,
      expected: `log_statement_stats off while ${stages.join(', ')} ${stages.length === 1 ? 'is' : 'are'} on: PostgreSQL refuses to start with both`,
      fix: `turn off log_statement_stats or ${stages.join(', ')}`,
    },
  ];
}

const inUnit = (value: number, unit: BaseUnit | undefined) =>
  !unit ? String(value) : /^[0-9]/.test(unit.name) ? `${value} blocks of ${unit.name}` : `${value}${unit.name}`;

function describeRange(integer: boolean, unit: BaseUnit | undefined, min: number, max: number): string {
  const what = !unit ? (integer ? 'a whole number' : 'a number') : unit.kind === 'memory' ? 'an amount of memory' : 'a time';
  const bare = unit ? `; a bare number counts ${/^[0-9]/.test(unit.name) ? `blocks of ${unit.name}` : unit.name}` : '';
  return `${what} ${rangeText(unit, min, max)}${unit ? `, e.g. ${example(unit, min, max)}` : ''}${bare}`;
}

function rangeText(unit: BaseUnit | undefined, min: number, max: number): string {
  const show = (value: number) => (unit && value > 0 ? formatAmount(value, unit) : String(value));
  return max >= Number.MAX_VALUE ? `of at least ${show(min)}` : `from ${show(min)} to ${show(max)}`;
}

/** A positive amount in the largest unit that writes it exactly: 16384 kB is "16MB", 131072 bytes "128kB". */
export function formatAmount(value: number, unit: BaseUnit): string {
  const total = value * unit.size;
  for (const name of unit.kind === 'memory' ? MEMORY_UNIT_NAMES : TIME_UNIT_NAMES) {
    const size = baseUnit(name)!.size;
    if (Number.isInteger(total / size)) return `${total / size}${name}`;
  }
  return `${value}${unit.name}`;
}

function example(unit: BaseUnit | undefined, min: number, max: number): string {
  const candidates = unit ? (unit.kind === 'memory' ? ['16MB', '1GB', '128kB', '8kB', '1MB', '1TB'] : ['30s', '5min', '100ms', '1h', '1s', '1ms', '1d']) : ['100', '10', '1', '0.5', '0'];
  for (const candidate of candidates) {
    const parsed = parseGucReal(candidate, unit);
    if (parsed.ok && parsed.value >= min && parsed.value <= max) return `"${candidate}"`;
  }
  return `"${unit && min > 0 ? formatAmount(min, unit) : min}"`;
}
