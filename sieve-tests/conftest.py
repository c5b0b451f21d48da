"""The sanitizer mode of the whole test suite (VSMLIST_SANITIZE=1).

    scripts/build-asan.sh
    VSMLIST_SANITIZE=1 /usr/bin/python3 -m pytest -p no:cacheprovider sieve-tests

The tests take the plugin and the programs from build-asan/ (unless
VSMLIST_BUILD_DIR says otherwise), the stacks preload libasan into Dovecot
(integration/sanitize.py) and every report is a failure: after each test
the report directories (the session's, for the unit tests and the tools,
and each stack's <workdir>/sanitizer/) are read, and a new report fails
the test's teardown with the report's text. A leak shows when a process
exits: Dovecot's processes are reused, so their leaks come out when the
stack stops, in the teardown of the last test that used the stack; the
message names every test the stack served. A report that comes too late
for any test fails the session. Reports stay on disk (the session's
directory is printed; a stack keeps its work directory when it has one).
"""

import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))

import sanitize  # noqa: E402


class ReportWatch:
    """The report files seen so far and the tests each stack served."""

    def __init__(self, session_dir):
        self.session_dir = session_dir
        self.seen = set()
        self.served = {}          # a stack's report dir -> test node ids

    def new_reports(self):
        found = []
        for d in [self.session_dir] + sorted(sanitize.REPORT_DIRS):
            found += [p for p in sanitize.reports(d) if p not in self.seen]
        self.seen.update(found)
        return found

    def note_stacks(self, item):
        for value in getattr(item, "funcargs", {}).values():
            dovecot = getattr(value, "dovecot", value)
            report_dir = getattr(dovecot, "sanitizer_dir", None)
            tests = self.served.setdefault(report_dir, []) if report_dir else None
            if tests is not None and item.nodeid not in tests:
                tests.append(item.nodeid)

    def explain(self, paths):
        lines = []
        for report_dir, tests in sorted(self.served.items()):
            if any(os.path.dirname(p) == report_dir for p in paths):
                lines.append(f"the stack writing into {report_dir} served: "
                             + ", ".join(tests))
        return "\n".join(lines + [sanitize.describe(paths)])


WATCH = None


def pytest_configure(config):
    global WATCH
    if not sanitize.ENABLED:
        return
    if not os.path.isdir(os.path.join(sanitize.BUILD_DIR, "src", ".libs")):
        raise pytest.UsageError("VSMLIST_SANITIZE=1: build-asan/ not built "
                                "(run scripts/build-asan.sh)")
    os.environ.setdefault("VSMLIST_BUILD_DIR", sanitize.BUILD_DIR)
    session_dir = sanitize.make_report_dir(
        tempfile.mkdtemp(prefix="vsmlist-sanitizer-", dir="/tmp"))
    os.environ[sanitize.SESSION_DIR_ENV] = session_dir
    # Only the instrumented programs (unit tests, vsmlist-dmarc, the DNS
    # probe) read these; the preload goes to the plugin's hosts alone
    os.environ.update(sanitize.options(session_dir))
    WATCH = ReportWatch(session_dir)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if WATCH is None:
        return
    rep = outcome.get_result()
    if call.when == "setup":
        WATCH.note_stacks(item)
    elif call.when == "teardown":
        found = WATCH.new_reports()
        if found:
            rep.outcome = "failed"
            rep.longrepr = (f"{len(found)} sanitizer report(s) written during "
                            f"{item.nodeid} or the teardown of its fixtures:\n"
                            + WATCH.explain(found))


def pytest_sessionfinish(session):
    """Before the summary line (the terminal reporter writes that after
    every other hook), which stays the last line of the output."""
    if WATCH is None:
        return
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    found = WATCH.new_reports()
    if WATCH.seen:
        terminal.write_line("")          # ends the line of progress dots
    if found:
        terminal.write_line(f"{len(found)} sanitizer report(s) written after "
                            "the last test:\n" + WATCH.explain(found), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if WATCH.seen:
        dirs = sorted({os.path.dirname(p) for p in WATCH.seen})
        terminal.write_line(f"sanitizer reports in: {' '.join(dirs)}")
    if not sanitize.reports(WATCH.session_dir):
        os.rmdir(WATCH.session_dir)
