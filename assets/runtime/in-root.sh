#!/bin/sh
# Runs a node's program from the node runtime root (Debian 13) on this machine:
#   unshare --mount --propagation private -- in-root.sh ROOT DIR... -- COMMAND [ARG...]
# In the mount namespace unshare made for it (nothing here is seen outside), it mounts /proc,
# /dev and /sys into ROOT, binds each DIR (the local cluster's directories: node files, data,
# archive) at the same path inside, and execs COMMAND there through chroot: every exec keeps the
# PID, so the PID the runner holds is the program's. ROOT shares this machine's network.
set -eu

die() { echo "in-root: $*" >&2; exit 70; }
[ $# -ge 3 ] || die "usage: in-root.sh ROOT DIR... -- COMMAND [ARG...]"
root=$1
shift
[ -f "$root/.pgha-node-root" ] || die "$root is not a whole node runtime root (no .pgha-node-root): build it with \`pgha local runtime\`"

/usr/bin/mount -t proc proc "$root/proc"
/usr/bin/mount --rbind /dev "$root/dev"
/usr/bin/mount --rbind /sys "$root/sys"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  dir=$1
  shift
  case $dir in
    /*) ;;
    *) die "bind directory \"$dir\" is not absolute" ;;
  esac
  [ -d "$dir" ] || die "bind directory $dir does not exist"
  /usr/bin/mkdir -p "$root$dir"
  /usr/bin/mount --bind "$dir" "$root$dir"
done
[ $# -ge 2 ] || die "no command after --"
shift
exec /usr/sbin/chroot "$root" "$@"
