#!/bin/sh
# Installs, as root on Debian bookworm, everything that building, the demo
# and the tests need (for the sanitizer run gcc's ASan and UBSan runtimes
# and llvm-symbolizer for the reports), and creates the unprivileged user
# that the private Dovecot and the Pigeonhole testsuite run mail as.
# Idempotent.
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "$0: run as root (it uses apt-get and useradd)" >&2
	exit 1
fi

packages="
	build-essential autoconf automake libtool pkg-config dpkg-dev
	dovecot-core dovecot-dev dovecot-lmtpd dovecot-imapd dovecot-sieve
	dovecot-managesieved dovecot-submissiond dovecot-pgsql postgresql
	libldns-dev ldnsutils libgmime-3.0-dev libpsl-dev publicsuffix
	libidn2-dev clang libclang-rt-14-dev
	libasan8 libubsan1 llvm
	dnsmasq-base postfix swaks openssl opendkim opendkim-tools
	util-linux mount
	python3 python3-pytest python3-aiosmtpd python3-dkim python3-dnspython
	python3-spf python3-authheaders python3-publicsuffix2
	debhelper dh-autoreconf fakeroot lintian debootstrap zstd git
	groff-base mandoc strace
"

missing=""
for pkg in $packages; do
	if ! dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null |
	     grep -q "ok installed"; then
		missing="$missing $pkg"
	fi
done

if [ -n "$missing" ]; then
	echo "Installing:$missing"
	# No system mail server on port 25, no questions: the tests run
	# private Postfix and OpenDKIM instances of their own on loopback
	# ports (sieve-tests/integration/postfix_stack.py), besides postfix's
	# smtp-sink and smtp-source.
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing
fi

if ! id vsmlist-test >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin \
		vsmlist-test
fi
