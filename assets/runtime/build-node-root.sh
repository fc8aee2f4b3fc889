#!/bin/sh
# Builds the node runtime root: Debian 13 ("trixie") made by debootstrap from Debian's archive,
# with the node packages installed and no service started. Usage:
#   build-node-root.sh TARGET PACKAGES_FILE
# Run it under `flock TARGET.lock` (the runner does): the kernel releases that lock when the
# builder dies, so two builds never run at once. It builds in a directory of its own beside TARGET
# and renames it to TARGET only once everything is installed and the manifest
# (TARGET/.pgha-node-root: suite, packages and their versions) is written last, so a TARGET that
# has a manifest is whole. A build that fails removes what it made and keeps its log in
# TARGET.log. Runs as root (debootstrap, chroot, mount).
set -eu

target=${1:?usage: build-node-root.sh TARGET PACKAGES_FILE}
packages_file=${2:?usage: build-node-root.sh TARGET PACKAGES_FILE}
suite=trixie
mirror=${PGHA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log="$target.log"

die() { echo "build-node-root: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root: debootstrap and chroot need it"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
[ -r "$packages_file" ] || die "cannot read the package list $packages_file"
# One name a line; "#" starts a comment (as the runner reads the list).
packages=$(sed 's/#.*//' "$packages_file" | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')
[ -n "$packages" ] || die "$packages_file lists no package"

# Another builder finished while this one waited for the lock.
[ -f "$target/.pgha-node-root" ] && exit 0
# A directory without a manifest is not a root (the runner refuses it): nothing runs from it.
rm -rf "$target"

mkdir -p "$(dirname "$target")"
partial=$(mktemp -d "$target.partial.XXXXXX")
cleanup() { rm -rf "$partial"; }
trap cleanup EXIT
fail() {
  tail -n 20 "$log" >&2
  die "$1 (whole log: $log)"
}

echo "build-node-root: debootstrap $suite into $partial" >&2
debootstrap --variant=minbase "$suite" "$partial" "$mirror" >"$log" 2>&1 || fail "debootstrap failed"

# Debian's postgresql would create and start a "main" cluster, and other packages start their
# services from postinst: the root only holds binaries, so refuse every service start.
mkdir -p "$partial/etc/postgresql-common/createcluster.d"
printf 'create_main_cluster = false\n' >"$partial/etc/postgresql-common/createcluster.d/pgha.conf"
printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
chmod 0755 "$partial/usr/sbin/policy-rc.d"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$partial/etc/hosts"

echo "build-node-root: installing $packages" >&2
# shellcheck disable=SC2086,SC2016 # the package names are words; the inner script expands its own $1
unshare --mount --propagation private -- sh -eu -c '
  root=$1; shift
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  chroot "$root" apt-get clean
' build "$partial" $packages >>"$log" 2>&1 || fail "installing the packages failed"

{
  echo "suite=$suite"
  echo "packages=$packages"
  # shellcheck disable=SC2016 # dpkg-query's own format
  chroot "$partial" dpkg-query -W -f '${Package}=${Version}\n'
} >"$partial/.pgha-node-root.tmp"
mv "$partial/.pgha-node-root.tmp" "$partial/.pgha-node-root"
chmod 0755 "$partial"
mv -T "$partial" "$target"
trap - EXIT
rm -f "$log"
echo "build-node-root: ready: $target" >&2
