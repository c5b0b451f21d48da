"""The list behind a real Postfix, configured as doc/postfix.md says, with
OpenDKIM signing the list's outgoing mail (postfix_stack.py):

    author --SMTP--> Postfix inbound listener --LMTP--> Dovecot: friends@lists.example
    the plugin --SMTP--> Postfix list relay (OpenDKIM signs, d=lists.example)
        --LMTP--> Dovecot: ann@members.example, bob@members.example
        --SMTP--> the sink for remote.example: carol@remote.example

What the members got is read back the way they would: over IMAP from the
test Dovecot (local members) and from the sink's record of the exact bytes
and envelope (the remote member, whose MX the sink stands in for).  The
sink's copies are then judged as a receiving MTA would, with SPF, DKIM
and DMARC against the test DNS (receiver_auth.py); doc/postfix.md has the
resulting table.

Every check waits for Postfix's queue to be empty first: by then every
copy has been delivered, so "exactly once" is not a race.
"""

import os
import re
import secrets
from dataclasses import dataclass

import pytest

import receiver_auth
import vsmstack
from postfix_stack import OpenDkim, Postfix
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

LIST_DOMAIN = "lists.example"
LIST = f"friends@{LIST_DOMAIN}"
BOUNCE = f"friends+bounces@{LIST_DOMAIN}"
ANN = "ann@members.example"
BOB = "bob@members.example"
CAROL = "carol@remote.example"
LOCAL_MEMBERS = [ANN, BOB]
CLUB = f"club@{LIST_DOMAIN}"
NEWBIE = "newbie@members.example"
DKIM_SELECTOR = "vsmlist"

# the authors' domains and the list domain, as a real zone would have them
ZONE = {
    "_dmarc.reject.example": "v=DMARC1; p=reject",
    "_dmarc.none.example": "v=DMARC1; p=none",
    LIST_DOMAIN: "v=spf1 ip4:127.0.0.1 -all",
    f"_dmarc.{LIST_DOMAIN}": "v=DMARC1; p=reject; adkim=s; aspf=s",
}
AUTHOR_DOMAINS = ["reject.example", "none.example"]

# The list's script as the README gives it, with each request to a detail
# address filed into a folder named after the detail instead: it shows
# which detail reaches the list as what. CLUB runs the README's script
# itself (membership through Postfix; bounces: test_bounce_postfix.py).
LIST_SCRIPT = """\
require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox", "variables"];

if envelope :detail :matches "to" "bounces*" {
    fileinto :create "${0}";
} elsif envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
    fileinto :create "${0}";
} else {
    distribute;
    fileinto :create "Archive";
}
"""


@dataclass
class Env:
    st: vsmstack.Stack
    postfix: Postfix
    opendkim: OpenDkim


def _stop(st, postfix, opendkim) -> None:
    try:
        if opendkim is not None:
            opendkim.stop(wait=False)    # it takes seconds: meanwhile the others
        try:
            if postfix is not None:
                postfix.stop()
        finally:
            st.stop()
    finally:
        if opendkim is not None:
            opendkim.stop()


@pytest.fixture(scope="module")
def pstack():
    ports = Postfix.reserve_ports()
    st = vsmstack.Stack(plugin=True, mail_debug=True, protocols=("lmtp", "imap"),
                        txt_records=ZONE, dkim_domains=AUTHOR_DOMAINS,
                        dns_extra_conf=vsmstack.AUTH_ZONE_EXAMPLE,
                        submission_port=ports["smtp_port"])
    st.start()
    postfix = opendkim = None
    try:
        opendkim = OpenDkim(st.workdir, LIST_DOMAIN, DKIM_SELECTOR)
        st.dns.add_txt(*opendkim.generate_key())
        st.dns.restart()
        opendkim.start()
        postfix = Postfix(st.workdir, st.dovecot.lmtp_port,
                          virtual_domains=[LIST_DOMAIN, "members.example"],
                          mailboxes=[LIST, CLUB, NEWBIE] + LOCAL_MEMBERS,
                          transports={"remote.example": f"smtp:[127.0.0.1]:{st.relay.port}"},
                          milter=opendkim.milter, **ports).start()
        for member in LOCAL_MEMBERS + [NEWBIE]:
            st.dovecot.add_user(member)
        st.add_list(LIST, members=LOCAL_MEMBERS + [CAROL], script=LIST_SCRIPT,
                    sieve_vsmlist_submission_host=f"127.0.0.1:{postfix.relay_port}")
        st.add_list(CLUB, members=[ANN], script=vsmstack.readme_list_script(),
                    sieve_vsmlist_submission_host=f"127.0.0.1:{postfix.relay_port}")
    except BaseException:
        _stop(st, postfix, opendkim)
        raise
    yield Env(st, postfix, opendkim)
    _stop(st, postfix, opendkim)


@pytest.fixture
def env(pstack, request):
    """The module's stack, the sink emptied; a failed test prints the
    Postfix and Dovecot logs of its time."""
    pstack.st.relay.clear()
    pf_mark = pstack.postfix.log_mark()
    dc_mark = pstack.st.dovecot.log_mark()
    yield pstack
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(f"\n----- postfix log during {request.node.name} -----\n"
              f"{pstack.postfix.log_since(pf_mark)[-20000:]}")
        log = "".join(l for l in pstack.st.dovecot.log_since(dc_mark).splitlines(True)
                      if ": Debug: " not in l)
        print(f"\n----- dovecot log during {request.node.name} -----\n{log[-20000:]}")


# ---------------------------------------------------------------------------
# helpers

def send(env: Env, msg: bytes, sender: str, rcpt: str) -> None:
    """Post msg to Postfix's inbound listener and wait until every copy
    it causes has left Postfix's queue."""
    refused = env.postfix.send(msg, sender, rcpt)
    assert refused == {}, refused
    env.postfix.wait_queue_empty()


def post(env: Env, author: str, rcpt: str = LIST, sign: bool = True):
    """A fresh post with a unique subject, signed by the author's domain;
    returns (subject, the posted bytes)."""
    subject = f"Post {secrets.token_hex(6)}"
    msg = make_message(from_addr=f"Author <{author}>", to=LIST, subject=subject)
    if sign:
        msg = env.st.dkim_sign(msg, author.rsplit("@", 1)[1])
    send(env, msg, author, rcpt)
    return subject, msg


def imap_fetch(env: Env, user: str, subject: str, folder: str = "INBOX"):
    """The messages with this subject in a folder of user, over IMAP."""
    c = env.st.dovecot.imap(user)
    try:
        typ, data = c.select(f'"{folder}"', readonly=True)
        assert typ == "OK", f"{user}: no folder {folder!r}: {data}"
        typ, data = c.search(None, "SUBJECT", f'"{subject}"')
        assert typ == "OK", data
        out = []
        for num in data[0].split():
            typ, parts = c.fetch(num, "(BODY.PEEK[])")
            assert typ == "OK", parts
            out.append(parts[0][1])
        return out
    finally:
        c.logout()


def sink_copies(env: Env, rcpt: str):
    return env.st.relay.by_recipient().get(rcpt, [])


def dkim_domains(msg: bytes):
    """d= of each DKIM-Signature, topmost first."""
    return [receiver_auth.tags(v).get("d") for v in header_values(msg, "DKIM-Signature")]


def rfc822_part(msg: bytes) -> bytes:
    """The content of the wrapped post's message/rfc822 part, exactly."""
    ctype = header_values(msg, "Content-Type")[0]
    boundary = ctype.split('boundary="', 1)[1].split('"', 1)[0].encode()
    delim = b"\r\n--" + boundary
    for part in msg.split(delim)[1:]:
        head, _, content = part.partition(b"\r\n\r\n")
        if b"message/rfc822" in head.lower():
            return content
    raise AssertionError("no message/rfc822 part")


def receiver_verdict(env: Env, t: vsmstack.Transaction) -> receiver_auth.Verdict:
    return receiver_auth.evaluate(env.st.dns, t.data, ip=t.peer[0],
                                  mail_from=t.mail_from, helo=t.helo)


# ---------------------------------------------------------------------------
# distribution through Postfix

def test_post_reaches_each_member_once(env):
    dc_mark = env.st.dovecot.log_mark()
    pf_mark = env.postfix.log_mark()
    subject, _ = post(env, "nora@none.example")

    # the distribute line names the queue id Postfix gave the list's copy:
    # the link from Dovecot's log to Postfix's
    m = re.search(r"distribute action: .*queued as ([0-9A-Za-z]+)",
                  env.st.dovecot.log_since(dc_mark))
    assert m, env.st.dovecot.log_since(dc_mark)
    assert re.search(rf"postfix/\S+\[\d+\]: {m.group(1)}: from=<{re.escape(BOUNCE)}>",
                     env.postfix.log_since(pf_mark)), m.group(1)

    for member in LOCAL_MEMBERS:
        copies = imap_fetch(env, member, subject)
        assert len(copies) == 1, f"{member} got {len(copies)} copies"
        assert header_values(copies[0], "Return-Path") == [f"<{BOUNCE}>"]

    txs = env.st.relay.snapshot()
    assert [(t.mail_from, t.rcpt_tos) for t in txs] == [(BOUNCE, [CAROL])]
    assert header_values(txs[0].data, "Subject") == [subject]

    # the list keeps its archive; nothing else lands in its INBOX
    assert len(imap_fetch(env, LIST, subject, "Archive")) == 1
    assert imap_fetch(env, LIST, subject) == []


@pytest.mark.parametrize("detail", ["bounces", "subscribe", "unsubscribe",
                                    "confirm-abc", "bounces-carol=remote.example"])
def test_detail_address_reaches_the_list_intact(env, detail):
    """Postfix accepts <list>+<detail> (recipient_delimiter finds the list's
    mailbox) and hands it to Dovecot with the detail, which the list's
    script sees as envelope :detail."""
    subject, _ = post(env, "nora@none.example", rcpt=f"friends+{detail}@{LIST_DOMAIN}")

    filed = imap_fetch(env, LIST, subject, folder=detail)
    assert len(filed) == 1
    assert header_values(filed[0], "Return-Path") == ["<nora@none.example>"]
    # a request is no post: nobody got it
    assert env.st.relay.snapshot() == []
    for member in LOCAL_MEMBERS:
        assert imap_fetch(env, member, subject) == []


def test_only_the_list_relay_signs(env):
    """OpenDKIM is the list relay's milter only: posts and other mail
    arriving on the inbound listener are not signed, even one that claims
    to be from the list; the list's own copies are."""
    subject, _ = post(env, "nora@none.example")
    archived = imap_fetch(env, LIST, subject, "Archive")[0]
    assert dkim_domains(archived) == ["none.example"]
    assert dkim_domains(imap_fetch(env, ANN, subject)[0]) == [LIST_DOMAIN, "none.example"]

    forged = make_message(from_addr=f"Friends <{LIST}>", to=ANN,
                          subject=f"Forged {secrets.token_hex(6)}")
    send(env, forged, LIST, ANN)
    got = imap_fetch(env, ANN, header_values(forged, "Subject")[0])
    assert len(got) == 1 and dkim_domains(got[0]) == []


def test_list_mail_waits_while_opendkim_is_down(env):
    """milter_default_action = tempfail: without its signer the list relay
    answers 4xx, the plugin fails the post temporarily and Postfix keeps
    it; once OpenDKIM is back, the retry (postqueue -f here, Postfix's
    queue manager later on its own) reaches each member once, signed.
    Nothing goes out unsigned."""
    env.opendkim.stop()
    mark = env.postfix.log_mark()
    try:
        subject = f"Post {secrets.token_hex(6)}"
        msg = env.st.dkim_sign(make_message(from_addr="Author <nora@none.example>",
                                            to=LIST, subject=subject), "none.example")
        assert env.postfix.send(msg, "nora@none.example", LIST) == {}
        env.postfix.wait_deferred()
        assert env.postfix.wait_log(mark, r"to=<friends@lists\.example>.*status=deferred")
        assert env.postfix.wait_log(
            mark, r"list-relay/smtpd.*milter-reject: MAIL from .*: 451 4\.7\.1 ")
        assert env.st.relay.snapshot() == []
        for member in LOCAL_MEMBERS:
            assert imap_fetch(env, member, subject) == []
    finally:
        env.opendkim.start()
    env.postfix.flush()
    env.postfix.wait_queue_empty()

    for member in LOCAL_MEMBERS:
        copies = imap_fetch(env, member, subject)
        assert len(copies) == 1, f"{member} got {len(copies)} copies"
        assert dkim_domains(copies[0]) == [LIST_DOMAIN, "none.example"]
    txs = sink_copies(env, CAROL)
    assert len(txs) == 1 and dkim_domains(txs[0].data) == [LIST_DOMAIN, "none.example"]


# ---------------------------------------------------------------------------
# aligned authentication, judged where the remote member's MX would

def test_wrapped_post_passes_dmarc_as_the_list(env):
    """(a) A p=reject author's post is wrapped: From is the list, MAIL FROM
    the bounce address (SPF passes for lists.example from 127.0.0.1) and
    OpenDKIM's signature d=lists.example: both aligned, strictly, with
    From, so DMARC passes for the list domain.  (c) The original inside
    still verifies with its author's signature."""
    post(env, "rita@reject.example")
    txs = sink_copies(env, CAROL)
    assert len(txs) == 1
    t = txs[0]
    v = receiver_verdict(env, t)
    print(v.summary())

    assert t.mail_from == BOUNCE
    assert v.from_domain == LIST_DOMAIN
    assert (v.spf, v.spf_domain, v.spf_aligned) == ("pass", LIST_DOMAIN, True)
    assert [(r.domain, r.selector, r.passed) for r in v.dkim] == \
        [(LIST_DOMAIN, DKIM_SELECTOR, True)]
    assert v.dkim_aligned == [LIST_DOMAIN]
    assert v.record["p"] == "reject"
    assert v.dmarc == "pass"

    inner = rfc822_part(t.data)
    assert header_values(inner, "From") == ["Author <rita@reject.example>"]
    assert dkim_domains(inner) == ["reject.example"]
    assert env.st.dkim_verify(inner), "the original's signature broke inside the wrapper"


def test_untouched_post_keeps_the_authors_dmarc_pass(env):
    """(b) A p=none author's post goes out untouched: the author's
    signature still verifies and is aligned with From, so DMARC passes for
    the author's domain through DKIM; SPF passes for the list domain,
    which is not aligned, and the list's own signature is there too."""
    _, posted = post(env, "nora@none.example")
    txs = sink_copies(env, CAROL)
    assert len(txs) == 1
    v = receiver_verdict(env, txs[0])
    print(v.summary())

    assert header_values(txs[0].data, "From") == header_values(posted, "From")
    assert v.from_domain == "none.example"
    assert (v.spf, v.spf_domain, v.spf_aligned) == ("pass", LIST_DOMAIN, False)
    assert sorted((r.domain, r.passed) for r in v.dkim) == \
        [(LIST_DOMAIN, True), ("none.example", True)]
    assert v.dkim_aligned == ["none.example"]
    assert v.record["p"] == "none"
    assert v.dmarc == "pass"


# ---------------------------------------------------------------------------
# joining through Postfix, with the README's script

def test_subscription_round_trip_through_postfix(env):
    """A newcomer writes to club+subscribe@; the confirmation goes out
    through the list relay (signed by OpenDKIM), Postfix delivers it; the
    reply to its Reply-To comes back through Postfix to the list; the
    welcome follows, and the newcomer gets the next post."""
    request = make_message(from_addr=f"Newbie <{NEWBIE}>", to=f"club+subscribe@{LIST_DOMAIN}",
                           subject="subscribe")
    send(env, request, NEWBIE, f"club+subscribe@{LIST_DOMAIN}")
    confirm = [m for m in imap_fetch_all(env, NEWBIE)
               if header_values(m, "Reply-To") and
               "+confirm-" in header_values(m, "Reply-To")[0]]
    assert len(confirm) == 1, "no confirmation request"
    assert header_values(confirm[0], "Return-Path") == [f"<club+bounces@{LIST_DOMAIN}>"]
    assert dkim_domains(confirm[0])[0] == LIST_DOMAIN
    reply_to = re.search(r"[^<\s]+\+confirm-[^>\s]+", header_values(confirm[0], "Reply-To")[0]).group(0)

    reply = make_message(from_addr=f"Newbie <{NEWBIE}>", to=reply_to,
                         subject="Re: " + header_values(confirm[0], "Subject")[0])
    send(env, reply, NEWBIE, reply_to)
    members = open(os.path.join(env.st.dovecot.home(CLUB), "vsmlist", "members")).read()
    assert NEWBIE in members.lower().split()
    assert any("welcome" in (header_values(m, "Subject") or [""])[0].lower()
               for m in imap_fetch_all(env, NEWBIE)), "no welcome"

    subject, _ = post(env, ANN, rcpt=CLUB, sign=False)
    assert len(imap_fetch(env, NEWBIE, subject)) == 1


def imap_fetch_all(env: Env, user: str, folder: str = "INBOX"):
    c = env.st.dovecot.imap(user)
    try:
        typ, data = c.select(f'"{folder}"', readonly=True)
        assert typ == "OK", data
        typ, data = c.search(None, "ALL")
        out = []
        for num in data[0].split():
            typ, parts = c.fetch(num, "(BODY.PEEK[])")
            out.append(parts[0][1])
        return out
    finally:
        c.logout()
