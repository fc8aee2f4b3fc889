import { cascadingMembers, patroniMemberNames, validatePatroniClusterSpec } from '../../../src/spec/patroni-cluster';
import { SpecError, SpecProblem } from '../../../src/spec/problems';

const base = { clusterName: 'main' };

function problemsOf(input: unknown): SpecError {
  try {
    validatePatroniClusterSpec(input);
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(input)}`);
}

const only = (error: SpecError, path: string): SpecProblem[] => error.problems.filter((p) => p.path === path);

describe('PatroniCluster spec: replicateFrom (cascading replicas)', () => {
  test('defaults to no cascading member', () => {
    const spec = validatePatroniClusterSpec(base);
    expect(spec.replicateFrom).toEqual({});
    expect(cascadingMembers(spec)).toEqual([]);
  });

  test('names the members "<clusterName>-pg-<n>" for n = 1..nodeCount', () => {
    expect(patroniMemberNames('main', 3)).toEqual(['main-pg-1', 'main-pg-2', 'main-pg-3']);
  });

  test.each<[string, Record<string, unknown>, string[]]>([
    ['one replica from another (async)', { replicationMode: 'async', replicateFrom: { 'main-pg-3': 'main-pg-2' } }, ['main-pg-3']],
    ['one replica from another (sync, 1 standby of 3 nodes)', { replicationMode: 'sync', replicateFrom: { 'main-pg-3': 'main-pg-2' } }, ['main-pg-3']],
    ['a chain of two (5 nodes)', { nodeCount: 5, replicateFrom: { 'main-pg-5': 'main-pg-4', 'main-pg-4': 'main-pg-2' } }, ['main-pg-4', 'main-pg-5']],
    ['two from one upstream (sync-strict, 2 standbys of 5 nodes)', { nodeCount: 5, replicationMode: 'sync-strict', synchronousNodeCount: 2, replicateFrom: { 'main-pg-4': 'main-pg-1', 'main-pg-5': 'main-pg-1' } }, ['main-pg-4', 'main-pg-5']],
    ['all but one, async', { replicationMode: 'async', replicateFrom: { 'main-pg-2': 'main-pg-1', 'main-pg-3': 'main-pg-2' } }, ['main-pg-2', 'main-pg-3']],
  ])('accepts %s', (_what, input, cascading) => {
    const spec = validatePatroniClusterSpec({ ...base, ...input });
    expect(spec.replicateFrom).toEqual(input.replicateFrom);
    expect(cascadingMembers(spec)).toEqual(cascading);
  });

  test('refuses an unknown member as the key, listing the valid names and suggesting the likely one', () => {
    const error = problemsOf({ ...base, replicateFrom: { 'main-3': 'main-pg-2' } });
    expect(only(error, 'replicateFrom.main-3')).toHaveLength(1);
    expect(error.message).toContain(
      'replicateFrom.main-3: got "main-3"; expected a member of cluster "main" as the cascading replica (the key): main-pg-1, main-pg-2 or main-pg-3 ' +
        '(members are named "main-pg-<n>", n = 1..nodeCount 3). Fix: use one of those names: did you mean "main-pg-3"?',
    );
  });

  test('refuses an unknown member as the upstream (beyond nodeCount)', () => {
    const error = problemsOf({ ...base, replicateFrom: { 'main-pg-3': 'main-pg-4' } });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(
      'replicateFrom.main-pg-3: got "main-pg-4"; expected a member of cluster "main" as the upstream to stream from: main-pg-1, main-pg-2 or main-pg-3',
    );
    expect(error.message).toContain('Fix: name one of those members, or remove the entry to stream from the leader');
  });

  test("refuses another cluster's member names", () => {
    const error = problemsOf({ ...base, replicateFrom: { 'orders-pg-3': 'orders-pg-2' } });
    expect(error.problems.map((p) => [p.path, p.given])).toEqual([
      ['replicateFrom.orders-pg-3', 'orders-pg-3'],
      ['replicateFrom.orders-pg-3', 'orders-pg-2'],
    ]);
    expect(error.message).toContain('did you mean "main-pg-3"?');
    expect(error.message).toContain('did you mean "main-pg-2"?');
  });

  test('refuses an upstream that is not a string', () => {
    const error = problemsOf({ ...base, replicateFrom: { 'main-pg-3': 2 } });
    expect(error.message).toContain('replicateFrom.main-pg-3: got 2; expected the name of the upstream member. Fix: write it as a string such as "main-pg-2"');
  });

  test('refuses replicateFrom that is not an object', () => {
    const error = problemsOf({ ...base, replicateFrom: ['main-pg-3', 'main-pg-2'] });
    expect(error.message).toMatch(/replicateFrom: got \["main-pg-3","main-pg-2"\]; expected an object of member names to the member each streams from/);
  });

  test('refuses a member replicating from itself', () => {
    const error = problemsOf({ ...base, replicateFrom: { 'main-pg-2': 'main-pg-2' } });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(
      'replicateFrom.main-pg-2: got "main-pg-2"; expected an upstream other than the member itself. Fix: name another member, or remove the entry so that main-pg-2 streams from the leader',
    );
  });

  test('refuses a loop of two, showing the cycle once', () => {
    const error = problemsOf({ ...base, replicationMode: 'async', replicateFrom: { 'main-pg-3': 'main-pg-2', 'main-pg-2': 'main-pg-3' } });
    expect(only(error, 'replicateFrom')).toHaveLength(1);
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(
      'replicateFrom: got {"main-pg-2":"main-pg-3","main-pg-3":"main-pg-2"}; expected no cascade loop: main-pg-2 -> main-pg-3 -> main-pg-2 streams in a circle and never from the leader. ' +
        'Fix: remove one of the entries "main-pg-2" and "main-pg-3" so the chain ends at a member that streams from the leader',
    );
  });

  test('refuses a loop of three that a fourth member feeds into, showing the cycle in stream order', () => {
    const error = problemsOf({
      ...base,
      nodeCount: 5,
      replicationMode: 'async',
      replicateFrom: { 'main-pg-5': 'main-pg-2', 'main-pg-2': 'main-pg-4', 'main-pg-4': 'main-pg-3', 'main-pg-3': 'main-pg-2' },
    });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain('expected no cascade loop: main-pg-2 -> main-pg-4 -> main-pg-3 -> main-pg-2 streams in a circle');
    expect(error.message).toContain('Fix: remove one of the entries "main-pg-2", "main-pg-4" and "main-pg-3"');
  });

  test('reports two separate loops each once', () => {
    const error = problemsOf({
      ...base,
      nodeCount: 5,
      replicationMode: 'async',
      replicateFrom: { 'main-pg-1': 'main-pg-2', 'main-pg-2': 'main-pg-1', 'main-pg-4': 'main-pg-5', 'main-pg-5': 'main-pg-4' },
    });
    expect(only(error, 'replicateFrom').map((p) => p.expected)).toEqual([
      expect.stringContaining('main-pg-1 -> main-pg-2 -> main-pg-1'),
      expect.stringContaining('main-pg-4 -> main-pg-5 -> main-pg-4'),
    ]);
  });

  test('refuses every member cascading: the loop and that no member streams from the leader', () => {
    const error = problemsOf({ ...base, replicationMode: 'async', replicateFrom: { 'main-pg-1': 'main-pg-2', 'main-pg-2': 'main-pg-3', 'main-pg-3': 'main-pg-1' } });
    expect(error.problems.map((p) => p.path)).toEqual(['replicateFrom', 'replicateFrom']);
    expect(error.message).toContain('expected no cascade loop: main-pg-1 -> main-pg-2 -> main-pg-3 -> main-pg-1');
    expect(error.message).toContain(
      'expected at least one member streaming from the leader (not a key of replicateFrom); all 3 members cascade. ' +
        'Fix: remove the entry of at least one member: it streams from the leader, and the chains of the others end at it',
    );
  });

  test('refuses more synchronous standbys than members streaming from the leader, showing the arithmetic', () => {
    const error = problemsOf({ ...base, replicationMode: 'sync', synchronousNodeCount: 2, replicateFrom: { 'main-pg-3': 'main-pg-2' } });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(
      'synchronousNodeCount: got 2; expected at most nodeCount - 1 - cascading members = 3 - 1 - 1 = 1 synchronous standby(s): ' +
        'Patroni picks synchronous standbys only among members streaming from the leader, and main-pg-3 cascades (replicateFrom). ' +
        'Fix: set synchronousNodeCount to 1 or less, cascade fewer members, or add nodes',
    );
  });

  test('refuses sync-strict when cascading leaves no synchronous candidate', () => {
    const error = problemsOf({ ...base, replicationMode: 'sync-strict', replicateFrom: { 'main-pg-2': 'main-pg-1', 'main-pg-3': 'main-pg-2' } });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain('expected at most nodeCount - 1 - cascading members = 3 - 1 - 2 = 0 synchronous standby(s)');
    expect(error.message).toContain('main-pg-2 and main-pg-3 cascade (replicateFrom)');
    expect(error.message).toContain('Fix: cascade fewer members (leave at least 2 members, the leader included, streaming from the leader), add nodes, or set replicationMode: "async"');
  });

  test('leaves a count of nodeCount or more to the existing rule (one problem, not two)', () => {
    const error = problemsOf({ ...base, synchronousNodeCount: 3, replicateFrom: { 'main-pg-3': 'main-pg-2' } });
    expect(error.problems.map((p) => [p.path, p.expected])).toEqual([['synchronousNodeCount', expect.stringContaining('fewer synchronous standbys than nodes')]]);
  });

  test('does not count malformed entries as cascading in the sync rule', () => {
    const error = problemsOf({ ...base, synchronousNodeCount: 2, replicateFrom: { 'main-pg-3': 'main-pg-3' } });
    expect(error.problems.map((p) => p.path)).toEqual(['replicateFrom.main-pg-3']);
  });

  test('reports replicateFrom problems together with the others', () => {
    const error = problemsOf({ ...base, nodeCount: 2, replicateFrom: { 'main-pg-2': 'main-pg-9' } });
    expect(error.problems.map((p) => p.path)).toEqual(['nodeCount', 'replicateFrom.main-pg-2']);
    expect(error.message).toContain('main-pg-1 or main-pg-2 (members are named "main-pg-<n>", n = 1..nodeCount 2)');
  });
});
