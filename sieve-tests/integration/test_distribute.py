"""Integration tests of the `distribute` foundation on a real stack:
Dovecot LMTP + Pigeonhole + the vsmlist plugin -> aiosmtpd relay,
with dnsmasq serving the DKIM keys and dkimpy verifying what the relay got."""

import collections
import re
import time

import pytest

import vsmstack
from conftest import STORE_KINDS
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

LIST = "friends@lists.example"
BOUNCE = "friends+bounces@lists.example"
AUTHOR = "author@author.example"

# five distinct members, plus a duplicate in another case, a comment,
# a blank line and a line that is no address
MEMBERS = ["alice@example.net", "Bob@Example.org", "carol@example.com",
           "dave@example.net", "eve@example.org"]
MEMBERS_TEXT = (
    "# friends: members, one a line\n"
    "alice@example.net\n"
    "Bob@Example.org\n"
    "\n"
    "carol@example.com\n"
    "BOB@EXAMPLE.ORG\n"
    "not-an-address\n"
    "dave@example.net\n"
    "eve@example.org\n"
)

DISTRIBUTE = 'require "vnd.vsmlist";\ndistribute;\n'


def lc(addrs):
    return [a.lower() for a in addrs]


def inbox_ids(st, user):
    """Message-IDs of the messages stored in user's INBOX."""
    out = []
    for m in st.dovecot.messages(user):
        out += header_values(m, "Message-ID")
    return out


def body_of(msg: bytes) -> bytes:
    return msg.split(b"\r\n\r\n", 1)[1]


def post(st, rcpt=LIST, sender=AUTHOR, sign=True, extra_headers=(), **kw):
    """LMTP-deliver a fresh post; returns (message bytes, LmtpResult)."""
    msg = make_message(to=rcpt, extra_headers=extra_headers, **kw)
    if sign:
        msg = st.dkim_sign(msg, "author.example")
    res = st.dovecot.deliver(msg, sender, [rcpt])
    return msg, res


@pytest.fixture(scope="session", params=STORE_KINDS)
def friends(stack, request):
    """The list, its members in a file or in the database"""
    stack.add_list(LIST, members_text=MEMBERS_TEXT, script=DISTRIBUTE,
                   store=request.param)
    return LIST


# ---------------------------------------------------------------------------
# the foundation: a signed post goes out untouched to every member once

def test_signed_post_distributed_to_each_member_once(st, friends):
    msg, res = post(st, subject="Hello friends",
                    body="A post for everybody.\n\n-- \nAuthor\n")
    assert res.code(LIST) == 250, res

    txs = st.relay.snapshot()
    assert txs, "the relay received nothing"
    assert all(t.accepted for t in txs)

    got = collections.Counter(lc(st.relay.recipients()))
    want = collections.Counter(lc(MEMBERS))
    assert got == want, f"recipients at the relay: {sorted(got.items())}"
    assert "not-an-address" not in got

    for t in txs:
        assert t.mail_from == BOUNCE
        # untouched: body byte for byte, author's signature still valid
        assert body_of(t.data) == body_of(msg)
        assert st.dkim_verify(t.data), "author DKIM signature broken at the relay"
        assert not header_values(t.data, "Return-Path"), "Return-Path not removed"
        assert LIST in [v.strip("<> ") for v in header_values(t.data, "X-Loop")], \
            f"X-Loop missing: {t.headers()}"
        assert header_values(t.data, "Message-ID") == header_values(msg, "Message-ID")
        assert header_values(t.data, "From") == header_values(msg, "From")

    # implicit keep cancelled: nothing stored for the list user
    mid = header_values(msg, "Message-ID")[0]
    assert mid not in inbox_ids(st, LIST)


def test_incoming_return_path_removed(st, friends):
    """A post that already carries Return-Path (an MTA added one) goes out
    without it; the signature (which never covers Return-Path) still holds."""
    msg = make_message(to=LIST)
    msg = b"Return-Path: <someone@elsewhere.example>\r\n" + msg
    msg = st.dkim_sign(msg, "author.example")
    res = st.dovecot.deliver(msg, AUTHOR, [LIST])
    assert res.code(LIST) == 250, res
    txs = st.relay.snapshot()
    assert txs
    for t in txs:
        assert not header_values(t.data, "Return-Path"), t.data[:400]
        assert st.dkim_verify(t.data)


def test_all_members_in_one_transaction_by_default(st, friends):
    _, res = post(st)
    assert res.code(LIST) == 250
    txs = st.relay.snapshot()
    assert len(txs) == 1, [t.rcpt_tos for t in txs]
    assert len(txs[0].rcpt_tos) == 5


def test_unix_socket_delivery(st, friends):
    msg = st.dkim_sign(make_message(to=LIST), "author.example")
    res = st.dovecot.deliver(msg, AUTHOR, [LIST], unix=True)
    assert res.code(LIST) == 250
    assert sorted(lc(st.relay.recipients())) == sorted(lc(MEMBERS))


# ---------------------------------------------------------------------------
# inline members

def test_inline_members(st):
    lst = "inline@lists.example"
    st.add_list(lst, script='require "vnd.vsmlist";\n'
                            'distribute :members ["a@example.net", "b@example.org"];\n')
    msg, res = post(st, rcpt=lst)
    assert res.code(lst) == 250, res
    assert sorted(st.relay.recipients()) == ["a@example.net", "b@example.org"]
    for t in st.relay.snapshot():
        assert t.mail_from == "inline+bounces@lists.example"
        assert st.dkim_verify(t.data)
        assert lst in [v.strip("<> ") for v in header_values(t.data, "X-Loop")]
    assert header_values(msg, "Message-ID")[0] not in inbox_ids(st, lst)


def test_settings_from_userdb(st):
    """Address, bounce address and member store set per list (userdb fields)."""
    user = "settings@lists.example"
    st.add_list(user, script=DISTRIBUTE,
                sieve_vsmlist_address="team@lists.example",
                sieve_vsmlist_bounce_address="team-owner@lists.example",
                sieve_vsmlist_members="file:~/elsewhere/people")
    st.dovecot.write_user_file(user, "elsewhere/people", "p1@example.net\np2@example.org\n")
    _, res = post(st, rcpt=user)
    assert res.code(user) == 250, res
    assert sorted(st.relay.recipients()) == ["p1@example.net", "p2@example.org"]
    for t in st.relay.snapshot():
        assert t.mail_from == "team-owner@lists.example"
        assert "team@lists.example" in [v.strip("<> ") for v in header_values(t.data, "X-Loop")]


def test_missing_members_file_keeps_post(st):
    user = "empty@lists.example"
    st.add_list(user, script=DISTRIBUTE)          # no ~/vsmlist/members
    msg, res = post(st, rcpt=user)
    assert res.code(user) in (250, 451), res
    assert st.relay.snapshot() == []
    if res.code(user) == 250:
        assert header_values(msg, "Message-ID")[0] in inbox_ids(st, user), \
            "post neither distributed nor kept nor deferred"


# ---------------------------------------------------------------------------
# batching

@pytest.fixture(scope="session", params=STORE_KINDS)
def batch_list(stack, request):
    lst = "batch@lists.example"
    stack.add_list(lst, members_text=MEMBERS_TEXT, script=DISTRIBUTE,
                   sieve_vsmlist_batch_size="2", store=request.param)
    return lst


def test_batch_size_two_gives_three_transactions(st, batch_list):
    _, res = post(st, rcpt=batch_list)
    assert res.code(batch_list) == 250, res
    txs = st.relay.snapshot()
    assert [len(t.rcpt_tos) for t in txs] == [2, 2, 1], [t.rcpt_tos for t in txs]
    assert sorted(lc(st.relay.recipients())) == sorted(lc(MEMBERS))
    assert len({t.data for t in txs}) == 1, "batches carry different bytes"
    assert all(t.mail_from == "batch+bounces@lists.example" for t in txs)


def test_batches_share_one_connection(st, batch_list):
    _, res = post(st, rcpt=batch_list)
    assert res.code(batch_list) == 250
    txs = st.relay.snapshot()
    assert len(txs) == 3
    assert {t.connection for t in txs} == {1}, \
        f"connections used: {[t.connection for t in txs]} (relay saw {st.relay.connections})"


# ---------------------------------------------------------------------------
# loop and junk guard

GUARD_CASES = {
    "null-sender": dict(sender="", extra_headers=(),
                        reason=r"null (envelope )?sender|<>"),
    "auto-submitted": dict(sender=AUTHOR,
                           extra_headers=(("Auto-Submitted", "auto-replied"),),
                           reason=r"Auto-Submitted"),
    "auto-generated": dict(sender=AUTHOR,
                           extra_headers=(("Auto-Submitted", "auto-generated; x=y"),),
                           reason=r"Auto-Submitted"),
    "x-loop": dict(sender=AUTHOR,
                   extra_headers=(("X-Loop", LIST),),
                   reason=r"loop.*X-Loop"),
    "list-id": dict(sender=AUTHOR,
                    extra_headers=(("List-Id", "Friends <friends.lists.example>"),),
                    reason=r"loop.*List-Id"),
}


@pytest.mark.parametrize("case", sorted(GUARD_CASES))
def test_guard_not_distributed_but_kept(st, friends, case):
    c = GUARD_CASES[case]
    mark = st.dovecot.log_mark()
    msg, res = post(st, sender=c["sender"], extra_headers=c["extra_headers"])
    assert res.code(LIST) == 250, res
    time.sleep(0.2)
    assert st.relay.snapshot() == [], "a guarded post was sent"
    mid = header_values(msg, "Message-ID")[0]
    assert inbox_ids(st, LIST).count(mid) == 1, "a guarded post was not kept"
    lines = st.dovecot.wait_log(mark, r"not distributed")
    assert len(lines) == 1, lines
    assert re.search(c["reason"], lines[0], re.I), lines[0]


def test_auto_submitted_no_is_distributed(st, friends):
    _, res = post(st, extra_headers=(("Auto-Submitted", "no"),))
    assert res.code(LIST) == 250
    assert sorted(lc(st.relay.recipients())) == sorted(lc(MEMBERS))


def test_other_lists_x_loop_is_distributed(st, friends):
    _, res = post(st, extra_headers=(("X-Loop", "other@lists.example"),))
    assert res.code(LIST) == 250
    assert sorted(lc(st.relay.recipients())) == sorted(lc(MEMBERS))


def test_relay_output_is_recognised_as_own(st, friends):
    """What the list sent, posted back to the list, is not sent again."""
    _, res = post(st)
    assert res.code(LIST) == 250
    out = st.relay.snapshot()[0].data
    st.relay.clear()
    mark = st.dovecot.log_mark()
    res = st.dovecot.deliver(out, AUTHOR, [LIST])
    assert res.code(LIST) == 250
    time.sleep(0.2)
    assert st.relay.snapshot() == []
    assert st.dovecot.wait_log(mark, r"not distributed")


# ---------------------------------------------------------------------------
# trust: ordinary users cannot use the extension; admin scripts can

def test_ordinary_user_cannot_upload(st):
    user = "alice@lists.example"
    st.dovecot.add_user(user)
    with pytest.raises(vsmstack.SieveCompileError) as ei:
        st.dovecot.sieve_put(user, DISTRIBUTE)
    assert re.search(r"unknown Sieve capability|not available|unknown extension|restricted to global",
                     ei.value.output, re.I), ei.value.output


def test_ordinary_user_script_fails_at_delivery_and_mail_is_kept(st):
    user = "alice2@lists.example"
    st.dovecot.add_user(user)
    st.dovecot.write_user_file(user, "vsmlist/members", "x@example.net\n")
    # placed by hand, bypassing doveadm: delivery compiles it and must refuse it
    st.dovecot.install_script_file(user, DISTRIBUTE)
    msg, res = post(st, rcpt=user)
    assert res.code(user) == 250, res
    time.sleep(0.2)
    assert st.relay.snapshot() == []
    assert header_values(msg, "Message-ID")[0] in inbox_ids(st, user)
    errors = st.dovecot.sieve_log(user) + st.dovecot.log_since(st.log_mark)
    assert re.search(r"unknown Sieve capability|not available|unknown extension|restricted to global",
                     errors, re.I), errors[-3000:]


def test_admin_sieve_before_script(st):
    user = "admins@lists.example"
    path = st.dovecot.write_global_script(
        "admins-before",
        'require "vnd.vsmlist";\n'
        'distribute :members ["x@example.net", "y@example.org"];\n')
    st.dovecot.add_user(user, sieve_before=path)      # no sieve_extensions
    msg, res = post(st, rcpt=user)
    assert res.code(user) == 250, res
    assert sorted(st.relay.recipients()) == ["x@example.net", "y@example.org"]
    for t in st.relay.snapshot():
        assert t.mail_from == "admins+bounces@lists.example"
        assert st.dkim_verify(t.data)
    assert header_values(msg, "Message-ID")[0] not in inbox_ids(st, user)


def test_managesieve_list_owner_can_upload(st):
    lst = "ms@lists.example"
    st.dovecot.add_user(lst, sieve_extensions="+vnd.vsmlist",
                        sieve_global_extensions="-vnd.vsmlist")
    with st.dovecot.managesieve(lst) as ms:
        assert "vnd.vsmlist" in ms.capability().get("SIEVE", "").split()
        status, text = ms.putscript(
            "list", 'require "vnd.vsmlist";\ndistribute :members ["m@example.net"];\n')
        assert status == "OK", text
        assert ms.setactive("list")[0] == "OK"
    msg, res = post(st, rcpt=lst)
    assert res.code(lst) == 250, res
    assert st.relay.recipients() == ["m@example.net"]


def test_managesieve_ordinary_user_refused(st):
    user = "bob@lists.example"
    st.dovecot.add_user(user)
    with st.dovecot.managesieve(user) as ms:
        assert "vnd.vsmlist" not in ms.capability().get("SIEVE", "").split()
        status, text = ms.putscript("x", DISTRIBUTE)
        assert status == "NO", text
        assert re.search(r"unknown Sieve capability|not available|unknown extension|"
                         r"restricted to global", text, re.I), text


def test_no_errors_logged_at_startup(stack):
    bad = [l for l in stack.startup_log.splitlines()
           if re.search(r": (Error|Fatal|Panic): ", l)]
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------------------
# relay failures (doc/fanout.md, "What happens on each failure")

def _refuse(addr, reply):
    return lambda a: reply if a.lower() == addr else None


def test_rejected_member_does_not_stop_others(st, friends):
    st.relay.rcpt_hook = _refuse("carol@example.com", "550 5.1.1 no such user")
    _, res = post(st)
    assert res.code(LIST) == 250, res
    got = sorted(lc(st.relay.recipients()))
    assert got == sorted(m for m in lc(MEMBERS) if m != "carol@example.com")


def test_rejected_member_is_not_a_failed_delivery(st, friends):
    st.relay.rcpt_hook = _refuse("carol@example.com", "550 5.1.1 no such user")
    msg, res = post(st)
    assert res.code(LIST) == 250, res
    assert header_values(msg, "Message-ID")[0] not in inbox_ids(st, LIST), \
        "post kept in the list INBOX although 4 of 5 members got it"
    assert not st.dovecot.sieve_log(LIST).count(header_values(msg, "Message-ID")[0]), \
        st.dovecot.sieve_log(LIST)[-2000:]


def test_relay_temporary_failure_defers_then_retry_sends(st, friends):
    st.relay.data_hook = lambda t: "451 4.3.0 try again later"
    msg, res = post(st)
    assert 400 <= res.code(LIST) < 500, res
    mid = header_values(msg, "Message-ID")[0]
    assert mid not in inbox_ids(st, LIST)
    st.relay.data_hook = None
    st.relay.clear()
    res = st.dovecot.deliver(msg, AUTHOR, [LIST])          # the MTA's retry
    assert res.code(LIST) == 250, res
    assert collections.Counter(lc(st.relay.recipients())) == collections.Counter(lc(MEMBERS))
    assert mid not in inbox_ids(st, LIST)


def test_retry_after_member_tempfail_sends_no_duplicates(st, friends):
    st.relay.rcpt_hook = _refuse("carol@example.com", "450 4.2.1 mailbox busy")
    msg, res = post(st)
    assert 400 <= res.code(LIST) < 500, res                # MTA must retry
    first = lc(st.relay.recipients())
    st.relay.rcpt_hook = None
    res = st.dovecot.deliver(msg, AUTHOR, [LIST])          # the MTA's retry
    assert res.code(LIST) == 250, res
    total = collections.Counter(lc(st.relay.recipients()))
    assert total == collections.Counter(lc(MEMBERS)), \
        f"first attempt reached {first}; all attempts: {sorted(total.items())}"


# ---------------------------------------------------------------------------
# untouched delivery: header additions checked against the author's h=
# (doc/vsmlist.md, "DKIM-safe list headers")

def test_list_headers_added_where_not_signed(st, friends):
    msg, res = post(st)                      # dkimpy's h= names no List-* header
    assert res.code(LIST) == 250
    out = st.relay.snapshot()[0].data
    assert st.dkim_verify(out)
    assert header_values(out, "List-Id"), "no List-Id added"
    assert header_values(out, "Sender"), "no Sender added"


def test_oversigned_list_headers_not_added(st, friends):
    """h= names List-Id/Sender (oversigned, absent): adding them would break
    the signature, so the plugin must not add them."""
    msg = make_message(to=LIST)
    names = ["From", "To", "Subject", "Date", "Message-ID", "From",
             "List-Id", "List-Post", "List-Unsubscribe", "Sender"]
    msg = st.dkim_keys["author.example"].sign(msg, include_headers=names)
    res = st.dovecot.deliver(msg, AUTHOR, [LIST])
    assert res.code(LIST) == 250
    txs = st.relay.snapshot()
    assert txs
    out = txs[0].data
    assert not header_values(out, "List-Id")
    assert not header_values(out, "Sender")
    assert st.dkim_verify(out), "oversigned signature broken by an added header"
