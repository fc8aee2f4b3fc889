import { z } from 'zod';
import { SpecProblem } from './problems';
import { expectation } from './validate';

/**
 * Cascading standbys (`replicateFrom`: member name -> the member it streams from), shared by
 * PatroniCluster and PrimaryWithReplicas: the schema, the member names it refers to, and the rules.
 */
export const replicateFromSchema = z
  .record(
    z.string(),
    z.string(expectation('the name of the upstream member', 'write it as a string such as "main-pg-2"')),
    expectation('an object of member names to the member each streams from', 'pass e.g. { "main-pg-3": "main-pg-2" }'),
  )
  .default({});

export interface CascadeSpec {
  readonly replicateFrom: Readonly<Record<string, string>>;
  readonly clusterName: string;
  readonly nodeCount: number;
}

/** What a member without an entry streams from. */
export interface CascadeSource {
  /** In messages: "the leader", "the primary". */
  readonly name: string;
  /** The member that always is that source (PrimaryWithReplicas' first member): it cannot cascade. */
  readonly member?: string;
}

/** Member names of a cluster, as the platforms place them: "<clusterName>-pg-<n>", n = 1..nodeCount. */
export function memberNames(clusterName: string, nodeCount: number): string[] {
  return Array.from({ length: nodeCount }, (_, index) => `${clusterName}-pg-${index + 1}`);
}

/** Members of `replicateFrom` that really cascade: both names known and not the member itself. */
export function cascadingMembers(s: CascadeSpec): string[] {
  const names = new Set(memberNames(s.clusterName, s.nodeCount));
  return Object.entries(s.replicateFrom)
    .filter(([member, upstream]) => names.has(member) && names.has(upstream) && member !== upstream)
    .map(([member]) => member)
    .sort(byMemberNumber);
}

function byMemberNumber(a: string, b: string): number {
  const number = (name: string) => Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
  return number(a) - number(b) || (a < b ? -1 : a > b ? 1 : 0);
}

export function listNames(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** The replicateFrom rules: known member names, no member its own upstream, no loop, someone streaming from the source. */
export function checkReplicateFrom(s: CascadeSpec, source: CascadeSource): SpecProblem[] {
  const entries = Object.entries(s.replicateFrom);
  if (entries.length === 0) return [];
  const names = memberNames(s.clusterName, s.nodeCount);
  const known = new Set(names);
  const valid = `${names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`} (members are named "${s.clusterName}-pg-<n>", n = 1..nodeCount ${s.nodeCount})`;
  const suggestion = (name: string) => {
    const n = Number(/(\d+)$/.exec(name)?.[1]);
    return Number.isInteger(n) && n >= 1 && n <= s.nodeCount ? `: did you mean "${s.clusterName}-pg-${n}"?` : '';
  };
  const problems: SpecProblem[] = [];
  for (const [member, upstream] of entries) {
    if (!known.has(member)) {
      problems.push({
        path: `replicateFrom.${member}`,
        given: member,
        expected: `a member of cluster "${s.clusterName}" as the cascading replica (the key): ${valid}`,
        fix: `use one of those names${suggestion(member)}`,
      });
    } else if (member === source.member) {
      problems.push({
        path: `replicateFrom.${member}`,
        given: upstream,
        expected: `no entry for ${member}: it is ${source.name} (the first member), which streams from no one`,
        fix: `remove the entry "${member}"; to make another member ${source.name}, promote it after deployment (README)`,
      });
      continue;
    }
    if (!known.has(upstream)) {
      problems.push({
        path: `replicateFrom.${member}`,
        given: upstream,
        expected: `a member of cluster "${s.clusterName}" as the upstream to stream from: ${valid}`,
        fix: `name one of those members${suggestion(upstream)}, or remove the entry to stream from ${source.name}`,
      });
    } else if (member === upstream) {
      problems.push({
        path: `replicateFrom.${member}`,
        given: upstream,
        expected: 'an upstream other than the member itself',
        fix: `name another member, or remove the entry so that ${member} streams from ${source.name}`,
      });
    }
  }
  // Loops: follow each chain of well-formed entries; a chain that comes back on itself never
  // reaches the source. Each loop is reported once, starting from its lowest member.
  const edges = new Map(entries.filter(([member, upstream]) => known.has(member) && known.has(upstream) && member !== upstream && member !== source.member));
  const loops = new Map<string, string[]>();
  for (const start of edges.keys()) {
    const path: string[] = [];
    let at: string | undefined = start;
    while (at !== undefined && !path.includes(at)) {
      path.push(at);
      at = edges.get(at);
    }
    if (at === undefined) continue;
    const loop = path.slice(path.indexOf(at));
    const first = [...loop].sort(byMemberNumber)[0];
    const rotated = [...loop.slice(loop.indexOf(first)), ...loop.slice(0, loop.indexOf(first))];
    loops.set(rotated.join(' '), rotated);
  }
  for (const loop of loops.values()) {
    problems.push({
      path: 'replicateFrom',
      given: Object.fromEntries(loop.map((member) => [member, edges.get(member)])),
      expected: `no cascade loop: ${[...loop, loop[0]].join(' -> ')} streams in a circle and never from ${source.name}`,
      fix: `remove one of the entries ${listNames(loop.map((member) => `"${member}"`))} so the chain ends at a member that streams from ${source.name}`,
    });
  }
  // With a fixed source (its entry refused above) someone always streams from it.
  if (source.member === undefined && cascadingMembers(s).length === s.nodeCount) {
    problems.push({
      path: 'replicateFrom',
      given: s.replicateFrom,
      expected: `at least one member streaming from ${source.name} (not a key of replicateFrom); all ${s.nodeCount} members cascade`,
      fix: `remove the entry of at least one member: it streams from ${source.name}, and the chains of the others end at it`,
    });
  }
  return problems;
}
