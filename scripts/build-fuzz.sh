#!/bin/sh
# Builds the libFuzzer targets (clang, AddressSanitizer) into build-fuzz/:
# every parser that sees outside bytes (DMARC records, authors, DNS
# replies, the DNS cache file, member and state files, delivery reports,
# DKIM tag-lists, progress records, membership requests) and the whole
# post path. Needs clang and libclang-rt-14-dev
# (scripts/install-deps.sh installs them).
set -eu
cd "$(dirname "$0")/.."

out=build-fuzz
mkdir -p "$out"
# -Wno-duplicate-decl-specifier: Dovecot's HASH_TABLE(const char *, ...)
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
	-Wno-duplicate-decl-specifier
	-DHAVE_CONFIG_H -I/usr/include/dovecot -I$(pwd)/src
	$(pkg-config --cflags libidn2 libpsl gmime-3.0)"
libs="-L/usr/lib/dovecot -Wl,-rpath,/usr/lib/dovecot -ldovecot
	$(pkg-config --libs libidn2 libpsl gmime-3.0) -lldns"

# Every target links the whole library as a static archive, so the linker
# picks what each needs: no hand-kept source lists to fall out of date.
lib_sources=$(sed -n '/^libvsmlist_la_SOURCES/,/^[^	]/p' src/Makefile.am |
	grep -o 'vsmlist-[a-z0-9-]*\.c')
mkdir -p "$out/obj"
objs=
changed=
for src in $lib_sources; do
	obj="$out/obj/${src%.c}.o"
	if [ ! -f "$obj" ] || [ -n "$(find "src/$src" src/*.h -newer "$obj" |
		head -n 1)" ]; then
		# shellcheck disable=SC2086
		clang $cflags -c -o "$obj" "src/$src"
		changed=yes
	fi
	objs="$objs $obj"
done
archive="$out/libvsmlist-fuzz.a"
if [ -n "$changed" ] || [ ! -f "$archive" ]; then
	# shellcheck disable=SC2086
	rm -f "$archive" && ar rcs "$archive" $objs
fi

build() {
	target=$1
	if [ -x "$out/$target" ]; then
		newer=$(find "src/$target.c" "$archive" -newer "$out/$target" |
			head -n 1)
		[ -z "$newer" ] && return 0
	fi
	# shellcheck disable=SC2086
	clang $cflags -o "$out/$target" "src/$target.c" "$archive" $libs
}

build fuzz-vsmlist-dmarc-record
build fuzz-vsmlist-author
build fuzz-vsmlist-dns-reply
build fuzz-vsmlist-dns-cache
build fuzz-vsmlist-store-file
build fuzz-vsmlist-dsn
build fuzz-vsmlist-dkim
build fuzz-vsmlist-progress
build fuzz-vsmlist-membership
build fuzz-vsmlist-post
