/**
 * PrimaryWithReplicas spec: replicateFrom (cascading standbys) and archiveTimeoutSeconds. The
 * replicateFrom rules are PatroniCluster's (src/spec/replicate-from.ts), with the primary as the
 * fixed source: it cannot cascade, and synchronous_standby_names names direct standbys only.
 */
import { synchronousStandbyNames, validatePrimaryWithReplicasSpec } from '../../../src/spec/primary-with-replicas';
import { SpecError } from '../../../src/spec/problems';

const base = { clusterName: 'main', standbyCount: 3 };

/** The SpecError the input (on top of `base`) is refused with; the test fails if it is accepted. */
function refused(input: Record<string, unknown>): SpecError {
  const outcome = (() => {
    try {
      return validatePrimaryWithReplicasSpec({ ...base, ...input });
    } catch (error) {
      return error;
    }
  })();
  expect(outcome).toBeInstanceOf(SpecError);
  return outcome as SpecError;
}

describe('PrimaryWithReplicas spec: replicateFrom', () => {
  test('defaults: no cascading standby, archive_timeout 60 s', () => {
    expect(validatePrimaryWithReplicasSpec(base)).toMatchObject({ replicateFrom: {}, archiveTimeoutSeconds: 60 });
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['one cascade (async)', { replicateFrom: { 'main-pg-4': 'main-pg-2' } }, ''],
    ['one cascade (sync FIRST 1 of 2 direct)', { replicationMode: 'sync', replicateFrom: { 'main-pg-4': 'main-pg-2' } }, 'FIRST 1 (main_pg_2, main_pg_3)'],
    ['a chain (sync ANY 1 of 2 direct)', { standbyCount: 4, replicationMode: 'sync', synchronousMethod: 'ANY', replicateFrom: { 'main-pg-5': 'main-pg-4', 'main-pg-4': 'main-pg-2' } }, 'ANY 1 (main_pg_2, main_pg_3)'],
  ])('accepts %s; synchronous_standby_names names the direct standbys only', (_what, input, names) => {
    const spec = validatePrimaryWithReplicasSpec({ ...base, ...input });
    expect(spec.replicateFrom).toEqual(input.replicateFrom);
    const standbys = Array.from({ length: spec.standbyCount }, (_, i) => `main-pg-${i + 2}`);
    expect(synchronousStandbyNames(spec, standbys)).toBe(names);
  });

  test('refuses the primary (the first member) as a cascading standby', () => {
    const error = refused({ replicateFrom: { 'main-pg-1': 'main-pg-2' } });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain(
      'replicateFrom.main-pg-1: got "main-pg-2"; expected no entry for main-pg-1: it is the primary (the first member), which streams from no one. ' +
        'Fix: remove the entry "main-pg-1"; to make another member the primary, promote it after deployment (README)',
    );
  });

  test('refuses an unknown member, listing the valid names and suggesting the likely one', () => {
    const error = refused({ replicateFrom: { 'main-4': 'main-pg-2' } });
    expect(error.message).toContain(
      'replicateFrom.main-4: got "main-4"; expected a member of cluster "main" as the cascading replica (the key): main-pg-1, main-pg-2, main-pg-3 or main-pg-4 ' +
        '(members are named "main-pg-<n>", n = 1..nodeCount 4). Fix: use one of those names: did you mean "main-pg-4"?',
    );
  });

  test('refuses an upstream beyond the standbys, saying what no entry means', () => {
    const error = refused({ replicateFrom: { 'main-pg-4': 'main-pg-5' } });
    expect(error.message).toContain('replicateFrom.main-pg-4: got "main-pg-5"; expected a member of cluster "main" as the upstream to stream from');
    expect(error.message).toContain('Fix: name one of those members, or remove the entry to stream from the primary');
  });

  test('refuses a standby streaming from itself', () => {
    const error = refused({ replicateFrom: { 'main-pg-3': 'main-pg-3' } });
    expect(error.message).toContain('replicateFrom.main-pg-3: got "main-pg-3"; expected an upstream other than the member itself. Fix: name another member, or remove the entry so that main-pg-3 streams from the primary');
  });

  test('refuses a loop, showing the cycle', () => {
    const error = refused({ replicateFrom: { 'main-pg-2': 'main-pg-3', 'main-pg-3': 'main-pg-4', 'main-pg-4': 'main-pg-2' } });
    expect(error.problems.map((p) => p.path)).toEqual(['replicateFrom']);
    expect(error.message).toContain('expected no cascade loop: main-pg-2 -> main-pg-3 -> main-pg-4 -> main-pg-2 streams in a circle and never from the primary');
    expect(error.message).toContain('Fix: remove one of the entries "main-pg-2", "main-pg-3" and "main-pg-4"');
  });

  test('in sync mode, refuses as many synchronous standbys as direct standbys, with the arithmetic', () => {
    const error = refused({ replicationMode: 'sync', synchronousCount: 2, replicateFrom: { 'main-pg-4': 'main-pg-2' } });
    expect(error.problems.map((p) => p.path)).toEqual(['synchronousCount']);
    expect(error.message).toContain(
      'synchronousCount: got 2; expected fewer synchronous standbys than standbys streaming from the primary: standbyCount - cascading standbys = 3 - 1 = 2 direct standby(s) allow at most 2 - 1 = 1, ' +
        'since main-pg-4 cascades (replicateFrom), and a cascading standby never acknowledges commits to the primary. Fix: set synchronousCount to 1 or less, cascade fewer standbys, or add standbys',
    );
  });

  test('in sync mode, refuses a single direct standby, saying to cascade fewer', () => {
    const error = refused({ replicationMode: 'sync', replicateFrom: { 'main-pg-3': 'main-pg-2', 'main-pg-4': 'main-pg-2' } });
    expect(error.message).toContain('= 3 - 2 = 1 direct standby(s) allow at most 1 - 1 = 0, since main-pg-3 and main-pg-4 cascade');
    expect(error.message).toContain('Fix: cascade fewer standbys (leave at least 2 streaming from the primary), add standbys, or use replicationMode: "async"');
  });

  test.each([
    ['archive_mode', 'on'],
    ['restore_command', 'cp /x %p'],
    ['archive_timeout', 30],
  ])('refuses postgresqlParameters.%s, naming the prop to use', (name, value) => {
    expect(refused({ postgresqlParameters: { [name]: value } }).message).toMatch(new RegExp(`postgresqlParameters\\.${name}: got .*; expected no "${name}" \\(PrimaryWithReplicas sets it\\)\\. Fix: (give the archive prop|use the archiveTimeoutSeconds prop)`));
  });

  test('refuses an archiveTimeoutSeconds below 10', () => {
    expect(refused({ archiveTimeoutSeconds: 5 }).message).toMatch(/archiveTimeoutSeconds: got 5/);
  });
});
