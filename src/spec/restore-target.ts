import { z } from 'zod';
import { resourceName } from './common';
import { SpecProblem } from './problems';
import { expectation } from './validate';

/**
 * Where a new cluster starts from when it is restored from an archive (point-in-time recovery):
 * the source cluster's stanza and exactly one target.
 */
export const restoreFromSchema = z.strictObject({
  /** The cluster whose backups and WAL are restored (its pgBackRest stanza is its name). */
  sourceCluster: resourceName,
  /** Identity of the archive holding the source stanza (set by the construct, not by users). */
  archiveId: z.string(),
  /** A moment with its time zone, e.g. "2026-11-20T14:30:00Z" or "2026-11-20 15:30:00.25+01:00". */
  targetTime: z.string(expectation('a timestamp with time zone', 'write e.g. "2026-11-20T14:30:00Z"')).optional(),
  /** A WAL position, e.g. "0/3000060". */
  targetLsn: z
    .string(expectation('an LSN such as "0/3000060"', 'copy it from pg_current_wal_lsn()'))
    .regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, expectation('an LSN: two hex numbers separated by "/", e.g. "0/3000060"', 'copy it from pg_current_wal_lsn()'))
    .optional(),
  /** A restore point created with pg_create_restore_point(name). */
  targetName: z
    .string(expectation('a restore point name', 'use the name given to pg_create_restore_point()'))
    .regex(/^[A-Za-z0-9_.:-]{1,63}$/, expectation('1-63 letters, digits, "_", ".", ":" or "-"', 'use the name given to pg_create_restore_point()'))
    .optional(),
  /** Replay every WAL segment in the archive. */
  latest: z.literal(true, expectation('true', 'set latest: true, or give a targetTime, targetLsn or targetName instead')).optional(),
  /** Whether the target itself is included (commits at exactly targetTime). @default true */
  targetInclusive: z.boolean(expectation('true or false', 'use a boolean')).default(true),
}, expectation('{ archive, sourceCluster, and one of targetTime, targetLsn, targetName or latest: true }', 'pass e.g. { archive, sourceCluster: "orders", latest: true }, or leave restoreFrom unset'));

export type RestoreFromSpec = z.output<typeof restoreFromSchema>;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?\s*(Z|[+-]\d{2}(?::?\d{2})?)$/;

/** A time target as pgBackRest and PostgreSQL read it, in UTC, keeping the given fraction of a second. */
export function normalizeTargetTime(text: string): string | undefined {
  const match = TIMESTAMP.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction = '', zone] = match;
  const offset = zone === 'Z' ? '+00:00' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const instant = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}${offset}`);
  if (Number.isNaN(instant.getTime())) return undefined;
  // Date rolls 2026-02-30 over to March: refuse dates that do not exist.
  const calendar = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (calendar.getUTCMonth() !== Number(month) - 1 || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  // Date would round the fraction to milliseconds: keep the digits given.
  const iso = instant.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}+00`;
}

/** The problems of a restoreFrom setting: exactly one target, a time that parses and has passed. */
export function checkRestoreTarget(restore: RestoreFromSpec, now: Date = new Date()): SpecProblem[] {
  const given = (['targetTime', 'targetLsn', 'targetName', 'latest'] as const).filter((key) => restore[key] !== undefined);
  if (given.length !== 1) {
    return [
      {
        path: 'restoreFrom',
        given: given.length === 0 ? 'no target' : given.join(' and '),
        expected: 'exactly one of targetTime, targetLsn, targetName or latest: true',
        fix: given.length === 0 ? 'add latest: true to replay the whole archive, or a targetTime' : `keep one of ${given.join(', ')}`,
      },
    ];
  }
  if (restore.targetTime !== undefined) {
    const normalized = normalizeTargetTime(restore.targetTime);
    if (!normalized) {
      return [
        {
          path: 'restoreFrom.targetTime',
          given: restore.targetTime,
          expected: 'a timestamp with its time zone, "YYYY-MM-DD HH:MM:SS[.ffffff]" followed by Z or an offset like +01:00',
          fix: 'write e.g. "2026-11-20T14:30:00Z"; a time without a zone would be read in the server\'s zone',
        },
      ];
    }
    if (new Date(normalized.replace(' ', 'T').replace(/\+00$/, 'Z')).getTime() > now.getTime()) {
      return [
        {
          path: 'restoreFrom.targetTime',
          given: restore.targetTime,
          expected: `a moment that has passed (now is ${now.toISOString()}): recovery cannot reach a time no WAL exists for`,
          fix: 'use a past time, or latest: true for everything archived so far',
        },
      ];
    }
  }
  return [];
}
