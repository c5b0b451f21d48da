#!/bin/bash
# Follows the README on a fresh Debian bookworm: a debootstrap minbase root
# with only git added (what a clean clone needs), a clean clone of this
# repository's HEAD in it, and the README's set-up commands run in it as
# root through chroot: the demo, then the tests (or the command given).
# It shows that scripts/install-deps.sh installs everything they need.
# Not part of the test suite (it downloads and installs a whole system);
# needs the Debian mirror. Run as root:
#
#   scripts/fresh-machine-check.sh DIR                  # demo, then all tests
#   scripts/fresh-machine-check.sh DIR scripts/demo.sh  # one command
#
# A new DIR gets a new root; it is left for inspection (remove it with
# sieve-tests/package/make-root.sh --remove DIR). Given again, the same
# root runs the commands once more on a fresh clone of HEAD (what the
# first run installed stays).
set -euo pipefail

SUITE=${VSMLIST_DEBIAN_SUITE:-bookworm}
MIRROR=${VSMLIST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ $# -lt 1 ]; then
	echo "usage: $0 DIR [COMMAND...]" >&2
	exit 64
fi
root=$(readlink -f "$1")
shift
[ $# -gt 0 ] || set -- sh -c "scripts/demo.sh && scripts/test.sh"

if [ ! -e "$root" ]; then
	if ! command -v debootstrap >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
	fi
	debootstrap --variant=minbase --include=git,ca-certificates \
		"$SUITE" "$root" "$MIRROR" >"$root.debootstrap.log" 2>&1 ||
		{ tail -n 20 "$root.debootstrap.log" >&2; exit 1; }
	cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES
	cp /etc/resolv.conf "$root/etc/resolv.conf"
fi
rm -rf "$root/root/vsmlist"
git clone -q "$repo" "$root/root/vsmlist"

cleanup() {
	for mnt in dev/pts dev/shm dev sys proc; do
		mountpoint -q "$root/$mnt" && umount -l "$root/$mnt"
	done
	umount -l "$root"
}
trap cleanup EXIT
# The root a mount point of its own, as on a machine (unshare(1) changes
# the propagation of "/", which a plain directory has none of)
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666
mount -t tmpfs tmpfs "$root/dev/shm"

# Nothing of the caller's environment; the commands as the README gives
# them, from the clone
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LC_ALL=C.UTF-8 TERM=dumb \
	sh -c 'cd /root/vsmlist && exec "$@"' sh "$@"
