#!/bin/sh
# Builds the libFuzzer targets (clang, AddressSanitizer) into build-fuzz/:
# the DMARC record parser, the author extraction, the DNS reply parser and
# the DNS cache file reader. Needs clang and libclang-rt-14-dev
# (scripts/install-deps.sh installs them).
set -eu
cd "$(dirname "$0")/.."

out=build-fuzz
mkdir -p "$out"
# -Wno-duplicate-decl-specifier: Dovecot's HASH_TABLE(const char *, ...)
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
	-Wno-duplicate-decl-specifier
	-DHAVE_CONFIG_H -I/usr/include/dovecot -I$(pwd)/src
	$(pkg-config --cflags libidn2 libpsl)"
libs="-L/usr/lib/dovecot -Wl,-rpath,/usr/lib/dovecot -ldovecot
	$(pkg-config --libs libidn2 libpsl) -lldns"

build() {
	target=$1
	shift
	if [ -x "$out/$target" ]; then
		newer=$(find "src/$target.c" "$@" src/*.h -newer "$out/$target" |
			head -n 1)
		[ -z "$newer" ] && return 0
	fi
	# shellcheck disable=SC2086
	clang $cflags -o "$out/$target" "src/$target.c" "$@" $libs
}

build fuzz-vsmlist-dmarc-record src/vsmlist-dmarc-record.c
build fuzz-vsmlist-author src/vsmlist-author.c
build fuzz-vsmlist-dns-reply src/vsmlist-dns-reply.c
build fuzz-vsmlist-dns-cache src/vsmlist-dns-cache.c \
	src/vsmlist-dmarc-record.c
build fuzz-vsmlist-store-file src/vsmlist-store-parse.c \
	src/vsmlist-store.c src/vsmlist-store-file.c src/vsmlist-rewrite.c
build fuzz-vsmlist-dsn src/vsmlist-dsn.c src/vsmlist-dsn-fields.c src/vsmlist-verp.c
