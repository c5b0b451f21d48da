#!/bin/sh
# Runs every test: the C unit tests, the Pigeonhole testsuite cases in
# sieve-tests/*.svtest and the integration tests on a real stack (Dovecot
# LMTP with the plugin, dnsmasq, an SMTP relay stand-in, dkimpy), all
# through pytest; then the same tests once more in the sanitizer mode
# (VSMLIST_SANITIZE=1: build-asan/, ASan, UBSan and LeakSanitizer; the
# fuzz targets are sanitized builds already and run only in the first
# run). Installs what it needs first (as root). Extra arguments go to
# pytest, in both runs (e.g. -k guard). The last line is the summary of
# the sanitizer run; the exit status is non-zero when either run failed.
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
scripts/build-testsuite.sh
scripts/build-fuzz.sh
scripts/build-asan.sh >/dev/null

status=0
/usr/bin/python3 -m pytest -p no:cacheprovider sieve-tests "$@" || status=$?

echo
echo "Sanitizer run (VSMLIST_SANITIZE=1):"
VSMLIST_SANITIZE=1 /usr/bin/python3 -m pytest -p no:cacheprovider sieve-tests \
	--ignore=sieve-tests/test_fuzz.py "$@" || status=$?
exit $status
