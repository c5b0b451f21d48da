#!/bin/bash
# build-testsuite.sh: build Pigeonhole's `testsuite` program (not packaged by
# Debian) from Debian's dovecot source package, against the INSTALLED
# Dovecot/Pigeonhole libraries and headers, and cache it.
#
# Result: $VSMLIST_CACHE/testsuite/testsuite   (VSMLIST_CACHE=/var/cache/vsmlist)
#
# Nothing is done when the cached binary is newer than this script and was
# built against the dovecot-dev version installed now.  Otherwise:
#   1. install dpkg-dev (for dpkg-source) and a C compiler if missing (root);
#   2. fetch the source with a PRIVATE apt configuration (own sources.list with
#      a deb-src line for bookworm main, own lists and cache directories; the
#      system's apt configuration is not touched), preferring the exact version
#      of the installed dovecot-dev, else the suite's version (the testsuite
#      sources of the main suite build fine against the newer security
#      release's libraries);
#   3. compile src/testsuite/*.c and src/lib-sieve-tool/sieve-tool.c against
#      /usr/include/dovecot and /usr/include/dovecot/sieve (NOT the tarball's
#      headers: Debian security updates changed structs) with -DHAVE_CONFIG_H
#      so that the installed config.h is used, and link against the installed
#      libdovecot* in /usr/lib/dovecot.
#
# Environment:
#   VSMLIST_CACHE        cache directory (default /var/cache/vsmlist)
#   VSMLIST_DOVECOT_SRC  an already unpacked dovecot source tree to use instead
#                        of downloading (must contain pigeonhole/)
#   VSMLIST_DEBIAN_MIRROR (default http://deb.debian.org/debian)
#   VSMLIST_DEBIAN_SUITE  (default bookworm)
#
# Quiet on success; on failure prints the failing step and the log's tail.
set -euo pipefail

CACHE=${VSMLIST_CACHE:-/var/cache/vsmlist}
OUTDIR=$CACHE/testsuite
BIN=$OUTDIR/testsuite
STAMP=$OUTDIR/dovecot-dev.version
LOG=$CACHE/build-testsuite.log
SELF=$(readlink -f "${BASH_SOURCE[0]}")
MIRROR=${VSMLIST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${VSMLIST_DEBIAN_SUITE:-bookworm}
DC_INC=/usr/include/dovecot
DC_LIB=/usr/lib/dovecot

die() {
	echo "build-testsuite: error: $*" >&2
	if [ -s "$LOG" ]; then
		echo "build-testsuite: last lines of $LOG:" >&2
		tail -n 25 "$LOG" | sed 's/^/  | /' >&2
	fi
	exit 1
}

installed_version() {
	dpkg-query -W -f='${Version}' dovecot-dev 2>/dev/null || true
}

up_to_date() {
	[ -x "$BIN" ] && [ "$BIN" -nt "$SELF" ] &&
		[ "$(cat "$STAMP" 2>/dev/null)" = "$(installed_version)" ]
}

up_to_date && exit 0

# --- prerequisites -----------------------------------------------------------

[ -f "$DC_INC/config.h" ] && [ -f "$DC_INC/sieve/sieve-common.h" ] ||
	die "Dovecot/Pigeonhole headers missing: install dovecot-dev" \
	    "(apt-get install dovecot-dev dovecot-sieve)"
[ -e "$DC_LIB/libdovecot-sieve.so" ] && [ -e "$DC_LIB/libdovecot.so" ] ||
	die "libraries missing in $DC_LIB: install dovecot-core dovecot-sieve"

mkdir -p "$CACHE" 2>/dev/null ||
	die "cannot create cache directory $CACHE (run once as root or set VSMLIST_CACHE)"
chmod 755 "$CACHE" 2>/dev/null || true

# Serialise concurrent builds (e.g. parallel test runs).
exec 9>"$CACHE/.build-testsuite.lock" || die "cannot write to $CACHE"
flock 9
up_to_date && exit 0

: >"$LOG"

apt_install() {
	[ "$(id -u)" = 0 ] || die "missing packages ($*); run this script once as root"
	echo "+ apt-get install $*" >>"$LOG"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "$@" >>"$LOG" 2>&1; then
		# The package lists may be missing on a fresh machine.
		DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOG" 2>&1 ||
			die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "$@" >>"$LOG" 2>&1 ||
			die "apt-get install $* failed"
	fi
}

CC=${CC:-}
if [ -z "$CC" ]; then
	if command -v gcc >/dev/null 2>&1; then CC=gcc
	elif command -v cc >/dev/null 2>&1; then CC=cc
	else apt_install gcc libc6-dev; CC=gcc
	fi
fi

# --- source ------------------------------------------------------------------

find_tree() {
	# $1: directory holding unpacked dovecot-*/ trees (or a tree itself)
	local d
	for d in "$1" "$1"/dovecot-*/; do
		d=${d%/}
		if [ -f "$d/pigeonhole/src/testsuite/testsuite.c" ] &&
		   [ -f "$d/pigeonhole/src/lib-sieve-tool/sieve-tool.c" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

SRCROOT=$CACHE/src
if [ -n "${VSMLIST_DOVECOT_SRC:-}" ]; then
	TREE=$(find_tree "$VSMLIST_DOVECOT_SRC") ||
		die "VSMLIST_DOVECOT_SRC=$VSMLIST_DOVECOT_SRC has no pigeonhole/src/testsuite"
elif ! TREE=$(find_tree "$SRCROOT"); then
	[ "$(id -u)" = 0 ] ||
		die "dovecot source not cached in $SRCROOT; run this script once as root"
	command -v dpkg-source >/dev/null 2>&1 || apt_install dpkg-dev

	APTDIR=$CACHE/apt
	rm -rf "$APTDIR" "$SRCROOT"
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$SRCROOT"
	KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
	if [ -f "$KEYRING" ]; then
		echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTDIR/sources.list"
	else
		echo "deb-src $MIRROR $SUITE main" >"$APTDIR/sources.list"
	fi
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$APTDIR/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$APTDIR/lists"
		-o "Dir::Cache=$APTDIR/cache"
		-q
	)
	echo "+ apt-get update (private sources: $(cat "$APTDIR/sources.list"))" >>"$LOG"
	apt-get "${APT_OPTS[@]}" update >>"$LOG" 2>&1 ||
		die "apt-get update with the private deb-src list failed"

	want=$(installed_version)
	got=""
	if [ -n "$want" ]; then
		echo "+ apt-get source dovecot=$want" >>"$LOG"
		(cd "$SRCROOT" && apt-get "${APT_OPTS[@]}" source "dovecot=$want") >>"$LOG" 2>&1 &&
			got=yes
	fi
	if [ -z "$got" ]; then
		rm -rf "${SRCROOT:?}"/*
		echo "+ apt-get source dovecot (installed $want not available as source)" >>"$LOG"
		(cd "$SRCROOT" && apt-get "${APT_OPTS[@]}" source dovecot) >>"$LOG" 2>&1 ||
			die "apt-get source dovecot failed"
	fi
	TREE=$(find_tree "$SRCROOT") ||
		die "downloaded source has no pigeonhole/src/testsuite/testsuite.c"
	# Keep only pigeonhole/ (sources and its tests, handy for checking the
	# harness) and debian/ of the unpacked tree; drop tarballs and lists.
	rm -f "$SRCROOT"/*.tar.* "$SRCROOT"/*.dsc "$SRCROOT"/*.asc
	find "$TREE" -mindepth 1 -maxdepth 1 ! -name pigeonhole ! -name debian \
		-exec rm -rf {} +
	rm -rf "$APTDIR"
fi
PH=$TREE/pigeonhole

# --- build -------------------------------------------------------------------

BUILD=$(mktemp -d "$CACHE/testsuite-build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT

CFLAGS_TS=(-std=gnu99 -O2 -g -fPIE -DHAVE_CONFIG_H
	-I"$DC_INC" -I"$DC_INC/sieve"
	-I"$PH/src/testsuite" -I"$PH/src/lib-sieve-tool")

echo "+ compiling testsuite from $PH with $CC" >>"$LOG"
srcs=("$PH"/src/testsuite/*.c "$PH/src/lib-sieve-tool/sieve-tool.c")
for src in "${srcs[@]}"; do
	obj=$BUILD/$(basename "$src" .c).o
	echo "$CC ${CFLAGS_TS[*]} -c $src -o $obj" >>"$LOG"
	"$CC" "${CFLAGS_TS[@]}" -c "$src" -o "$obj" >>"$LOG" 2>&1 ||
		die "compiling $(basename "$src") failed"
done

echo "+ linking" >>"$LOG"
"$CC" -pie -rdynamic -o "$BUILD/testsuite" "$BUILD"/*.o \
	-L"$DC_LIB" -Wl,-rpath,"$DC_LIB" \
	-ldovecot-sieve -ldovecot-lda -ldovecot-storage -ldovecot >>"$LOG" 2>&1 ||
	die "linking testsuite failed"

"$BUILD/testsuite" -h >>"$LOG" 2>&1 || true
if ! grep -q "Usage: testsuite" "$LOG"; then
	die "built testsuite does not start"
fi

mkdir -p "$OUTDIR"
chmod 755 "$OUTDIR"
install -m 755 "$BUILD/testsuite" "$BIN.new"
mv -f "$BIN.new" "$BIN"
installed_version >"$STAMP"
echo "$PH" >"$OUTDIR/source-tree"
exit 0
