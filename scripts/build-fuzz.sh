#!/bin/sh
# Builds the libFuzzer targets (clang, AddressSanitizer) into build-fuzz/:
# the DMARC record parser and the author extraction. Needs clang and
# libclang-rt-14-dev (scripts/install-deps.sh installs them).
set -eu
cd "$(dirname "$0")/.."

out=build-fuzz
mkdir -p "$out"
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
	-DHAVE_CONFIG_H -I/usr/include/dovecot -I$(pwd)/src
	$(pkg-config --cflags libidn2 libpsl)"
libs="-L/usr/lib/dovecot -Wl,-rpath,/usr/lib/dovecot -ldovecot
	$(pkg-config --libs libidn2 libpsl)"

build() {
	target=$1
	shift
	if [ -x "$out/$target" ]; then
		newer=$(find "src/$target.c" "$@" -newer "$out/$target" | head -n 1)
		[ -z "$newer" ] && return 0
	fi
	# shellcheck disable=SC2086
	clang $cflags -o "$out/$target" "src/$target.c" "$@" $libs
}

build fuzz-vsmlist-dmarc-record src/vsmlist-dmarc-record.c
build fuzz-vsmlist-author src/vsmlist-author.c
build fuzz-vsmlist-dsn src/vsmlist-dsn.c src/vsmlist-dsn-fields.c src/vsmlist-verp.c
