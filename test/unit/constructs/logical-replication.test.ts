/**
 * Logical replication between two PatroniClusters, synthesized on AWS: the publisher's wal_level,
 * permanent slots and publications job; the subscriber's job, its connection to every publisher
 * member, and the way in (security group, pg_hba, the secret); and the specs refused, each naming
 * the field, what was given, what is expected and the fix.
 */
import { parse } from 'yaml';
import { PatroniCluster, PatroniClusterProps } from '../../../src/constructs/patroni-cluster';
import { PrimaryWithReplicas } from '../../../src/constructs/primary-with-replicas';
import { PUBLICATIONS_JOB, SUBSCRIPTIONS_JOB } from '../../../src/node-plan/logical-replication-plan';
import { PUBLICATIONS_SCRIPT, SUBSCRIPTIONS_SCRIPT } from '../../../src/render/logical-replication';
import { specErrorOf } from '../../support/spec-error';
import { awsTestStack, logicalIdOf, resourcesOf, synthesize } from '../../support/aws-stack';
import { collectRenderedNodes } from '../../../src/platform/rendered-node';

type Props = Omit<PatroniClusterProps, 'platform' | 'clusterName'>;

function twoClusters(publisher: Props = {}, subscriber: (orders: PatroniCluster) => Props = (orders) => ({ subscriptions: [{ name: 'orders_sub', publisher: orders, publication: 'orders_pub' }] })) {
  const { stack, platform } = awsTestStack();
  const orders = new PatroniCluster(stack, 'Orders', { platform, clusterName: 'orders', publications: [{ name: 'orders_pub', database: 'app', tables: 'all' }], ...publisher });
  const reports = new PatroniCluster(stack, 'Reports', { platform, clusterName: 'reports', ...subscriber(orders) });
  return { stack, orders, reports };
}

const planOf = (stack: ReturnType<typeof awsTestStack>['stack'], name: string) => collectRenderedNodes(stack).find((n) => n.plan.name === name)!.plan;
const patroniYml = (plan: ReturnType<typeof planOf>) => parse(plan.files.find((f) => f.path === '/etc/patroni/config.yml' || f.path.endsWith('patroni.yml'))!.content);


describe('logical replication between PatroniClusters', () => {
  describe('GIVEN "orders" publishing all tables of "app" and "reports" subscribing', () => {
    const { stack } = twoClusters();
    const synth = synthesize(stack);
    const publisher = planOf(stack, 'orders-pg-1');
    const subscriber = planOf(stack, 'reports-pg-1');

    test('THEN the publisher runs wal_level logical and leaves table-sync slots alone; the subscription\'s permanent slot is not in bootstrap.dcs (made before its publication, it would break the subscription)', () => {
      const dcs = patroniYml(publisher).bootstrap.dcs;
      expect(dcs.postgresql.parameters.wal_level).toBe('logical');
      expect(dcs.slots).toBeUndefined();
      expect(dcs.ignore_slots).toEqual([{ type: 'logical', database: 'app', plugin: 'pgoutput' }]);
      // The subscriber publishes nothing: replica, no slots.
      const subscriberDcs = patroniYml(subscriber).bootstrap.dcs;
      expect(subscriberDcs.postgresql.parameters.wal_level).toBe('replica');
      expect(subscriberDcs.slots).toBeUndefined();
    });

    test("THEN every publisher node has the publications job (after start, every 2 minutes) with the role's password from the cluster's logical-replication secret", () => {
      for (const node of collectRenderedNodes(stack).filter((n) => n.plan.group === 'orders-pg')) {
        expect(node.plan.jobs?.find((j) => j.name === PUBLICATIONS_JOB)).toMatchObject({ user: 'postgres', schedule: '*:0/2', afterStart: true, command: [PUBLICATIONS_SCRIPT] });
        expect(node.plan.secrets.find((s) => s.name === 'orders/logical-replication')).toMatchObject({ owner: 'postgres:postgres', variables: { PGHA_LOGICAL_PASSWORD: 'logical_replication_password' } });
        const script = node.plan.files.find((f) => f.path === PUBLICATIONS_SCRIPT)!.content;
        expect(script).toContain('ensure_publication app orders_pub');
        expect(script).toContain('CREATE PUBLICATION orders_pub FOR ALL TABLES;');
        expect(script).toContain('ALTER ROLE pgha_logical WITH LOGIN REPLICATION NOSUPERUSER');
        // It keeps the DCS too (the slot once its publication is in place, settings bootstrap.dcs
        // applied once), with Patroni's environment for patronictl, after the publications.
        expect(node.plan.jobs?.find((j) => j.name === PUBLICATIONS_JOB)?.environmentFiles).toEqual(['/etc/patroni/patroni.env', '/etc/pgha/logical-publications.env']);
        expect(script).toContain("patronictl -c '/etc/patroni/patroni.yml' edit-config orders --apply - --force --quiet");
        expect(script).toContain(
          `PGHA_WANTED='{"slots":[{"name":"sub_reports_orders_sub","database":"app","publication":"orders_pub"}],"ignoreDatabases":["app"],"walLevel":"logical","maxWalSenders":10,"maxReplicationSlots":10}' PGHA_PUBLISHED="\${published[*]}"`,
        );
        expect(script.indexOf('show-config')).toBeGreaterThan(script.lastIndexOf('ensure_publication app orders_pub'));
      }
      expect(subscriber.jobs?.some((j) => j.name === PUBLICATIONS_JOB)).toBe(false);
    });

    test('THEN the subscriber job connects to every publisher member, keeps the primary, and uses the slot Patroni keeps', () => {
      expect(subscriber.jobs?.find((j) => j.name === SUBSCRIPTIONS_JOB)).toMatchObject({ user: 'postgres', afterStart: true, environmentFiles: ['/etc/pgha/logical-publisher-orders.env'] });
      expect(subscriber.secrets.find((s) => s.name === 'orders/logical-replication')).toMatchObject({ variables: { PGHA_LOGICAL_PASSWORD_ORDERS: 'logical_replication_password' } });
      const script = subscriber.files.find((f) => f.path === SUBSCRIPTIONS_SCRIPT)!.content;
      const hosts = ['orders-pg-1', 'orders-pg-2', 'orders-pg-3'].map((name) => planOf(stack, name).address);
      expect(script).toContain(
        `ensure_subscription orders_sub app orders_pub sub_reports_orders_sub true PGHA_LOGICAL_PASSWORD_ORDERS 'host=${hosts.join(',')} port=5432,5432,5432 dbname=app user=pgha_logical target_session_attrs=read-write connect_timeout=10'`,
      );
      expect(script).toContain('create_slot = false');
    });

    test("THEN the subscriber's nodes reach the publisher's PostgreSQL port, pg_hba admits their networks, and only they may read the publisher's secret besides the publisher", () => {
      const rules = resourcesOf(synth, 'aws_vpc_security_group_ingress_rule').filter((r) => r.description === 'PostgreSQL logical replication from reports-pg');
      expect(rules).toHaveLength(1);
      expect(rules[0]).toMatchObject({ from_port: 5432, to_port: 5432 });
      expect(logicalIdOf(rules[0].security_group_id)).toMatch(/^Orders_Nodes_SecurityGroup/);
      expect(logicalIdOf(rules[0].referenced_security_group_id)).toMatch(/^Reports_Nodes_SecurityGroup/);
      const hba: string[] = patroniYml(publisher).postgresql.pg_hba;
      for (const network of new Set(collectRenderedNodes(stack).filter((n) => n.plan.group === 'reports-pg').map((n) => `${n.plan.address.split('.').slice(0, 3).join('.')}.0/24`))) {
        expect(hba).toContain(`host all all ${network} scram-sha-256`);
      }
      const secretArn = Object.keys(synth.resource.aws_secretsmanager_secret).find((id) => /LogicalReplicationSecret/.test(id))!;
      const readers = Object.entries(synth.data.aws_iam_policy_document)
        .filter(([, doc]) => JSON.stringify(doc).includes(`aws_secretsmanager_secret.${secretArn}.`))
        .map(([id]) => id.replace(/_[A-F0-9]{8}$/, ''));
      expect(readers.some((id) => id.startsWith('Orders_Nodes'))).toBe(true);
      expect(readers.some((id) => id.startsWith('Reports_Nodes'))).toBe(true);
      expect(readers.every((id) => /^(Orders|Reports)_Nodes/.test(id))).toBe(true);
    });

    test('THEN no rendered file holds a password: the jobs read them from the environment', () => {
      for (const node of collectRenderedNodes(stack)) {
        for (const file of node.files) expect({ path: file.path, password: /password=(?!'?\$)\S/.test(file.content) }).toEqual({ path: file.path, password: false });
      }
    });
  });

  test('GIVEN a list of tables THEN the publication names them schema-qualified, and the script adds those that exist', () => {
    const { stack } = twoClusters({ publications: [{ name: 'orders_pub', database: 'app', tables: ['orders', 'sales.lines'] }] });
    const script = planOf(stack, 'orders-pg-1').files.find((f) => f.path === PUBLICATIONS_SCRIPT)!.content;
    expect(script).toContain("wanted text[] := ARRAY['public.orders', 'sales.lines'];");
    expect(script).not.toContain('FOR ALL TABLES');
  });

  test('GIVEN four subscriptions THEN the subscriber gets workers for them and the publisher slots and senders', () => {
    const { stack } = twoClusters(
      { publications: ['a', 'b', 'c', 'd'].map((n) => ({ name: `pub_${n}`, database: `db_${n}`, tables: 'all' as const })) },
      (orders) => ({ subscriptions: ['a', 'b', 'c', 'd'].map((n) => ({ name: `sub_${n}`, publisher: orders, publication: `pub_${n}` })) }),
    );
    const publisher = patroniYml(planOf(stack, 'orders-pg-1')).bootstrap.dcs;
    // 3 nodes + 2 spare + 3 per subscription.
    expect(publisher.postgresql.parameters).toMatchObject({ max_replication_slots: 17, max_wal_senders: 17 });
    const wanted = JSON.parse(/PGHA_WANTED='([^']*)'/.exec(planOf(stack, 'orders-pg-1').files.find((f) => f.path === PUBLICATIONS_SCRIPT)!.content)![1]);
    expect(wanted.slots.map((s: { name: string; publication: string }) => `${s.name} ${s.publication}`)).toEqual(['sub_reports_sub_a pub_a', 'sub_reports_sub_b pub_b', 'sub_reports_sub_c pub_c', 'sub_reports_sub_d pub_d']);
    expect(publisher.ignore_slots.map((m: { database: string }) => m.database)).toEqual(['db_a', 'db_b', 'db_c', 'db_d']);
    expect(patroniYml(planOf(stack, 'reports-pg-1')).bootstrap.dcs.postgresql.parameters).toMatchObject({ max_logical_replication_workers: 13, max_worker_processes: 17 });
  });

  describe('GIVEN a PrimaryWithReplicas publishing to another and to a PatroniCluster', () => {
    const { stack, platform } = awsTestStack();
    const ledger = new PrimaryWithReplicas(stack, 'Ledger', { platform, clusterName: 'ledger', standbyCount: 3, publications: [{ name: 'ledger_pub', database: 'app', tables: 'all' }] });
    new PrimaryWithReplicas(stack, 'Mirror', { platform, clusterName: 'mirror', subscriptions: [{ name: 'ledger_sub', publisher: ledger, publication: 'ledger_pub' }] });
    new PatroniCluster(stack, 'Reports', { platform, clusterName: 'reports', subscriptions: [{ name: 'ledger_sub', publisher: ledger, publication: 'ledger_pub' }] });
    synthesize(stack);
    const conf = (name: string) => planOf(stack, name).files.find((f) => f.path === '/etc/pgha/postgresql/postgresql.conf')!.content;

    test('THEN the publisher runs wal_level logical, sized for its standbys and both subscribers; the subscriber replica', () => {
      expect(conf('ledger-pg-1')).toMatch(/^wal_level = logical$/m);
      // 3 standbys + 2 spare + 3 for each of the 2 subscriptions.
      expect(conf('ledger-pg-1')).toMatch(/^max_wal_senders = 11$/m);
      expect(conf('ledger-pg-2')).toMatch(/^max_replication_slots = 11$/m);
      expect(conf('mirror-pg-1')).toMatch(/^wal_level = replica$/m);
    });

    test('THEN its publications job also keeps both subscribers\' slots (no Patroni to keep them); a Patroni publisher\'s does not', () => {
      const script = planOf(stack, 'ledger-pg-1').files.find((f) => f.path === PUBLICATIONS_SCRIPT)!.content;
      expect(script).toContain('ensure_slot app sub_mirror_ledger_sub ledger_pub');
      expect(script).toContain('ensure_slot app sub_reports_ledger_sub ledger_pub');
      const patroni = twoClusters().stack;
      expect(planOf(patroni, 'orders-pg-1').files.find((f) => f.path === PUBLICATIONS_SCRIPT)!.content).not.toContain('ensure_slot');
    });

    test('THEN both subscribers run the subscriptions job towards the publisher\'s members', () => {
      const hosts = ['ledger-pg-1', 'ledger-pg-2', 'ledger-pg-3', 'ledger-pg-4'].map((name) => planOf(stack, name).address).join(',');
      for (const node of ['mirror-pg-1', 'reports-pg-1']) {
        const plan = planOf(stack, node);
        expect(plan.jobs?.find((j) => j.name === SUBSCRIPTIONS_JOB)).toMatchObject({ afterStart: true });
        expect(plan.files.find((f) => f.path === SUBSCRIPTIONS_SCRIPT)!.content).toContain(`'host=${hosts} port=5432,5432,5432,5432 dbname=app`);
      }
    });
  });

  describe('bad input is refused, naming the field, the value, what is expected and the fix', () => {
    test('a subscription to an unknown publication lists the publisher\'s publications', () => {
      const error = specErrorOf(() => twoClusters({}, (orders) => ({ subscriptions: [{ name: 'orders_sub', publisher: orders, publication: 'order_pub' }] })));
      expect(error.message).toContain('subscriptions.0.publication: got "order_pub"; expected a publication of cluster "orders": "orders_pub" (database app). Fix: name one of those publications');
    });

    test('a subscription to a cluster without publications says to add one', () => {
      const error = specErrorOf(() => twoClusters({ publications: [] }));
      expect(error.message).toContain('subscriptions.0.publication: got "orders_pub"; expected a publication of cluster "orders", which declares none. Fix: add it to the publications of cluster "orders"');
    });

    test('a cluster subscribing to itself', () => {
      const { stack, platform } = awsTestStack();
      const orders = new PatroniCluster(stack, 'Orders', { platform, clusterName: 'orders', publications: [{ name: 'orders_pub', database: 'app', tables: 'all' }] });
      const error = specErrorOf(() => new PatroniCluster(stack, 'Again', { platform, clusterName: 'orders', subscriptions: [{ name: 'loop', publisher: orders, publication: 'orders_pub' }] }));
      expect(error.message).toContain('subscriptions.0.publisher: got "orders"; expected another cluster');
    });

    test('the same publication subscribed twice into one database, and duplicate names', () => {
      const error = specErrorOf(() =>
        twoClusters({}, (orders) => ({
          subscriptions: [
            { name: 'one', publisher: orders, publication: 'orders_pub' },
            { name: 'one', publisher: orders, publication: 'orders_pub', database: 'app' },
          ],
        })),
      );
      expect(error.message).toContain('subscriptions: got "one"; expected each subscription name once');
      expect(error.message).toContain('subscriptions.1.publication: got "orders_pub"; expected one subscription per publication and database (subscriptions.0 already brings');
    });

    test('publications: bad names, bad tables, no tables, duplicates, and wal_level replica', () => {
      const { stack, platform } = awsTestStack();
      const error = specErrorOf(
        () =>
          new PatroniCluster(stack, 'Orders', {
            platform,
            clusterName: 'orders',
            postgresqlParameters: { wal_level: 'replica' },
            publications: [
              { name: 'Orders', database: 'app', tables: 'all' },
              { name: 'p2', database: 'app', tables: ['orders; DROP TABLE x'] },
              { name: 'p3', database: 'app', tables: [] },
              { name: 'p4', database: 'app', tables: 'all' },
              { name: 'p4', database: 'app', tables: 'all' },
            ],
          }),
      );
      expect(error.message).toContain('publications.0.name: got "Orders"; expected a publication name of 1-63 lower-case letters');
      expect(error.message).toContain('publications.1.tables.0: got "orders; DROP TABLE x"; expected "table" or "schema.table" in lower case');
      expect(error.message).toContain('publications.2.tables: got []; expected at least one table. Fix: name the tables, or use "all"');
      // The rules across fields run once the fields themselves parse.
      const valid = specErrorOf(
        () =>
          new PatroniCluster(awsTestStack().stack, 'Orders', {
            platform: awsTestStack().platform,
            clusterName: 'orders',
            postgresqlParameters: { wal_level: 'replica' },
            publications: [
              { name: 'p4', database: 'app', tables: 'all' },
              { name: 'p4', database: 'app', tables: 'all' },
            ],
          }),
      );
      expect(valid.message).toContain('publications: got "p4"; expected each publication name once');
      expect(valid.message).toContain('postgresqlParameters.wal_level: got "replica"; expected "logical" or nothing: the publications p4, p4 need wal_level logical');
    });
  });
});
