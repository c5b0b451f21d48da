"""Runs the C unit tests (src/test-*, Dovecot's test-common.h) one pytest
test per program, so that one runner reports every kind of test."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("VSMLIST_BUILD_DIR", ROOT))
# test-*-probe.c are helpers for the integration tests, not unit tests
PROGRAMS = sorted(p.name for p in (ROOT / "src").glob("test-vsmlist-*.c")
                  if not p.name.endswith("-probe.c"))


@pytest.mark.parametrize("source", PROGRAMS)
def test_unit_program(source):
    program = BUILD / "src" / source[:-2]
    assert program.exists(), f"{program} not built (run scripts/build.sh)"
    proc = subprocess.run([str(program)], capture_output=True, text=True,
                          timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    # test-common.h closes with "<failed> / <total> tests failed"
    failed, _, total = proc.stdout.rstrip().splitlines()[-1].split()[:3]
    assert failed == "0" and int(total) > 0, output
