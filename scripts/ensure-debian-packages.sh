#!/usr/bin/env bash
# Installs what the tests need on this machine, only when something is missing; safe to run again.
# The node programs (PostgreSQL 17, Patroni 4, etcd, HAProxy, pgBackRest, PgBouncer, the exporters,
# Prometheus) do not come from here: they run from the node runtime root, Debian 13, which
# `pgha local runtime` builds with debootstrap (npm test runs it next). This machine needs
# debootstrap for that, and the validators that check node files from outside a node.
set -euo pipefail

packages=(debootstrap shellcheck cloud-init systemd openssl util-linux)
commands=(/usr/sbin/debootstrap /usr/bin/shellcheck /usr/bin/cloud-init /usr/bin/systemd-analyze /usr/bin/openssl /usr/bin/unshare)

missing=()
for command in "${commands[@]}"; do
  [ -x "$command" ] || missing+=("$command")
done
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

# A package's postinst must not start a service on this machine.
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
