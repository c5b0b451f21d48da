"""Bad and odd delivery reports at the bounce address, over LMTP
(doc/vsmlist.md, "Bounces"): the report samples of sieve-tests/dsn/ and
generated ones (10,000 recipient blocks, a report for the list's own
address, a forged flood for a member who is fine). Each has a defined
outcome (one vsmlist_bounce_finished event, LMTP 250 or 4xx), never a
crash, and no report disables a member faster than one point a day.
Every test runs against both member stores (a member file, PostgreSQL
rows through Dovecot's dict): bounce scoring reads and changes the store.
"""

import glob
import os
import re
import time

import pytest

import vsmstack
from conftest import STORE_KINDS
from pgstack import member_states

pytestmark = pytest.mark.plugin

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = sorted(glob.glob(os.path.join(HERE, "..", "dsn", "*.eml")))
LIST = "rep@example.org"
BOUNCE = "rep+bounces@example.org"
MEMBERS = ["Ann.Smith@example.net", "ann@example.net", "gina@qmail.example",
           "carol@slow.example"]

EXPORTER = vsmstack.EVENT_EXPORTER_CONF + """
metric vsmlist_bounce {
  exporter = vsmlist
  exporter_include = name fields
  filter = event=vsmlist_bounce_finished
}
"""

SCRIPT = 'require "vnd.vsmlist";\nbounce;\n'


@pytest.fixture(scope="module", params=STORE_KINDS)
def rst(pg, request):
    """A stack whose list has its members in a file or in the database"""
    st = vsmstack.Stack(plugin=True, mail_debug=False,
                        dovecot_extra_conf=EXPORTER, member_db=pg)
    st.start()
    try:
        st.add_list(LIST, MEMBERS, script=SCRIPT, store=request.param)
        yield st
    finally:
        st.stop()


def deliver(st, data, rcpt=BOUNCE, sender="<>"):
    mark = st.dovecot.log_mark()
    res = st.dovecot.deliver(data, sender, [rcpt])
    code = res.code(rcpt)
    assert code == 250 or 400 <= code < 500, res
    found = st.dovecot.exported_events(mark, "vsmlist_bounce_finished", timeout=10)
    log = st.dovecot.log_since(mark)
    assert not re.search(r"\b(Panic|Fatal):", log), log[-3000:]
    assert len(found) == 1, log[-3000:]
    return code, found[0]


def report(recipients, status="5.1.1", action="failed"):
    return vsmstack.make_dsn(BOUNCE, recipients, status, action)


@pytest.mark.parametrize("sample", [os.path.basename(s) for s in SAMPLES])
def test_sample_report_has_a_defined_outcome(rst, sample):
    with open(os.path.join(HERE, "..", "dsn", sample), "rb") as f:
        data = f.read()
    code, ev = deliver(rst, data)
    assert ev["vsmlist_result"] in ("scored", "nothing_counted", "auto_reply",
                                    "not_a_bounce", "forwarded")


def test_ten_thousand_recipient_blocks(rst):
    rcpts = [f"user{i}@example.com" for i in range(10000)] + ["ann@example.net"]
    code, ev = deliver(rst, report(rcpts))
    assert code == 250
    # the parser reads at most 1,000 blocks: the member after them is not
    # among the ones looked at, and nothing else is a member
    assert ev["vsmlist_result"] == "nothing_counted"
    assert int(ev["vsmlist_non_members"]) == 1000


def test_report_for_the_list_itself(rst):
    code, ev = deliver(rst, report([LIST]))
    assert ev["vsmlist_result"] == "nothing_counted"
    assert int(ev["vsmlist_non_members"]) == 1


def test_malformed_statuses_count_nothing(rst):
    for status in ("5.1", "9.9.9", "5.1.1.1", "abc", ""):
        code, ev = deliver(rst, report(["carol@slow.example"], status=status))
        assert ev["vsmlist_result"] == "nothing_counted", status


def test_forged_flood_for_a_member_who_is_fine(rst):
    """Fifty forged reports in a row for ann: one point, not disabled."""
    for _ in range(50):
        code, ev = deliver(rst, report(["ann@example.net"]))
    assert int(ev["vsmlist_points"]) == 1
    assert int(ev["vsmlist_disabled"]) == 0
    state = member_states(rst, LIST)["ann@example.net"]
    assert (state.state, state.bounce_points) == ("enabled", 1), state
    assert abs(state.last_bounce - time.time()) < 600, state
    assert state.disabled_at == 0


def test_truncated_and_binary_reports(rst):
    cut = report(["ann@example.net", "gina@qmail.example"])[:-60]
    code, ev = deliver(rst, cut)
    assert ev["vsmlist_result"] in ("scored", "nothing_counted")
    code, ev = deliver(rst, report(["a\x00b@example.net", "\xff@x"]).replace(b"\\x00", b"\0"))
    assert ev["vsmlist_result"] == "nothing_counted"
