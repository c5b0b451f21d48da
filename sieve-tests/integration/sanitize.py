"""The sanitizer mode of the tests (VSMLIST_SANITIZE=1).

The plugin, vsmlist-dmarc, the DNS probe and the unit tests come from
build-asan/ (scripts/build-asan.sh: -fsanitize=address,undefined). The
programs that load the plugin but are not instrumented themselves
(Dovecot's master and its children, doveadm, dovecot-lda, Pigeonhole's
testsuite, sievec) run with the matching libasan in LD_PRELOAD: the ASan
runtime must be the first library of the process. Reports (ASan, UBSan,
LeakSanitizer at process exit) go to files, never to a terminal nobody
reads: <report dir>/<kind>.<program>.<pid>. A test run fails when any
report was written; sieve-tests/conftest.py checks after each test.

Dovecot, Pigeonhole, GMime and GLib are not instrumented, but LeakSanitizer
sees their allocations too: sieve-tests/sanitizer/lsan.supp names the leaks
that are theirs, one comment per entry.
"""

import os
import stat
import subprocess
import time
from typing import Dict, Iterable, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(HERE))

ENABLED = os.environ.get("VSMLIST_SANITIZE") == "1"
BUILD_DIR = os.path.join(REPO_DIR, "build-asan")
SUPPRESSIONS = os.path.join(REPO_DIR, "sieve-tests", "sanitizer", "lsan.supp")
# set by sieve-tests/conftest.py: where the reports of a test session
# are collected
SESSION_DIR_ENV = "VSMLIST_SANITIZER_DIR"
SYMBOLIZER = "/usr/bin/llvm-symbolizer"
# the report directories of the stacks started in this process (vsmstack
# adds them; a stack removes its directory on stop when it is empty)
REPORT_DIRS = set()

# A program that reads a Dovecot configuration (-c) runs itself again
# through doveconf, which passes on only the variables named here
IMPORT_ENVIRONMENT = ("import_environment = $import_environment LD_PRELOAD "
                      "ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS")

_runtime: Optional[str] = None


def runtime() -> str:
    """The ASan runtime of the compiler that built build-asan/ (gcc)."""
    global _runtime
    if _runtime is None:
        path = subprocess.run(["gcc", "-print-file-name=libasan.so"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
        _runtime = os.path.realpath(path)
        if not os.path.isfile(_runtime):
            raise RuntimeError(f"libasan not found (gcc says {path!r})")
    return _runtime


def make_report_dir(path: str) -> str:
    """A directory every process can write its report into, whatever user
    it runs as (the mail user, dovecot, root): sticky and world-writable,
    like /tmp."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o1777)
    return path


def options(report_dir: str,
            asan_options: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS writing into report_dir.

    fast_unwind_on_malloc=0: Dovecot's libraries are built without frame
    pointers; the frame-pointer unwinder would stop in libdovecot before
    reaching the plugin's frames (and the suppressions could not tell
    Dovecot's own leaks from ours). The symbolizer is named because
    Dovecot clears PATH in its children. asan_options: more of them, or
    other values (later ones win)."""
    common = ["log_exe_name=1", f"external_symbolizer_path={SYMBOLIZER}"]
    asan = [f"log_path={report_dir}/asan", "detect_leaks=1",
            "fast_unwind_on_malloc=0", "malloc_context_size=40"] + common
    asan += [f"{k}={v}" for k, v in (asan_options or {}).items()]
    ubsan = [f"log_path={report_dir}/ubsan", "print_stacktrace=1",
             "halt_on_error=0"] + common
    lsan = [f"suppressions={SUPPRESSIONS}", "print_suppressions=0"]
    return {"ASAN_OPTIONS": ":".join(asan), "UBSAN_OPTIONS": ":".join(ubsan),
            "LSAN_OPTIONS": ":".join(lsan)}


def host_env(report_dir: Optional[str] = None,
             asan_options: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Variables for an uninstrumented program that loads the plugin:
    the preload and the options (report_dir: the session's by default)."""
    if report_dir is None:
        report_dir = session_dir()
    env = options(report_dir, asan_options)
    env["LD_PRELOAD"] = runtime()
    return env


def session_dir() -> str:
    path = os.environ.get(SESSION_DIR_ENV)
    if not path:
        raise RuntimeError(f"{SESSION_DIR_ENV} not set (sieve-tests/conftest.py sets it)")
    return path


def reports(report_dir: str) -> List[str]:
    """The report files in report_dir, oldest first."""
    if not os.path.isdir(report_dir):
        return []
    paths = [os.path.join(report_dir, n) for n in os.listdir(report_dir)
             if n.startswith(("asan.", "ubsan."))]
    return sorted((p for p in paths if stat.S_ISREG(os.stat(p).st_mode)),
                  key=lambda p: (os.path.getmtime(p), p))


def describe(paths: Iterable[str], max_lines: int = 80) -> str:
    """The reports' text, each cut to max_lines."""
    out = []
    for p in paths:
        with open(p, errors="replace") as f:
            lines = f.read().splitlines()
        cut = lines[:max_lines]
        if len(lines) > max_lines:
            cut.append(f"... {len(lines) - max_lines} more lines in {p}")
        out.append(f"----- {p} -----\n" + "\n".join(cut))
    return "\n".join(out)


def descendants(pid: int) -> List[int]:
    """The PIDs of pid's children, their children and so on (Linux:
    /proc/<pid>/task/<tid>/children)."""
    found: List[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        task_dir = f"/proc/{parent}/task"
        try:
            tids = os.listdir(task_dir)
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                with open(f"{task_dir}/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def wait_gone(pids: Iterable[int], timeout: float = 60.0) -> List[int]:
    """Wait until none of pids exists any more (a process writes its leak
    report while it exits); returns those still there after timeout."""
    left = list(pids)
    deadline = time.monotonic() + timeout
    while left:
        left = [p for p in left if os.path.exists(f"/proc/{p}")
                and not _is_zombie(p)]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return left


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


if __name__ == "__main__":
    # For scripts/run-svtests.sh: `sanitize.py host-env DIR` prints the
    # variables of host_env(DIR), one NAME=VALUE a line
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "host-env":
        sys.exit(f"usage: {sys.argv[0]} host-env REPORT_DIR")
    for name, value in host_env(sys.argv[2]).items():
        print(f"{name}={value}")
