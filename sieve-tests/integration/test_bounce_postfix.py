"""Bounces end to end behind a real Postfix (doc/vsmlist.md, "Bounces";
doc/postfix.md, "Postfix and delivery status notifications"):

    author --SMTP--> Postfix --LMTP--> Dovecot: friends@lists.example (README script)
    the plugin --SMTP, DSN parameters--> Postfix list relay
        --LMTP--> Dovecot: ann@members.example
        --SMTP--> the sink for remote.example, which refuses carol
    Postfix's delivery report --LMTP--> Dovecot: friends+bounces@lists.example -> bounce

The sink refuses carol after Postfix accepted the copy, so Postfix itself
writes the report (RFC 3464), to the envelope sender: the bounce address,
or with VERP carol's own bounce address. The report names carol as the
list addressed her (Original-Recipient from the plugin's ORCPT) and
carries the post's id (Original-Envelope-Id from its ENVID).

Five reports on five days disable carol, and `doveadm vsmlist members`
shows her disabled. The test moves the clock by moving carol's recorded
bounce dates a day back between posts (in the list's member store),
instead of sleeping.

The round trip runs for a list with a member file (with and without VERP)
and for one whose members are PostgreSQL rows through Dovecot's dict.
"""

import json
import re
import secrets
import time

import pytest

import vsmstack
from pgstack import MemberState, member_states, set_member_state
from postfix_stack import Postfix
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

LIST_DOMAIN = "lists.example"
ANN = "ann@members.example"
CAROL = "carol@remote.example"
DAVE = "dave@remote.example"
# a member whose address forwards (Postfix's virtual alias) to one that
# fails: the report's Final-Recipient is the new address, and only the
# Original-Recipient (from the list's ORCPT) names the member
FRANK = "frank@forward.example"
FRANK_NEW = "frank-new@remote.example"
FORWARD_LIST = "fwd@lists.example"

LIST_SCRIPT = """require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox"];

if envelope :detail :matches "to" "bounces*" {
    bounce;
} elsif envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
    membership;
} elsif member {
    distribute;
    fileinto :create "Archive";
} else {
    fileinto :create "Moderation";
}
"""

EXPORTER = vsmstack.EVENT_EXPORTER_CONF + """
metric vsmlist_bounce {
  exporter = vsmlist
  exporter_include = name fields
  filter = event=vsmlist_bounce_finished
}
"""


# list address, its extra userdb fields, its member store
LISTS = (("friends@lists.example", {}, "file"),
         ("verp@lists.example", {"sieve_vsmlist_verp": "yes"}, "file"),
         ("sqlfriends@lists.example", {}, "dict"))


@pytest.fixture(scope="module")
def bst(pg):
    ports = Postfix.reserve_ports()
    st = vsmstack.Stack(plugin=True, mail_debug=False, protocols=("lmtp",),
                        dkim_domains=["members.example"],
                        dovecot_extra_conf=EXPORTER,
                        plugin_settings={"sieve_vsmlist_dmarc": "none"},
                        submission_port=ports["smtp_port"], member_db=pg,
                        doveadm_plugin=True)
    st.start()
    postfix = None
    try:
        # the sink for remote.example refuses carol (after Postfix took
        # the copy: Postfix writes the report)
        st.relay.rcpt_hook = lambda addr: (f"550 5.1.1 <{addr}>: no such user"
                                           if addr.lower().startswith(("carol@", "frank-new@"))
                                           else None)
        lists = [lst for lst, _, _ in LISTS]
        postfix = Postfix(st.workdir, st.dovecot.lmtp_port,
                          virtual_domains=[LIST_DOMAIN, "members.example"],
                          mailboxes=lists + [FORWARD_LIST, ANN],
                          transports={"remote.example": f"smtp:[127.0.0.1]:{st.relay.port}"},
                          aliases={FRANK: FRANK_NEW},
                          **ports).start()
        st.dovecot.add_user(ANN)
        for lst, extra, store in LISTS:
            st.add_list(lst, members=[ANN, CAROL, DAVE], script=LIST_SCRIPT,
                        store=store,
                        sieve_vsmlist_owner="owner@remote.example",
                        sieve_vsmlist_submission_host=f"127.0.0.1:{postfix.relay_port}",
                        **extra)
        st.add_list(FORWARD_LIST, members=[ANN, FRANK], script=LIST_SCRIPT,
                    sieve_vsmlist_owner="owner@remote.example",
                    sieve_vsmlist_submission_host=f"127.0.0.1:{postfix.relay_port}")
    except BaseException:
        if postfix is not None:
            postfix.stop()
        st.stop()
        raise
    st.postfix = postfix
    yield st
    postfix.stop()
    st.stop()


def events(st, mark, name, n=1, timeout=15.0):
    return st.dovecot.exported_events(mark, name, n=n, timeout=timeout)


def post(st, lst):
    """A member's post through Postfix; returns its Message-ID once every
    copy and every report it causes has left Postfix's queue."""
    msg = make_message(from_addr=f"Ann <{ANN}>", to=lst,
                       subject=f"post {secrets.token_hex(4)}")
    assert st.postfix.send(msg, ANN, lst) == {}
    st.postfix.wait_queue_empty(timeout=60)
    return header_values(msg, "Message-ID")[0]


def age_bounces(st, lst, days=1):
    """Move the recorded bounce dates back: the clock moves forward."""
    def back(t):
        return t - days * 86400 if t else 0
    for member, state in member_states(st, lst).items():
        if state != MemberState():
            set_member_state(st, lst, member, MemberState(
                state.state, state.bounce_points, back(state.last_bounce),
                back(state.disabled_at)))


def doveadm_members(st, lst):
    """address -> (state, bounce_points) as `doveadm vsmlist members` shows
    them"""
    p = st.dovecot.doveadm("-f", "json", "vsmlist", "members", "-u", lst)
    assert p.returncode == 0, p.stderr.decode()
    return {r["address"].lower(): (r["state"], r["bounce_points"])
            for r in json.loads(p.stdout)}


@pytest.mark.parametrize("lst,verp", [("friends@lists.example", False),
                                      ("verp@lists.example", True),
                                      ("sqlfriends@lists.example", False)],
                         ids=["dsn", "verp", "dsn-dict"])
def test_reports_score_and_disable_a_member(bst, lst, verp):
    for day in range(1, 6):
        bst.relay.clear()
        mark = bst.dovecot.log_mark()
        mid = post(bst, lst)
        # Postfix wrote a report for carol, and the list counted it
        # (on the fifth day the notice to carol bounces too: counted as
        # nothing, she is disabled already)
        evs = events(bst, mark, "vsmlist_bounce_finished", n=2 if day == 5 else 1)
        assert len(evs) == (2 if day == 5 else 1), bst.postfix.log()[-3000:]
        ev = evs[0]
        if day == 5:
            assert evs[1]["vsmlist_result"] == "nothing_counted"
        assert ev["vsmlist_report"] == "yes"
        assert ev["vsmlist_members"].lower() == CAROL
        assert ev["vsmlist_status"] == "5.1.1"
        assert int(ev["vsmlist_points"]) == day
        # the plugin's DSN parameters came back in Postfix's report
        assert ev["vsmlist_envid"] == mid.strip("<>")
        if verp:
            assert ev["vsmlist_verp_member"].lower() == CAROL
            assert ev["rcpt_to"].lower() == f"verp+bounces-carol=remote.example@{LIST_DOMAIN}"
        else:
            assert ev["rcpt_to"] == lst.replace("@", "+bounces@")
        # the others got it
        got = [r.lower() for r in bst.relay.recipients()]
        assert DAVE in got
        if day < 5:
            assert member_states(bst, lst)[CAROL].state == "enabled"
            age_bounces(bst, lst)
    assert int(ev["vsmlist_disabled"]) == 1
    state = member_states(bst, lst)[CAROL]
    assert (state.state, state.bounce_points) == ("disabled", 5), state
    assert abs(state.disabled_at - time.time()) < 600, state
    # what an administrator sees
    assert doveadm_members(bst, lst) == {ANN: ("enabled", 0),
                                         CAROL: ("disabled", 5),
                                         DAVE: ("enabled", 0)}
    # carol was told (at the address that fails) and the owner too
    notices = [t for t in bst.relay.snapshot() if "owner@remote.example" in t.rcpt_tos]
    assert notices and b"disabled after 5 bounces" in notices[-1].data

    # the next post goes to everybody but carol
    bst.relay.clear()
    mark = bst.dovecot.log_mark()
    post(bst, lst)
    got = [r.lower() for r in bst.relay.recipients()]
    assert DAVE in got and CAROL not in got
    lines = bst.dovecot.wait_log(mark, r"1 disabled member\(s\) left out")
    assert lines, bst.dovecot.log_since(mark)[-3000:]


def test_mail_to_the_bounce_address_is_not_a_post(bst):
    """An ordinary message to the bounce address goes to the owner, never
    to the members."""
    bst.relay.clear()
    mark = bst.dovecot.log_mark()
    msg = make_message(from_addr="Someone <someone@remote.example>",
                       to="friends+bounces@lists.example", subject="a question")
    assert bst.postfix.send(msg, "someone@remote.example",
                            "friends+bounces@lists.example") == {}
    bst.postfix.wait_queue_empty(timeout=60)
    ev = events(bst, mark, "vsmlist_bounce_finished")[0]
    assert ev["vsmlist_result"] == "forwarded"
    rcpts = [r.lower() for r in bst.relay.recipients()]
    assert rcpts == ["owner@remote.example"], rcpts


def test_forwarded_member_is_named_by_the_original_recipient(bst):
    """Postfix forwards frank@forward.example to frank-new@remote.example,
    which fails: its report's Final-Recipient is the new address, no
    member; the Original-Recipient, which Postfix took from the list's
    ORCPT, names frank, and he gets the point."""
    mark = bst.dovecot.log_mark()
    post(bst, FORWARD_LIST)
    evs = events(bst, mark, "vsmlist_bounce_finished")
    assert len(evs) == 1, bst.postfix.log()[-3000:]
    ev = evs[0]
    assert ev["vsmlist_report"] == "yes"
    assert ev["vsmlist_members"].lower() == FRANK
    assert int(ev["vsmlist_points"]) == 1
    # what Postfix wrote: the new address as Final-Recipient
    assert re.search(rf"to=<{re.escape(FRANK_NEW)}>, orig_to=<{re.escape(FRANK)}>.*"
                     r"status=bounced", bst.postfix.log(), re.I), bst.postfix.log()[-3000:]
    assert doveadm_members(bst, FORWARD_LIST)[FRANK] == ("enabled", 1)
