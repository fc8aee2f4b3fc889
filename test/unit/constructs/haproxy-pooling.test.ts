/**
 * PgBouncer on the proxies (`HaproxyFrontends` `pooling`), synthesized on AWS: two instances per
 * proxy in front of HAProxy's read-write and read-only ports, their listeners on the load balancer,
 * the auth role's job on the PostgreSQL nodes, the pooled endpoints; and the pool-size check
 * against the cluster's max_connections, with its arithmetic in the message.
 */
import { HaproxyFrontends } from '../../../src/constructs/haproxy-frontends';
import { PatroniCluster } from '../../../src/constructs/patroni-cluster';
import { PGBOUNCER_AUTH_JOB, PGBOUNCER_SERVICES } from '../../../src/node-plan/pgbouncer-plan';
import { PGBOUNCER_AUTH_FILE, PGBOUNCER_START_SCRIPT } from '../../../src/render/pgbouncer-config';
import { awsTestStack, logicalIdOf, resourcesOf, synthesize } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

function pooledCluster(frontends: Partial<ConstructorParameters<typeof HaproxyFrontends>[2]> = {}, cluster: Partial<ConstructorParameters<typeof PatroniCluster>[2]> = {}) {
  const { stack, platform } = awsTestStack();
  const patroni = new PatroniCluster(stack, 'Cluster', { clusterName: 'orders', platform, ...cluster });
  const proxies = new HaproxyFrontends(stack, 'Frontends', { platform, cluster: patroni, clientCidrs: ['10.50.0.0/16'], pooling: { databases: ['app', 'reports'] }, ...frontends });
  return { stack, cluster: patroni, frontends: proxies };
}

describe('HaproxyFrontends with pooling', () => {
  describe('GIVEN pooling of two databases with the default sizes', () => {
    const { stack, frontends } = pooledCluster();
    const synth = synthesize(stack);
    const nodes = collectRenderedNodes(stack);
    const proxy = nodes.find((n) => n.plan.name === 'orders-proxy-1')!.plan;
    const postgres = nodes.find((n) => n.plan.name === 'orders-pg-1')!.plan;

    test('THEN each proxy runs a read-write and a read-only PgBouncer, as postgres, through the start script, after HAProxy', () => {
      for (const role of ['rw', 'ro'] as const) {
        const service = proxy.services.find((s) => s.name === PGBOUNCER_SERVICES[role])!;
        expect(service).toMatchObject({ user: 'postgres', group: 'postgres', readiness: 'notify', after: ['pgha-haproxy'], command: [PGBOUNCER_START_SCRIPT, `/etc/pgbouncer/pgha-${role}.ini`] });
      }
      expect(proxy.packages).toContain('pgbouncer');
      expect(proxy.replacesServices).toContain('pgbouncer');
      // PgBouncer 1.23+ waits for its clients on SIGTERM: its unit stops it with SIGINT.
      for (const role of ['rw', 'ro'] as const) {
        expect(proxy.services.find((s) => s.name === PGBOUNCER_SERVICES[role])!.stopSignal).toBe('SIGINT');
        expect(proxy.files.find((f) => f.path === `/etc/systemd/system/${PGBOUNCER_SERVICES[role]}.service`)?.content).toMatch(/^KillSignal=SIGINT$/m);
      }
      expect(proxy.files.find((f) => f.path === PGBOUNCER_START_SCRIPT)).toMatchObject({ mode: '0755', owner: 'root:root' });
    });

    test("THEN the read-write instance pools each database in front of HAProxy's read-write port, the read-only one in front of the read-only port", () => {
      const ini = (role: string) => proxy.files.find((f) => f.path === `/etc/pgbouncer/pgha-${role}.ini`)!;
      expect(ini('rw')).toMatchObject({ mode: '0640', owner: 'root:postgres' });
      expect(ini('rw').content).toContain(`app = host=${proxy.address} port=5000 dbname=app pool_size=20 max_db_connections=20`);
      expect(ini('rw').content).toContain(`reports = host=${proxy.address} port=5000 dbname=reports pool_size=20 max_db_connections=20`);
      expect(ini('rw').content).toMatch(/^listen_port = 6432$/m);
      expect(ini('ro').content).toContain(`app = host=${proxy.address} port=5001 dbname=app`);
      expect(ini('ro').content).toMatch(/^listen_port = 6433$/m);
      for (const role of ['rw', 'ro']) {
        expect(ini(role).content).toMatch(/^pool_mode = transaction$/m);
        expect(ini(role).content).toMatch(/^auth_type = scram-sha-256$/m);
        expect(ini(role).content).toContain(`auth_file = ${PGBOUNCER_AUTH_FILE}`);
        expect(ini(role).content).not.toMatch(/^\s*\*\s*=/m);
      }
    });

    test("THEN the auth role's password reaches the proxies and the PostgreSQL nodes only through the pooling secret", () => {
      expect(frontends.poolingSecret?.name).toBe('orders/pgbouncer');
      expect(proxy.secrets.find((s) => s.name === 'orders/pgbouncer')).toMatchObject({ environmentFile: '/etc/pgbouncer/pgha.env', owner: 'postgres:postgres', variables: { PGHA_PGBOUNCER_PASSWORD: 'pgbouncer_password' } });
      expect(postgres.secrets.find((s) => s.name === 'orders/pgbouncer')).toMatchObject({ owner: 'postgres:postgres', variables: { PGHA_PGBOUNCER_PASSWORD: 'pgbouncer_password' } });
      const secrets = resourcesOf(synth, 'aws_secretsmanager_secret').map((s) => s.name);
      expect(secrets).toEqual(expect.arrayContaining([expect.stringContaining('orders/pgbouncer')]));
    });

    test('THEN every PostgreSQL node has the auth job (after start and every 5 minutes), running the auth script as postgres', () => {
      for (const node of nodes.filter((n) => n.plan.group === 'orders-pg')) {
        const job = node.plan.jobs?.find((j) => j.name === PGBOUNCER_AUTH_JOB);
        expect(job).toMatchObject({ user: 'postgres', schedule: '*:0/5', afterStart: true, command: ['/usr/local/lib/pgha/pgha-pgbouncer-auth'] });
        const script = node.plan.files.find((f) => f.path === '/usr/local/lib/pgha/pgha-pgbouncer-auth')!.content;
        expect(script).toContain('for database in app reports; do');
        // 2 proxies x 2 instances x 2 databases + 4.
        expect(script).toContain('CONNECTION LIMIT 12');
      }
    });

    test('THEN the pooled ports are listeners of the load balancer, open to the clients, with pooled endpoints as attributes and outputs', () => {
      expect(resourcesOf(synth, 'aws_lb_listener').map((l) => l.port).sort()).toEqual([5000, 5001, 6432, 6433]);
      const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule');
      expect(rules.filter((r) => r.cidr_ipv4 === '10.50.0.0/16').map((r) => r.from_port).sort()).toEqual([5000, 5001, 6432, 6433]);
      const proxyRules = rules.filter((r) => /Frontends_Nodes_SecurityGroup/.test(String(r.security_group_id)));
      expect(proxyRules.map((r) => r.from_port).sort()).toEqual([5000, 5001, 6432, 6433, 8404]);
      for (const rule of proxyRules) expect(logicalIdOf(rule.referenced_security_group_id)).toMatch(/Frontends_Endpoint_SecurityGroup/);
      expect(frontends.pooledWriterEndpoint).toMatch(/:6432$/);
      expect(frontends.pooledReaderEndpoint).toMatch(/:6433$/);
      expect(synth.output?.pooled_writer_endpoint).toMatchObject({ value: expect.stringMatching(/^\$\{aws_lb\.Frontends_Endpoint_[A-F0-9]+\.dns_name\}:6432$/) });
      expect(synth.output?.pooled_reader_endpoint).toMatchObject({ value: expect.stringMatching(/^\$\{aws_lb\.Frontends_Endpoint_[A-F0-9]+\.dns_name\}:6433$/) });
    });

    test('THEN no rendered file is a userlist: the auth file is written at start, from the secret, by the start script alone', () => {
      for (const node of nodes) {
        for (const file of node.files) expect({ path: file.path, userlist: /^"[^"]+" "[^"]*"$/m.test(file.content) }).toEqual({ path: file.path, userlist: false });
      }
      const start = proxy.files.find((f) => f.path === PGBOUNCER_START_SCRIPT)!.content;
      expect(start).toContain(`auth_file=${PGBOUNCER_AUTH_FILE}`);
      expect(start).toContain(`printf '"%s" "%s"\\n' pgha_pgbouncer "$password"`);
    });
  });

  test("THEN the cluster hands out its frontends' endpoints: writer, reader and the pooled ones", () => {
    const { cluster, frontends } = pooledCluster();
    expect({ writer: cluster.writerEndpoint, reader: cluster.readerEndpoint, pooledWriter: cluster.pooledWriterEndpoint, pooledReader: cluster.pooledReaderEndpoint }).toEqual({
      writer: frontends.writerEndpoint,
      reader: frontends.readerEndpoint,
      pooledWriter: frontends.pooledWriterEndpoint,
      pooledReader: frontends.pooledReaderEndpoint,
    });
    expect(cluster.writerEndpoint).toMatch(/:5000$/);
    expect(cluster.pooledReaderEndpoint).toMatch(/:6433$/);
  });

  test('WHEN a cluster has no frontends THEN reading its writer endpoint says what to add; a second frontends is refused', () => {
    const { stack, platform } = awsTestStack();
    const cluster = new PatroniCluster(stack, 'Cluster', { clusterName: 'bare', platform });
    expect(() => cluster.writerEndpoint).toThrow(/PatroniCluster "bare": writerEndpoint: the cluster has no HaproxyFrontends.*Fix: add new HaproxyFrontends/);
    new HaproxyFrontends(stack, 'Frontends', { platform, cluster });
    expect(cluster.pooledWriterEndpoint).toBeUndefined();
    // (On AWS the platform refuses the second proxy group's name first; the cluster refuses it on any platform.)
    expect(() => cluster.registerFrontends({ writerEndpoint: 'x:1', readerEndpoint: 'x:2' })).toThrow(/a second HaproxyFrontends; expected one per cluster/);
  });

  test('WHEN there is no pooling THEN no PgBouncer, no auth job and no pooled output', () => {
    const { stack } = pooledCluster({ pooling: undefined });
    const nodes = collectRenderedNodes(stack);
    expect(nodes.flatMap((n) => n.plan.services.map((s) => s.name)).filter((name) => name.includes('pgbouncer'))).toEqual([]);
    expect(nodes.flatMap((n) => (n.plan.jobs ?? []).map((j) => j.name))).not.toContain(PGBOUNCER_AUTH_JOB);
    expect(synthesize(stack).output?.pooled_writer_endpoint).toBeUndefined();
  });

  test('WHEN the pools exceed max_connections THEN it is refused at synth, with the arithmetic and the largest pool that fits', () => {
    expect(() => pooledCluster({ pooling: { databases: ['app'], readWritePoolSize: 120 } })).toThrow(
      'pooling: got {"proxies":2,"databases":["app"],"readWritePoolSize":120,"readOnlyPoolSize":20}; expected pools that fit each server: ' +
        '2 proxies x 1 database x 120 server connections (the larger of readWritePoolSize 120 and readOnlyPoolSize 20) = 240, but max_connections 200 ' +
        '- 3 superuser_reserved_connections - 9 for Patroni, exporters, backups and jobs leaves 188. ' +
        "Fix: lower the pool sizes to 94 or less, pool fewer databases, or raise the cluster's maxConnections to 252 or more",
    );
  });

  test('WHEN the pools fill exactly what is left THEN it is accepted; one more connection is refused', () => {
    expect(() => pooledCluster({ pooling: { databases: ['app'], readWritePoolSize: 94, readOnlyPoolSize: 94 } })).not.toThrow();
    expect(() => pooledCluster({ pooling: { databases: ['app'], readWritePoolSize: 95 } })).toThrow(/= 190, but max_connections 200/);
  });

  test("WHEN the cluster raises max_connections or reserves more superuser slots THEN the check follows the cluster's settings", () => {
    expect(() => pooledCluster({ pooling: { databases: ['app'], readWritePoolSize: 120 } }, { maxConnections: 300 })).not.toThrow();
    expect(() => pooledCluster({ pooling: { databases: ['app'], readWritePoolSize: 94 } }, { postgresqlParameters: { superuser_reserved_connections: 10 } })).toThrow(
      /- 10 superuser_reserved_connections - 9 for Patroni, exporters, backups and jobs leaves 181/,
    );
  });

  test.each<[unknown, RegExp]>([
    [{ databases: [] }, /pooling\.databases: got \[\]; expected at least one database/],
    [{ databases: ['App'] }, /pooling\.databases\.0: got "App"; expected a lowercase PostgreSQL identifier/],
    [{ databases: ['app'], poolMode: 'statement' }, /pooling\.poolMode: got "statement"; expected "transaction" or "session"/],
    [{ databases: ['app'], readWritePort: 5000 }, /pooling\.readWritePort: got 5000; expected a port different from readWritePort/],
    [{ databases: ['app'], poolSize: 10 }, /pooling/],
  ])('WHEN pooling is %j THEN it is refused naming the field', (pooling, message) => {
    expect(() => pooledCluster({ pooling: pooling as never })).toThrow(message);
  });
});
