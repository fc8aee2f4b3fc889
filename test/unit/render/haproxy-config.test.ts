import { HaproxyBackendMember, HaproxyConfigInput, renderHaproxyConfig } from '../../../src/render/haproxy-config';
import { HaproxyFrontendsSpec, HaproxyFrontendsSpecInput, validateHaproxyFrontendsSpec } from '../../../src/spec/haproxy-frontends';

const BIND = '10.0.1.20';

function members(count: number): HaproxyBackendMember[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `node${i + 1}`,
    address: `10.0.2.${11 + i}`,
    postgresPort: 5432,
    restApiPort: 8008,
  }));
}

function specOf(spec: HaproxyFrontendsSpecInput): HaproxyFrontendsSpec {
  return validateHaproxyFrontendsSpec(spec);
}

function input(spec: HaproxyFrontendsSpecInput = {}, overrides: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  return {
    spec: specOf(spec),
    bindAddress: BIND,
    members: members(3),
    statsUser: 'admin',
    statsPasswordVariable: 'HAPROXY_STATS_PASSWORD',
    ...overrides,
  };
}

/** The non-comment lines of one section ("listen postgres-rw", "global", ...), trimmed; [] when absent. */
function section(config: string, heading: string): string[] {
  const lines = config.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) return [];
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line !== '' && !/^\s/.test(line)) break;
    const trimmed = line.trim();
    if (trimmed !== '' && !trimmed.startsWith('#')) body.push(trimmed);
  }
  return body;
}

function headings(config: string): string[] {
  return config.split('\n').filter((l) => /^(global|defaults|listen |frontend |backend )/.test(l));
}

describe('renderHaproxyConfig', () => {
  describe('with the default spec and three members', () => {
    let config: string;
    beforeEach(() => {
      // WHEN
      config = renderHaproxyConfig(input());
    });

    test('has exactly the rw, ro, stats and health sections, and no sync one', () => {
      // THEN
      expect(headings(config)).toEqual([
        'global',
        'defaults',
        'listen postgres-rw',
        'listen postgres-ro',
        'listen stats',
        'frontend healthz',
      ]);
      expect(config).not.toMatch(/\/sync/);
    });

    test('global sets maxconn from the spec, logs to stdout and has no daemon, user or group', () => {
      const global = section(config, 'global');
      expect(global).toContain('maxconn 2000');
      expect(global).toContain('log stdout format short daemon');
      expect(global.filter((l) => /^(daemon|user|group|chroot)\b/.test(l))).toEqual([]);
    });

    test('defaults are tcp with the agreed timeouts and retries', () => {
      const defaults = section(config, 'defaults');
      expect(defaults).toEqual(
        expect.arrayContaining([
          'mode tcp',
          'timeout connect 4s',
          'timeout client 30m',
          'timeout server 30m',
          'timeout check 2s',
          'retries 2',
        ]),
      );
    });

    test('servers are checked every second and down ones re-checked every 500 ms, closing sessions when marked down', () => {
      const defaultServer = section(config, 'defaults').filter((l) => l.startsWith('default-server '));
      expect(defaultServer).toHaveLength(1);
      const words = defaultServer[0].split(' ');
      const value = (key: string) => words[words.indexOf(key) + 1];
      expect(value('inter')).toBe('1s');
      expect(value('fastinter')).toBe('500ms');
      expect(value('downinter')).toBe('500ms');
      expect(value('rise')).toBe('2');
      expect(value('fall')).toBe('2');
      expect(value('on-marked-down')).toBe('shutdown-sessions');
    });

    test('the read-write port routes to the node answering 200 to OPTIONS /primary', () => {
      const rw = section(config, 'listen postgres-rw');
      expect(rw).toContain(`bind ${BIND}:5000`);
      expect(rw).toContain('option httpchk');
      expect(rw).toContain('http-check send meth OPTIONS uri /primary');
      expect(rw).toContain('http-check expect status 200');
    });

    test('the read-only port balances by least connections over replicas within the default lag', () => {
      const ro = section(config, 'listen postgres-ro');
      expect(ro).toContain(`bind ${BIND}:5001`);
      expect(ro).toContain('balance leastconn');
      expect(ro).toContain('http-check send meth OPTIONS uri /replica?lag=16777216');
      expect(ro).toContain('http-check expect status 200');
    });

    test.each(['listen postgres-rw', 'listen postgres-ro'])(
      '%s lists every member once, on its postgres port, checked on its REST API port',
      (heading) => {
        const servers = section(config, heading).filter((l) => l.startsWith('server '));
        expect(servers).toEqual([
          'server node1 10.0.2.11:5432 check port 8008',
          'server node2 10.0.2.12:5432 check port 8008',
          'server node3 10.0.2.13:5432 check port 8008',
        ]);
      },
    );

    test('every health check uses OPTIONS, never GET', () => {
      const sends = config.split('\n').filter((l) => l.includes('http-check send'));
      expect(sends.length).toBe(2);
      for (const line of sends) expect(line.trim()).toMatch(/^http-check send meth OPTIONS uri \//);
      expect(config).not.toMatch(/meth GET/);
    });

    test('every bind uses the proxy address, none a wildcard', () => {
      const binds = config.split('\n').filter((l) => /^\s*bind\s/.test(l));
      expect(binds).toHaveLength(4);
      for (const line of binds) expect(line.trim()).toMatch(new RegExp(`^bind ${BIND.replace(/\./g, '\\.')}:\\d+$`));
      expect(config).not.toMatch(/0\.0\.0\.0|bind \*|bind :::|bind \[::\]/);
    });

    test('the stats page is on the stats port, refreshes every 5 s and has no admin actions', () => {
      const stats = section(config, 'listen stats');
      expect(stats).toEqual(
        expect.arrayContaining([`bind ${BIND}:7000`, 'mode http', 'stats enable', 'stats uri /', 'stats refresh 5s']),
      );
      expect(stats.filter((l) => l.startsWith('stats admin'))).toEqual([]);
    });

    test('the health frontend answers /healthz on the health port', () => {
      const healthz = section(config, 'frontend healthz');
      expect(healthz).toEqual(expect.arrayContaining([`bind ${BIND}:8404`, 'mode http', 'monitor-uri /healthz']));
    });

    test('ends with exactly one newline', () => {
      expect(config.endsWith('\n')).toBe(true);
      expect(config.endsWith('\n\n')).toBe(false);
    });
  });

  describe('the stats password', () => {
    test('is a reference to the named environment variable, in double quotes', () => {
      // GIVEN
      const config = renderHaproxyConfig(input({}, { statsUser: 'ops', statsPasswordVariable: 'PGHA_STATS_PW' }));
      // THEN
      const auth = config.split('\n').filter((l) => l.includes('stats auth'));
      expect(auth).toEqual(['    stats auth ops:"${PGHA_STATS_PW}"']);
      expect(config).not.toMatch(/HAPROXY_STATS_PASSWORD/);
    });

    test('is required at start: the config alerts when the variable is unset', () => {
      const config = renderHaproxyConfig(input({}, { statsPasswordVariable: 'PGHA_STATS_PW' }));
      const lines = config.split('\n');
      const guard = lines.indexOf('.if !defined(PGHA_STATS_PW)');
      expect(guard).toBeGreaterThanOrEqual(0);
      expect(lines[guard + 1]).toMatch(/^\s+\.alert ".*PGHA_STATS_PW is not set/);
      expect(lines[guard + 2]).toBe('.endif');
      // The guard comes before any section, so haproxy refuses before binding anything.
      expect(guard).toBeLessThan(lines.indexOf('global'));
    });
  });

  describe('with custom values', () => {
    test('ports, lag and maxconn come from the spec', () => {
      // GIVEN
      const spec: HaproxyFrontendsSpecInput = {
        readWritePort: 6432,
        readOnlyPort: 6433,
        statsPort: 9000,
        healthPort: 9001,
        maxReplicaLagBytes: 1048576,
        maxConnections: 1234,
      };
      // WHEN
      const config = renderHaproxyConfig(input(spec));
      // THEN
      expect(section(config, 'listen postgres-rw')).toContain(`bind ${BIND}:6432`);
      expect(section(config, 'listen postgres-ro')).toContain(`bind ${BIND}:6433`);
      expect(section(config, 'listen postgres-ro')).toContain('http-check send meth OPTIONS uri /replica?lag=1048576');
      expect(section(config, 'listen stats')).toContain(`bind ${BIND}:9000`);
      expect(section(config, 'frontend healthz')).toContain(`bind ${BIND}:9001`);
      expect(section(config, 'global')).toContain('maxconn 1234');
      expect(config).not.toMatch(/:5000\b|:5001\b|:7000\b|:8404\b|lag=16777216/);
    });

    test('a sync port adds a listener over nodes answering /sync', () => {
      // GIVEN
      const config = renderHaproxyConfig(input({ syncReplicaPort: 5002 }));
      // THEN
      const sync = section(config, 'listen postgres-sync');
      expect(sync).toContain(`bind ${BIND}:5002`);
      expect(sync).toContain('http-check send meth OPTIONS uri /sync');
      expect(sync).toContain('http-check expect status 200');
      expect(sync.filter((l) => l.startsWith('server '))).toHaveLength(3);
      expect(headings(config).indexOf('listen postgres-sync')).toBe(headings(config).indexOf('listen postgres-ro') + 1);
    });

    test('each member keeps its own ports, and IPv6 addresses are bracketed', () => {
      // GIVEN
      const custom: HaproxyBackendMember[] = [
        { name: 'a', address: '10.0.2.11', postgresPort: 15432, restApiPort: 18008 },
        { name: 'b', address: 'fd00::12', postgresPort: 25432, restApiPort: 28008 },
      ];
      // WHEN
      const config = renderHaproxyConfig(input({}, { members: custom, bindAddress: 'fd00::20' }));
      // THEN
      expect(section(config, 'listen postgres-rw').filter((l) => l.startsWith('server '))).toEqual([
        'server a 10.0.2.11:15432 check port 18008',
        'server b [fd00::12]:25432 check port 28008',
      ]);
      expect(section(config, 'listen postgres-rw')).toContain('bind [fd00::20]:5000');
    });

    test('a single member is enough', () => {
      const config = renderHaproxyConfig(input({}, { members: members(1) }));
      expect(section(config, 'listen postgres-rw').filter((l) => l.startsWith('server '))).toEqual([
        'server node1 10.0.2.11:5432 check port 8008',
      ]);
    });
  });

  describe('determinism', () => {
    test('the same input gives the same bytes; a different input does not', () => {
      // GIVEN
      const a = input({ syncReplicaPort: 5002 }, { members: members(5) });
      const b = input({ syncReplicaPort: 5002 }, { members: members(5) });
      // THEN
      expect(renderHaproxyConfig(a)).toBe(renderHaproxyConfig(b));
      expect(renderHaproxyConfig(a)).not.toBe(renderHaproxyConfig(input({ syncReplicaPort: 5003 }, { members: members(5) })));
    });
  });

  describe('refusals', () => {
    test('fails when there are no members', () => {
      expect(() => renderHaproxyConfig(input({}, { members: [] }))).toThrow(/members: got 0 members, expected at least 1/);
    });

    test.each(['0.0.0.0', '*', '::', ''])('fails when bindAddress is the wildcard %j', (bindAddress) => {
      expect(() => renderHaproxyConfig(input({}, { bindAddress }))).toThrow(/bindAddress: got .*expected the proxy node's own address/);
    });

    test('fails when two members share a name', () => {
      const twins = [members(1)[0], { ...members(2)[1], name: 'node1' }];
      expect(() => renderHaproxyConfig(input({}, { members: twins }))).toThrow(/members\[1\]\.name: got "node1" twice/);
    });

    test.each([
      ['name', { name: 'node 1' }, /members\[0\]\.name: got "node 1"/],
      ['address', { address: '10.0.2.11 backup' }, /members\[0\]\.address: got "10.0.2.11 backup"/],
      ['postgresPort', { postgresPort: 70000 }, /members\[0\]\.postgresPort: got 70000, expected a port from 1 to 65535/],
      ['restApiPort', { restApiPort: 0 }, /members\[0\]\.restApiPort: got 0/],
    ])('fails when a member %s is unusable', (_field, change, message) => {
      const bad = [{ ...members(1)[0], ...change }];
      expect(() => renderHaproxyConfig(input({}, { members: bad }))).toThrow(message);
    });

    test('fails when the password variable is not an environment variable name', () => {
      expect(() => renderHaproxyConfig(input({}, { statsPasswordVariable: 'hunter2 pw' }))).toThrow(
        /statsPasswordVariable: got "hunter2 pw", expected an environment variable name/,
      );
    });

    test('fails when the stats user could break the auth line', () => {
      expect(() => renderHaproxyConfig(input({}, { statsUser: 'ad:min' }))).toThrow(/statsUser: got "ad:min"/);
    });

    test('lists every problem at once', () => {
      expect(() => renderHaproxyConfig(input({}, { members: [], bindAddress: '*' }))).toThrow(
        /bindAddress[\s\S]*members: got 0/,
      );
    });
  });
});
