#!/bin/bash
# build-deb.sh: builds the Debian package (debian/) with
# `dpkg-buildpackage -us -uc -b` from a copy of the working tree (tracked
# and new files, no build output; see source_files), runs lintian on the
# .deb and the .changes, and prints the directory holding the results:
#
#   $VSMLIST_CACHE/deb/<key>/   (VSMLIST_CACHE=/var/cache/vsmlist)
#       dovecot-sieve-vsmlist_<version>_<arch>.deb, .changes, .buildinfo,
#       the -dbgsym .deb, build.log, lintian.txt (its report), lintian.rc
#
# <key> is a hash of the copied files and of the versions of the build
# tools and build dependencies, so an unchanged tree reuses the last build.
# The three newest builds are kept. Run as root (the cache is shared).
set -euo pipefail

CACHE=${VSMLIST_CACHE:-/var/cache/vsmlist}
DEBS=$CACHE/deb
cd "$(dirname "$0")/.."

# The package is built from everything but the tests, benchmarks and
# scripts, which it does not use: a change there reuses the last build. Left
# out of the copy too, so that a build needing them fails instead of being
# reused stale. The unit tests' data (the delivery report samples that
# make check reads) is part of the build.
source_files() {
	{ git ls-files -z --cached --others --exclude-standard -- . \
		':!sieve-tests' ':!bench' ':!scripts' ':!.ci'
	  git ls-files -z --cached --others --exclude-standard -- \
		sieve-tests/dsn; } |
		while IFS= read -r -d '' f; do
			# a tracked file deleted in the working tree is not copied
			if [ -e "$f" ]; then printf '%s\0' "$f"; fi
		done | sort -z
}

tool_versions() {
	dpkg-query -W -f '${Package} ${Version}\n' dpkg-dev debhelper \
		dh-autoreconf lintian dovecot-dev libldns-dev libgmime-3.0-dev \
		libpsl-dev libidn2-dev gcc
}

key=$({ source_files | xargs -0 sha256sum; tool_versions; } |
	sha256sum | cut -c1-16)
out=$DEBS/$key

mkdir -p "$DEBS"
exec 9>"$DEBS/.lock"
flock 9

if [ ! -f "$out/lintian.rc" ]; then
	work=$(mktemp -d "$DEBS/build.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	mkdir "$work/src"
	source_files | tar --null -T - -cf - | tar -xf - -C "$work/src"
	if ! (cd "$work/src" &&
	      dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$work/build.log" 2>&1; then
		echo "build-deb: dpkg-buildpackage failed; the end of its log:" >&2
		tail -n 40 "$work/build.log" >&2
		exit 1
	fi
	rc=0
	# the .changes file, and every .deb it lists
	lintian "$work"/*.changes >"$work/lintian.txt" 2>"$work/lintian.err" ||
		rc=$?
	echo "$rc" >"$work/lintian.rc"
	rm -rf "$work/src"
	mv "$work" "$out"
	trap - EXIT
	chmod 755 "$out"
	# keep the three newest builds
	ls -1dt "$DEBS"/*/ | grep -v '/build\.' | tail -n +4 |
		xargs -r rm -rf
fi
echo "$out"
