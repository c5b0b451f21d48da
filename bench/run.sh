#!/bin/sh
# The fan-out benchmark (doc/fanout.md): one 4 KB post to lists of 1,000,
# 10,000 and 100,000 members through vsmlist, a raw pipelined client
# (bench/pipelined_client.c), stock mlmmj in group mode, Pigeonhole's
# redirect and postfix's smtp-source, all against smtp-sink on loopback;
# prints one table and checks the targets (exit 1 if one is missed). Not
# part of the test suite. Run as root; extra arguments go to
# bench/fanout_bench.py (e.g. --sizes 1000 10000, --repeat 5).
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The baselines: mlmmj, and GNU time for their peak RSS
missing=""
for pkg in mlmmj time; do
	if ! dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null |
	     grep -q "ok installed"; then
		missing="$missing $pkg"
	fi
done
if [ -n "$missing" ]; then
	echo "Installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing
fi
scripts/build.sh >/dev/null

exec /usr/bin/python3 bench/fanout_bench.py "$@"
