import { SpecError } from '../../../src/spec/problems';
import { checkRestoreTarget, normalizeTargetTime, restoreFromSchema } from '../../../src/spec/restore-target';
import { validatePatroniClusterSpec } from '../../../src/spec/patroni-cluster';

const NOW = new Date('2026-11-27T12:00:00Z');
const restore = (target: Record<string, unknown>) => restoreFromSchema.parse({ sourceCluster: 'orders', archiveId: 'a', ...target });

describe('normalizeTargetTime', () => {
  test.each([
    ['2026-11-20T14:30:00Z', '2026-11-20 14:30:00+00'],
    ['2026-11-20 15:30:00+01:00', '2026-11-20 14:30:00+00'],
    ['2026-11-20T09:30:00.123456-0500', '2026-11-20 14:30:00.123456+00'],
    ['2026-11-20T16:30:00.5+02', '2026-11-20 14:30:00.5+00'],
    ['2026-12-31T23:30:00-01:00', '2027-01-01 00:30:00+00'],
  ])('%s -> %s (UTC, the fraction kept digit for digit)', (given, expected) => {
    expect(normalizeTargetTime(given)).toBe(expected);
  });

  test.each(['2026-11-20 14:30:00', '2026-11-20', 'yesterday', '2026-13-01T00:00:00Z', '2026-02-30T10:00:00Z', '2026-11-20T24:30:00Z', '2026-11-20T14:30Z'])('%s is refused', (given) => {
    expect(normalizeTargetTime(given)).toBeUndefined();
  });
});

describe('checkRestoreTarget', () => {
  test('one target that has passed: no problem', () => {
    expect(checkRestoreTarget(restore({ targetTime: '2026-11-27T11:59:59Z' }), NOW)).toEqual([]);
    expect(checkRestoreTarget(restore({ targetLsn: '0/3000060' }), NOW)).toEqual([]);
    expect(checkRestoreTarget(restore({ latest: true }), NOW)).toEqual([]);
  });

  test('a time in the future is refused, naming now', () => {
    const [problem] = checkRestoreTarget(restore({ targetTime: '2026-11-27T12:00:01Z' }), NOW);
    expect(problem).toMatchObject({ path: 'restoreFrom.targetTime', given: '2026-11-27T12:00:01Z' });
    expect(problem.expected).toMatch(/a moment that has passed \(now is 2026-11-27T12:00:00.000Z\)/);
  });

  test('a time without a zone is refused with the reason', () => {
    const [problem] = checkRestoreTarget(restore({ targetTime: '2026-11-20 14:30:00' }), NOW);
    expect(problem.path).toBe('restoreFrom.targetTime');
    expect(problem.fix).toMatch(/without a zone would be read in the server's zone/);
  });

  test('two targets, or none, are refused', () => {
    const [two] = checkRestoreTarget(restore({ targetTime: '2026-11-20T14:30:00Z', targetName: 'before-migration' }), NOW);
    expect(two).toMatchObject({ path: 'restoreFrom', given: 'targetTime and targetName' });
    expect(two.fix).toBe('keep one of targetTime, targetName');
    const [none] = checkRestoreTarget(restore({}), NOW);
    expect(none).toMatchObject({ path: 'restoreFrom', given: 'no target' });
  });
});

describe('PatroniCluster spec with restoreFrom', () => {
  const specError = (input: Record<string, unknown>): SpecError => {
    try {
      validatePatroniClusterSpec({ clusterName: 'orders', ...input });
    } catch (error) {
      return error as SpecError;
    }
    throw new Error('expected a SpecError');
  };

  test('restoring a cluster into its own stanza of the same archive is refused', () => {
    const error = specError({ archiveId: 'x', restoreFrom: { sourceCluster: 'orders', archiveId: 'x', latest: true } });
    expect(error.problems.map((p) => p.path)).toEqual(['restoreFrom.sourceCluster']);
    expect(error.message).toMatch(/must not write into the stanza it restores from/);
    expect(error.message).toMatch(/orders-restored/);
  });

  test('the same name is fine when the cluster archives elsewhere', () => {
    const spec = validatePatroniClusterSpec({ clusterName: 'orders', archiveId: 'y', restoreFrom: { sourceCluster: 'orders', archiveId: 'x', latest: true } });
    expect(spec.restoreFrom).toMatchObject({ sourceCluster: 'orders', latest: true, targetInclusive: true });
  });

  test('a malformed LSN and a bad restore point name are refused with their paths', () => {
    const error = specError({ restoreFrom: { sourceCluster: 'src', archiveId: 'x', targetLsn: '0-3000060' } });
    expect(error.problems.map((p) => p.path)).toEqual(['restoreFrom.targetLsn']);
    const named = specError({ restoreFrom: { sourceCluster: 'src', archiveId: 'x', targetName: "it's" } });
    expect(named.problems.map((p) => p.path)).toEqual(['restoreFrom.targetName']);
  });

  test('archive_timeout below 10 s is refused', () => {
    expect(specError({ archiveTimeoutSeconds: 5 }).problems.map((p) => p.path)).toEqual(['archiveTimeoutSeconds']);
  });
});
