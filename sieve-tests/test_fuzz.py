"""Runs each libFuzzer target briefly on a copy of its seed corpus
(sieve-tests/fuzz/<target>/): the record parser, the author extraction,
the DNS reply parser and the DNS cache file reader must survive arbitrary
input with their invariants (asserted inside the targets) intact. A longer run: build-fuzz/<target> -max_total_time=600 DIR"""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("VSMLIST_FUZZ_SECONDS", "10"))
TARGETS = {"dmarc-record": "fuzz-vsmlist-dmarc-record",
           "author": "fuzz-vsmlist-author",
           "dns-reply": "fuzz-vsmlist-dns-reply",
           "dns-cache": "fuzz-vsmlist-dns-cache",
           "store-file": "fuzz-vsmlist-store-file",
           "dsn": "fuzz-vsmlist-dsn",
           "dkim": "fuzz-vsmlist-dkim",
           "progress": "fuzz-vsmlist-progress",
           "membership": "fuzz-vsmlist-membership",
           "post": "fuzz-vsmlist-post"}


@pytest.fixture(scope="session")
def fuzz_build():
    proc = subprocess.run([str(ROOT / "scripts" / "build-fuzz.sh")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ROOT / "build-fuzz"


@pytest.mark.parametrize("corpus", sorted(TARGETS))
def test_fuzz_target(fuzz_build, corpus):
    seeds = ROOT / "sieve-tests" / "fuzz" / corpus
    assert any(seeds.iterdir()), f"empty seed corpus {seeds}"
    work = tempfile.mkdtemp(prefix="vsmlist-fuzz-")
    try:
        for seed in seeds.iterdir():
            shutil.copy(seed, work)
        proc = subprocess.run(
            [str(fuzz_build / TARGETS[corpus]), f"-max_total_time={SECONDS}",
             "-rss_limit_mb=1024", f"-artifact_prefix={work}/", work],
            capture_output=True, text=True, timeout=SECONDS + 120)
        log = proc.stderr[-4000:]
        assert proc.returncode == 0, log
        assert "Done " in proc.stderr, log
    finally:
        shutil.rmtree(work, ignore_errors=True)
