#!/bin/sh
# The member lookup benchmark (doc/fanout.md, "The member test"): a file
# store of 100,000 members read once, then a million `member` lookups by
# its index, beside a scan of the members (the baseline) in the same run.
# Not part of the test suite. Extra arguments: [members [lookups]].
set -eu
cd "$(dirname "$0")/.."

scripts/build.sh >/dev/null
make -s -C src bench-vsmlist-members
exec src/bench-vsmlist-members "$@"
