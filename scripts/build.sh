#!/bin/sh
# Configures and builds the plugin in the source tree against the installed
# Dovecot and Pigeonhole headers, warnings shown. Re-running rebuilds only
# what changed.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	./autogen.sh
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
	./configure --with-dovecot=/usr/lib/dovecot \
		--with-pigeonhole=/usr/include/dovecot/sieve
fi
make -j"$(nproc)"
# The unit tests are built here so that the test run only runs them
make -j"$(nproc)" check TESTS= >/dev/null
