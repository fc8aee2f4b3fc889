/**
 * A restore into a new cluster from the command line alone, as a user does it: `pgha local up`
 * of a project's stack archives and backs up; a second project, whose stack restores from that
 * archive (`restoreFrom` in its cdktf.json context), is brought up in another directory with
 * `--archive-dir` pointing at the first one's store; every row written before the backup is there.
 * Both projects run this repository's compiled reference app (npm run build:app).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { runPgha } from '../support/pgha-command';

const ROOT = join(__dirname, '..', '..');
const SOURCE_BLOCK = 81;
const RESTORED_BLOCK = 82;

function project(dir: string, context: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cdktf.json'), JSON.stringify({ language: 'typescript', app: `node ${join(ROOT, 'dist', 'stacks', 'main.js')}`, context }));
  return dir;
}

const pgha = (cwd: string, ...args: string[]) => runPgha(args, { cwd });

async function withClient<T>(dir: string, use: (client: Client) => Promise<T>): Promise<T> {
  const endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8'));
  const client = new Client({ host: endpoints.writer.host, port: endpoints.writer.port, user: endpoints.superuser.user, password: endpoints.superuser.password, database: 'postgres' });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

describe('pgha local up --archive-dir: a new cluster restored from another one\'s archive', () => {
  let work: string;
  let source: string;
  let restored: string;
  const sourceDir = () => join(work, 'a');
  const restoredDir = () => join(work, 'b');
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'pgha-restore-cmd-'));
    chmodSync(work, 0o755);
    // Monitoring off: this test is about the archive.
    source = project(join(work, 'source-app'), { 'aws-ha': { monitoring: false } });
    restored = project(join(work, 'restored-app'), { 'aws-ha': { monitoring: false, cluster: { clusterName: 'restored' }, restoreFrom: { sourceCluster: 'main', latest: true } } });
  });
  afterAll(() => {
    for (const [cwd, dir] of [[source, sourceDir()], [restored, restoredDir()]]) if (existsSync(join(dir, 'state.json'))) pgha(cwd, 'local', 'down', '--dir', dir);
    if (!process.env.PGHA_KEEP_DIR) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  test('the source cluster archives and takes a full backup, then stops', async () => {
    const up = pgha(source, 'local', 'up', '--stack', 'aws-ha', '--dir', sourceDir(), '--address-block', String(SOURCE_BLOCK), '--profile', 'fast');
    expect(up.err).toBe('');
    expect(up.code).toBe(0);
    await withClient(sourceDir(), async (client) => {
      await client.query('CREATE TABLE orders (id int PRIMARY KEY)');
      await client.query('INSERT INTO orders SELECT g FROM generate_series(1, 500) g');
    });
    // The backup job acts on the leader only; the other members exit 0 without backing up.
    const backups = ['main-pg-1', 'main-pg-2', 'main-pg-3'].map((node) => pgha(source, 'local', 'run-job', node, 'pgha-backup-full', '--dir', sourceDir()));
    expect(backups.map((b) => b.code)).toEqual([0, 0, 0]);
    expect(backups.filter((b) => b.out.includes('stanza main is ready; starting the full backup'))).toHaveLength(1);
    expect(pgha(source, 'local', 'down', '--dir', sourceDir()).code).toBe(0);
  }, 400_000);

  test('the restored cluster comes up in another directory from that store, with every row', async () => {
    const up = pgha(restored, 'local', 'up', '--stack', 'aws-ha', '--dir', restoredDir(), '--archive-dir', join(sourceDir(), 'archive'), '--address-block', String(RESTORED_BLOCK), '--profile', 'fast');
    expect(up.err).toBe('');
    expect(up.code).toBe(0);
    expect(up.out).toContain(`archive: ${join(sourceDir(), 'archive', 'main', 'pgbackrest')}`);
    const rows = await withClient(restoredDir(), async (client) => (await client.query('SELECT count(*)::int AS n, max(id) AS top FROM orders')).rows[0]);
    expect(rows).toEqual({ n: 500, top: 500 });
    expect(pgha(restored, 'local', 'down', '--dir', restoredDir()).code).toBe(0);
  }, 400_000);
});
