"""pytest fixtures for the vsmlist real-stack tests.

Run as root with Debian's interpreter:
    /usr/bin/python3 -m pytest sieve-tests/integration -v
The plugin is taken from $VSMLIST_BUILD_DIR or the repository's src/.libs.
VSMLIST_KEEP_TMP=1 keeps the stack's temporary directory for inspection;
VSMLIST_FULL_LOG=1 prints Debug lines too in the log of a failed test.
"""

import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import vsmstack  # noqa: E402
import pgstack  # noqa: E402

# The member stores a list's tests run against (a fixture with
# params=STORE_KINDS gives each kind; Stack.add_list(store=kind))
STORE_KINDS = ("file", "dict")


def pytest_configure(config):
    config.addinivalue_line("markers", "plugin: needs the built vsmlist plugin")


def pytest_collection_modifyitems(config, items):
    """A missing prerequisite fails the run: these tests are never skipped."""
    ours = [item for item in items
            if str(item.fspath).startswith(HERE + os.sep)]
    if not ours:
        return
    if os.geteuid() != 0:
        raise pytest.UsageError(
            "the real-stack tests must run as root (Dovecot master, dnsmasq)")
    if any("plugin" in item.keywords for item in ours) and \
            vsmstack.Dovecot.find_plugin_dir() is None:
        raise pytest.UsageError(
            f"{vsmstack.PLUGIN_SO} not built (run scripts/build.sh or set "
            "VSMLIST_BUILD_DIR)")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def pg():
    """One private PostgreSQL for the session (about 2 s to start), with
    the schema of doc/example-config/vsmlist.sql."""
    db = pgstack.Postgres().start()
    yield db
    db.destroy()


@pytest.fixture(scope="session")
def stack(pg):
    """One stack with the plugin for the whole session (about 1 s to start),
    its dict "vsmlist" on the session's PostgreSQL."""
    st = vsmstack.Stack(plugin=True, mail_debug=True, protocols=("lmtp", "sieve"),
                        dkim_domains=["author.example", "lists.example"],
                        member_db=pg)
    st.start()
    time.sleep(0.2)
    st.startup_log = st.dovecot.log()
    yield st
    st.stop()


@pytest.fixture(params=STORE_KINDS)
def store(request):
    """The kind of member store a test's lists have: the test runs once for
    each (Stack.add_list(store=...); pgstack.list_members() and
    member_states() read either)"""
    return request.param


@pytest.fixture(scope="session")
def bare_stack():
    """A stack without the plugin (Pigeonhole only), to check the harness."""
    st = vsmstack.Stack(plugin=False, dkim_domains=["author.example"])
    st.start()
    yield st
    st.stop()


def _attach_logs(request, st, mark):
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        log = st.dovecot.log_since(mark)
        if os.environ.get("VSMLIST_FULL_LOG") != "1":
            log = "".join(l for l in log.splitlines(True) if ": Debug: " not in l)
            note = " (Debug lines left out; VSMLIST_FULL_LOG=1 shows them)"
        else:
            note = ""
        sys.stderr.write(f"\n----- dovecot log during {request.node.name}{note} -----\n")
        sys.stderr.write(log[-20000:])
        sys.stderr.write("\n----- relay transactions -----\n")
        for t in st.relay.snapshot():
            sys.stderr.write(f"conn {t.connection} MAIL FROM:<{t.mail_from}> "
                             f"RCPT {t.rcpt_tos} refused {t.rcpt_refused} -> {t.response}\n")


@pytest.fixture
def st(stack, request):
    """The session stack, relay emptied; the log of a failed test is printed."""
    stack.relay.clear()
    stack.relay.mail_hook = stack.relay.rcpt_hook = stack.relay.data_hook = None
    mark = stack.dovecot.log_mark()
    stack.log_mark = mark
    yield stack
    _attach_logs(request, stack, mark)


@pytest.fixture
def bare(bare_stack, request):
    bare_stack.relay.clear()
    mark = bare_stack.dovecot.log_mark()
    yield bare_stack
    _attach_logs(request, bare_stack, mark)
