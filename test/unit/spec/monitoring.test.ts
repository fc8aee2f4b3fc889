import { SpecError } from '../../../src/spec/problems';
import { THRESHOLD_FIELDS, WAL_SEGMENT_BYTES, XID_WRAPAROUND_STOP_AGE, validateMonitoringSpec } from '../../../src/spec/monitoring';

function problemsOf(input: unknown): SpecError {
  try {
    validateMonitoringSpec(input);
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error(`spec was accepted: ${JSON.stringify(input)}`);
}

describe('Monitoring spec: defaults', () => {
  test("an empty spec gives the seed's thresholds, the exporters' ports and no fixed backup age", () => {
    expect(validateMonitoringSpec({})).toEqual({
      cacheHitPercent: { warning: 99, critical: 95 },
      cacheHitMinBlocksPerSecond: 1,
      replicationLagSeconds: { warning: 60, critical: 300 },
      connectionUsagePercent: { warning: 80, critical: 95 },
      diskUsagePercent: { warning: 80, critical: 90 },
      deadTuplePercent: { warning: 10, critical: 20 },
      deadTupleMinRows: 10_000,
      xidAge: { warning: 1_000_000_000, critical: 1_500_000_000 },
      slotRetainedWalBytes: { warning: 1024 ** 3, critical: 8 * 1024 ** 3 },
      backupMaxAgeHours: undefined,
      exporterPort: 9187,
      nodeExporterPort: 9100,
    });
  });

  test('overriding one level of a pair keeps the default of the other', () => {
    const spec = validateMonitoringSpec({ cacheHitPercent: { warning: 98 }, replicationLagSeconds: { critical: 120 }, diskUsagePercent: {} });
    expect(spec.cacheHitPercent).toEqual({ warning: 98, critical: 95 });
    expect(spec.replicationLagSeconds).toEqual({ warning: 60, critical: 120 });
    expect(spec.diskUsagePercent).toEqual({ warning: 80, critical: 90 });
  });

  test('every threshold, the minimums, the backup age and the ports can be overridden', () => {
    const input = {
      cacheHitPercent: { warning: 97.5, critical: 90 },
      cacheHitMinBlocksPerSecond: 0,
      replicationLagSeconds: { warning: 30, critical: 120 },
      connectionUsagePercent: { warning: 70, critical: 85.5 },
      diskUsagePercent: { warning: 75, critical: 85 },
      deadTuplePercent: { warning: 5, critical: 15 },
      deadTupleMinRows: 0,
      xidAge: { warning: 500_000_000, critical: XID_WRAPAROUND_STOP_AGE - 1 },
      slotRetainedWalBytes: { warning: WAL_SEGMENT_BYTES, critical: 1024 ** 5 },
      backupMaxAgeHours: 30,
      exporterPort: 19187,
      nodeExporterPort: 19100,
    };
    expect(validateMonitoringSpec(input)).toEqual(input);
  });

  test('the directions: cache hit alerts below its thresholds, the others above', () => {
    expect(Object.fromEntries(Object.values(THRESHOLD_FIELDS).map((f) => [f.name, f.direction]))).toEqual({
      cacheHitPercent: 'below',
      replicationLagSeconds: 'above',
      connectionUsagePercent: 'above',
      diskUsagePercent: 'above',
      deadTuplePercent: 'above',
      xidAge: 'above',
      slotRetainedWalBytes: 'above',
    });
  });
});

describe('Monitoring spec: fails when', () => {
  // [what is wrong, input, path named, words of the message (numbers included)]
  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['the cache hit warning is below its critical (a "below" metric)', { cacheHitPercent: { warning: 94 } }, 'cacheHitPercent.warning', /warning 94 % <= critical 95 %.*Fix: raise cacheHitPercent.warning above 95 %/],
    ['the cache hit warning equals its critical', { cacheHitPercent: { warning: 95, critical: 95 } }, 'cacheHitPercent.warning', /warning 95 % <= critical 95 %/],
    ['the lag warning is above its critical (an "above" metric)', { replicationLagSeconds: { warning: 400 } }, 'replicationLagSeconds.warning', /warning 400 s >= critical 300 s.*Fix: lower replicationLagSeconds.warning below 300 s/],
    ['the disk warning is above its critical', { diskUsagePercent: { warning: 95, critical: 90 } }, 'diskUsagePercent.warning', /warning 95 % >= critical 90 %/],
    ['the connection warning equals its critical', { connectionUsagePercent: { warning: 90, critical: 90 } }, 'connectionUsagePercent.warning', /warning 90 % >= critical 90 %/],
    ['the dead tuple warning is above its critical', { deadTuplePercent: { warning: 30 } }, 'deadTuplePercent.warning', /warning 30 % >= critical 20 %/],
    ['the XID age warning is above its critical', { xidAge: { warning: 1_600_000_000 } }, 'xidAge.warning', /warning 1600000000 >= critical 1500000000/],
    ['a percent of 120', { diskUsagePercent: { critical: 120 } }, 'diskUsagePercent.critical', /got 120; expected a percent from 0 to 100/],
    ['a ratio where a percent is expected, above 100', { connectionUsagePercent: { warning: 800, critical: 950 } }, 'connectionUsagePercent.warning', /got 800; expected a percent from 0 to 100/],
    ['a negative percent', { cacheHitPercent: { critical: -5 } }, 'cacheHitPercent.critical', /got -5; expected a percent from 0 to 100, not negative/],
    ['ratios where percents are expected', { cacheHitPercent: { warning: 0.99, critical: 0.95 } }, 'cacheHitPercent', /look like ratios.*write 99 for 99 %/],
    ['a negative lag', { replicationLagSeconds: { warning: -1 } }, 'replicationLagSeconds.warning', /got -1; expected a number of seconds above 0/],
    ['a lag of zero', { replicationLagSeconds: { warning: 0 } }, 'replicationLagSeconds.warning', /above 0/],
    ['an XID age past the wraparound stop', { xidAge: { critical: 2 ** 31 } }, 'xidAge.critical', /got 2147483648; expected an age below 2144483648/],
    ['a negative XID age', { xidAge: { warning: -1 } }, 'xidAge.warning', /got -1; expected at least 1 transaction, not negative/],
    ['the slot WAL warning is above its critical', { slotRetainedWalBytes: { warning: 10 * 1024 ** 3 } }, 'slotRetainedWalBytes.warning', /warning 10737418240 bytes >= critical 8589934592 bytes.*Fix: lower slotRetainedWalBytes.warning below 8589934592 bytes/],
    ['the slot WAL warning equals its critical', { slotRetainedWalBytes: { warning: 2 ** 31, critical: 2 ** 31 } }, 'slotRetainedWalBytes.warning', /warning 2147483648 bytes >= critical 2147483648 bytes/],
    ['slot WAL in GiB where bytes are expected', { slotRetainedWalBytes: { critical: 8 } }, 'slotRetainedWalBytes.critical', /got 8; expected at least one WAL segment \(16777216 bytes, 16 MiB\).*Fix: set slotRetainedWalBytes.critical in bytes, e.g. 8589934592 for 8 GiB \(not 8\)/],
    ['slot WAL just under one segment', { slotRetainedWalBytes: { warning: WAL_SEGMENT_BYTES - 1 } }, 'slotRetainedWalBytes.warning', /got 16777215; expected at least one WAL segment/],
    ['slot WAL as text with a unit', { slotRetainedWalBytes: { warning: '1GB' } }, 'slotRetainedWalBytes.warning', /got "?1GB"?; expected a whole number of bytes.*1073741824 \(1 GiB\) as a number, without a unit/],
    ['a fractional number of bytes', { slotRetainedWalBytes: { warning: 1.5 * 1024 ** 3 + 0.5 } }, 'slotRetainedWalBytes.warning', /expected a whole number of bytes/],
    ['slot WAL beyond 1 PiB', { slotRetainedWalBytes: { critical: 2 * 1024 ** 5 } }, 'slotRetainedWalBytes.critical', /expected at most 1 PiB \(1125899906842624 bytes\)/],
    ['a negative minimum table size', { deadTupleMinRows: -10 }, 'deadTupleMinRows', /got -10; expected at least 0 rows/],
    ['a negative minimum block rate', { cacheHitMinBlocksPerSecond: -1 }, 'cacheHitMinBlocksPerSecond', /got -1; expected .* not negative/],
    ['a backup age of 0 hours', { backupMaxAgeHours: 0 }, 'backupMaxAgeHours', /got 0; expected at least 1 hours/],
    ['a threshold pair given as a number', { diskUsagePercent: 80 }, 'diskUsagePercent', /expected an object \{ warning\?, critical\? \}/],
    ['a misspelt level', { diskUsagePercent: { warn: 70 } }, 'diskUsagePercent', /unknown field\(s\) warn/],
    ['a threshold as text', { replicationLagSeconds: { warning: '60s' } }, 'replicationLagSeconds.warning', /expected a number of seconds/],
    ['both exporters on one port', { nodeExporterPort: 9187 }, 'nodeExporterPort', /different from exporterPort \(9187\)/],
    ['a privileged exporter port', { exporterPort: 187 }, 'exporterPort', /1024 to 65535/],
    ['an unknown field', { cacheHitRatio: { warning: 99 } }, 'cacheHitRatio', /only documented fields/],
  ])('%s', (_what, input, path, message) => {
    const error = problemsOf(input);
    expect(error.problems.map((p) => p.path)).toContain(path);
    const problem = error.problems.find((p) => p.path === path)!;
    expect(problem.expected).not.toEqual('');
    expect(problem.fix).not.toEqual('');
    expect(error.message).toMatch(message);
  });

  test('every problem is reported at once, and a bad level does not also raise the order rule', () => {
    const error = problemsOf({ diskUsagePercent: { warning: 120 }, replicationLagSeconds: { warning: 301 }, deadTupleMinRows: -1 });
    expect(error.problems.map((p) => p.path).sort()).toEqual(['deadTupleMinRows', 'diskUsagePercent.warning', 'replicationLagSeconds.warning']);
    expect(error.message).toMatch(/Invalid ClusterMonitoring spec \(3 problems\)/);
  });

  test('the order rule shows both numbers as given', () => {
    const problem = problemsOf({ connectionUsagePercent: { warning: 96 } }).problems[0];
    expect(problem).toMatchObject({ path: 'connectionUsagePercent.warning', given: { warning: 96, critical: 95 } });
  });
});
