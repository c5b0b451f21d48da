#!/bin/sh
# Builds the libFuzzer targets (clang, AddressSanitizer) into build-fuzz/:
# every parser that sees outside bytes (DMARC records, authors, DNS
# replies, the DNS cache file, member and state files, delivery reports,
# DKIM tag-lists, progress records) and the whole post path. Needs clang and libclang-rt-14-dev
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
	src/vsmlist-store.c src/vsmlist-store-file.c src/vsmlist-store-dict.c \
	src/vsmlist-store-dict-io.c src/vsmlist-store-dict-row.c \
	src/vsmlist-store-dict-read.c \
	src/vsmlist-rewrite.c
build fuzz-vsmlist-dsn src/vsmlist-dsn.c src/vsmlist-dsn-fields.c src/vsmlist-verp.c
build fuzz-vsmlist-dkim src/vsmlist-dkim.c
build fuzz-vsmlist-progress src/vsmlist-progress.c
# The post path: everything from the header to the copy
build fuzz-vsmlist-post src/vsmlist-settings.c src/vsmlist-settings-file.c \
	src/vsmlist-members.c \
	src/vsmlist-guard.c src/vsmlist-message.c src/vsmlist-transport.c \
	src/vsmlist-fanout.c src/vsmlist-progress.c src/vsmlist-author.c \
	src/vsmlist-dmarc-record.c src/vsmlist-dmarc.c \
	src/vsmlist-dns-reply.c src/vsmlist-dns.c src/vsmlist-dns-cache.c \
	src/vsmlist-policy.c src/vsmlist-decision.c src/vsmlist-dkim.c \
	src/vsmlist-compose.c src/vsmlist-post.c src/vsmlist-distribute.c \
	src/vsmlist-distribute-outcome.c src/vsmlist-store.c \
	src/vsmlist-store-parse.c src/vsmlist-store-file.c \
	src/vsmlist-store-dict.c src/vsmlist-store-dict-io.c \
	src/vsmlist-store-dict-row.c src/vsmlist-store-dict-read.c \
	src/vsmlist-rewrite.c
