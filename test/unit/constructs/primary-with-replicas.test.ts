/**
 * PrimaryWithReplicas synthesized on AWS: a primary and standbys without Patroni or etcd, their
 * start scripts (initialise or copy the primary), postgresql.conf with the synchronous standbys,
 * the role agents the proxies check, and the rules that refuse bad input.
 */
import { HaproxyFrontends } from '../../../src/constructs/haproxy-frontends';
import { PrimaryWithReplicas, PrimaryWithReplicasProps } from '../../../src/constructs/primary-with-replicas';
import { WalArchiveBucket } from '../../../src/constructs/wal-archive-bucket';
import { STANZA_CREATE_JOB } from '../../../src/node-plan/pgbackrest-plan';
import { POSTGRES_SERVICE, ROLE_AGENT_SERVICE } from '../../../src/node-plan/primary-with-replicas-plan';
import { awsTestStack, resourcesOf, synthesize } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

function replicas(props: Partial<PrimaryWithReplicasProps> = {}, frontends: Partial<ConstructorParameters<typeof HaproxyFrontends>[2]> = {}, archived = false) {
  const { stack, platform } = awsTestStack();
  const archive = archived ? new WalArchiveBucket(stack, 'Archive', { platform, name: 'plain' }) : undefined;
  const cluster = new PrimaryWithReplicas(stack, 'Cluster', { platform, clusterName: 'plain', archive, ...props });
  const proxies = new HaproxyFrontends(stack, 'Frontends', { platform, cluster, clientCidrs: ['10.50.0.0/16'], ...frontends });
  return { stack, cluster, frontends: proxies };
}
const file = (nodes: ReturnType<typeof collectRenderedNodes>, node: string, path: string) => nodes.find((n) => n.plan.name === node)!.plan.files.find((f) => f.path === path)!.content;

describe('PrimaryWithReplicas on AWS', () => {
  describe('GIVEN sync mode with FIRST 1 and two standbys', () => {
    const { stack, cluster, frontends } = replicas({ replicationMode: 'sync' });
    const synth = synthesize(stack);
    const nodes = collectRenderedNodes(stack);

    test('THEN three nodes over three zones, each running PostgreSQL through the start script and the role agent; no Patroni, no etcd', () => {
      expect(cluster.members.map((m) => [m.name, m.zone])).toEqual([
        ['plain-pg-1', 'eu-west-1a'],
        ['plain-pg-2', 'eu-west-1b'],
        ['plain-pg-3', 'eu-west-1c'],
      ]);
      for (const { plan } of nodes.filter((n) => n.plan.group === 'plain-pg')) {
        expect(plan.services.map((s) => s.name)).toEqual([POSTGRES_SERVICE, ROLE_AGENT_SERVICE]);
        expect(plan.services[0]).toMatchObject({ user: 'postgres', command: ['/usr/local/lib/pgha/pgha-postgres-start'] });
        expect(plan.services[1].command).toEqual(['/usr/bin/python3', '/usr/local/lib/pgha/pgha-role-agent', '--listen', `${plan.address}:8008`, '--socket-dir', '/run/postgresql', '--port', '5432']);
        expect(plan.packages).toEqual(['postgresql-17', 'python3-psycopg2']);
        expect(plan.packages).not.toContain('patroni');
      }
      expect(resourcesOf(synth, 'aws_instance')).toHaveLength(5);
    });

    test('THEN the primary initialises itself with a slot per standby, and each standby copies the primary into its own slot', () => {
      const primary = file(nodes, 'plain-pg-1', '/usr/local/lib/pgha/pgha-postgres-start');
      // The SQL is one shell-quoted printf format: each ' of it is written '\''.
      expect(primary).toContain("pg_create_physical_replication_slot('\\''plain_pg_2'\\'')");
      expect(primary).toContain("pg_create_physical_replication_slot('\\''plain_pg_3'\\'')");
      const standby = file(nodes, 'plain-pg-3', '/usr/local/lib/pgha/pgha-postgres-start');
      expect(standby).toContain(cluster.members[0].address);
      expect(standby).toMatch(/pg_basebackup/);
      expect(standby).toContain('plain_pg_3');
    });

    test("THEN every node's postgresql.conf names the synchronous standbys (FIRST 1) and its own address", () => {
      for (const member of cluster.members) {
        const conf = file(nodes, member.name, '/etc/pgha/postgresql/postgresql.conf');
        expect(conf).toContain("synchronous_standby_names = 'FIRST 1 (plain_pg_2, plain_pg_3)'");
        expect(conf).toContain(`listen_addresses = '${member.address}'`);
      }
    });

    test("THEN the proxies check the role agents on 8008 exactly as Patroni's REST API, and reach them through the security group", () => {
      const haproxy = file(nodes, 'plain-proxy-1', '/etc/haproxy/pgha.cfg');
      for (const member of cluster.members) expect(haproxy).toContain(`server ${member.name} ${member.address}:5432 check port 8008`);
      expect(haproxy).toContain('http-check send meth OPTIONS uri /primary');
      const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => /Cluster_Nodes_SecurityGroup/.test(String(r.security_group_id)));
      expect(rules.map((r) => r.from_port).sort()).toEqual([5432, 5432, 8008]);
      expect(frontends.writerEndpoint).toMatch(/:5000$/);
      expect(cluster.writerEndpoint).toBe(frontends.writerEndpoint);
    });

    test('THEN no password is in a rendered file: the start script reads them from the secret environment file', () => {
      const secret = nodes[0].plan.secrets[0];
      expect(secret).toMatchObject({ name: 'plain/postgres', environmentFile: '/etc/pgha/postgresql/postgres.env', variables: { PGHA_SUPERUSER_PASSWORD: 'superuser_password', PGHA_REPLICATION_PASSWORD: 'replication_password' } });
      for (const node of nodes) for (const f of node.files) expect(f.content).not.toMatch(/PASSWORD '[A-Za-z0-9]{8,}'/);
    });
  });

  test('WHEN async THEN synchronous_standby_names is empty', () => {
    const nodes = collectRenderedNodes(replicas().stack);
    expect(file(nodes, 'plain-pg-1', '/etc/pgha/postgresql/postgresql.conf')).toContain("synchronous_standby_names = ''");
  });

  test('WHEN sync with ANY 2 of 3 standbys THEN a quorum', () => {
    const nodes = collectRenderedNodes(replicas({ replicationMode: 'sync', standbyCount: 3, synchronousMethod: 'ANY', synchronousCount: 2 }).stack);
    expect(file(nodes, 'plain-pg-1', '/etc/pgha/postgresql/postgresql.conf')).toContain("synchronous_standby_names = 'ANY 2 (plain_pg_2, plain_pg_3, plain_pg_4)'");
  });

  describe('GIVEN an archive', () => {
    const { stack } = replicas({ archiveTimeoutSeconds: 30 }, {}, true);
    const synth = synthesize(stack);
    const nodes = collectRenderedNodes(stack).filter((n) => n.plan.group === 'plain-pg');
    const pgbackrest = '/usr/bin/pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=plain';

    test("THEN every node archives when it is the primary (archive_mode on, not always) and fetches from the archive as a standby", () => {
      for (const node of nodes) {
        const conf = file([node], node.plan.name, '/etc/pgha/postgresql/postgresql.conf');
        expect(conf).toContain('archive_mode = on\n');
        expect(conf).toContain('archive_timeout = 30\n');
        expect(conf).toContain(`archive_command = '${pgbackrest} archive-push %p'`);
        expect(conf).toContain(`restore_command = '${pgbackrest} archive-get %f "%p"'`);
      }
    });

    test("THEN every node has pgBackRest with the stanza, the archive's secret in postgres' environment, and the stanza job", () => {
      for (const { plan } of nodes) {
        expect(plan.packages).toContain('pgbackrest');
        const conf = plan.files.find((f) => f.path === '/etc/pgbackrest/pgbackrest.conf')!.content;
        expect(conf).toContain('\n[plain]\npg1-path=/var/lib/pgha/postgresql/17/plain\n');
        expect(conf).toContain('repo1-type=s3\n');
        expect(plan.secrets.map((s) => [s.name, s.environmentFile])).toEqual([
          ['plain/postgres', '/etc/pgha/postgresql/postgres.env'],
          ['plain/archive', '/etc/pgbackrest/pgbackrest.env'],
        ]);
        expect(plan.services[0].environmentFiles).toEqual(['/etc/pgha/postgresql/postgres.env', '/etc/pgbackrest/pgbackrest.env']);
        expect(plan.jobs).toEqual([expect.objectContaining({ name: STANZA_CREATE_JOB, user: 'postgres', afterStart: true, command: ['/usr/local/lib/pgha/pgha-stanza-create'] })]);
        const script = plan.files.find((f) => f.path === '/usr/local/lib/pgha/pgha-stanza-create')!.content;
        expect(script).toContain('SELECT pg_is_in_recovery()');
        expect(script).toContain(`${pgbackrest} stanza-create`);
        expect(script).not.toContain(' check');
        expect(script.trimEnd().endsWith('exit 1')).toBe(true);
      }
    });

    test("THEN the nodes' role may read the archive secret and use the repository", () => {
      const documents = Object.entries(synth.data.aws_iam_policy_document).map(([id, d]) => [id, JSON.stringify(d.statement)] as const);
      expect(documents.find(([id]) => id.startsWith('Cluster_Nodes_ReadSecrets'))?.[1]).toContain('aws_secretsmanager_secret.Archive_Secret_');
      expect(documents.some(([id]) => id.includes('Grant-plain-pg'))).toBe(true);
    });
  });

  test('WHEN no archive THEN no pgBackRest, no archiving settings and no jobs', () => {
    const nodes = collectRenderedNodes(replicas().stack).filter((n) => n.plan.group === 'plain-pg');
    for (const { plan } of nodes) {
      expect(plan.packages).not.toContain('pgbackrest');
      expect(plan.jobs).toEqual([]);
    }
    expect(file(nodes, 'plain-pg-1', '/etc/pgha/postgresql/postgresql.conf')).not.toMatch(/archive_|restore_command/);
  });

  describe('GIVEN cascading standbys (plain-pg-4 from plain-pg-2) in sync mode', () => {
    const { stack, cluster } = replicas({ replicationMode: 'sync', standbyCount: 3, replicateFrom: { 'plain-pg-4': 'plain-pg-2' } });
    const nodes = collectRenderedNodes(stack);
    const start = (node: string) => file(nodes, node, '/usr/local/lib/pgha/pgha-postgres-start');

    test('THEN the primary makes slots for its direct standbys only, and synchronous_standby_names names only those', () => {
      expect(start('plain-pg-1')).toContain("creating the replication role replicator and 2 slot(s): plain_pg_2, plain_pg_3");
      expect(start('plain-pg-1')).not.toContain('plain_pg_4');
      expect(file(nodes, 'plain-pg-1', '/etc/pgha/postgresql/postgresql.conf')).toContain("synchronous_standby_names = 'FIRST 1 (plain_pg_2, plain_pg_3)'");
    });

    test('THEN the cascading standby makes its slot on its upstream standby and copies that one; the others copy the primary', () => {
      const [primary, upstream, , cascading] = cluster.members;
      expect(start('plain-pg-4')).toContain(`--create-slot --if-not-exists -S plain_pg_4`);
      expect(start('plain-pg-4')).toContain(`-h '${upstream.address}' -p 5432`);
      expect(start('plain-pg-4')).not.toContain(`'${primary.address}'`);
      expect(start('plain-pg-3')).toContain(`-h '${primary.address}' -p 5432`);
      expect(cluster.upstreamOf(cascading)).toBe(upstream);
      expect(cluster.upstreamOf(upstream)).toBe(primary);
    });

    test('THEN every node has WAL senders and slots for all standbys plus two (any node may be an upstream)', () => {
      for (const member of cluster.members) {
        const conf = file(nodes, member.name, '/etc/pgha/postgresql/postgresql.conf');
        expect(conf).toContain('max_wal_senders = 10\n');
        expect(conf).toContain('max_replication_slots = 10\n');
      }
    });
  });

  test('WHEN the frontends pool THEN the auth job runs on the PrimaryWithReplicas nodes too', () => {
    const nodes = collectRenderedNodes(replicas({}, { pooling: { databases: ['app'] } }).stack);
    expect(nodes.find((n) => n.plan.name === 'plain-pg-1')!.plan.jobs?.map((j) => j.name)).toEqual(['pgha-pgbouncer-auth']);
  });

  test.each<[Partial<PrimaryWithReplicasProps>, RegExp]>([
    [{ replicationMode: 'sync', standbyCount: 2, synchronousCount: 2 }, /synchronousCount: got 2; expected fewer synchronous standbys than standbys \(2 standby\(s\) allow at most 1\).*Fix: set synchronousCount to 1 or less/],
    [{ replicationMode: 'sync', standbyCount: 1 }, /synchronousCount: got 1; expected fewer synchronous standbys than standbys.*Fix: add a standby/],
    [{ standbyCount: 0 }, /standbyCount: got 0/],
    [{ postgresqlParameters: { synchronous_standby_names: '*' } }, /postgresqlParameters\.synchronous_standby_names: got "\*"; expected no "synchronous_standby_names" \(PrimaryWithReplicas sets it\)\. Fix: use replicationMode, synchronousMethod and synchronousCount/],
    [{ agentPort: 5432 }, /agentPort: got 5432; expected a port different from postgresPort/],
    [{ walKeepSize: '1 GB' }, /walKeepSize: got "1 GB"/],
    [{ clientCidrs: ['0.0.0.0/0'] }, /clientCidrs\.0/],
    [{ replicateFrom: { 'plain-pg-1': 'plain-pg-2' } }, /replicateFrom\.plain-pg-1: got "plain-pg-2"; expected no entry for plain-pg-1: it is the primary/],
    [{ postgresqlParameters: { archive_command: '/bin/true' } }, /postgresqlParameters\.archive_command: got "\/bin\/true".*Fix: give the archive prop/],
  ])('WHEN %j THEN it is refused naming the field', (props, message) => {
    expect(() => replicas(props)).toThrow(message);
  });

  test('WHEN the frontends ask for a synchronous-standby port THEN it is refused: only Patroni knows which standby is synchronous', () => {
    expect(() => replicas({ replicationMode: 'sync' }, { syncReplicaPort: 5002 })).toThrow(/syncReplicaPort: got 5002; expected no synchronous-standby port for cluster "plain".*Fix: remove syncReplicaPort, or use a PatroniCluster/);
  });
});
