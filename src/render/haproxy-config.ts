/**
 * Renders haproxy.cfg for the proxies in front of a Patroni cluster: a read-write port routed
 * to the node whose REST API says it is the primary, a read-only port over healthy replicas,
 * an optional port over synchronous standbys only, a stats page and a liveness endpoint.
 *
 * Pure: no cdktf, no I/O. Checked against the real haproxy 3.0 (the node runtime root's) in
 * test/tools/haproxy-check.test.ts.
 */
import { HaproxyFrontendsSpec } from '../spec/haproxy-frontends';

/** One Patroni node as the proxy sees it. */
export interface HaproxyBackendMember {
  /** Server name in haproxy.cfg and on the stats page, e.g. "node1". */
  readonly name: string;
  /** Address the proxy connects to (IPv4, IPv6 or a resolvable host name). */
  readonly address: string;
  readonly postgresPort: number;
  /** Patroni's REST API port: the health checks ask it who is primary, replica or sync standby. */
  readonly restApiPort: number;
}

export interface HaproxyConfigInput {
  /** A validated spec (`validateHaproxyFrontendsSpec`), defaults applied. */
  readonly spec: HaproxyFrontendsSpec;
  /** The proxy node's own address; every bind uses it. Wildcards (0.0.0.0, ::, *) are refused. */
  readonly bindAddress: string;
  /** The Patroni nodes, in the order they appear in the config. */
  readonly members: readonly HaproxyBackendMember[];
  /** User name for the stats page, e.g. "admin". */
  readonly statsUser: string;
  /**
   * Name of the environment variable that holds the stats password when haproxy starts,
   * e.g. "HAPROXY_STATS_PASSWORD". The password itself never appears in the file.
   */
  readonly statsPasswordVariable: string;
}

const INDENT = '    ';
const WILDCARD_ADDRESSES = new Set(['', '*', '0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0', 'ipv4@', 'ipv6@']);
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const STATS_USER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Addresses are written into the file verbatim: letters, digits and the separators of IPs and host names only. */
const ADDRESS = /^[A-Za-z0-9.:-]+$/;

/** Names of the listeners, as the stats page reports them. */
export const HAPROXY_LISTENERS = { readWrite: 'postgres-rw', readOnly: 'postgres-ro', syncReplica: 'postgres-sync' } as const;

export function renderHaproxyConfig(input: HaproxyConfigInput): string {
  validateInput(input);
  const { spec, bindAddress, members } = input;

  const sections: string[][] = [
    header(),
    envGuard(input.statsPasswordVariable),
    global(spec.maxConnections),
    defaults(),
    postgresListener({
      name: HAPROXY_LISTENERS.readWrite,
      why: 'Read-write: the one node whose Patroni REST API answers 200 on /primary.',
      bind: endpoint(bindAddress, spec.readWritePort),
      checkUri: '/primary',
      balance: [
        '# Only the leader answers 200. Should two nodes ever claim /primary at once (a demotion',
        '# in flight), "first" sends every write to the same one instead of splitting them.',
        'balance first',
      ],
      members,
    }),
    postgresListener({
      name: HAPROXY_LISTENERS.readOnly,
      why: `Read-only: replicas that are running and at most ${spec.maxReplicaLagBytes} bytes behind the primary.`,
      bind: endpoint(bindAddress, spec.readOnlyPort),
      checkUri: `/replica?lag=${spec.maxReplicaLagBytes}`,
      balance: [
        '# leastconn, not roundrobin: PostgreSQL sessions are long-lived and uneven, so counting',
        '# open sessions spreads load better than counting new ones.',
        'balance leastconn',
      ],
      members,
    }),
  ];
  if (spec.syncReplicaPort !== undefined) {
    sections.push(
      postgresListener({
        name: HAPROXY_LISTENERS.syncReplica,
        why: 'Synchronous standbys only (Patroni /sync): they hold every acknowledged commit, so their reads trail the primary least.',
        bind: endpoint(bindAddress, spec.syncReplicaPort),
        checkUri: '/sync',
        balance: ['# leastconn for the same reason as postgres-ro.', 'balance leastconn'],
        members,
      }),
    );
  }
  sections.push(stats(endpoint(bindAddress, spec.statsPort), input.statsUser, input.statsPasswordVariable));
  sections.push(health(endpoint(bindAddress, spec.healthPort)));

  return sections.map((lines) => lines.join('\n')).join('\n\n') + '\n';
}

function header(): string[] {
  return [
    '# HAProxy in front of a Patroni cluster. Rendered by cdktf-postgres-ha (src/render/haproxy-config.ts):',
    '# edits here are overwritten on the next deploy. Runs in the foreground under systemd: haproxy -Ws -f FILE.',
  ];
}

/**
 * Refuse to start when the stats password variable is unset: haproxy would expand it to an empty
 * password and let anyone in as `statsUser`. An empty value is NOT caught, so whoever writes the
 * env file must never write an empty one: `.if streq("$VAR","")` pastes the value into the
 * condition before parsing it, so a password holding a quote would break the whole config.
 */
function envGuard(variable: string): string[] {
  return [
    `.if !defined(${variable})`,
    `${INDENT}.alert "${variable} is not set: it holds the stats password (the node's secrets env file sets it)"`,
    '.endif',
  ];
}

function global(maxConnections: number): string[] {
  return [
    'global',
    `${INDENT}# Logs go to stdout; systemd puts them in the journal (the "short" format's <priority> prefix sets the level).`,
    `${INDENT}log stdout format short daemon`,
    `${INDENT}# Client sessions across all frontends together; more wait in the kernel's accept queue.`,
    `${INDENT}maxconn ${maxConnections}`,
    `${INDENT}# No "daemon", "user" or "group": systemd runs haproxy in the foreground as the haproxy user.`,
  ];
}

function defaults(): string[] {
  return [
    'defaults',
    `${INDENT}mode tcp`,
    `${INDENT}log global`,
    `${INDENT}# A failed connect is retried twice, on another healthy server where there is one.`,
    `${INDENT}retries 2`,
    `${INDENT}option redispatch`,
    `${INDENT}timeout connect 4s`,
    `${INDENT}# 30 minutes of silence before a session is cut: long analytic queries send nothing while they run.`,
    `${INDENT}timeout client 30m`,
    `${INDENT}timeout server 30m`,
    `${INDENT}# A health check that has connected gets 2 s to answer.`,
    `${INDENT}timeout check 2s`,
    `${INDENT}# Routing follows a failover within about 2 s of Patroni's decision: a healthy server is`,
    `${INDENT}# checked every 1 s (inter); after its first failure, every 500 ms (fastinter), and 2 failures`,
    `${INDENT}# (fall) mark it down, so a demoted primary leaves the pool 0.5-1.5 s after it says so.`,
    `${INDENT}# A down server is checked every 500 ms (downinter) and 2 successes (rise) bring it back:`,
    `${INDENT}# the new primary joins 0.5-1 s after promotion; rise 2 ignores a single flapping answer.`,
    `${INDENT}# on-marked-down shutdown-sessions closes sessions still open on a server that went down,`,
    `${INDENT}# so no client keeps writing to a demoted primary or reading from a lagging replica.`,
    `${INDENT}default-server inter 1s fastinter 500ms downinter 500ms rise 2 fall 2 on-marked-down shutdown-sessions`,
  ];
}

interface PostgresListener {
  readonly name: string;
  readonly why: string;
  readonly bind: string;
  readonly checkUri: string;
  readonly balance: readonly string[];
  readonly members: readonly HaproxyBackendMember[];
}

function postgresListener(l: PostgresListener): string[] {
  return [
    `# ${l.why}`,
    `listen ${l.name}`,
    `${INDENT}bind ${l.bind}`,
    `${INDENT}option tcplog`,
    ...l.balance.map((line) => INDENT + line),
    `${INDENT}# Ask each node's Patroni REST API (check port) rather than PostgreSQL. OPTIONS, not GET:`,
    `${INDENT}# Patroni 4.0.7 answers it with the status code alone and logs no ConnectionResetError.`,
    `${INDENT}option httpchk`,
    `${INDENT}http-check send meth OPTIONS uri ${l.checkUri}`,
    `${INDENT}http-check expect status 200`,
    ...l.members.map(
      (m) => `${INDENT}server ${m.name} ${endpoint(m.address, m.postgresPort)} check port ${m.restApiPort}`,
    ),
  ];
}

function stats(bind: string, user: string, passwordVariable: string): string[] {
  return [
    '# Stats page (CSV at /;csv). Read-only: without "stats admin" nobody can drain or disable servers here.',
    'listen stats',
    `${INDENT}mode http`,
    `${INDENT}bind ${bind}`,
    `${INDENT}timeout http-request 10s`,
    `${INDENT}stats enable`,
    `${INDENT}stats uri /`,
    `${INDENT}stats refresh 5s`,
    `${INDENT}# The password comes from the environment at start: haproxy expands "\${VAR}" in double quotes.`,
    `${INDENT}stats auth ${user}:"\${${passwordVariable}}"`,
  ];
}

function health(bind: string): string[] {
  return [
    '# Liveness of this proxy for a load balancer: GET /healthz answers 200 while haproxy runs.',
    '# It says nothing about the database, on purpose: every proxy sees the same cluster, so',
    '# failing them all when the cluster is unhealthy would only take the proxies out too.',
    'frontend healthz',
    `${INDENT}mode http`,
    `${INDENT}bind ${bind}`,
    `${INDENT}# A check every few seconds is noise in the journal.`,
    `${INDENT}no log`,
    `${INDENT}timeout http-request 10s`,
    `${INDENT}monitor-uri /healthz`,
  ];
}

/** "address:port", with IPv6 addresses in brackets. */
function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function validateInput(input: HaproxyConfigInput): void {
  const problems: string[] = [];
  const { bindAddress, members } = input;

  if (WILDCARD_ADDRESSES.has(bindAddress.trim())) {
    problems.push(
      `bindAddress: got ${JSON.stringify(bindAddress)}, expected the proxy node's own address; ` +
        'binding every interface would expose the ports on networks no rule covers. Pass the node address, e.g. "10.0.1.20"',
    );
  } else if (!ADDRESS.test(bindAddress)) {
    problems.push(
      `bindAddress: got ${JSON.stringify(bindAddress)}, expected an IP address or host name ` +
        '(letters, digits, ".", ":", "-"). Pass the node address, e.g. "10.0.1.20"',
    );
  }

  if (members.length < 1) {
    problems.push(
      'members: got 0 members, expected at least 1 Patroni node to route to. Pass the cluster nodes as members',
    );
  }
  const seen = new Set<string>();
  members.forEach((m, i) => {
    const at = `members[${i}]`;
    if (!SERVER_NAME.test(m.name)) {
      problems.push(
        `${at}.name: got ${JSON.stringify(m.name)}, expected 1-63 letters, digits, ".", "_" or "-" starting with a letter or digit. Use e.g. "node1"`,
      );
    } else if (seen.has(m.name)) {
      problems.push(`${at}.name: got ${JSON.stringify(m.name)} twice, expected unique names. Give each node its own name`);
    }
    seen.add(m.name);
    if (WILDCARD_ADDRESSES.has(m.address.trim()) || !ADDRESS.test(m.address)) {
      problems.push(
        `${at}.address: got ${JSON.stringify(m.address)}, expected the node's IP address or host name. Use e.g. "10.0.1.11"`,
      );
    }
    for (const key of ['postgresPort', 'restApiPort'] as const) {
      const p = m[key];
      if (!Number.isInteger(p) || p < 1 || p > 65535) {
        problems.push(`${at}.${key}: got ${JSON.stringify(p)}, expected a port from 1 to 65535. Use e.g. ${key === 'postgresPort' ? 5432 : 8008}`);
      }
    }
  });

  if (!STATS_USER.test(input.statsUser)) {
    problems.push(
      `statsUser: got ${JSON.stringify(input.statsUser)}, expected 1-63 letters, digits, ".", "_" or "-". Use e.g. "admin"`,
    );
  }
  if (!ENV_VAR.test(input.statsPasswordVariable)) {
    problems.push(
      `statsPasswordVariable: got ${JSON.stringify(input.statsPasswordVariable)}, expected an environment variable name ` +
        '(letters, digits and "_", not starting with a digit). Use e.g. "HAPROXY_STATS_PASSWORD"; the password itself never goes in the file',
    );
  }

  if (problems.length > 0) {
    throw new Error(`Cannot render haproxy.cfg:\n  - ${problems.join('\n  - ')}`);
  }
}
