#!/bin/sh
# The demo: installs what it needs (as root), builds the plugin, then starts
# a private Dovecot, dnsmasq and an SMTP relay stand-in on loopback, creates
# a list, posts through LMTP, shows what each member received and stops
# everything it started.
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh >/dev/null
exec /usr/bin/python3 scripts/demo.py "$@"
