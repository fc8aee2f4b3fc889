import { NodePlan } from '../../model/node-plan';

/** Label of the data volume's filesystem: how a replaced instance finds the volume it inherits. */
export const DATA_VOLUME_LABEL = 'pgha-data';
export const BOOT_SCRIPT_PATH = '/usr/local/sbin/pgha-boot';
/** The device the kernel's softdog module creates. */
export const SOFTDOG_DEVICE = '/dev/watchdog';

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** Shell functions of the boot script (exported for tests that run them with stand-in commands). */
export const BOOT_FUNCTIONS = String.raw`log() { echo "pgha-boot: $*" >&2; }

# IMDSv2 only: the instance requires session tokens.
metadata() {
  local token
  token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

# The data volume before first use: an EBS disk of exactly the planned size with no partition
# and no filesystem. Instance-store disks are blank too, hence the model check.
blank_data_disk() {
  local size_bytes=$1 disk
  for disk in $(lsblk -dnpo NAME,TYPE | awk '$2 == "disk" {print $1}'); do
    [ "$(lsblk -dnbo SIZE "$disk")" = "$size_bytes" ] || continue
    [ "$(lsblk -npo NAME "$disk" | wc -l)" -eq 1 ] || continue
    [ -z "$(blkid -o value -s TYPE "$disk" || true)" ] || continue
    case "$(lsblk -dno MODEL "$disk")" in *"Instance Storage"*) continue ;; esac
    echo "$disk"
    return 0
  done
  return 1
}

# Mounts the persistent data volume, formatting it only if it has never been used. A replacement
# instance finds the volume by its label and keeps the data.
prepare_data_volume() {
  local mount_path=$1 size_bytes=$2 device="" attempt
  if ! blkid -L ${DATA_VOLUME_LABEL} >/dev/null; then
    for attempt in $(seq 1 60); do
      device=$(blank_data_disk "$size_bytes") && break
      log "waiting for the data volume to be attached ($attempt/60)"
      sleep 5
    done
    if [ -z "$device" ]; then
      log "no blank $size_bytes-byte data volume appeared; see lsblk"
      exit 1
    fi
    mkfs.ext4 -q -L ${DATA_VOLUME_LABEL} "$device"
  fi
  mkdir -p "$mount_path"
  grep -q '^LABEL=${DATA_VOLUME_LABEL} ' /etc/fstab ||
    echo "LABEL=${DATA_VOLUME_LABEL} $mount_path ext4 defaults,noatime,nofail 0 2" >> /etc/fstab
  mountpoint -q "$mount_path" || mount "$mount_path"
}

# Prints a Secrets Manager secret's JSON document. Retries: a new instance profile can take a
# minute to be usable.
read_secret() {
  local secret_id=$1 region json="" attempt
  region=$(metadata placement/region)
  for attempt in $(seq 1 30); do
    json=$(aws secretsmanager get-secret-value --region "$region" --secret-id "$secret_id" \
      --query SecretString --output text) && break
    log "waiting for secret $secret_id ($attempt/30)"
    sleep 10
  done
  if [ -z "$json" ]; then
    log "cannot read secret $secret_id"
    exit 1
  fi
  printf '%s' "$json"
}

# Writes KEY=value lines from a secret into a 0600 environment file.
fetch_secret() {
  local secret_id=$1 file=$2 owner=$3 json
  shift 3
  json=$(read_secret "$secret_id")
  (
    umask 077
    printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
document = json.load(sys.stdin)
for pair in sys.argv[1:]:
    variable, key = pair.split("=", 1)
    print(variable + "=" + document[key])
' "$@" > "$file.tmp"
  )
  chown "$owner" "$file.tmp"
  mv "$file.tmp" "$file"
}

# Writes one value of a secret (a PEM key or certificate) into a 0600 file.
fetch_secret_file() {
  local secret_id=$1 key=$2 file=$3 owner=$4 json
  json=$(read_secret "$secret_id")
  (
    umask 077
    printf '%s' "$json" | /usr/bin/python3 -c '
import json, sys
sys.stdout.write(json.load(sys.stdin)[sys.argv[1]])
' "$key" > "$file.tmp"
  )
  chown "$owner" "$file.tmp"
  mv "$file.tmp" "$file"
}`;

/**
 * The first-boot script of a node: data volume, directories, secrets, then the services.
 * Idempotent, so a re-run (or a replaced instance inheriting the volume) is safe.
 */
export function renderBootScript(plan: NodePlan, secretStoreName: (name: string) => string): string {
  const steps: string[] = [];
  if (plan.dataVolume) {
    steps.push(`prepare_data_volume ${quote(plan.dataVolume.mountPath)} ${plan.dataVolume.sizeGiB * 1024 ** 3}`);
  }
  for (const dir of plan.directories) {
    const [user, group] = dir.owner.split(':');
    steps.push(`install -d -m ${dir.mode} -o ${user} -g ${group} ${quote(dir.path)}`);
  }
  for (const secret of plan.secrets) {
    const pairs = Object.entries(secret.variables).map(([variable, key]) => quote(`${variable}=${key}`));
    steps.push(`fetch_secret ${quote(secretStoreName(secret.name))} ${quote(secret.environmentFile)} ${secret.owner} ${pairs.join(' ')}`);
  }
  for (const file of plan.secretFiles ?? []) {
    steps.push(`fetch_secret_file ${quote(secretStoreName(file.secret))} ${quote(file.key)} ${quote(file.path)} ${file.owner}`);
  }
  if (plan.replacesServices.length > 0) {
    steps.push(`# Debian's own units for what our services replace must never run beside them.`);
    // One at a time: systemctl refuses the whole list when one unit is unknown.
    for (const unit of plan.replacesServices) steps.push(`systemctl disable --now ${unit}.service || true`);
  }
  const units = plan.services.map((s) => `${s.name}.service`).join(' ');
  steps.push('systemctl daemon-reload');
  steps.push(`systemctl enable ${units}`);
  steps.push(`# --no-block: systemd orders the start and restarts a unit that waits too long for its peers.`);
  steps.push(`systemctl start --no-block ${units}`);
  const timers = (plan.jobs ?? []).map((job) => `${job.name}.timer`);
  if (timers.length > 0) {
    steps.push('# Scheduled jobs: each decides when it fires whether this node should act (leader or replica).');
    steps.push(`systemctl enable --now ${timers.join(' ')}`);
  }
  return [
    '#!/bin/bash',
    `# Generated by cdktf-postgres-ha for node ${plan.name}. cloud-init runs it once at first boot;`,
    '# running it again is safe.',
    'set -euo pipefail',
    '',
    BOOT_FUNCTIONS,
    '',
    'main() {',
    ...steps.map((step) => `  ${step}`),
    `  log "node ${plan.name} is set up"`,
    '}',
    '',
    'main "$@"',
    '',
  ].join('\n');
}
