#!/bin/bash
# run-svtests.sh [-v] [file.svtest ...]
#
# Runs Pigeonhole testsuite scripts (*.svtest) with the vsmlist plugin loaded.
# Without arguments: every sieve-tests/*.svtest of the repository.
#
#   * the testsuite binary comes from scripts/build-testsuite.sh (cached in
#     $VSMLIST_CACHE/testsuite, default /var/cache/vsmlist);
#   * the plugin is $VSMLIST_BUILD_DIR/src/.libs/lib90_sieve_vsmlist_plugin.so
#     (VSMLIST_BUILD_DIR defaults to the repository root), loaded with
#     `-P <dir>/sieve_vsmlist` (sieve_tool splits the argument at the last '/'
#     into sieve_plugin_dir and the plugin name, as sieve_plugins would);
#   * the testsuite enables every registered extension when it gets no -x
#     option, so vnd.vsmlist needs no sieve_global_extensions setting there;
#   * as root, tests run as the unprivileged system user `vsmlist-test`
#     (created if missing): Dovecot refuses some things as root and the tests
#     must not depend on root's privileges.  A non-root caller runs them as
#     itself;
#   * the directory holding the .svtest file and the plugin are copied to a
#     private, world-readable staging directory first, so that the test user
#     can read them wherever the repository lives;
#   * the working directory and HOME of a test are its (staged) directory
#     (the testsuite takes the user's home from $HOME): in
#     sieve-tests/, `file:data/members` and `file:~/data/members` name
#     sieve-tests/data/members, and the default member store
#     `file:~/vsmlist/members` is sieve-tests/vsmlist/members;
#   * a line "# svtest-user: NAME" in a .svtest sets USER=NAME: the testsuite
#     takes its Sieve user name from $USER, and a name with '@' is the user's
#     own address (the default list address).  Otherwise USER is the test
#     account's name;
#   * each file gets $VSMLIST_SVTEST_TIMEOUT seconds (default 120);
#   * VSMLIST_SANITIZE=1: the plugin from build-asan/ (scripts/build-asan.sh)
#     unless VSMLIST_BUILD_DIR is set, the testsuite with libasan preloaded
#     (sieve-tests/integration/sanitize.py gives the variables); a file
#     whose run wrote a sanitizer report fails, the report is printed;
#   * a test may only use files below its own directory (only that directory
#     is staged);
#   * the testsuite runs with -E: its log (errors, warnings, the plugin's
#     debug lines) goes to stdout; a line "# svtest-expect-log: <ERE>" in a
#     .svtest requires a matching log line (checked with grep -E).
#
# Prints PASS/FAIL per file (the testsuite's output for failures; all output
# with -v) and exits non-zero if any file failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
SANITIZE=${VSMLIST_SANITIZE:-0}
if [ "$SANITIZE" = 1 ]; then
	BUILD_DIR=${VSMLIST_BUILD_DIR:-$ROOT/build-asan}
else
	BUILD_DIR=${VSMLIST_BUILD_DIR:-$ROOT}
fi
CACHE=${VSMLIST_CACHE:-/var/cache/vsmlist}
TESTSUITE=$CACHE/testsuite/testsuite
PLUGIN_SO=$BUILD_DIR/src/.libs/lib90_sieve_vsmlist_plugin.so
TEST_USER=${VSMLIST_TEST_USER:-vsmlist-test}

TIMEOUT=${VSMLIST_SVTEST_TIMEOUT:-120}	# seconds per .svtest file
verbose=0
if [ "${1:-}" = "-v" ]; then verbose=1; shift; fi

die() { echo "run-svtests: error: $*" >&2; exit 2; }

"$ROOT/scripts/build-testsuite.sh" || die "could not build the testsuite"
[ -x "$TESTSUITE" ] || die "$TESTSUITE missing"
[ -f "$PLUGIN_SO" ] ||
	die "plugin not built: $PLUGIN_SO missing (run ./autogen.sh && ./configure ... && make; or set VSMLIST_BUILD_DIR)"

if [ $# -gt 0 ]; then
	files=("$@")
else
	shopt -s nullglob
	files=("$ROOT"/sieve-tests/*.svtest)
	shopt -u nullglob
	[ ${#files[@]} -gt 0 ] || die "no sieve-tests/*.svtest found"
fi

RUN_AS=()
if [ "$(id -u)" = 0 ]; then
	if ! id "$TEST_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home "$TEST_USER" ||
			die "cannot create user $TEST_USER"
	fi
	RUN_AS=(runuser -u "$TEST_USER" --)
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/vsmlist-svtests.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$STAGE"' EXIT
chmod 755 "$STAGE"
mkdir -p "$STAGE/plugin"
cp "$PLUGIN_SO" "$STAGE/plugin/" || die "cannot copy $PLUGIN_SO"
chmod -R a+rX "$STAGE/plugin"

# Stage each distinct test directory once.
declare -A staged=()
stage_dir() {	# sets $sdir
	local src=$1
	if [ -z "${staged[$src]:-}" ]; then
		sdir=$STAGE/t${#staged[@]}
		cp -a "$src" "$sdir" || die "cannot stage $src"
		chmod -R a+rX "$sdir"
		staged[$src]=$sdir
	fi
	sdir=${staged[$src]}
}

pass=0
fail=0
failed=()
for f in "${files[@]}"; do
	[ -f "$f" ] || { echo "FAIL: $f (no such file)"; fail=$((fail + 1)); failed+=("$f"); continue; }
	abs=$(readlink -f "$f")
	dir=$(dirname "$abs")
	name=$(basename "$abs")
	stage_dir "$dir"
	mail_user=$(sed -n 's/^# svtest-user: *//p' "$abs" | tail -n 1)
	if [ -z "$mail_user" ]; then
		if [ ${#RUN_AS[@]} -gt 0 ]; then mail_user=$TEST_USER; else mail_user=$(id -un); fi
	fi
	san_env=()
	if [ "$SANITIZE" = 1 ]; then
		reports=$(mktemp -d "$STAGE/sanitizer.XXXXXX")
		chmod 1777 "$reports"
		mapfile -t san_env < <(/usr/bin/python3 \
			"$ROOT/sieve-tests/integration/sanitize.py" host-env "$reports") ||
			die "no sanitizer environment"
	fi
	out=$(cd "$sdir" && timeout -k 5 "$TIMEOUT" \
		"${RUN_AS[@]}" env USER="$mail_user" HOME="$sdir" "${san_env[@]}" \
		"$TESTSUITE" -E -P "$STAGE/plugin/sieve_vsmlist" "$name" 2>&1)
	rc=$?
	if [ "$SANITIZE" = 1 ] && [ -n "$(ls -A "$reports")" ]; then
		out+=$'\n'$(for r in "$reports"/*; do echo "----- $(basename "$r") -----"; cat "$r"; done)
		sanitizer_failed=1
	else
		sanitizer_failed=0
	fi
	rel=${abs#"$ROOT"/}
	# Directives: lines "# svtest-expect-log: <ERE>" in the .svtest require
	# a matching line in the testsuite's log output (-E), for what a script
	# cannot observe itself (e.g. how many SMTP transactions were made).
	why=""
	if [ $sanitizer_failed = 1 ]; then
		why="sanitizer report (exit $rc)"
	elif [ $rc -eq 124 ]; then
		why="timed out after ${TIMEOUT}s"
	elif [ $rc -ne 0 ]; then
		why="exit $rc"
	else
		while IFS= read -r re; do
			[ -n "$re" ] || continue
			if ! grep -Eq -- "$re" <<<"$out"; then
				why="${why:+$why; }no log line matches /$re/"
			fi
		done < <(sed -n 's/^# svtest-expect-log: *//p' "$abs")
	fi
	if [ -z "$why" ]; then
		echo "PASS: $rel"
		pass=$((pass + 1))
		[ $verbose = 1 ] && printf '%s\n' "$out" | sed 's/^/    /'
	else
		echo "FAIL: $rel ($why)"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=$((fail + 1))
		failed+=("$rel")
	fi
done

echo
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
