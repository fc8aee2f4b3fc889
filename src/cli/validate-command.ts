import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { nodeSizeShape } from '../spec/common';
import { OutsideProps, propProblems } from '../spec/validate';
import { validateAwsPlatformSpec } from '../spec/aws-platform';
import { validateAwsVpcSpec } from '../spec/aws-vpc';
import { validateBackupJobSpec } from '../spec/backup-job';
import { validateDockerPlatformSpec } from '../spec/docker-platform';
import { HAPROXY_FRONTENDS_OUTSIDE_SHAPE, validateHaproxyFrontendsSpec } from '../spec/haproxy-frontends';
import { validateLocalPlatformSpec } from '../spec/local-platform';
import { validateMonitoringSpec } from '../spec/monitoring';
import { didYouMean } from '../spec/nearest-name';
import { PATRONI_CLUSTER_MACHINE_SHAPE, validatePatroniClusterSpec } from '../spec/patroni-cluster';
import { validatePrimaryWithReplicasSpec } from '../spec/primary-with-replicas';
import { SpecError, describeValue } from '../spec/problems';
import { validatePrometheusServerSpec } from '../spec/prometheus-server';
import { validateWalArchiveBucketSpec } from '../spec/wal-archive-bucket';

interface Kind {
  readonly validate: (input: unknown, constructPath?: string, outside?: OutsideProps) => unknown;
  /** Data props the construct checks itself, outside its spec (machine sizes, output names). */
  readonly outside?: z.ZodRawShape;
  /** Top-level props that are other constructs: a file cannot hold them, so they are set aside, and said so. */
  readonly references: readonly string[];
  /** restoreFrom holds an archive (a construct) beside its data. */
  readonly restoreFrom?: true;
}

/** Every construct and platform, by the name `pgha validate` takes. */
export const VALIDATE_KINDS: Readonly<Record<string, Kind>> = {
  'patroni-cluster': { validate: validatePatroniClusterSpec, outside: PATRONI_CLUSTER_MACHINE_SHAPE, references: ['platform', 'archive'], restoreFrom: true },
  'primary-with-replicas': { validate: validatePrimaryWithReplicasSpec, outside: nodeSizeShape, references: ['platform', 'archive'] },
  'haproxy-frontends': { validate: validateHaproxyFrontendsSpec, outside: HAPROXY_FRONTENDS_OUTSIDE_SHAPE, references: ['platform', 'cluster'] },
  'wal-archive-bucket': { validate: validateWalArchiveBucketSpec, references: ['platform'] },
  'backup-job': { validate: validateBackupJobSpec, references: ['cluster'] },
  'cluster-monitoring': { validate: validateMonitoringSpec, references: ['cluster', 'frontends', 'scrapers'] },
  'prometheus-server': { validate: validatePrometheusServerSpec, references: ['platform', 'monitoring'] },
  'aws-platform': { validate: validateAwsPlatformSpec, references: [] },
  'aws-vpc': { validate: validateAwsVpcSpec, references: [] },
  'local-platform': { validate: validateLocalPlatformSpec, references: [] },
  'docker-platform': { validate: validateDockerPlatformSpec, references: [] },
};

/** The larger files are refused unread: a spec is a few kilobytes. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

export interface ValidateOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Props that name other constructs, removed from a file's top level and from restoreFrom. */
function withoutReferences(input: unknown, kind: Kind): { input: unknown; removed: string[] } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { input, removed: [] };
  const record = { ...(input as Record<string, unknown>) };
  const removed: string[] = [];
  for (const name of kind.references) {
    if (Object.hasOwn(record, name)) {
      delete record[name];
      removed.push(name);
    }
  }
  const restoreFrom = record.restoreFrom;
  if (kind.restoreFrom && restoreFrom && typeof restoreFrom === 'object' && !Array.isArray(restoreFrom)) {
    const { archive: _archive, ...target } = restoreFrom as Record<string, unknown>;
    // The spec reads the archive's identity; a file names no archive, so any string stands in.
    record.restoreFrom = { ...target, archiveId: 'file' };
  }
  return { input: record, removed };
}

/** The props the construct keeps outside its spec, checked as it checks them, and the rest for the spec. */
function splitOutside(input: unknown, shape: z.ZodRawShape): { spec: unknown; outside: OutsideProps & { values: Record<string, unknown> } } {
  const names = Object.keys(shape);
  if (input === null || typeof input !== 'object' || Array.isArray(input) || names.length === 0) return { spec: input, outside: { values: {} } };
  const record = input as Record<string, unknown>;
  const spec = Object.fromEntries(Object.entries(record).filter(([key]) => !names.includes(key)));
  const values = Object.fromEntries(Object.entries(record).filter(([key]) => names.includes(key)));
  return { spec, outside: { problems: propProblems(shape, record), props: names, values } };
}

/** `pgha validate <kind> <file>`: 0 valid, 1 invalid, 2 unusable arguments or file. Never throws. */
export function validateCommand(args: readonly string[], io: ValidateOutput): number {
  const [kindName, file] = args;
  const kind = kindName === undefined ? undefined : VALIDATE_KINDS[kindName];
  if (!kind || !file) {
    const suggestion = kindName && !kind ? `unknown kind "${kindName}"${didYouMean(kindName, Object.keys(VALIDATE_KINDS))}. ` : '';
    io.err(`pgha validate: ${suggestion}expected a kind (${Object.keys(VALIDATE_KINDS).join(', ')}) and a JSON file.\n`);
    return 2;
  }
  let input: unknown;
  try {
    const text = readFileSync(file);
    if (text.length > MAX_FILE_BYTES) {
      io.err(`pgha validate: ${file} has ${text.length} bytes; a spec is a few kilobytes (at most ${MAX_FILE_BYTES}). Is it the right file?\n`);
      return 2;
    }
    input = JSON.parse(text.toString('utf8'));
  } catch (error) {
    io.err(`pgha validate: cannot read ${file} as JSON: ${error instanceof Error ? error.message : describeValue(error)}\n`);
    return 2;
  }
  const { input: withoutRefs, removed } = withoutReferences(input, kind);
  if (removed.length > 0) io.err(`pgha validate: not checked from a file: ${removed.join(', ')} (construct references; the construct checks them)\n`);
  const { spec, outside } = splitOutside(withoutRefs, kind.outside ?? {});
  try {
    io.out(`${JSON.stringify({ ...(kind.validate(spec, undefined, outside) as object), ...outside.values }, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof SpecError) {
      io.err(`${file}: ${error.message}\n`);
      return 1;
    }
    // A value no rule foresaw (it should not happen): said plainly, never as a stack trace.
    io.err(`pgha validate: ${file} could not be checked: ${error instanceof Error ? error.message : describeValue(error)}\n`);
    return 2;
  }
}
