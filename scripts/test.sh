#!/bin/sh
# Runs every test: the C unit tests, the Pigeonhole testsuite cases in
# sieve-tests/*.svtest and the integration tests on a real stack (Dovecot
# LMTP with the plugin, dnsmasq, an SMTP relay stand-in, dkimpy), all
# through pytest. Installs what it needs first (as root). Extra arguments
# go to pytest (e.g. -k guard).
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
scripts/build-testsuite.sh
scripts/build-fuzz.sh

exec /usr/bin/python3 -m pytest -p no:cacheprovider sieve-tests "$@"
