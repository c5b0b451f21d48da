#!/bin/sh
# Builds the plugin, vsmlist-dmarc, the DNS probe and the unit tests with
# AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/, for the
# sanitizer run of the tests (VSMLIST_SANITIZE=1, see
# sieve-tests/integration/README.md). The normal build in src/ is untouched.
#
# Not a VPATH build: configure refuses one while the source tree itself is
# configured (scripts/build.sh builds in-tree), and make would take the
# uninstrumented objects it finds through VPATH. build-asan/ is instead a
# tree of symlinks to the sources (so an edit is seen at once and make
# rebuilds only what changed) with its own configure output and objects.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
out=build-asan

# The sources: what git tracks or would track (new files too; the unit
# tests read data below sieve-tests/)
git ls-files --cached --others --exclude-standard | grep -v '^\.' |
while IFS= read -r file; do
	[ -f "$file" ] || continue
	mkdir -p "$out/$(dirname "$file")"
	ln -sfn "$root/$file" "$out/$file"
done
# a source that was removed leaves a dangling link behind
find "$out" -xtype l -delete

cd "$out"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	./autogen.sh
fi
# -O1 keeps the stack traces readable; Dovecot's flags bring -O2, LTO and
# _FORTIFY_SOURCE, which hides overflows from ASan: CFLAGS come after them.
# The reports name src/, not the links here.
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer"
cflags="-g -O1 -fno-lto -U_FORTIFY_SOURCE $sanitize -ffile-prefix-map=$root/$out=$root"
if [ ! -f Makefile ] || [ configure -nt Makefile ] ||
   [ "$(cat .cflags 2>/dev/null)" != "$cflags" ]; then
	./configure --with-dovecot=/usr/lib/dovecot \
		--with-pigeonhole=/usr/include/dovecot/sieve \
		CFLAGS="$cflags" LDFLAGS="$sanitize" >/dev/null
	echo "$cflags" >.cflags
	make clean >/dev/null
fi
make -j"$(nproc)"
make -j"$(nproc)" check TESTS= >/dev/null
