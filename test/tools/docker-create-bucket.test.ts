/**
 * The MinIO bucket container's script, run by the same `sh -c` Docker runs it with, against a
 * stand-in `mc` on PATH (the real client is in an image this machine cannot pull). The shell is the
 * node runtime root's (Debian 13's /bin/sh, dash: a strict POSIX sh), run from the root as the
 * Docker simulation runs container commands; the temp dir with the stand-in is bound in at its own
 * path. It retries
 * until MinIO answers, then makes the bucket once with --ignore-existing, with the credentials
 * from the environment; it gives up after 60 tries with a message; shellcheck (as sh) passes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBucketScript } from '../../src/platform/docker/docker-archive';
import { makeTempDir, removeTempDir, requireBinaries, requireNodeBinaries, runCommand } from '../support/processes';

const ENDPOINT = 'https://172.28.0.254:9000';

describe('the bucket container script', () => {
  requireBinaries(['/usr/bin/shellcheck']);
  requireNodeBinaries(['/bin/sh', '/usr/bin/cat', '/usr/bin/sleep']);
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('pgha-create-bucket');
  });
  afterEach(() => removeTempDir(dir));

  /** A stand-in mc: logs its arguments; `alias set` fails the first FAILURES times (MinIO not up yet). */
  function standInMc(failures: number): void {
    writeFileSync(
      join(dir, 'mc'),
      [
        '#!/bin/sh',
        `echo "$*" >> ${dir}/calls`,
        'case "$3 $4" in',
        `  "alias set") n=$(cat ${dir}/count 2>/dev/null || echo 0); echo $((n + 1)) > ${dir}/count; [ "$n" -ge ${failures} ] ;;`,
        '  *) exit 0 ;;',
        'esac',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }
  const run = (script: string) =>
    runCommand('/bin/sh', {
      args: ['-c', script],
      env: { PATH: `${dir}:/usr/bin:/bin`, MINIO_ROOT_USER: 'ACCESS1', MINIO_ROOT_PASSWORD: 'secret 2' },
      inheritEnv: false,
      timeoutMs: 90_000,
      node: true,
    });

  test('WHEN MinIO answers on the third try THEN the bucket is made once, with the credentials from the environment', async () => {
    standInMc(2);
    const result = await run(createBucketScript(ENDPOINT, 'main-archive', '/etc/mc'));
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')).toEqual([
      ...Array(3).fill(`--config-dir /etc/mc alias set archive ${ENDPOINT} ACCESS1 secret 2`),
      '--config-dir /etc/mc mb --ignore-existing archive/main-archive',
    ]);
    expect(result.durationMs).toBeGreaterThanOrEqual(1_900);
  }, 30_000);

  test('WHEN MinIO never answers THEN it gives up after 60 tries, saying so, without making the bucket', async () => {
    standInMc(1_000);
    const result = await run(createBucketScript(ENDPOINT, 'main-archive').replace('sleep 1', 'sleep 0.01'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`MinIO at ${ENDPOINT} did not answer within 60 s`);
    const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
    expect(calls).toHaveLength(60);
    expect(calls.some((call) => call.includes(' mb '))).toBe(false);
  }, 30_000);

  test('THEN shellcheck passes it as sh, and flags it with a quote removed (negative control)', async () => {
    const script = createBucketScript(ENDPOINT, 'main-archive');
    writeFileSync(join(dir, 'create-bucket.sh'), script);
    writeFileSync(join(dir, 'broken.sh'), script.replace('"$MINIO_ROOT_USER"', '$MINIO_ROOT_USER'));
    const good = await runCommand('/usr/bin/shellcheck', { args: ['--shell=sh', '--severity=style', join(dir, 'create-bucket.sh')], timeoutMs: 30_000 });
    expect({ code: good.code, out: good.stdout }).toEqual({ code: 0, out: '' });
    const broken = await runCommand('/usr/bin/shellcheck', { args: ['--shell=sh', join(dir, 'broken.sh')], timeoutMs: 30_000 });
    expect(broken.code).not.toBe(0);
    expect(broken.stdout).toContain('SC2086');
  }, 30_000);
});
