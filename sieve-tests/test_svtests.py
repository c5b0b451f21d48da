"""Pigeonhole testsuite cases (sieve-tests/*.svtest) as pytest tests.

Run:  /usr/bin/python3 -m pytest sieve-tests/ -v

One test per .svtest file.  Each runs through scripts/run-svtests.sh, the same
mechanism as the command-line runner: the Pigeonhole `testsuite` program
(built and cached by scripts/build-testsuite.sh, once per session here) with
the plugin loaded by `-P <build dir>/src/.libs/sieve_vsmlist`, as the
unprivileged user vsmlist-test when run as root, with the .svtest's directory
as working and home directory, and the `# svtest-user:` /
`# svtest-expect-log:` directives of the file applied.

Environment:
  VSMLIST_BUILD_DIR  where the plugin was built (src/.libs below it);
                     default: the repository root.
  VSMLIST_CACHE      where the testsuite binary is cached
                     (default /var/cache/vsmlist).
"""

import os
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD_DIR = pathlib.Path(os.environ.get("VSMLIST_BUILD_DIR") or ROOT).resolve()
PLUGIN = BUILD_DIR / "src" / ".libs" / "lib90_sieve_vsmlist_plugin.so"
BUILD_SCRIPT = ROOT / "scripts" / "build-testsuite.sh"
RUN_SCRIPT = ROOT / "scripts" / "run-svtests.sh"
SVTESTS = sorted(HERE.glob("*.svtest"))


def _env():
    env = dict(os.environ)
    env["VSMLIST_BUILD_DIR"] = str(BUILD_DIR)
    return env


@pytest.fixture(scope="session")
def testsuite():
    """Build (or find cached) the testsuite binary; check the plugin exists."""
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], env=_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=1800)
    if proc.returncode != 0:
        pytest.fail("scripts/build-testsuite.sh failed:\n" + proc.stdout,
                    pytrace=False)
    if not PLUGIN.is_file():
        pytest.fail(f"plugin not built: {PLUGIN} is missing (build it with "
                    "./autogen.sh && ./configure ... && make, or set "
                    "VSMLIST_BUILD_DIR)", pytrace=False)
    cache = os.environ.get("VSMLIST_CACHE") or "/var/cache/vsmlist"
    return pathlib.Path(cache) / "testsuite" / "testsuite"


def test_svtests_present():
    assert SVTESTS, "no sieve-tests/*.svtest found"


@pytest.mark.parametrize("svtest", SVTESTS, ids=[p.name for p in SVTESTS])
def test_svtest(testsuite, svtest):
    assert testsuite.is_file()
    proc = subprocess.run(
        ["bash", str(RUN_SCRIPT), "-v", str(svtest)], env=_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300)
    # Shown by pytest for failing tests (and with -rA for all).
    print(proc.stdout)
    assert proc.returncode == 0, (
        f"{svtest.name} failed (exit {proc.returncode}):\n{proc.stdout}")
