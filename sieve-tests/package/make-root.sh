#!/bin/bash
# make-root.sh DEB DIR: unpacks into the empty directory DIR a clean Debian
# root (debootstrap minbase) with Dovecot's core, LMTP and Sieve packages
# and the dependencies of the package DEB installed, DEB itself not: the
# package test installs it there with apt and runs Dovecot in it.
#
# The root is built once and cached as a tarball:
#   $VSMLIST_CACHE/package-root/root.tar.zst   (VSMLIST_CACHE=/var/cache/vsmlist)
# It is built again when it is older than $VSMLIST_ROOT_MAX_AGE_DAYS (7;
# security updates) or was built for other inputs: suite, mirrors, this
# script, or another Depends field of DEB (a new library would otherwise
# need the network at every run). Building takes a few minutes and needs
# the mirror; unpacking a few seconds and no network.
#
# Environment: VSMLIST_DEBIAN_SUITE (bookworm), VSMLIST_DEBIAN_MIRROR
# (http://deb.debian.org/debian), VSMLIST_DEBIAN_SECURITY_MIRROR
# (http://deb.debian.org/debian-security). Run as root.
#
# make-root.sh --remove DIR: removes such a root again, unmounting first
# whatever is mounted below it and never crossing into another file system.
set -euo pipefail

CACHE=${VSMLIST_CACHE:-/var/cache/vsmlist}/package-root
SUITE=${VSMLIST_DEBIAN_SUITE:-bookworm}
MIRROR=${VSMLIST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${VSMLIST_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
MAX_AGE_DAYS=${VSMLIST_ROOT_MAX_AGE_DAYS:-7}
PACKAGES="dovecot-core dovecot-lmtpd dovecot-sieve"
SELF=$(readlink -f "${BASH_SOURCE[0]}")
TARBALL=$CACHE/root.tar.zst
KEYFILE=$CACHE/root.key
LOG=$CACHE/build.log

die() {
	echo "make-root: $*" >&2
	[ -s "$LOG" ] && tail -n 25 "$LOG" | sed 's/^/  | /' >&2
	exit 1
}

# debootstrap mounts /proc and /sys while it runs: a failed run may leave
# them mounted
remove_root() {
	local root mnt
	root=$(readlink -f "$1")
	awk '{ print $2 }' /proc/mounts | { grep -F "$root/" || true; } | sort -r |
		while read -r mnt; do umount -l "$mnt"; done
	rm -rf --one-file-system "$root"
}

if [ $# = 2 ] && [ "$1" = --remove ]; then
	remove_root "$2"
	exit 0
fi
if [ $# != 2 ]; then
	echo "usage: $0 DEB DIR | --remove DIR" >&2
	exit 64
fi
deb=$1
dest=$2

depends=$(dpkg-deb -f "$deb" Depends) || die "$deb is not a package"
key="suite=$SUITE mirror=$MIRROR security=$SECURITY
packages=$PACKAGES
depends=$depends
script=$(sha256sum <"$SELF")"

fresh() {
	[ -f "$TARBALL" ] && [ "$(cat "$KEYFILE" 2>/dev/null)" = "$key" ] &&
		[ -z "$(find "$TARBALL" -mtime +"$MAX_AGE_DAYS")" ]
}

in_root() {
	chroot "$build/root" env DEBIAN_FRONTEND=noninteractive \
		LC_ALL=C.UTF-8 "$@" >>"$LOG" 2>&1
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if ! fresh; then
	build=$(mktemp -d "$CACHE/build.XXXXXX")
	trap 'remove_root "$build"' EXIT
	: >"$LOG"
	debootstrap --variant=minbase "$SUITE" "$build/root" "$MIRROR" \
		>>"$LOG" 2>&1 || die "debootstrap $SUITE $MIRROR failed"
	cat >"$build/root/etc/apt/sources.list" <<-EOF
	deb $MIRROR $SUITE main
	deb $MIRROR $SUITE-updates main
	deb $SECURITY $SUITE-security main
	EOF
	# Package scripts must not start services in the root (the test
	# starts Dovecot itself): invoke-rc.d asks this first
	printf '#!/bin/sh\nexit 101\n' >"$build/root/usr/sbin/policy-rc.d"
	chmod 755 "$build/root/usr/sbin/policy-rc.d"
	in_root apt-get -q update || die "apt-get update in the root failed"
	in_root apt-get -q -y --no-install-recommends install $PACKAGES ||
		die "apt-get install $PACKAGES in the root failed"
	in_root apt-get -q -y --no-install-recommends satisfy "$depends" ||
		die "apt-get satisfy '$depends' in the root failed"
	in_root apt-get clean
	tar --zstd --numeric-owner -C "$build/root" -cf "$build/root.tar.zst" . ||
		die "tar of the root failed"
	mv -f "$build/root.tar.zst" "$TARBALL"
	printf '%s\n' "$key" >"$KEYFILE"
fi

mkdir -p "$dest"
tar --zstd --numeric-owner -xpf "$TARBALL" -C "$dest" ||
	die "unpacking $TARBALL into $dest failed"
