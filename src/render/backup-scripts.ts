import { LAYOUT } from '../model/layout';
import { NodeDirectory, NodeFile, NodeJob } from '../model/node-plan';
import { jobUnitFiles } from './unit-files';
import { BACKUP_RANDOMIZED_DELAY_SECONDS, BackupJobSpec } from '../spec/backup-job';

/**
 * The scheduled jobs of a pgBackRest-backed cluster, as bash scripts that every PostgreSQL node
 * carries; each decides at run time whether this node should act (the leader, or one replica),
 * so a failover moves the work with the role.
 *
 * Every path a script touches is written out literally (never built at run time from a root
 * variable): the local platform moves a node's paths by rewriting them in its files.
 */
export interface BackupScriptsInput {
  readonly spec: BackupJobSpec;
  /** The pgBackRest stanza: the cluster name. */
  readonly stanza: string;
  /** LAYOUT.pgbackrestConfig on a node. */
  readonly pgbackrestConfig: string;
  readonly dataDir: string;
  readonly binDir: string;
  readonly socketDir: string;
  readonly postgresPort: number;
  /** LAYOUT.patroniConfig on a node: `patronictl list` reads the members from it. */
  readonly patroniConfig: string;
  /** Patroni member name of this node. */
  readonly nodeName: string;
  /** @default LAYOUT.scriptDir */
  readonly scriptDir?: string;
  /** Prometheus textfile-collector directory. @default LAYOUT.jobStatusDir */
  readonly jobStatusDir?: string;
  /** Holds the drill's data directory, socket, configuration and logs; emptied after each drill. @default LAYOUT.restoreDrillDir */
  readonly restoreDrillDir?: string;
  /** @default LAYOUT.dumpDir */
  readonly dumpDir?: string;
  /** @default "/usr/bin/patronictl" */
  readonly patronictl?: string;
}

/** The script names (in scriptDir) and the unit names of the jobs. */
export const BACKUP_SCRIPT_NAMES = {
  backup: 'pgha-backup',
  check: 'pgha-check',
  verify: 'pgha-verify',
  restoreDrill: 'pgha-restore-drill',
  dump: 'pgha-dump',
} as const;

/** Metric names written to `<jobStatusDir>/<job>.prom`. */
export const JOB_METRICS = {
  lastRun: 'pgha_job_last_run_timestamp_seconds',
  lastExitCode: 'pgha_job_last_exit_code',
  lastDuration: 'pgha_job_last_duration_seconds',
  lastSuccess: 'pgha_job_last_success_timestamp_seconds',
  drillDuration: 'pgha_restore_drill_duration_seconds',
  drillSuccess: 'pgha_restore_drill_success',
} as const;

const PGBACKREST = '/usr/bin/pgbackrest';
const PYTHON = '/usr/bin/python3';

interface Resolved extends Required<Omit<BackupScriptsInput, 'spec'>> {
  readonly spec: BackupJobSpec;
}

const SAFE_PATH = /^\/[A-Za-z0-9._/+-]*[A-Za-z0-9._+-]$/;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function resolve(input: BackupScriptsInput): Resolved {
  const resolved: Resolved = {
    ...input,
    scriptDir: input.scriptDir ?? LAYOUT.scriptDir,
    jobStatusDir: input.jobStatusDir ?? LAYOUT.jobStatusDir,
    restoreDrillDir: input.restoreDrillDir ?? LAYOUT.restoreDrillDir,
    dumpDir: input.dumpDir ?? LAYOUT.dumpDir,
    patronictl: input.patronictl ?? '/usr/bin/patronictl',
  };
  const paths = {
    pgbackrestConfig: resolved.pgbackrestConfig,
    dataDir: resolved.dataDir,
    binDir: resolved.binDir,
    socketDir: resolved.socketDir,
    patroniConfig: resolved.patroniConfig,
    scriptDir: resolved.scriptDir,
    jobStatusDir: resolved.jobStatusDir,
    restoreDrillDir: resolved.restoreDrillDir,
    dumpDir: resolved.dumpDir,
    patronictl: resolved.patronictl,
  };
  for (const [field, path] of Object.entries(paths)) {
    // Paths go into scripts and into pg_ctl's -o string unquoted by a shell: no spaces, quotes or "$".
    if (!SAFE_PATH.test(path) || path.split('/').includes('..')) {
      throw new Error(`BackupScriptsInput.${field}: got ${JSON.stringify(path)}; expected an absolute path of letters, digits and "._/+-", not ending in "/"`);
    }
  }
  const drill = resolved.restoreDrillDir;
  const clashes = [resolved.dataDir, resolved.jobStatusDir, resolved.dumpDir, resolved.scriptDir].filter(
    (other) => other === drill || other.startsWith(`${drill}/`) || drill.startsWith(`${other}/`),
  );
  if (clashes.length > 0 || drill.split('/').length < 3) {
    throw new Error(
      `BackupScriptsInput.restoreDrillDir: got ${JSON.stringify(drill)}; expected a directory of its own (the drill empties it), ` +
        `not inside or around ${clashes.join(', ') || 'the root'}`,
    );
  }
  for (const [field, value] of Object.entries({ stanza: resolved.stanza, nodeName: resolved.nodeName })) {
    if (!SAFE_NAME.test(value)) throw new Error(`BackupScriptsInput.${field}: got ${JSON.stringify(value)}; expected letters, digits, "_", "." and "-"`);
  }
  if (!Number.isInteger(resolved.postgresPort) || resolved.postgresPort < 1 || resolved.postgresPort > 65535) {
    throw new Error(`BackupScriptsInput.postgresPort: got ${resolved.postgresPort}; expected a port number`);
  }
  return resolved;
}

/** Quotes a word for bash: single quotes, with embedded single quotes closed and escaped. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const scriptPath = (r: Resolved, name: string) => `${r.scriptDir}/${name}`;

/** `/usr/bin/pgbackrest --config=... --stanza=...` as a line of bash. */
const pgbackrest = (r: Resolved) => `"${PGBACKREST}" "--config=${r.pgbackrestConfig}" "--stanza=${r.stanza}"`;

function header(r: Resolved, name: string, purpose: string[]): string[] {
  return [
    '#!/bin/bash',
    `# ${name}: generated by cdktf-postgres-ha. Do not edit: changes are overwritten on the next deploy.`,
    ...purpose.map((line) => `# ${line}`),
    '# Runs as the postgres OS user (from a systemd timer). PGHA_FORCE=1 skips the role check.',
    'set -euo pipefail',
    'export LC_ALL=C',
    '',
    `PGHA_CLUSTER=${shellQuote(r.stanza)}`,
    `PGHA_NODE=${shellQuote(r.nodeName)}`,
  ];
}

/**
 * The shared prelude, inlined in every script so each one stands alone (no sourced file whose
 * version could differ): logging, status metrics, role selection, job bookkeeping.
 */
function prelude(r: Resolved): string[] {
  const psql = `"${r.binDir}/psql" -h "${r.socketDir}" -p ${r.postgresPort} -U postgres -d postgres -X -A -t -q -v ON_ERROR_STOP=1`;
  return String.raw`
# ---- shared prelude --------------------------------------------------------------------------
PGHA_EXTRA_METRICS=()

log() {
  printf '%s: %s\n' "pgha-$PGHA_JOB" "$*" >&2
}

# Runs one SQL statement on this node's PostgreSQL (peer authentication as the postgres user).
pg_query() {
  PGCONNECT_TIMEOUT=10 ${psql} -c "$1"
}

metric_help() {
  case "$1" in
    ${JOB_METRICS.lastRun}) echo 'Unix time the job last ran (ended).' ;;
    ${JOB_METRICS.lastExitCode}) echo 'Exit code of the last run (0 = success).' ;;
    ${JOB_METRICS.lastDuration}) echo 'Duration of the last run in seconds.' ;;
    ${JOB_METRICS.lastSuccess}) echo 'Unix time of the last successful run (0 = never).' ;;
    ${JOB_METRICS.drillDuration}) echo 'Duration of the last restore drill in seconds (restore, recovery and checks).' ;;
    ${JOB_METRICS.drillSuccess}) echo '1 if the last restore drill succeeded, else 0.' ;;
    *) echo "$1" ;;
  esac
}

# record_status JOB EXIT_CODE DURATION [METRIC VALUE]...
# Writes the job's Prometheus textfile metrics atomically (a temporary file renamed over the old
# one). A failed run keeps the previous success time, read back from the file it replaces.
record_status() {
  local job=$1 code=$2 duration=$3
  shift 3
  local file="${r.jobStatusDir}/$job.prom"
  local tmp="${r.jobStatusDir}/.$job.prom.$$"
  local now last_success=0 labels name
  now=$(date +%s)
  if [ "$code" -eq 0 ]; then
    last_success=$now
  elif [ -f "$file" ]; then
    last_success=$(sed -n 's/^${JOB_METRICS.lastSuccess}{[^}]*} \([0-9.e+]*\)$/\1/p' "$file" | head -n 1)
    last_success=${'${last_success:-0}'}
  fi
  labels="cluster=\"$PGHA_CLUSTER\",node=\"$PGHA_NODE\",job=\"$job\""
  {
    for name in ${JOB_METRICS.lastRun} ${JOB_METRICS.lastExitCode} ${JOB_METRICS.lastDuration} ${JOB_METRICS.lastSuccess}; do
      printf '# HELP %s %s\n# TYPE %s gauge\n' "$name" "$(metric_help "$name")" "$name"
      case "$name" in
        ${JOB_METRICS.lastRun}) printf '%s{%s} %s\n' "$name" "$labels" "$now" ;;
        ${JOB_METRICS.lastExitCode}) printf '%s{%s} %s\n' "$name" "$labels" "$code" ;;
        ${JOB_METRICS.lastDuration}) printf '%s{%s} %s\n' "$name" "$labels" "$duration" ;;
        ${JOB_METRICS.lastSuccess}) printf '%s{%s} %s\n' "$name" "$labels" "$last_success" ;;
      esac
    done
    while [ "$#" -ge 2 ]; do
      printf '# HELP %s %s\n# TYPE %s gauge\n%s{%s} %s\n' "$1" "$(metric_help "$1")" "$1" "$1" "$labels" "$2"
      shift 2
    done
  } > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$file"
}

# Seconds since the job started, with milliseconds.
elapsed() {
  local now=$EPOCHREALTIME
  awk -v a="$PGHA_STARTED" -v b="$now" 'BEGIN { printf "%.3f", b - a }'
}

# From here on the job counts: whatever ends the script (success, a failed command under set -e,
# SIGTERM from systemd's timeout) records its status. on_finish, if a script defines it, runs first.
start_job() {
  PGHA_STARTED=$EPOCHREALTIME
  trap 'finish_job $?' EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  log "started on $PGHA_NODE (cluster $PGHA_CLUSTER)"
}

finish_job() {
  local code=$1 duration
  trap - EXIT TERM INT
  if declare -F on_finish > /dev/null; then
    on_finish "$code" || log "cleanup failed (exit $?)"
  fi
  duration=$(elapsed)
  record_status "$PGHA_JOB" "$code" "$duration" "${'${PGHA_EXTRA_METRICS[@]}'}"
  if [ "$code" -eq 0 ]; then
    log "succeeded in $duration s"
  else
    log "FAILED with exit code $code after $duration s"
  fi
  exit "$code"
}

# The first replica by member name that Patroni reports up (running, streaming, in archive recovery), or nothing.
# Patroni (4.0.7 as 3.0.2) will not load patroni.yml without the REST API password (KeyError 'password'),
# though \`list\` reads only the DCS: a placeholder stands in unless the real one is set.
first_replica() {
  PATRONI_RESTAPI_PASSWORD="${'${PATRONI_RESTAPI_PASSWORD:-unused-by-patronictl-list}'}" "${r.patronictl}" -c "${r.patroniConfig}" list -f json | "${PYTHON}" -c '
import json, sys
members = json.load(sys.stdin)
names = sorted(
    m["Member"] for m in members
    if m.get("Role") not in ("Leader", "Standby Leader") and m.get("State") in ("running", "streaming", "in archive recovery")
)
print(names[0] if names else "")
'
}

# should_run leader|replica: whether this node should do the job now (see the log line on "no").
#   leader:  this node's PostgreSQL is not in recovery.
#   replica: this node is the first running replica by member name; the leader when there is none.
should_run() {
  local role=$1 recovery first
  if [ "${'${PGHA_FORCE:-0}'}" = 1 ]; then
    log "PGHA_FORCE=1: running without checking this node's role"
    return 0
  fi
  if ! recovery=$(pg_query 'SELECT pg_is_in_recovery()'); then
    log "skipping: PostgreSQL on this node does not answer; the node that holds the role runs the job"
    return 1
  fi
  case "$role" in
    leader)
      if [ "$recovery" = f ]; then return 0; fi
      log "skipping: this node is a replica; the job runs on the leader"
      return 1
      ;;
    replica)
      if ! first=$(first_replica); then
        log "skipping: patronictl list failed, so the replica that should run the job is unknown"
        return 1
      fi
      if [ "$recovery" = f ]; then
        if [ -z "$first" ]; then
          log "the cluster has no running replica: the leader runs the job"
          return 0
        fi
        log "skipping: this node is the leader; replica $first runs the job"
        return 1
      fi
      if [ "$first" = "$PGHA_NODE" ]; then return 0; fi
      log "skipping: the job runs on replica ${'${first:-(none running)}'}, the first by member name"
      return 1
      ;;
    *)
      log "should_run: unknown role $role"
      return 1
      ;;
  esac
}
# ---- end of shared prelude -------------------------------------------------------------------
`
    .trim()
    .split('\n');
}

function script(r: Resolved, name: string, purpose: string[], body: string[]): string {
  return [...header(r, name, purpose), ...prelude(r), '', ...body, ''].join('\n');
}

/** `pgha-backup full|diff|incr`: stanza-create (idempotent), then the backup. */
export function renderBackupScript(input: BackupScriptsInput): string {
  const r = resolve(input);
  const role = r.spec.backupStandby ? 'replica' : 'leader';
  return script(
    r,
    BACKUP_SCRIPT_NAMES.backup,
    [
      'Usage: pgha-backup full|diff|incr',
      `A pgBackRest backup of stanza ${r.stanza}, run on the ${r.spec.backupStandby ? 'first replica (--backup-standby; the leader when no replica runs)' : 'leader'}.`,
      "pgBackRest's expire runs after the backup, with the retention of pgbackrest.conf.",
    ],
    [
      'case "${1:-}" in',
      '  full | diff | incr) ;;',
      "  *) printf 'usage: %s full|diff|incr\\n' \"$0\" >&2; exit 2 ;;",
      'esac',
      'BACKUP_TYPE=$1',
      'PGHA_JOB="backup-$BACKUP_TYPE"',
      '',
      `should_run ${role} || exit 0`,
      'start_job',
      '# Creates the stanza when it is missing (a bootstrap whose stanza-create failed). Only then:',
      "# stanza-create takes the archive lock, which the asynchronous archive-push holds while it works.",
      `if ${pgbackrest(r)} --output=json info | grep -q '"code":1,'; then`,
      `  ${pgbackrest(r)} stanza-create`,
      'fi',
      ...(r.spec.backupStandby
        ? [
            '# From a replica: files from this standby, start/stop on the primary. The leader runs the',
            '# job only when no replica runs, and then --backup-standby would fail (no standby to read).',
            'BACKUP_OPTIONS=()',
            `if [ "$(pg_query 'SELECT pg_is_in_recovery()' 2> /dev/null || true)" = t ]; then`,
            '  BACKUP_OPTIONS+=(--backup-standby)',
            'else',
            '  log "this node is the leader (no replica runs): backing up without --backup-standby"',
            'fi',
            `log "stanza ${r.stanza} is ready; starting the $BACKUP_TYPE backup"`,
            `${pgbackrest(r)} backup "--type=$BACKUP_TYPE" "\${BACKUP_OPTIONS[@]}"`,
          ]
        : [`log "stanza ${r.stanza} is ready; starting the $BACKUP_TYPE backup"`, `${pgbackrest(r)} backup "--type=$BACKUP_TYPE"`]),
    ],
  );
}

/** `pgha-check`: pgbackrest check on the leader (archiving works and reaches the repository). */
export function renderCheckScript(input: BackupScriptsInput): string {
  const r = resolve(input);
  return script(
    r,
    BACKUP_SCRIPT_NAMES.check,
    ['pgbackrest check on the leader: the repository is reachable and WAL archiving works.'],
    ['PGHA_JOB=check', 'should_run leader || exit 0', 'start_job', `${pgbackrest(r)} check`],
  );
}

/**
 * `pgha-verify`: pgbackrest verify on the leader. pgBackRest's verify (2.55.1 as 2.45) exits 0 even
 * when it finds invalid files (it prints "status: error"), so the script reads its text output.
 */
export function renderVerifyScript(input: BackupScriptsInput): string {
  const r = resolve(input);
  return script(
    r,
    BACKUP_SCRIPT_NAMES.verify,
    [
      'pgbackrest verify on the leader: every backup file and WAL segment against its checksum.',
      'pgBackRest 2.55.1 exits 0 when verify finds errors; this script fails unless every stanza',
      'status line says "status: ok" and the repository holds something to verify.',
      'Without --verbose, 2.55.1 prints nothing at all for a sound repository.',
    ],
    [
      'PGHA_JOB=verify',
      'should_run leader || exit 0',
      'start_job',
      '# --verbose: a sound repository then says "status: ok" too (without it 2.55.1 prints nothing).',
      `REPORT=$(${pgbackrest(r)} verify --output=text --verbose)`,
      "printf '%s\\n' \"$REPORT\" >&2",
      "if ! grep -q '^status: ' <<< \"$REPORT\"; then",
      '  log "verify printed no status line: cannot tell whether the repository is sound"',
      '  exit 1',
      'fi',
      "if grep '^status: ' <<< \"$REPORT\" | grep -qv '^status: ok$'; then",
      '  log "verify found invalid or missing files in the repository (see the report above)"',
      '  exit 1',
      'fi',
      "if grep -q 'no archives or backups exist in the repo' <<< \"$REPORT\"; then",
      '  log "verify found no backups and no WAL to verify"',
      '  exit 1',
      'fi',
      'log "every backup and WAL segment in the repository is valid"',
    ],
  );
}

/**
 * `pgha-restore-drill`: on one replica, restores the latest backup into the drill directory,
 * starts it on a unix socket only, waits for it to finish recovery and answer queries, stops it
 * and deletes it, recording how long it all took.
 */
export function renderRestoreDrillScript(input: BackupScriptsInput): string {
  const r = resolve(input);
  const drill = r.restoreDrillDir;
  const data = `${drill}/data`;
  const socket = `${drill}/socket`;
  const port = r.spec.restoreDrillPort;
  const timeout = r.spec.restoreDrillTimeoutSeconds;
  const drillPsql = `"${r.binDir}/psql" -h "${socket}" -p ${port} -U postgres -d postgres -X -A -t -q -v ON_ERROR_STOP=1`;
  // Overrides of the live node's settings the copy carries (Patroni's postgresql.conf): a socket in
  // the drill directory only, no archiving into the live stanza, no replication, no waiting for a
  // sync standby, its own pg_hba.conf. hot_standby=off: the copy accepts connections only once
  // promoted, and a standby's parameter checks (max_connections >= the primary's) do not apply.
  const settings: [string, string][] = [
    ['port', String(port)],
    ['listen_addresses', "''"],
    ['unix_socket_directories', `'${socket}'`],
    ['archive_mode', 'off'],
    ['archive_command', "''"],
    ['archive_cleanup_command', "''"],
    ['recovery_end_command', "''"],
    ['synchronous_standby_names', "''"],
    ['primary_conninfo', "''"],
    ['primary_slot_name', "''"],
    ['hot_standby', 'off'],
    ['hba_file', `'${drill}/pg_hba.conf'`],
    ['ident_file', `'${drill}/pg_ident.conf'`],
    ['shared_buffers', '128MB'],
    ['huge_pages', 'off'],
    ['max_connections', '20'],
    ['superuser_reserved_connections', '3'],
    ['cluster_name', 'restore-drill'],
    ['logging_collector', 'off'],
    ['log_destination', 'stderr'],
    ['ssl', 'off'],
  ];
  const options = settings.map(([key, value]) => `-c ${key}=${value}`).join(' ');
  // archive-get for the copy: the same stanza, synchronously (the live node's async queue in the
  // spool path stays its own), writing into the drill's pg_wal.
  const restoreCommand = `${PGBACKREST} --config=${r.pgbackrestConfig} --stanza=${r.stanza} --pg1-path=${data} --archive-async=n archive-get %f \\"%p\\"`;
  const extraQuery = r.spec.restoreDrillQuery;
  return script(
    r,
    BACKUP_SCRIPT_NAMES.restoreDrill,
    [
      `Restore drill: restores the latest backup of stanza ${r.stanza} into ${drill},`,
      `starts it on a unix socket (port ${port}) with archiving and replication off, waits for it to`,
      `leave recovery, runs sanity queries, stops and deletes it. All within ${timeout} s.`,
      'Runs on the first replica by member name (the leader when there is no replica).',
    ],
    [
      'PGHA_JOB=restore-drill',
      'should_run replica || exit 0',
      '',
      '# One drill at a time on this node: the lock is held on this script file.',
      `exec 9< "${scriptPath(r, BACKUP_SCRIPT_NAMES.restoreDrill)}"`,
      'if ! flock -n 9; then',
      '  log "another restore drill is running on this node"',
      '  exit 1',
      'fi',
      '',
      'DRILL_SUCCESS=0',
      // The drill postgres once started: stop_drill_postgres waits for it to be gone.
      'DRILL_PID=',
      '',
      '# The PID of the drill postgres, only if that process really runs in the drill data directory',
      '# (a stale postmaster.pid can name a recycled PID, e.g. the live postmaster after a reboot).',
      'drill_postmaster_pid() {',
      '  local pid',
      `  [ -f "${data}/postmaster.pid" ] || return 1`,
      `  pid=$(head -n 1 "${data}/postmaster.pid")`,
      '  [[ $pid =~ ^[0-9]+$ ]] || return 1',
      `  [ "/proc/$pid/cwd" -ef "${data}" ] || return 1`,
      '  echo "$pid"',
      '}',
      '',
      // pg_ctl stop returns when postmaster.pid is gone, a moment before the process exits: wait
      // (10 s at most) for the postgres stopped here, or started by this run, to be gone.
      'stop_drill_postgres() {',
      '  local pid tries=100',
      '  if pid=$(drill_postmaster_pid); then',
      '    log "stopping the drill postgres (pid $pid)"',
      `    if ! "${r.binDir}/pg_ctl" -D "${data}" -m fast -w -t 120 stop >&2; then`,
      '      log "fast shutdown failed: immediate shutdown"',
      '      kill -QUIT "$pid" 2> /dev/null || true',
      '    fi',
      '    DRILL_PID=$pid',
      '  fi',
      '  while [ -n "$DRILL_PID" ] && [ -e "/proc/$DRILL_PID" ] && [ "$tries" -gt 0 ]; do sleep 0.1; tries=$((tries - 1)); done',
      '}',
      '',
      '# Empties the drill directory (it stays: the node plan owns it).',
      'wipe_drill() {',
      `  find "${drill}" -mindepth 1 -delete`,
      '}',
      '',
      'on_finish() {',
      '  local code=$1 duration',
      '  if [ "$code" -ne 0 ]; then',
      `    if [ -s "${drill}/pgbackrest-restore.log" ]; then`,
      '      log "pgbackrest restore said:"',
      `      tail -n 20 "${drill}/pgbackrest-restore.log" >&2`,
      '    fi',
      `    if [ -s "${drill}/postgres.log" ]; then`,
      '      log "last lines of the drill postgres log:"',
      `      tail -n 40 "${drill}/postgres.log" >&2`,
      '    fi',
      '  fi',
      '  stop_drill_postgres',
      '  wipe_drill',
      '  duration=$(elapsed)',
      `  PGHA_EXTRA_METRICS=(${JOB_METRICS.drillDuration} "$duration" ${JOB_METRICS.drillSuccess} "$DRILL_SUCCESS")`,
      '}',
      '',
      `DEADLINE=$((SECONDS + ${timeout}))`,
      'remaining() {',
      '  local left=$((DEADLINE - SECONDS))',
      '  if [ "$left" -lt 1 ]; then left=1; fi',
      '  echo "$left"',
      '}',
      '',
      'start_job',
      '',
      '# A drill left over by a killed run: stop its postgres, then start from an empty directory.',
      `mkdir -p "${drill}"`,
      `chmod 0700 "${drill}"`,
      'stop_drill_postgres',
      'wipe_drill',
      `mkdir -m 0700 "${data}" "${socket}"`,
      `printf '%s\\n' '# Restore drill: the postgres OS user over the unix socket only.' 'local all postgres peer' > "${drill}/pg_hba.conf"`,
      `: > "${drill}/pg_ident.conf"`,
      '',
      `log "restoring the latest backup of stanza ${r.stanza} into ${data}"`,
      `timeout --kill-after=30 "$(remaining)" ${pgbackrest(r)} restore \\`,
      `  "--pg1-path=${data}" --type=immediate --target-action=promote --archive-mode=off --no-delta \\`,
      `  "--tablespace-map-all=${drill}/tablespaces" \\`,
      `  "--recovery-option=restore_command=${restoreCommand}" \\`,
      `  > "${drill}/pgbackrest-restore.log" 2>&1`,
      '',
      'log "starting the restored copy on its own socket, port ' + port + '"',
      `"${r.binDir}/pg_ctl" -D "${data}" -l "${drill}/postgres.log" -w -t "$(remaining)" \\`,
      `  -o "${options}" \\`,
      '  start >&2 9<&-',
      'DRILL_PID=$(drill_postmaster_pid) || true',
      '',
      '# pg_ctl -w returns once the postmaster runs; recovery and promotion may still go on.',
      'until [ "$(PGCONNECT_TIMEOUT=5 ' + drillPsql + ` -c 'SELECT pg_is_in_recovery()' 2> /dev/null)" = f ]; do`,
      '  if ! drill_postmaster_pid > /dev/null; then',
      '    log "the drill postgres stopped before it finished recovery"',
      '    exit 1',
      '  fi',
      '  if [ "$SECONDS" -ge "$DEADLINE" ]; then',
      `    log "the drill did not finish recovery within ${timeout} s"`,
      '    exit 1',
      '  fi',
      '  sleep 2',
      'done',
      `log "recovery finished after $(elapsed) s; running the sanity queries"`,
      '',
      `DATABASES=$(${drillPsql} -c 'SELECT count(*) FROM pg_database')`,
      'if ! [ "$DATABASES" -ge 1 ] 2> /dev/null; then',
      '  log "the restored copy lists no databases (got: $DATABASES)"',
      '  exit 1',
      'fi',
      'log "the restored copy has $DATABASES databases"',
      ...(extraQuery
        ? [
            `EXTRA_QUERY=${shellQuote(extraQuery)}`,
            `if ! ${drillPsql} -c "$EXTRA_QUERY" > /dev/null; then`,
            '  log "the configured restoreDrillQuery failed on the restored copy"',
            '  exit 1',
            'fi',
            'log "restoreDrillQuery ran without error"',
          ]
        : []),
      '',
      `if ! "${r.binDir}/pg_ctl" -D "${data}" -m fast -w -t 120 stop >&2; then`,
      '  log "the restored copy did not stop cleanly"',
      '  exit 1',
      'fi',
      'DRILL_SUCCESS=1',
    ],
  );
}

/**
 * `pgha-dump`: pg_dump -Fc of each database on the leader, verified with pg_restore before it
 * replaces the `.partial` name; failed dumps are deleted and make the job fail; old dumps expire.
 */
export function renderDumpScript(input: BackupScriptsInput): string {
  const r = resolve(input);
  const dump = r.spec.logicalDump;
  if (!dump) throw new Error('renderDumpScript: spec.logicalDump is not set');
  const dir = r.dumpDir;
  const retentionMinutes = dump.retentionDays * 24 * 60;
  return script(
    r,
    BACKUP_SCRIPT_NAMES.dump,
    [
      `Logical dumps (pg_dump -Fc) on the leader into ${dir}, each verified with pg_restore`,
      `(table of contents, then a full read) before it gets its final name; kept ${dump.retentionDays} days.`,
      'Dumps of a database whose dump failed this run are kept whatever their age.',
    ],
    [
      'PGHA_JOB=dump',
      'should_run leader || exit 0',
      '',
      '# One dump run at a time on this node: the lock is held on this script file.',
      `exec 9< "${scriptPath(r, BACKUP_SCRIPT_NAMES.dump)}"`,
      'if ! flock -n 9; then',
      '  log "another dump is running on this node"',
      '  exit 1',
      'fi',
      'umask 077',
      'start_job',
      '',
      ...(dump.databases
        ? [`DATABASES=(${dump.databases.map(shellQuote).join(' ')})`]
        : [
            "LIST=$(pg_query 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname')",
            'if [ -z "$LIST" ]; then',
            '  log "found no database to dump"',
            '  exit 1',
            'fi',
            'mapfile -t DATABASES <<< "$LIST"',
          ]),
      'STAMP=$(date -u +%Y%m%dT%H%M%SZ)',
      'FAILED=()',
      'declare -A FAILED_NAMES=()',
      '',
      'for db in "${DATABASES[@]}"; do',
      '  name=${db//[^A-Za-z0-9_.-]/_}',
      `  partial="${dir}/$name-$STAMP.dump.partial"`,
      `  final="${dir}/$name-$STAMP.dump"`,
      '  started=$SECONDS',
      '  # PGDATABASE, not a dbname argument: a name with "=" would be read as a connection string.',
      `  if PGDATABASE=$db "${r.binDir}/pg_dump" -h "${r.socketDir}" -p ${r.postgresPort} -U postgres -w -Fc -f "$partial" \\`,
      `    && "${r.binDir}/pg_restore" -l "$partial" > /dev/null \\`,
      `    && "${r.binDir}/pg_restore" -f /dev/null "$partial" \\`,
      '    && mv -f "$partial" "$final"; then',
      '    log "dumped $db into $final ($(stat -c %s "$final") bytes, $((SECONDS - started)) s), verified with pg_restore"',
      '  else',
      '    rm -f "$partial"',
      '    log "dump of database $db FAILED: partial file deleted"',
      '    FAILED+=("$db")',
      '    FAILED_NAMES[$name]=1',
      '  fi',
      'done',
      '',
      `# Expiry: dumps older than ${dump.retentionDays} days, except those of a database that failed this run;`,
      '# .partial files are left by a run that was killed (this one removed its own).',
      `while IFS= read -r -d '' old; do`,
      '  base=${old##*/}',
      '  name=${base%-*.dump}',
      '  if [ -n "${FAILED_NAMES[$name]:-}" ]; then',
      '    log "keeping $old: the dump of its database failed this run"',
      '    continue',
      '  fi',
      '  rm -f "$old"',
      '  log "expired $old"',
      `done < <(find "${dir}" -maxdepth 1 -type f -name '*.dump' -mmin +${retentionMinutes} -print0)`,
      `find "${dir}" -maxdepth 1 -type f -name '*.dump.partial' -print -delete | while IFS= read -r stale; do`,
      '  log "deleted the stale partial dump $stale"',
      'done',
      '',
      'if [ "${#FAILED[@]}" -gt 0 ]; then',
      '  log "the dump failed for: ${FAILED[*]}"',
      '  exit 1',
      'fi',
    ],
  );
}

/** Every script of the spec, as files in scriptDir (0755 root:root). */
export function renderBackupScripts(input: BackupScriptsInput): NodeFile[] {
  const r = resolve(input);
  const file = (name: string, content: string): NodeFile => ({ path: scriptPath(r, name), content, mode: '0755', owner: 'root:root' });
  return [
    file(BACKUP_SCRIPT_NAMES.backup, renderBackupScript(input)),
    file(BACKUP_SCRIPT_NAMES.check, renderCheckScript(input)),
    file(BACKUP_SCRIPT_NAMES.verify, renderVerifyScript(input)),
    ...(r.spec.restoreDrillSchedule !== false ? [file(BACKUP_SCRIPT_NAMES.restoreDrill, renderRestoreDrillScript(input))] : []),
    ...(r.spec.logicalDump ? [file(BACKUP_SCRIPT_NAMES.dump, renderDumpScript(input))] : []),
  ];
}

/** Job timeouts: past these systemd stops the job, and it counts as failed. */
export const JOB_TIMEOUT_SECONDS = {
  full: 12 * 3600,
  diff: 6 * 3600,
  incr: 3 * 3600,
  check: 10 * 60,
  verify: 6 * 3600,
  dump: 6 * 3600,
  /** Added to restoreDrillTimeoutSeconds: the drill's own deadline fires first, then cleanup. */
  drillMargin: 10 * 60,
} as const;

/** The jobs, scripts, units and directories of a node's backup schedule. */
export function planBackupJobs(input: BackupScriptsInput): { jobs: NodeJob[]; files: NodeFile[]; directories: NodeDirectory[] } {
  const r = resolve(input);
  const { spec } = r;
  const base = { user: 'postgres', group: 'postgres', environmentFiles: [LAYOUT.pgbackrestSecretsEnv] };
  const backup = (type: 'full' | 'diff' | 'incr', label: string, schedule: string): NodeJob => ({
    ...base,
    name: `pgha-backup-${type}`,
    description: `PostgreSQL ${label} backup of ${r.stanza} (pgBackRest)`,
    command: [scriptPath(r, BACKUP_SCRIPT_NAMES.backup), type],
    schedule,
    // The spec's one-lock rule counts this delay when it compares the backup schedules.
    randomizedDelaySeconds: BACKUP_RANDOMIZED_DELAY_SECONDS,
    timeoutSeconds: JOB_TIMEOUT_SECONDS[type],
  });
  const jobs: NodeJob[] = [
    backup('full', 'full', spec.fullSchedule),
    ...(spec.differentialSchedule !== false ? [backup('diff', 'differential', spec.differentialSchedule)] : []),
    ...(spec.incrementalSchedule !== undefined ? [backup('incr', 'incremental', spec.incrementalSchedule)] : []),
    {
      ...base,
      name: 'pgha-check',
      description: `pgBackRest check of ${r.stanza}: repository reachable, WAL archiving works`,
      command: [scriptPath(r, BACKUP_SCRIPT_NAMES.check)],
      schedule: spec.checkSchedule,
      randomizedDelaySeconds: 60,
      timeoutSeconds: JOB_TIMEOUT_SECONDS.check,
    },
    {
      ...base,
      name: 'pgha-verify',
      description: `pgBackRest verify of ${r.stanza}: every backup file and WAL segment against its checksum`,
      command: [scriptPath(r, BACKUP_SCRIPT_NAMES.verify)],
      schedule: spec.verifySchedule,
      randomizedDelaySeconds: 600,
      timeoutSeconds: JOB_TIMEOUT_SECONDS.verify,
    },
    ...(spec.restoreDrillSchedule !== false
      ? [
          {
            ...base,
            name: 'pgha-restore-drill',
            description: `Restore drill of ${r.stanza}: restore the latest backup, start and query it, delete it`,
            command: [scriptPath(r, BACKUP_SCRIPT_NAMES.restoreDrill)],
            schedule: spec.restoreDrillSchedule,
            randomizedDelaySeconds: 600,
            timeoutSeconds: spec.restoreDrillTimeoutSeconds + JOB_TIMEOUT_SECONDS.drillMargin,
          },
        ]
      : []),
    ...(spec.logicalDump
      ? [
          {
            ...base,
            name: 'pgha-dump',
            description: `Logical dumps (pg_dump) of ${r.stanza}, verified with pg_restore`,
            command: [scriptPath(r, BACKUP_SCRIPT_NAMES.dump)],
            schedule: spec.logicalDump.schedule,
            randomizedDelaySeconds: 300,
            timeoutSeconds: JOB_TIMEOUT_SECONDS.dump,
          },
        ]
      : []),
  ];
  const unitFiles = jobs.flatMap(jobUnitFiles);
  const directories: NodeDirectory[] = [
    { path: r.scriptDir, mode: '0755', owner: 'root:root' },
    { path: r.jobStatusDir, mode: '0755', owner: 'postgres:postgres' },
    // The drill's container: the script (as postgres) cannot create it on a root-owned data volume.
    ...(spec.restoreDrillSchedule !== false ? [{ path: r.restoreDrillDir, mode: '0700', owner: 'postgres:postgres' }] : []),
    ...(spec.logicalDump ? [{ path: r.dumpDir, mode: '0750', owner: 'postgres:postgres' }] : []),
  ];
  return { jobs, files: [...renderBackupScripts(input), ...unitFiles], directories };
}
