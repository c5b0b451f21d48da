"""Every outcome of distribute on the real stack has exactly one log line
and one vsmlist_distribute_finished event, with vsmlist_outcome set
(doc/vsmlist.md, "What a post goes through" and "Logging and events").

The outcomes that had none before the pipeline (invalid settings, no
members, a concurrent delivery of the same post) are here, and the fields
that link a post to the relay's log: the outgoing Message-ID and the
relay's queue id (the stack's relay answers DATA the way Postfix does,
"250 2.0.0 Ok: queued as Q00001").
"""

import fcntl
import hashlib
import os
import re
import time

import pytest

import vsmstack
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

AUTHOR = "author@author.example"


@pytest.fixture(scope="module")
def ost():
    st = vsmstack.Stack(plugin=True, mail_debug=False,
                        dkim_domains=["author.example"],
                        dovecot_extra_conf=vsmstack.EVENT_EXPORTER_CONF,
                        txt_records={"_dmarc.reject.example": "v=DMARC1; p=reject"})
    st.start()
    yield st
    st.stop()


_counter = [0]


def new_list(st, members, **fields):
    _counter[0] += 1
    lst = f"out{_counter[0]}@lists.example"
    st.add_list(lst, members=members, **fields)
    return lst


def events(st, mark, message_id, timeout=5.0):
    """The vsmlist_distribute_finished events of a post since mark (of
    every post when message_id is None)."""
    return st.dovecot.exported_events(mark, "vsmlist_distribute_finished",
                                      timeout=timeout, message_id=message_id)


def outcome_lines(st, mark):
    """distribute's outcome lines since mark (not the per-member ones)."""
    time.sleep(0.2)
    return [l for l in st.dovecot.log_since(mark).splitlines()
            if re.search(r"distribute action: (?!member |\d+ more member)", l)]


def deliver(st, lst, msg):
    mark = st.dovecot.log_mark()
    res = st.dovecot.deliver(msg, AUTHOR, [lst])
    mids = header_values(msg, "Message-ID")
    mid = mids[0] if mids else None
    evs = events(st, mark, mid)
    assert len(evs) == 1, evs
    lines = outcome_lines(st, mark)
    assert len(lines) == 1, lines
    return res, evs[0], lines[0]


def test_distributed_names_message_id_and_queue_id(ost):
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net", "b@example.net"],
                   sieve_vsmlist_batch_size="1")
    msg = make_message(to=lst)
    res, ev, line = deliver(ost, lst, msg)
    assert res.code(lst) == 250
    mid = header_values(msg, "Message-ID")[0]
    assert ev["vsmlist_outcome"] == "distributed"
    assert ev["vsmlist_message_id"] == mid
    # one queue id per transaction, as the relay named them, in order
    replies = [t.response.rsplit(" ", 1)[1] for t in ost.relay.snapshot()]
    assert ev["vsmlist_queue_ids"] == ",".join(replies)
    assert f"message-id {mid}, queued as {replies[0]}" in line


def test_wrapped_names_its_own_message_id(ost):
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    msg = make_message(from_addr="Rob <rob@reject.example>", to=lst)
    res, ev, line = deliver(ost, lst, msg)
    assert ev["vsmlist_mitigation"] == "wrap"
    sent_mid = header_values(ost.relay.snapshot()[0].data, "Message-ID")[0]
    assert ev["vsmlist_message_id"] == sent_mid != header_values(msg, "Message-ID")[0]
    assert f"message-id {sent_mid}" in line


def test_invalid_settings(ost):
    lst = new_list(ost, ["a@example.net"], sieve_vsmlist_dmarc="sometimes")
    msg = make_message(to=lst)
    res, ev, line = deliver(ost, lst, msg)
    # the action fails: Pigeonhole keeps the post
    assert res.code(lst) == 250
    assert ev["vsmlist_outcome"] == "invalid_settings"
    assert "sieve_vsmlist_dmarc" in ev["error"]
    assert "Error:" in line and "invalid settings: sieve_vsmlist_dmarc" in line
    assert len(ost.dovecot.messages(lst)) == 1


def test_no_members(ost):
    ost.relay.clear()
    lst = new_list(ost, [])
    msg = make_message(to=lst)
    res, ev, line = deliver(ost, lst, msg)
    assert res.code(lst) == 250
    assert ev["vsmlist_outcome"] == "no_members"
    assert "has no members (message kept)" in line
    assert len(ost.dovecot.messages(lst)) == 1
    assert ost.relay.snapshot() == []


def test_skipped(ost):
    lst = new_list(ost, ["a@example.net"])
    msg = make_message(to=lst, extra_headers=[("Auto-Submitted", "auto-replied")])
    res, ev, line = deliver(ost, lst, msg)
    assert ev["vsmlist_outcome"] == "skipped"
    assert ev["vsmlist_skipped"] == "Auto-Submitted: auto-replied"


def progress_record_name(lst, message_id):
    """The file name src/vsmlist-progress.c gives a post's record."""
    h = hashlib.sha256(lst.lower().encode() + b"\0" + message_id.encode() + b"\0")
    return h.hexdigest()[:32]


def test_concurrent_delivery_of_the_same_post(ost):
    """Another delivery holds the post's progress record: this one is
    deferred (LMTP 4xx), and the retry, once it is free, sends."""
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    msg = make_message(to=lst)
    mid = header_values(msg, "Message-ID")[0]
    d = os.path.join(ost.dovecot.home(lst), "vsmlist", "progress")
    path = os.path.join(d, progress_record_name(lst, mid))
    ost.dovecot.write_user_file(lst, os.path.relpath(path, ost.dovecot.home(lst)), b"")
    with open(path, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        res, ev, line = deliver(ost, lst, msg)
    assert 400 <= res.code(lst) < 500, res
    assert ev["vsmlist_outcome"] == "concurrent"
    assert "another delivery of this post is distributing it" in line
    assert ost.relay.snapshot() == []
    res, ev, line = deliver(ost, lst, msg)
    assert res.code(lst) == 250 and ev["vsmlist_outcome"] == "distributed"


def test_progress_record_counts_rejections(ost):
    """The complete record counts the members refused in the attempt that
    completed it (it said 'complete 2 0' with one of three refused)."""
    ost.relay.clear()
    ost.relay.rcpt_hook = lambda addr: "550 5.1.1 no such user" if addr.startswith("gone") else None
    try:
        lst = new_list(ost, ["a@example.net", "gone@example.net", "b@example.net"])
        msg = make_message(to=lst)
        res, ev, line = deliver(ost, lst, msg)
    finally:
        ost.relay.rcpt_hook = None
    assert ev["vsmlist_outcome"] == "distributed"
    assert int(ev["vsmlist_rejected_recipients"]) == 1
    mid = header_values(msg, "Message-ID")[0]
    path = os.path.join(ost.dovecot.home(lst), "vsmlist", "progress",
                        progress_record_name(lst, mid))
    with open(path) as f:
        assert re.search(r"^complete 2 1$", f.read(), re.M)


def test_bounce_address_is_never_a_way_in(ost):
    """Mail to the bounce address with an ordinary envelope sender (a
    careless auto-responder answering the envelope sender) is not
    distributed, whatever the script does: skipped, kept."""
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    bounce = lst.replace("@", "+bounces@")
    for rcpt in (bounce, lst.replace("@", "+bounces-a=example.net@")):
        msg = make_message(to=rcpt, subject="I am on holiday")
        mark = ost.dovecot.log_mark()
        res = ost.dovecot.deliver(msg, "responder@example.org", [rcpt])
        assert res.code(rcpt) == 250, res
        evs = events(ost, mark, header_values(msg, "Message-ID")[0])
        assert len(evs) == 1 and evs[0]["vsmlist_outcome"] == "skipped", evs
        assert evs[0]["vsmlist_skipped"] == f"addressed to the bounce address <{rcpt}>"
    assert ost.relay.snapshot() == []
    assert len(ost.dovecot.messages(lst)) == 2


# ---------------------------------------------------------------------------
# the other outcomes: one event with vsmlist_outcome and one line each

def test_malformed(ost):
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    msg = make_message(to=lst).replace(b"Subject:", b"Sub\0ject:", 1)
    res, ev, line = deliver(ost, lst, msg)
    assert res.code(lst) == 250
    assert ev["vsmlist_outcome"] == "malformed"
    assert "malformed post: a NUL byte in the header (message kept)" in line
    assert ost.relay.snapshot() == []
    assert len(ost.dovecot.messages(lst)) == 1


def test_already_distributed(ost):
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    msg = make_message(to=lst)
    res, ev, line = deliver(ost, lst, msg)
    assert ev["vsmlist_outcome"] == "distributed"
    # the MTA's retry after a lost LMTP reply: nothing sent again
    res, ev, line = deliver(ost, lst, msg)
    assert res.code(lst) == 250
    assert ev["vsmlist_outcome"] == "already_distributed"
    assert "already distributed" in line
    assert len(ost.relay.snapshot()) == 1


def test_same_content(ost):
    """A post without Message-ID is known by a digest of its content only:
    a second one with the same content is kept, not taken for a retry
    and dropped."""
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    msg = re.sub(rb"(?im)^Message-ID:[^\n]*\n", b"", make_message(to=lst))
    assert not header_values(msg, "Message-ID")
    res, ev, line = deliver(ost, lst, msg)
    assert ev["vsmlist_outcome"] == "distributed"
    res, ev, line = deliver(ost, lst, msg)
    assert res.code(lst) == 250
    assert ev["vsmlist_outcome"] == "same_content"
    assert len(ost.relay.snapshot()) == 1
    assert len(ost.dovecot.messages(lst)) == 1


@pytest.mark.parametrize("reply,outcome,lmtp", [
    ("451 4.3.0 try again later", "deferred", 4),
    ("550 5.7.1 list not allowed to send", "failed", 2),
])
def test_relay_refuses_the_sender(ost, reply, outcome, lmtp):
    """The relay refuses the list's envelope sender: for now (deferred,
    LMTP 4xx, the MTA retries) or for good (failed: the post is kept)."""
    ost.relay.clear()
    lst = new_list(ost, ["a@example.net"])
    msg = make_message(to=lst)
    ost.relay.mail_hook = lambda addr: reply
    try:
        res, ev, line = deliver(ost, lst, msg)
    finally:
        ost.relay.mail_hook = None
    assert res.code(lst) // 100 == lmtp, res
    assert ev["vsmlist_outcome"] == outcome
    assert reply.split(" ", 1)[0] in line
