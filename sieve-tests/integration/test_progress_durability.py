"""The progress record's completion write is crash-safe (issue 8, defect
9): the short "complete" form is written to a new .tmp file, opened with
O_CREAT|O_EXCL|O_NOFOLLOW (a link planted there is not followed), synced
with fdatasync() and closed before it is renamed over the record. A crash
leaves either the old record or the whole new one, never an empty file
(a rename's new name can reach the disk before the data it names).

The system calls of the progress unit test (src/test-vsmlist-progress,
which completes several records) are traced with strace and every
rename of a record's .tmp is checked against that order.
"""

import os
import re
import subprocess

import vsmstack

UNIT_TEST = os.path.join(vsmstack.REPO_DIR, "src", "test-vsmlist-progress")
SYSCALL = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")


def traced_calls(tmpdir):
    trace = os.path.join(tmpdir, "strace.out")
    p = subprocess.run(["strace", "-f", "-qq", "-o", trace,
                        "-e", "trace=openat,fdatasync,fsync,close,rename",
                        UNIT_TEST], capture_output=True, timeout=120)
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0, out
    assert re.search(r"^0 / \d+ tests failed", out, re.M), out
    calls = []
    with open(trace) as f:
        for line in f:
            m = SYSCALL.match(line)
            if m:
                calls.append((m.group(1), m.group(2), int(m.group(3))))
    return calls


def test_completion_write_is_synced_before_rename(tmp_path):
    calls = traced_calls(str(tmp_path))
    completions = 0
    for i, (name, args, ret) in enumerate(calls):
        if name != "rename" or ret != 0:
            continue
        m = re.match(r'"([^"]*/progress/[^"]*)\.tmp", "([^"]*)"', args)
        if not m:
            continue
        tmp = m.group(1) + ".tmp"
        assert m.group(2) == m.group(1), args
        # the last open of that .tmp before the rename
        opens = [j for j in range(i) if calls[j][0] == "openat" and
                 f'"{tmp}"' in calls[j][1]]
        assert opens, f"rename of {tmp} that was never opened"
        j = opens[-1]
        flags = calls[j][1]
        for flag in ("O_CREAT", "O_EXCL", "O_NOFOLLOW"):
            assert flag in flags, f"{tmp} opened without {flag}: {flags}"
        fd = calls[j][2]
        assert fd >= 0
        between = calls[j + 1:i]
        synced = [k for k, c in enumerate(between)
                  if c[0] in ("fdatasync", "fsync") and c[1] == str(fd) and c[2] == 0]
        closed = [k for k, c in enumerate(between)
                  if c[0] == "close" and c[1] == str(fd) and c[2] == 0]
        assert synced, f"{tmp} renamed without fdatasync: {between}"
        assert closed and synced[0] < closed[0], \
            f"{tmp}: not synced before close: {between}"
        completions += 1
    # the unit test completes several records
    assert completions >= 3, calls
