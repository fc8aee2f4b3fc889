import { validateBackupJobSpec } from '../../../src/spec/backup-job';
import { PatroniClusterSpecInput, validatePatroniClusterSpec } from '../../../src/spec/patroni-cluster';
import { RecoveryObjective, recoveryObjectives, renderRecoveryReport } from '../../../src/review/recovery-objectives';
import { main } from '../../../src/cli/main';

const cluster = (input: Partial<PatroniClusterSpecInput> = {}) => validatePatroniClusterSpec({ clusterName: 'orders', ...input });
const row = (rows: RecoveryObjective[], scenario: string) => {
  const found = rows.find((r) => r.scenario === scenario);
  if (!found) throw new Error(`no row "${scenario}" in ${rows.map((r) => r.scenario).join(', ')}`);
  return found;
};

describe('recoveryObjectives', () => {
  test('sync-strict loses nothing on a failover; the RTO bound follows the failover timing', () => {
    const rows = recoveryObjectives({ cluster: cluster({ replicationMode: 'sync-strict', failover: 'fast' }), archived: true });
    expect(row(rows, 'primary node or its zone lost')).toMatchObject({ rpo: '0', rto: 'at most 25 s' });
  });

  test('sync names the window after a failover; async is bounded by maximum_lag_on_failover', () => {
    expect(row(recoveryObjectives({ cluster: cluster(), archived: true }), 'primary node or its zone lost').rpo).toMatch(/^0 \(a second failure within one loop_wait/);
    const async = recoveryObjectives({ cluster: cluster({ replicationMode: 'async', maximumLagOnFailoverBytes: 4194304 }), archived: true });
    expect(row(async, 'primary node or its zone lost').rpo).toBe('up to 4 MiB of WAL (maximum_lag_on_failover: a replica further behind is never promoted)');
    expect(row(async, 'primary node or its zone lost').rto).toBe('at most 43 s');
  });

  test.each([
    ['sync', true, /^0 \(a second failure/, /the watchdog resets the stalled node 15 s \(ttl - safety_margin\) after its last loop.*never two writable members/],
    ['sync', false, /^0 \(a second failure/, /no watchdog on this platform: .*its commits wait for a synchronous standby that now follows the new leader, so none is acknowledged/],
    ['async', true, /^up to 1 MiB of WAL \(maximum_lag_on_failover[^,]*\)$/, /the watchdog resets/],
    ['async', false, /, and commits the stalled leader acknowledges until its Patroni resumes$/, /in async mode the commits it acknowledges meanwhile can be lost/],
  ] as const)('a stalled leader agent, %s mode, watchdog %s: the conditions of the RPO are named', (replicationMode, watchdog, rpo, basis) => {
    const rows = recoveryObjectives({ cluster: cluster({ replicationMode, failover: 'fast' }), archived: true, watchdog });
    const stalled = row(rows, "the leader's Patroni stalls (a paused VM, CPU starvation, a stuck disk)");
    expect(stalled.rpo).toMatch(rpo);
    expect(stalled.basis).toMatch(basis);
    expect(stalled.rto).toBe('at most 25 s');
  });

  test('archive-only recovery is bounded by archive_timeout; RTO from a measured restore', () => {
    const rows = recoveryObjectives({ cluster: cluster({ archiveTimeoutSeconds: 30 }), archived: true, backup: validateBackupJobSpec({}), measuredRestoreSeconds: 90 });
    expect(row(rows, 'whole cluster lost')).toMatchObject({ rpo: 'up to 30 s (plus WAL still queued for the asynchronous push)', rto: '2 min' });
    expect(row(rows, 'logical mistake (DROP, bad UPDATE)').basis).toMatch(/recovery window 14 days/);
    expect(row(rows, 'region lost')).toMatchObject({ rpo: 'everything' });
  });

  test('an offsite copy covers the region; no backups means nothing to restore yet', () => {
    const rows = recoveryObjectives({ cluster: cluster(), archived: true, offsiteCopy: true });
    expect(row(rows, 'region lost').basis).toMatch(/replica bucket/);
    expect(row(rows, 'whole cluster lost').rto).toBe('none until a backup exists');
  });

  test('without an archive, losing the cluster loses everything', () => {
    const rows = recoveryObjectives({ cluster: cluster(), archived: false });
    expect(row(rows, 'whole cluster or region lost')).toMatchObject({ rpo: 'everything' });
  });

  test('the table escapes pipes', () => {
    expect(renderRecoveryReport('x', [{ scenario: 'a|b', rpo: '0', rto: '1 s', basis: 'c' }])).toContain('| a\\|b | 0 | 1 s | c |');
  });
});

describe('pgha plan-report', () => {
  // Runs this repository's app (cdktf.json), compiled by `npm run build:app` as `npm test` does first.
  test('prints the reference stack\'s table with a measured restore time', async () => {
    let out = '';
    const code = await main(['plan-report', '--stack', 'aws-ha', '--restore-seconds', '300'], { out: (t) => (out += t), err: (t) => (out += t) });
    expect(code).toBe(0);
    expect(out).toContain('### main (aws-ha/Cluster)');
    expect(out).toMatch(/\| whole cluster lost \| up to 60 s .* \| 6 min \|/);
  });

  test('refuses a bad restore time', async () => {
    let err = '';
    const code = await main(['plan-report', '--restore-seconds', 'soon'], { out: () => undefined, err: (t) => (err += t) });
    expect(code).toBe(2);
    expect(err).toMatch(/--restore-seconds: got "soon"; expected a positive number of seconds/);
  });
});
