import { renderRestoreBootstrapScript, renderStanzaCreateScript, restoreTarget } from '../../../src/render/archive-scripts';
import { restoreFromSchema } from '../../../src/spec/restore-target';

const restore = (target: Record<string, unknown>) => restoreFromSchema.parse({ sourceCluster: 'orders', archiveId: 'a', ...target });

describe('restoreTarget', () => {
  test('a time: pgbackrest --type=time and the same UTC time for PostgreSQL, promoting at the target', () => {
    expect(restoreTarget(restore({ targetTime: '2026-11-20T15:30:00.25+01:00' }))).toEqual({
      options: ['--type=time', '--target=2026-11-20 14:30:00.25+00', '--target-action=promote'],
      recoveryConf: { recovery_target_time: '2026-11-20 14:30:00.25+00', recovery_target_action: 'promote' },
    });
  });

  test('an exclusive LSN', () => {
    expect(restoreTarget(restore({ targetLsn: '0/3000060', targetInclusive: false }))).toEqual({
      options: ['--type=lsn', '--target=0/3000060', '--target-exclusive', '--target-action=promote'],
      recoveryConf: { recovery_target_lsn: '0/3000060', recovery_target_inclusive: 'off', recovery_target_action: 'promote' },
    });
  });

  test('a restore point, and the end of the archive', () => {
    expect(restoreTarget(restore({ targetName: 'before-migration' })).recoveryConf).toEqual({ recovery_target_name: 'before-migration', recovery_target_action: 'promote' });
    expect(restoreTarget(restore({ latest: true }))).toEqual({ options: ['--type=default'], recoveryConf: {} });
  });
});

describe('the bootstrap scripts', () => {
  test('the restore reads the source stanza from the given repository into the data directory', () => {
    const script = renderRestoreBootstrapScript(restore({ targetTime: '2026-11-20T14:30:00Z' }), '/var/lib/pgha/postgresql/17/copy', 2);
    expect(script).toContain(
      "exec /usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=orders --repo=2 --pg1-path='/var/lib/pgha/postgresql/17/copy' '--type=time' '--target=2026-11-20 14:30:00+00' '--target-action=promote' restore",
    );
    expect(script).toContain("install -d -m 0700 '/var/lib/pgha/postgresql/17/copy'");
  });

  test('stanza creation retries, then lets the bootstrap finish', () => {
    const script = renderStanzaCreateScript('orders');
    expect(script).toContain('/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=orders stanza-create');
    expect(script.trimEnd().endsWith('exit 0')).toBe(true);
  });
});
