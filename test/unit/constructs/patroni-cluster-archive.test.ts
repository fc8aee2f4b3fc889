import { parse } from 'yaml';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { WalArchiveBucket } from '../../../src/constructs/wal-archive-bucket';
import { BackupJob } from '../../../src/constructs/backup-job';
import { SpecError } from '../../../src/spec/problems';
import { awsTestStack, resourcesOf, synthesize, userDataOf } from '../../support/aws-stack';

function archivedCluster(restore = false) {
  const { stack, platform } = awsTestStack();
  const archive = new WalArchiveBucket(stack, 'Archive', { platform, name: 'orders' });
  const cluster = new PatroniCluster(stack, 'Cluster', {
    clusterName: restore ? 'orders-copy' : 'orders',
    platform,
    archive,
    restoreFrom: restore ? { archive, sourceCluster: 'orders', targetTime: '2026-11-20T14:30:00Z' } : undefined,
  });
  return { stack, archive, cluster, synth: synthesize(stack) };
}

const cloudConfigOf = (synth: ReturnType<typeof synthesize>) => parse(userDataOf(resourcesOf(synth, 'aws_instance')[0]));
const fileOf = (cloudConfig: { write_files: { path: string; content: string }[] }, path: string) => cloudConfig.write_files.find((f) => f.path === path)?.content;

describe('PatroniCluster with a WalArchiveBucket on AWS', () => {
  test('the archive secret holds a generated passphrase and the bucket location, write-only', () => {
    const { synth } = archivedCluster();
    const archiveVersion = resourcesOf(synth, 'aws_secretsmanager_secret_version').find((v) => String(v.secret_string_wo).includes('cipher_pass'));
    expect(archiveVersion).toBeDefined();
    const value = String(archiveVersion?.secret_string_wo);
    // Terraform's jsonencode of references: the values exist only once the bucket does.
    expect(value).toMatch(/"repo1_s3_bucket" = aws_s3_bucket\.Archive_Repository_[A-F0-9]+\.bucket,/);
    expect(value).toMatch(/"repo1_s3_region" = aws_s3_bucket\.Archive_Repository_[A-F0-9]+\.region,/);
    expect(value).toMatch(/"repo1_s3_endpoint" = "s3\.\$\{aws_s3_bucket\.Archive_Repository_[A-F0-9]+\.region\}\.amazonaws\.com"/);
    expect(value).toMatch(/"cipher_pass" = data\.aws_secretsmanager_random_password\.Archive_Secret_Random-cipher_pass_/);
  });

  test('the nodes read it at boot into pgBackRest\'s environment file, and Patroni (so postgres) gets that environment', () => {
    const cloudConfig = cloudConfigOf(archivedCluster().synth);
    const boot = fileOf(cloudConfig, '/usr/local/sbin/pgha-boot') ?? '';
    expect(boot).toMatch(
      /fetch_secret 'pgha\/test\/orders\/archive' '\/etc\/pgbackrest\/pgbackrest.env' postgres:postgres 'PGBACKREST_REPO1_CIPHER_PASS=cipher_pass' 'PGBACKREST_REPO1_S3_BUCKET=repo1_s3_bucket'/,
    );
    expect(fileOf(cloudConfig, '/etc/systemd/system/pgha-patroni.service')).toContain('EnvironmentFile=/etc/pgbackrest/pgbackrest.env');
    expect(cloudConfig.packages).toContain('pgbackrest');
  });

  test('pgbackrest.conf names the repository path and instance-role credentials, and no bucket, key or passphrase', () => {
    const conf = fileOf(cloudConfigOf(archivedCluster().synth), '/etc/pgbackrest/pgbackrest.conf') ?? '';
    expect(conf).toContain('repo1-type=s3\n');
    expect(conf).toContain('repo1-s3-key-type=auto\n');
    expect(conf).toContain('repo1-path=/pgbackrest\n');
    expect(conf).not.toMatch(/\$\{|cipher-pass|s3-bucket|s3-key=/);
  });

  test('the node role may read the archive secret and use the repository', () => {
    const { synth } = archivedCluster();
    const documents = Object.entries(synth.data.aws_iam_policy_document).map(([id, d]) => [id, JSON.stringify(d.statement)] as const);
    const readSecrets = documents.find(([id]) => id.startsWith('Cluster_Nodes_ReadSecrets'))?.[1] ?? '';
    expect(readSecrets).toContain('aws_secretsmanager_secret.Archive_Secret_');
    expect(readSecrets).toContain('aws_secretsmanager_secret.Cluster_Secret');
    expect(documents.some(([id]) => id.includes('Grant-orders-pg'))).toBe(true);
  });

  test('a restored cluster bootstraps from the source stanza and archives into its own', () => {
    const cloudConfig = cloudConfigOf(archivedCluster(true).synth);
    const patroni = parse(fileOf(cloudConfig, '/etc/patroni/patroni.yml') ?? '');
    expect(patroni.bootstrap.method).toBe('pgbackrest_restore');
    expect(patroni.bootstrap.pgbackrest_restore.command).toBe('/usr/local/lib/pgha/pgha-bootstrap-restore');
    expect(patroni.bootstrap.pgbackrest_restore.recovery_conf).toMatchObject({
      recovery_target_time: '2026-11-20 14:30:00+00',
      recovery_target_action: 'promote',
      restore_command: expect.stringContaining('--stanza=orders --repo=1 archive-get'),
    });
    expect(patroni.postgresql.parameters.archive_command).toContain('--stanza=orders-copy archive-push');
    const script = fileOf(cloudConfig, '/usr/local/lib/pgha/pgha-bootstrap-restore') ?? '';
    expect(script).toContain("--stanza=orders --repo=1 --pg1-path='/var/lib/pgha/postgresql/17/orders-copy' '--type=time'");
    const conf = fileOf(cloudConfig, '/etc/pgbackrest/pgbackrest.conf') ?? '';
    expect(conf).toContain('[orders-copy]');
    expect(conf).toContain('[orders]');
  });

  test('restoring into the source\'s own stanza is refused before anything is synthesized', () => {
    const { stack, platform } = awsTestStack();
    const archive = new WalArchiveBucket(stack, 'Archive', { platform, name: 'orders' });
    expect(() => new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, archive, restoreFrom: { archive, sourceCluster: 'orders', latest: true } })).toThrow(SpecError);
    expect(() =>
      new PatroniCluster(stack, 'Other', { clusterName: 'other', platform, archive, restoreFrom: { archive, sourceCluster: 'orders', targetTime: '2999-01-01T00:00:00Z' } }),
    ).toThrow(/restoreFrom.targetTime: got "2999-01-01T00:00:00Z"; expected a moment that has passed/);
  });
});

describe('BackupJob with backupStandby on AWS', () => {
  function standbyStack() {
    const { stack, platform } = awsTestStack();
    const archive = new WalArchiveBucket(stack, 'Archive', { platform, name: 'orders' });
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, archive });
    new BackupJob(stack, 'Backup', { cluster, backupStandby: true });
    return synthesize(stack);
  }

  test('Terraform makes a private CA and the cluster certificate for every node address, stored write-only', () => {
    const synth = standbyStack();
    expect(resourcesOf(synth, 'tls_private_key').map((k) => k.algorithm)).toEqual(['ECDSA', 'ECDSA']);
    expect(resourcesOf(synth, 'tls_self_signed_cert')[0]).toMatchObject({ is_ca_certificate: true, allowed_uses: ['cert_signing', 'crl_signing'] });
    expect(resourcesOf(synth, 'tls_cert_request')[0]).toMatchObject({
      ip_addresses: ['10.0.1.10', '10.0.2.10', '10.0.3.10'],
      dns_names: ['10.0.1.10', 'orders-pg-1', '10.0.2.10', 'orders-pg-2', '10.0.3.10', 'orders-pg-3'],
      subject: [{ common_name: 'pgha-orders-pgbackrest', organization: 'cdktf-postgres-ha' }],
    });
    expect(resourcesOf(synth, 'tls_locally_signed_cert')[0].allowed_uses).toEqual(['digital_signature', 'key_encipherment', 'server_auth', 'client_auth']);
    const tlsSecret = resourcesOf(synth, 'aws_secretsmanager_secret').find((s) => s.name === 'pgha/test/orders/pgbackrest/tls');
    expect(tlsSecret).toBeDefined();
    const version = resourcesOf(synth, 'aws_secretsmanager_secret_version').find((v) => String(v.secret_string_wo).includes('tls_key'));
    expect(version?.secret_string).toBeUndefined();
    expect(Object.keys((synth as unknown as { provider: Record<string, unknown> }).provider)).toEqual(expect.arrayContaining(['aws', 'tls']));
  });

  test('the nodes may read the certificate secret and reach each other on 8432 only', () => {
    const synth = standbyStack();
    const documents = Object.entries(synth.data.aws_iam_policy_document).map(([id, d]) => [id, JSON.stringify(d.statement)] as const);
    expect(documents.find(([id]) => id.includes('ReadSecret-orders-pgbackrest-tls'))?.[1]).toContain('aws_secretsmanager_secret.Cluster_BackupTls_Secret');
    const rule = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').find((r) => r.from_port === 8432);
    expect(rule).toMatchObject({ to_port: 8432, ip_protocol: 'tcp' });
    expect(rule?.referenced_security_group_id).toBe(rule?.security_group_id);
  });

  test('each node fetches the PEMs into files, runs the TLS server and lists its peers in pgbackrest.conf', () => {
    const cloudConfig = cloudConfigOf(standbyStack());
    const boot = fileOf(cloudConfig, '/usr/local/sbin/pgha-boot') ?? '';
    expect(boot).toContain("fetch_secret_file 'pgha/test/orders/pgbackrest/tls' 'tls_key' '/etc/pgbackrest/tls/node.key' postgres:postgres");
    expect(boot).toContain('pgha-pgbackrest-server.service');
    expect(fileOf(cloudConfig, '/etc/systemd/system/pgha-pgbackrest-server.service')).toContain('ExecStart=/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf server');
    const conf = fileOf(cloudConfig, '/etc/pgbackrest/pgbackrest.conf') ?? '';
    expect(conf).toContain('tls-server-address=10.0.1.10\n');
    expect(conf).toContain('tls-server-auth=pgha-orders-pgbackrest=orders\n');
    expect(conf).toContain('pg2-host=10.0.2.10\npg2-host-type=tls\npg2-host-port=8432\n');
    expect(conf).toContain('pg3-path=/var/lib/pgha/postgresql/17/orders\n');
    expect(conf).not.toMatch(/BEGIN|PRIVATE KEY/);
  });
});
