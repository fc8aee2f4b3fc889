#!/usr/bin/env bash
# Installs the Debian 12 packages the tests run for real (PostgreSQL, Patroni, etcd, HAProxy,
# pgBackRest, Prometheus and its exporters, and the validators), only when something is missing. Safe to run again; changes
# nothing when all is there.
set -euo pipefail

packages=(postgresql-15 patroni python3-psycopg2 etcd-server etcd-client haproxy pgbackrest prometheus
  prometheus-postgres-exporter prometheus-node-exporter shellcheck cloud-init systemd pgbouncer)
commands=(/usr/lib/postgresql/15/bin/postgres /usr/bin/patroni /usr/bin/etcd /usr/bin/etcdctl /usr/sbin/haproxy
  /usr/bin/pgbackrest /usr/bin/prometheus /usr/bin/promtool /usr/bin/prometheus-postgres-exporter
  /usr/bin/prometheus-node-exporter /usr/bin/shellcheck /usr/bin/cloud-init /usr/bin/systemd-analyze /usr/sbin/pgbouncer)

missing=()
for command in "${commands[@]}"; do
  [ -x "$command" ] || missing+=("$command")
done
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || missing+=(python3-psycopg2)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "ensure-debian-packages: missing ${missing[*]}; installing ${packages[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=PATH bash "$0" "$@"
  fi
  echo "ensure-debian-packages: run as root (or install sudo): apt-get install ${packages[*]}" >&2
  exit 1
fi

# Debian's postgresql package would create and start a "main" cluster on port 5432, and the other
# packages would start their default services: the tests run their own instances, so prevent both.
mkdir -p /etc/postgresql-common/createcluster.d
printf 'create_main_cluster = false\n' > /etc/postgresql-common/createcluster.d/pgha-tests.conf
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  created_policy=true
fi
cleanup() { if [ "$created_policy" = true ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "ensure-debian-packages: installed" >&2
