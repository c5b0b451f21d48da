"""Joining and leaving a list by mail on the real stack (doc/vsmlist.md,
"Joining and leaving"): requests delivered over LMTP to the list's detail
addresses (friends+subscribe@, +unsubscribe@, +confirm-<token>@), the list
user's script being the list script of the README (its membership and
distribute part), and what the list sends recorded by the relay.

Every mail the list sends is checked for what makes it the list's own:
the bounce address as envelope sender, one recipient, From the list,
Auto-Submitted: auto-replied, X-Loop and List-Id, a new Message-ID,
In-Reply-To the request, a quoted-printable UTF-8 text.

A test whose outcome the member store decides (who is a member, what a
confirmation adds or removes, a disabled member) runs against both store
kinds, a member file and PostgreSQL rows through Dovecot's dict (the
`store` fixture); its assertions read the store through pgstack, the same
for both. The others are decided before the store is read or changed
(tokens, the rate limit, refused requesters, the guard, the relay) or are
about the member file's own format, and say so.
"""

import base64
import hashlib
import hmac
import os
import quopri
import re
import struct
import threading
import time

import pytest

import vsmstack
from pgstack import MemberState, list_members, member_states, set_member_state
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

DOMAIN = "lists.example"
# The README's list script without the bounce address's rule
LIST_SCRIPT = """require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox"];

if envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
    membership;
} elsif member {
    distribute;
    fileinto :create "Archive";
} else {
    fileinto :create "Moderation";
}
"""
# A request address without a detail: the Subject says what is asked
SUBJECT_SCRIPT = 'require "vnd.vsmlist";\nmembership;\n'

EXPORTER = vsmstack.EVENT_EXPORTER_CONF + """
metric vsmlist_membership {
  exporter = vsmlist
  exporter_include = name fields
  filter = event=vsmlist_membership_finished
}
"""


@pytest.fixture(scope="module")
def stack(pg):
    """This module's stack (it exports the membership events), in place of
    the session's: conftest's `st` fixture empties its relay before each
    test and prints its log when one fails. Its dict "vsmlist" is on the
    session's PostgreSQL."""
    st = vsmstack.Stack(plugin=True, mail_debug=False, dkim_domains=[],
                        dovecot_extra_conf=EXPORTER, member_db=pg)
    st.start()
    yield st
    st.stop()


_counter = [0]


def new_list(st, members_text="", script=LIST_SCRIPT, store="file", **fields):
    _counter[0] += 1
    lst = f"club{_counter[0]}@{DOMAIN}"
    st.add_list(lst, members_text=members_text, script=script, store=store,
                **fields)
    return lst


def detail_address(lst, detail):
    local, domain = lst.split("@")
    return f"{local}+{detail}@{domain}"


def members_file(st, lst):
    """The member file's text, for the tests of its format"""
    with open(os.path.join(st.dovecot.home(lst), "vsmlist", "members")) as f:
        return f.read()


def events(st, mark, n=1, timeout=5.0):
    """The vsmlist_membership_finished events since mark (waits for n)."""
    return st.dovecot.exported_events(mark, "vsmlist_membership_finished",
                                      n=n, timeout=timeout)


def outcome_lines(st, mark):
    time.sleep(0.2)
    return [l for l in st.dovecot.log_since(mark).splitlines()
            if "membership action: " in l]


class Request:
    """One delivery to the list: the LMTP answer, the event, the log line,
    and the transactions the list made meanwhile."""

    def __init__(self, st, lst, rcpt, msg, mail_from):
        before = len(st.relay.snapshot())
        mark = st.dovecot.log_mark()
        self.msg = msg
        self.res = st.dovecot.deliver(msg, mail_from, [rcpt])
        self.code = self.res.code(rcpt)
        evs = events(st, mark)
        assert len(evs) == 1, (evs, st.dovecot.log_since(mark))
        self.event = evs[0]
        lines = outcome_lines(st, mark)
        assert len(lines) == 1, lines
        self.line = lines[0]
        self.sent = st.relay.snapshot()[before:]


def request(st, lst, detail=None, frm="Ann <ann@example.net>", mail_from=None,
            subject="please", extra_headers=(), body="Hello.\n"):
    """A mail from frm to lst's detail address (the list's own address
    without a detail)."""
    rcpt = lst if detail is None else detail_address(lst, detail)
    msg = make_message(from_addr=frm, to=rcpt, subject=subject, body=body,
                       message_id=vsmstack.make_message_id("example.net"),
                       extra_headers=extra_headers)
    if mail_from is None:
        mail_from = re.sub(r".*<(.*)>.*", r"\1", frm) if "<" in frm else frm
    return Request(st, lst, rcpt, msg, mail_from)


def text_of(tx):
    """The decoded text of a mail the list sent, its lines joined."""
    body = tx.data.split(b"\r\n\r\n", 1)[1]
    return " ".join(quopri.decodestring(body).decode("utf-8").split())


def check_list_mail(tx, lst, rcpt, req=None):
    """What every mail the list sends about membership has."""
    local = lst.split("@")[0]
    assert tx.accepted
    assert tx.mail_from == f"{local}+bounces@{DOMAIN}"
    assert tx.rcpt_tos == [rcpt]
    assert header_values(tx.data, "From") == [f"{local} <{lst}>"]
    assert header_values(tx.data, "Auto-Submitted") == ["auto-replied"]
    assert header_values(tx.data, "X-Loop") == [lst]
    assert header_values(tx.data, "List-Id") == [f"{local} <{local}.{DOMAIN}>"]
    mid = header_values(tx.data, "Message-ID")
    assert len(mid) == 1 and re.fullmatch(rf"<[0-9a-f]+\.\d+\.vsmlist@{DOMAIN}>", mid[0]), mid
    assert len(header_values(tx.data, "Date")) == 1
    assert header_values(tx.data, "MIME-Version") == ["1.0"]
    assert header_values(tx.data, "Content-Type") == ["text/plain; charset=utf-8"]
    assert header_values(tx.data, "Content-Transfer-Encoding") == ["quoted-printable"]
    if req is not None:
        req_mid = header_values(req.msg, "Message-ID")[0]
        assert header_values(tx.data, "In-Reply-To") == [req_mid]
        assert header_values(tx.data, "References") == [req_mid]
    # 7-bit, lines within RFC 5322's limit
    tx.data.decode("ascii")
    assert all(len(l) <= 78 for l in tx.data.split(b"\r\n"))


def token_of(tx):
    reply_to = header_values(tx.data, "Reply-To")
    assert len(reply_to) == 1, reply_to
    m = re.fullmatch(rf"[^+]+\+confirm-([a-z2-7]{{24}})@{DOMAIN}", reply_to[0])
    assert m, reply_to
    return m.group(1)


def subscribe_and_confirm(st, lst, frm="Ann <ann@example.net>"):
    req = request(st, lst, "subscribe", frm=frm)
    assert req.event["vsmlist_result"] == "confirmation_sent", req.event
    token = token_of(req.sent[0])
    return request(st, lst, f"confirm-{token}", frm=frm,
                   subject="Re: " + header_values(req.sent[0].data, "Subject")[0])


# ---------------------------------------------------------------------------
# the opt-in flow

def test_subscribe_with_confirmation(st, store):
    lst = new_list(st, "# the club\nbob@example.net\n", store=store,
                   sieve_vsmlist_owner=f"owner@{DOMAIN}")
    local = lst.split("@")[0]
    req = request(st, lst, "subscribe")
    assert req.code == 250
    assert len(req.sent) == 1
    tx = req.sent[0]
    check_list_mail(tx, lst, "ann@example.net", req)
    token = token_of(tx)
    confirm = f"{local}+confirm-{token}@{DOMAIN}"
    assert header_values(tx.data, "To") == ["ann@example.net"]
    assert header_values(tx.data, "Subject") == [
        f"confirm {token} (subscribe to {lst})"]
    text = text_of(tx)
    assert f"asked to add ann@example.net to the {local} list ({lst})" in text
    assert f"send a message to {confirm}" in text
    assert "nothing happens without your confirmation" in text
    assert list_members(st, lst) == ["bob@example.net"]
    # the request is handled: not kept
    assert st.dovecot.messages(lst) == []
    ev = req.event
    assert ev["vsmlist_result"] == "confirmation_sent"
    assert ev["vsmlist_request"] == "subscribe"
    assert ev["vsmlist_request_source"] == "detail"
    assert ev["vsmlist_address"] == "ann@example.net"
    assert ev["vsmlist_reply"] == "confirm"
    assert ev["vsmlist_queue_id"] == tx.response.rsplit(" ", 1)[1]
    assert "Info: sieve: msgid=" in req.line
    assert req.line.endswith(
        "membership action: subscribe request from ann@example.net: "
        f"confirmation requested; confirmation request sent, queued as {ev['vsmlist_queue_id']}")

    # the answer: a reply to the request, to its Reply-To address
    conf = request(st, lst, f"confirm-{token}",
                   subject="Re: " + header_values(tx.data, "Subject")[0])
    assert conf.code == 250
    assert conf.event["vsmlist_result"] == "subscribed", conf.event
    assert conf.event["vsmlist_token"] == "ok"
    assert conf.event["vsmlist_owner_notified"] == 1
    assert list_members(st, lst) == ["ann@example.net", "bob@example.net"]
    assert member_states(st, lst)["ann@example.net"] == MemberState()
    assert len(conf.sent) == 2
    welcome, notice = conf.sent
    check_list_mail(welcome, lst, "ann@example.net", conf)
    assert header_values(welcome.data, "Subject") == [f"Welcome to the {local} list"]
    assert not header_values(welcome.data, "Reply-To")
    assert f"To leave it, send a message to {local}+unsubscribe@{DOMAIN}" in text_of(welcome)
    check_list_mail(notice, lst, f"owner@{DOMAIN}")
    assert not header_values(notice.data, "In-Reply-To")
    assert header_values(notice.data, "Subject") == [f"{local}: ann@example.net subscribed"]
    assert f"ann@example.net has joined the {local} list ({lst})" in text_of(notice)
    assert st.dovecot.messages(lst) == []
    assert "confirmation from ann@example.net: subscribed to " + lst in conf.line

    # a member now: ann's posts reach the list
    st.relay.clear()
    res = st.dovecot.deliver(make_message(from_addr="Ann <ann@example.net>", to=lst),
                             "ann@example.net", [lst])
    assert res.code(lst) == 250
    assert sorted(st.relay.recipients()) == ["ann@example.net", "bob@example.net"]
    assert len(st.dovecot.messages(lst, "Archive")) == 1


def test_subject_route(st, store):
    """Requests to an address without a detail: the first word of the
    Subject, reply prefixes skipped; a reply to the confirmation request
    sent to the list's own address confirms by its Subject."""
    lst = new_list(st, "", script=SUBJECT_SCRIPT, store=store)
    req = request(st, lst, None, subject="AW: Re: Subscribe")
    assert req.event["vsmlist_result"] == "confirmation_sent", req.event
    assert req.event["vsmlist_request_source"] == "subject"
    subject = header_values(req.sent[0].data, "Subject")[0]
    conf = request(st, lst, None, frm="ann@example.net", subject="Re: " + subject)
    assert conf.event["vsmlist_result"] == "subscribed", conf.event
    assert list_members(st, lst) == ["ann@example.net"]

    none = request(st, lst, None, subject="hello there")
    assert none.event["vsmlist_result"] == "no_request"
    assert none.sent == []
    assert "no membership request: no detail and the Subject 'hello there' ask " \
        "for no subscribe, unsubscribe or confirm (message kept)" in none.line
    # not handled: kept
    assert len(st.dovecot.messages(lst)) == 1


def test_unsubscribe_keeps_comments_and_order(st):
    """File only: about the member file's comments, blank lines and order
    (leaving by mail on both stores: test_welcome_and_goodbye_texts,
    test_closed_subscription)"""
    before = ("# The club's members\n"
              "bob@example.net   # Bob, since 2019\n"
              "\n"
              "Carol@Example.NET\n"
              "# dan left\n"
              "erin@example.org\n")
    lst = new_list(st, before, sieve_vsmlist_owner=f"owner@{DOMAIN}")
    local = lst.split("@")[0]
    req = request(st, lst, "unsubscribe", frm="carol@example.net")
    assert req.event["vsmlist_result"] == "confirmation_sent"
    tx = req.sent[0]
    check_list_mail(tx, lst, "carol@example.net", req)
    assert header_values(tx.data, "Subject") == [
        f"confirm {token_of(tx)} (unsubscribe from {lst})"]
    assert "asked to remove carol@example.net" in text_of(tx)
    assert members_file(st, lst) == before

    conf = request(st, lst, f"confirm-{token_of(tx)}", frm="carol@example.net")
    assert conf.event["vsmlist_result"] == "unsubscribed", conf.event
    assert members_file(st, lst) == before.replace("Carol@Example.NET\n", "")
    goodbye, notice = conf.sent
    check_list_mail(goodbye, lst, "carol@example.net", conf)
    assert header_values(goodbye.data, "Subject") == [f"You have left the {local} list"]
    assert header_values(notice.data, "Subject") == [f"{local}: carol@example.net unsubscribed"]

    again = request(st, lst, "unsubscribe", frm="carol@example.net")
    assert again.event["vsmlist_result"] == "not_member"
    assert header_values(again.sent[0].data, "Subject") == [f"Not a member of the {local} list"]


def test_welcome_and_goodbye_texts(st, store):
    """sieve_vsmlist_welcome/_goodbye from the list's settings file (their
    spaces are more than a passwd-file userdb field can carry)"""
    lst = new_list(st, "", store=store)
    st.dovecot.write_user_file(lst, "vsmlist/settings",
        "sieve_vsmlist_welcome = Hello %{address}, welcome to %{list_name} "
        "(%{list}). Leave by writing to %{unsubscribe}.\n"
        "sieve_vsmlist_goodbye = file:~/goodbye.txt\n"
        "sieve_vsmlist_confirm_limit = 4\n")
    st.dovecot.write_user_file(lst, "goodbye.txt", "Adieu, %{address}! Grüße.\n")
    local = lst.split("@")[0]
    conf = subscribe_and_confirm(st, lst)
    assert text_of(conf.sent[0]) == (
        f"Hello ann@example.net, welcome to {local} ({lst}). Leave by writing "
        f"to {local}+unsubscribe@{DOMAIN}.")
    req = request(st, lst, "unsubscribe")
    conf = request(st, lst, f"confirm-{token_of(req.sent[0])}")
    assert conf.event["vsmlist_result"] == "unsubscribed"
    assert text_of(conf.sent[0]) == "Adieu, ann@example.net! Grüße."
    assert list_members(st, lst) == []


def test_already_member(st, store):
    lst = new_list(st, "Ann@Example.net\n", store=store)
    req = request(st, lst, "subscribe")
    assert req.event["vsmlist_result"] == "already_member"
    assert len(req.sent) == 1
    check_list_mail(req.sent[0], lst, "ann@example.net", req)
    assert not header_values(req.sent[0].data, "Reply-To")
    assert "is a member of the" in text_of(req.sent[0])
    assert list_members(st, lst) == ["ann@example.net"]


def test_closed_subscription(st, store):
    lst = new_list(st, "bob@example.net\n", store=store,
                   sieve_vsmlist_subscription="closed")
    req = request(st, lst, "subscribe")
    assert req.event["vsmlist_result"] == "closed"
    check_list_mail(req.sent[0], lst, "ann@example.net", req)
    assert "takes no new members by mail" in text_of(req.sent[0])
    assert list_members(st, lst) == ["bob@example.net"]
    # leaving still works
    req = request(st, lst, "unsubscribe", frm="bob@example.net")
    conf = request(st, lst, f"confirm-{token_of(req.sent[0])}", frm="bob@example.net")
    assert conf.event["vsmlist_result"] == "unsubscribed"
    assert list_members(st, lst) == []


def test_disabled_member_is_enabled_again(st, store):
    lst = new_list(st, "ann@example.net\n", store=store)
    set_member_state(st, lst, "ann@example.net",
                     MemberState("disabled", 5, 1767225600, 1767225600))
    conf = subscribe_and_confirm(st, lst)
    assert conf.event["vsmlist_result"] == "subscribed", conf.event
    assert conf.event["vsmlist_reenabled"] == 1
    assert "(a disabled member: enabled again)" in conf.line
    assert member_states(st, lst) == {"ann@example.net": MemberState()}


# ---------------------------------------------------------------------------
# tokens: checked before the store is changed, and the same for either
# store (a token is made for the list's and the member's keys); file only

def list_secret(st, lst):
    with open(os.path.join(st.dovecot.home(lst), "vsmlist", "secret"), "rb") as f:
        return f.read()


def make_token(secret, action, lst, address, expires):
    """src/vsmlist-token.h: version 1 and the action, the expiry, and the
    HMAC-SHA256 of both, the list's key, NUL and the member's key, cut to
    80 bits; lower-case base32."""
    raw = bytes([(1 << 4) | action]) + struct.pack(">I", expires)
    mac = hmac.new(secret, raw + lst.lower().encode() + b"\0" + address.lower().encode(),
                   hashlib.sha256).digest()[:10]
    return base64.b32encode(raw + mac).decode().lower()


def test_expired_token(st):
    lst = new_list(st, "")
    req = request(st, lst, "subscribe")        # creates the list's secret
    secret = list_secret(st, lst)
    # what the list made is what the documented format says
    token = token_of(req.sent[0])
    raw = base64.b32decode(token.upper())
    assert token == make_token(secret, 1, lst, "ann@example.net",
                               struct.unpack(">I", raw[1:5])[0])
    assert abs(struct.unpack(">I", raw[1:5])[0] - (time.time() + 3 * 86400)) < 60

    expired = make_token(secret, 1, lst, "ann@example.net", int(time.time()) - 10)
    conf = request(st, lst, f"confirm-{expired}")
    assert conf.event["vsmlist_result"] == "expired_token", conf.event
    assert conf.event["vsmlist_token"] == "expired"
    assert list_members(st, lst) == []
    check_list_mail(conf.sent[0], lst, "ann@example.net", conf)
    assert f"send a message to {detail_address(lst, 'subscribe')}" in text_of(conf.sent[0])
    assert st.dovecot.messages(lst) == []


def test_short_confirm_expire(st):
    """sieve_vsmlist_confirm_expire sets the token's expiry"""
    lst = new_list(st, "", sieve_vsmlist_confirm_expire="10m")
    req = request(st, lst, "subscribe")
    raw = base64.b32decode(token_of(req.sent[0]).upper())
    assert abs(struct.unpack(">I", raw[1:5])[0] - (time.time() + 600)) < 60


@pytest.mark.parametrize("kind", ["changed", "other-address", "other-list", "garbage"])
def test_forged_tokens(st, kind):
    lst = new_list(st, "")
    req = request(st, lst, "subscribe")
    token = token_of(req.sent[0])
    if kind == "changed":
        bad = token[:-1] + ("a" if token[-1] != "a" else "b")
        frm = "ann@example.net"
    elif kind == "other-address":
        bad, frm = token, "mallory@example.org"
    elif kind == "other-list":
        bad = make_token(list_secret(st, lst), 1, "other@" + DOMAIN, "ann@example.net",
                         int(time.time()) + 3600)
        frm = "ann@example.net"
    else:
        bad, frm = "xyz%25..!", "ann@example.net"
    conf = request(st, lst, f"confirm-{bad}", frm=frm)
    assert conf.event["vsmlist_result"] == "bad_token", conf.event
    assert conf.event["vsmlist_token"] == ("malformed" if kind == "garbage" else "forged")
    assert list_members(st, lst) == []
    check_list_mail(conf.sent[0], lst, frm, conf)
    assert "Confirmation for the" in header_values(conf.sent[0].data, "Subject")[0]


def test_token_from_the_envelope_sender(st, store):
    """The From of the confirmation is another address (a forwarder, an
    alias): the token is checked against the envelope sender too, and the
    sender is the one added."""
    lst = new_list(st, "", store=store)
    req = request(st, lst, "subscribe")
    conf = request(st, lst, f"confirm-{token_of(req.sent[0])}",
                   frm="Ann <ann@alias.example>", mail_from="ann@example.net")
    assert conf.event["vsmlist_result"] == "subscribed", conf.event
    assert list_members(st, lst) == ["ann@example.net"]


# ---------------------------------------------------------------------------
# the rate limit: its own file in the list's home, whatever the member
# store; file only

def test_rate_limit(st):
    lst = new_list(st, "", sieve_vsmlist_confirm_limit="2")
    first = request(st, lst, "subscribe", frm="dan@example.net")
    second = request(st, lst, "subscribe", frm="dan@example.net")
    assert len(first.sent) == len(second.sent) == 1
    third = request(st, lst, "subscribe", frm="dan@example.net")
    assert third.code == 250
    assert third.sent == []
    assert third.event["vsmlist_result"] == "rate_limited", third.event
    assert third.event["vsmlist_reply_sent"] == 0
    assert third.line.endswith("subscribe request from dan@example.net: no confirmation request sent: "
                               "rate limit: it had 2 mails about membership in 24 hours")
    # handled, not kept: a flood does not fill the list's mailbox
    assert st.dovecot.messages(lst) == []
    # replies count too, and the limit is per address
    bad = request(st, lst, "confirm-" + "a" * 24, frm="dan@example.net")
    assert bad.event["vsmlist_result"] == "rate_limited"
    assert bad.sent == []
    other = request(st, lst, "subscribe", frm="erin@example.net")
    assert other.event["vsmlist_result"] == "confirmation_sent"
    with open(os.path.join(st.dovecot.home(lst), "vsmlist", "confirm-limit")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "vsmlist-confirm-limit 1" and len(lines) == 4
    assert "dan" not in "".join(lines)


# ---------------------------------------------------------------------------
# hostile requests: an address that is one goes into the store (both
# kinds: a dict keys it, escaped); the refused and ignored ones are
# decided before the store is opened (file only)

@pytest.mark.parametrize("frm,address", [
    ('"Doe, John" <"john doe"@example.net>', '"john doe"@example.net'),
    ("(the boss) ann (at work) @ example.org (really)", "ann@example.org"),
    ("Bücher <ann@bücher.example>", "ann@xn--bcher-kva.example"),
    ("=?utf-8?q?Ann_=22B=22?= <Ann@Example.NET.>", "Ann@example.net"),
])
def test_requester_addresses(st, store, frm, address):
    lst = new_list(st, "# members\n", store=store)
    req = request(st, lst, "subscribe", frm=frm, mail_from="bounce@example.net")
    assert req.event["vsmlist_result"] == "confirmation_sent", req.event
    assert req.event["vsmlist_address"] == address
    check_list_mail(req.sent[0], lst, address, req)
    conf = Request(st, lst, detail_address(lst, f"confirm-{token_of(req.sent[0])}"),
                   make_message(from_addr=frm, to=lst), "bounce@example.net")
    assert conf.event["vsmlist_result"] == "subscribed", conf.event
    assert list_members(st, lst) == [address.lower()]
    if store == "file":
        # a member file keeps the spelling (a dict row holds the key)
        assert members_file(st, lst) == f"# members\n{address}\n"


@pytest.mark.parametrize("frm,reason", [
    ("a@b@c.example", "more than one '@'"),
    ("café@example.net", "octets SMTP cannot carry"),
    ("x" * 65 + "@example.net", "longer than 64 octets"),
    ("undisclosed-recipients:;", "group syntax"),
    ("ann@[192.0.2.1]", "domain literal"),
    ("Club <{lst}>", "is the list's own"),
    ("{bounces}", "is the list's own"),
])
def test_refused_requesters(st, frm, reason):
    lst = new_list(st, "")
    frm = frm.format(lst=lst, bounces=detail_address(lst, "bounces"))
    req = request(st, lst, "subscribe", frm=frm, mail_from="sender@example.net")
    assert req.code == 250
    assert req.event["vsmlist_result"] == "invalid_requester", req.event
    assert reason in req.event["vsmlist_reason"], req.event
    assert req.sent == []
    assert "subscribe request refused: " in req.line and req.line.endswith("(message kept)")
    assert len(st.dovecot.messages(lst)) == 1
    assert list_members(st, lst) == []


@pytest.mark.parametrize("mail_from,extra,reason", [
    ("", [], "null envelope sender"),
    ("ann@example.net", [("Auto-Submitted", "auto-replied")], "Auto-Submitted: auto-replied"),
    ("ann@example.net", [("X-Loop", "{lst}")], "mail loop"),
    ("ann@example.net", [("List-Id", "x <{local}.lists.example>")], "mail loop"),
])
def test_guard(st, mail_from, extra, reason):
    lst = new_list(st, "")
    local = lst.split("@")[0]
    extra = [(n, v.format(lst=lst, local=local)) for n, v in extra]
    req = request(st, lst, "subscribe", mail_from=mail_from, extra_headers=extra)
    assert req.event["vsmlist_result"] == "ignored", req.event
    assert req.event["vsmlist_reason"].startswith(reason), req.event
    assert req.sent == []
    assert "membership request ignored: " in req.line
    assert len(st.dovecot.messages(lst)) == 1


def test_the_list_answering_itself_stops(st):
    """A confirmation request that comes back to the confirm address (an
    auto-forward of it, say) is the list's own mail: ignored."""
    lst = new_list(st, "")
    req = request(st, lst, "subscribe")
    tx = req.sent[0]
    back = Request(st, lst, header_values(tx.data, "Reply-To")[0], tx.data,
                   "ann@example.net")
    assert back.event["vsmlist_result"] == "ignored"
    assert back.sent == []


# ---------------------------------------------------------------------------
# failures of the relay, before the store is changed; file only

def test_relay_failures(st):
    lst = new_list(st, "")
    st.relay.rcpt_hook = lambda addr: "451 4.3.0 try later"
    req = request(st, lst, "subscribe")
    assert 400 <= req.code < 500, req.res
    assert req.event["vsmlist_result"] == "deferred"
    assert "451 4.3.0 try later" in req.event["error"]
    assert "Error: " in req.line and req.line.endswith("(temporary failure)")
    st.relay.rcpt_hook = lambda addr: "550 5.1.1 no such user"
    req = request(st, lst, "subscribe", frm="gone@example.net")
    assert req.code == 250
    assert req.event["vsmlist_result"] == "failed"
    assert "the relay refused gone@example.net: RCPT TO: 550 5.1.1 no such user" in req.event["error"]
    # the action failed: Pigeonhole keeps the request
    assert len(st.dovecot.messages(lst)) == 1


# ---------------------------------------------------------------------------
# two confirmations at once: the file store's lock, the dict's one
# statement per change

def test_concurrent_confirmations(st, store):
    lst = new_list(st, "# two at once\n", store=store)
    tokens = {}
    for who in ("fay@example.net", "gus@example.net"):
        tokens[who] = token_of(request(st, lst, "subscribe", frm=who).sent[0])
    results = {}

    def confirm(who):
        msg = make_message(from_addr=who, to=lst)
        results[who] = st.dovecot.deliver(
            msg, who, [detail_address(lst, f"confirm-{tokens[who]}")])

    mark = st.dovecot.log_mark()
    threads = [threading.Thread(target=confirm, args=(w,)) for w in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r.code(detail_address(lst, f"confirm-{tokens[w]}")) == 250
               for w, r in results.items()), results
    evs = events(st, mark, n=2)
    assert sorted(e["vsmlist_result"] for e in evs) == ["subscribed", "subscribed"], evs
    assert list_members(st, lst) == ["fay@example.net", "gus@example.net"]
    if store == "file":
        # the file's rewrite keeps what was there
        assert members_file(st, lst).splitlines()[0] == "# two at once"
