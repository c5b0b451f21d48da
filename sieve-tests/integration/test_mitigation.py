"""DMARC mitigation on a real stack (issue 4): wrap, munge, untouched with
DKIM-safe list headers, and the decision behind each.

Stack (one for this module): dnsmasq as the authoritative server of the
zone "example" (answers carry TTLs, negative answers the zone's SOA), an
aiosmtpd relay that keeps the exact DATA bytes of each transaction,
Dovecot LMTP with Pigeonhole and the vsmlist plugin, and dkimpy as the
DKIM oracle.  The zone has:

  reject.example       p=reject              (author key: DKIM-signs posts)
  quarantine.example   p=quarantine          (author key)
  none.example         p=none                (author key)
  norecord.example     no DMARC record       (author key)
  sp.example           p=none; sp=quarantine (mail.sp.example exists)
  np.example           p=none; sp=none; np=reject
                       (host.np.example exists, ghost.np.example does not)
  notreject.example    p=reject              (not a subdomain of reject.example)
  lists.example        p=reject, and a DKIM key: the list's own domain

The relay stands in for the list's MTA: for a wrapped post it signs its
copy with the lists.example key (as the MTA's milter would) and verifies
it, to show that outer From domain == envelope sender domain == signing
domain == lists.example (DMARC-aligned for SPF and DKIM).

What LMTP adds.  Dovecot's LMTP prepends its own trace fields to the post
before Sieve sees it: `Return-Path:` and `Delivered-To: <list>` (both
removed by the plugin: they belong to the list's own hop), then
`Received: from client.test ... with LMTP ...`.  So the original inside a
wrapped message (and the tail of an untouched one) is the posted bytes
with exactly that Received field on top.  The tests strip exactly the
leading Received field, assert that it (and nothing else) was there, and
then compare the rest with the posted bytes byte for byte.  Posts are CRLF on the wire both ways, so
the comparison is exact, not only "line endings aside".  A post without a
final newline cannot travel over SMTP/LMTP DATA (its terminator supplies
one), so that case goes through dovecot-lda, which adds no trace fields.

Events: Dovecot's event exporter writes each vsmlist_distribute_finished
event as JSON into the log (see test_dmarc_distribute.py); the post's event
is found by its message_id field.

Relay line length: aiosmtpd refuses DATA lines longer than 1000 octets +
CRLF (RFC 5321 4.5.3.1.6), as a strict MTA may.  The module keeps that
strict relay (so a header line the plugin makes too long is caught); only
the tests that post an over-long line on purpose (the binary body, the
7-bit long line) or that look past a known over-long Reply-To (the 2 KB
name's From) lift the limit, for their own delivery only.

Known plugin bugs are xfail(strict=True) tests with the bug in their
reason: they fail the run as soon as a fix makes them pass, so that the
mark is removed.
"""

import base64
import collections
import email
import email.policy
import email.utils
import hashlib
import quopri
import re
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import pytest

import vsmstack
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

ZONE = {
    "_dmarc.reject.example": "v=DMARC1; p=reject",
    "_dmarc.quarantine.example": "v=DMARC1; p=quarantine",
    "_dmarc.none.example": "v=DMARC1; p=none",
    # norecord.example exists but publishes no DMARC record (nor does example)
    "norecord.example": "v=spf1 -all",
    "_dmarc.sp.example": "v=DMARC1; p=none; sp=quarantine",
    "mail.sp.example": "v=spf1 -all",
    "_dmarc.np.example": "v=DMARC1; p=none; sp=none; np=reject",
    "host.np.example": "v=spf1 -all",
    "_dmarc.notreject.example": "v=DMARC1; p=reject",
    "_dmarc.lists.example": "v=DMARC1; p=reject; adkim=s; aspf=s",
}

AUTH_ZONE = vsmstack.AUTH_ZONE_EXAMPLE

EXPORTER = vsmstack.EVENT_EXPORTER_CONF

LIST_DOMAIN = "lists.example"
AUTHOR_KEYS = ["reject.example", "quarantine.example", "none.example",
               "norecord.example"]
MEMBERS = ["m1@example.net", "m2@example.org", "m3@example.com"]

FRIENDS = "friends@lists.example"           # auto, the defaults
POLICY = "policy@lists.example"             # force none.example, exempt reject.example
MUNGE = "munge@lists.example"               # sieve_vsmlist_dmarc=munge
CALL_MUNGE = "callmunge@lists.example"      # distribute :dmarc "munge"
CALL_WRAP = "callwrap@lists.example"        # distribute :dmarc "wrap"
CALL_NONE = "callnone@lists.example"        # distribute :dmarc "none"
ANNOUNCE = "announce@lists.example"         # own notice file, more List-* headers
DNS_LISTS = {policy: f"dns{policy}@lists.example"
             for policy in ("wrap", "tempfail", "none")}

LIST_NAMES = {FRIENDS: "Friends", POLICY: "Policy", MUNGE: "Munge",
              CALL_MUNGE: "CallMunge", CALL_WRAP: "CallWrap",
              CALL_NONE: "CallNone", ANNOUNCE: "Announce",
              **{lst: f"Dns{policy}" for policy, lst in DNS_LISTS.items()}}

NOTICE_FILE = ("NOTICE for %{list_name} <%{list}>: wrapped post by %{author}\n"
               "because: %{reason}\n")

# the fields Dovecot LMTP puts on top of a post (after Return-Path, which
# the plugin removes); see the module docstring
LMTP_TRACE = ["Received"]

# the membership addresses are in the default list headers
MEMBERSHIP_HEADERS = ["List-Subscribe", "List-Unsubscribe"]
UNTOUCHED_ADDED = ["X-Loop", "Sender", "List-Id", "List-Post"] + MEMBERSHIP_HEADERS + ["Precedence"]


def script(dmarc: Optional[str] = None) -> str:
    tag = f' :dmarc "{dmarc}"' if dmarc else ""
    return f'require "vnd.vsmlist";\ndistribute{tag};\n'


@pytest.fixture(scope="module")
def mstack():
    st = vsmstack.Stack(plugin=True, mail_debug=True, txt_records=ZONE,
                        dkim_domains=AUTHOR_KEYS + [LIST_DOMAIN],
                        dns_extra_conf=AUTH_ZONE, dovecot_extra_conf=EXPORTER)
    st.start()
    try:
        st.add_list(FRIENDS, members=MEMBERS, sieve_vsmlist_name="Friends")
        st.add_list(POLICY, members=MEMBERS, sieve_vsmlist_name="Policy",
                    sieve_vsmlist_dmarc_force="none.example",
                    sieve_vsmlist_dmarc_exempt="reject.example")
        st.add_list(MUNGE, members=MEMBERS, sieve_vsmlist_name="Munge",
                    sieve_vsmlist_dmarc="munge")
        st.add_list(CALL_MUNGE, members=MEMBERS, script=script("munge"),
                    sieve_vsmlist_name="CallMunge")
        st.add_list(CALL_WRAP, members=MEMBERS, script=script("wrap"),
                    sieve_vsmlist_name="CallWrap")
        st.add_list(CALL_NONE, members=MEMBERS, script=script("none"),
                    sieve_vsmlist_name="CallNone")
        st.add_list(ANNOUNCE, members=MEMBERS, sieve_vsmlist_name="Announce",
                    sieve_vsmlist_notice="file:~/notice.txt",
                    sieve_vsmlist_list_headers="List-Id,List-Post,List-Help,List-Owner",
                    sieve_vsmlist_list_help="mailto:announce-help@lists.example",
                    sieve_vsmlist_list_owner="announce-owner@lists.example")
        st.dovecot.write_user_file(ANNOUNCE, "notice.txt", NOTICE_FILE)
        # a resolver that is not there: a closed UDP/TCP port on loopback
        dead = f"127.0.0.1:{vsmstack.free_port(udp_too=True)}"
        for policy, lst in DNS_LISTS.items():
            st.add_list(lst, members=MEMBERS, sieve_vsmlist_name=LIST_NAMES[lst],
                        sieve_vsmlist_dns_servers=dead,
                        sieve_vsmlist_dns_timeout="300ms",
                        sieve_vsmlist_dns_failure=policy)
    except BaseException:
        st.stop()
        raise
    yield st
    st.stop()


@pytest.fixture
def ms(mstack, request):
    """The module stack, relay emptied and its hooks off; on failure the
    Dovecot log of the test is printed."""
    mstack.relay.clear()
    mstack.relay.mail_hook = mstack.relay.rcpt_hook = mstack.relay.data_hook = None
    mark = mstack.dovecot.log_mark()
    yield mstack
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        log = "".join(l for l in mstack.dovecot.log_since(mark).splitlines(True)
                      if ": Debug: " not in l)
        print(f"\n----- dovecot log during {request.node.name} -----\n{log[-20000:]}")


# ---------------------------------------------------------------------------
# helpers: posting, events, taking the relay's copies apart

def msgid_of(msg: bytes) -> str:
    return header_values(msg, "Message-ID")[0]


def sign(st, msg: bytes, domain: str, **kw) -> bytes:
    return st.dkim_keys[domain].sign(msg, **kw)


def exported_event(st, mark: int, message_id: str, timeout: float = 5.0) -> dict:
    """Fields of the vsmlist_distribute_finished event of the post whose
    Message-ID is given (Dovecot's exporter logs it as JSON)."""
    found = st.dovecot.exported_events(mark, "vsmlist_distribute_finished",
                                       timeout=timeout, message_id=message_id)
    if not found:
        log = "".join(l for l in st.dovecot.log_since(mark).splitlines(True)
                      if ": Debug: " not in l)
        raise AssertionError(f"no exported event for {message_id}:\n{log}")
    return found[0]


@dataclass
class Outcome:
    posted: bytes
    copies: Dict[str, vsmstack.Transaction]     # member -> its transaction
    event: dict
    mark: int

    @property
    def data(self) -> bytes:
        """The relay's bytes (one transaction: the same for every member)."""
        datas = {t.data for t in self.copies.values()}
        assert len(datas) == 1, "members got different bytes"
        return next(iter(datas))

    def each(self):
        return self.copies.items()


def post(st, lst: str, msg: bytes, sender: str, members=MEMBERS,
         timeout: float = 60.0) -> Outcome:
    """LMTP-deliver msg to the list; every member must get exactly one
    copy, in an accepted transaction from the list's bounce address."""
    st.relay.clear()
    mark = st.dovecot.log_mark()
    res = st.dovecot.deliver(msg, sender, [lst], timeout=timeout)
    assert res.code(lst) == 250, res
    by_rcpt = st.relay.by_recipient()
    assert collections.Counter(st.relay.recipients()) == collections.Counter(members), \
        [(t.rcpt_tos, t.response) for t in st.relay.snapshot()]
    local = lst.split("@")[0]
    for m, txs in by_rcpt.items():
        assert len(txs) == 1
        assert txs[0].mail_from == f"{local}+bounces@{LIST_DOMAIN}"
    copies = {m: txs[0] for m, txs in by_rcpt.items()}
    return Outcome(msg, copies, exported_event(st, mark, msgid_of(msg)), mark)


def field_blocks(data: bytes) -> Tuple[List[Tuple[str, bytes]], bytes]:
    """The header fields of a message as (name, raw bytes incl. folding and
    CRLF), and the rest (from the empty line on)."""
    fields: List[Tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        if data.startswith(b"\r\n", pos):
            break
        end = data.index(b"\r\n", pos) + 2
        while end < len(data) and data[end:end + 1] in (b" ", b"\t"):
            end = data.index(b"\r\n", end) + 2
        line = data[pos:end]
        fields.append((line.split(b":", 1)[0].decode("ascii", "replace"), line))
        pos = end
    return fields, data[pos:]


def raw_field(msg: bytes, name: str) -> bytes:
    found = [raw for n, raw in field_blocks(msg)[0] if n.lower() == name.lower()]
    assert len(found) == 1, (name, found)
    return found[0]


def strip_leading(data: bytes, names: List[str]) -> Tuple[List[str], bytes]:
    """Remove the leading header fields named in `names` (any order);
    returns their names in order and the rest."""
    fields, _ = field_blocks(data)
    taken = []
    pos = 0
    for n, raw in fields:
        if n not in names:
            break
        taken.append(n)
        pos += len(raw)
    return taken, data[pos:]


def strip_lmtp_trace(data: bytes) -> bytes:
    taken, rest = strip_leading(data, LMTP_TRACE)
    assert taken == LMTP_TRACE, f"LMTP trace fields on top: {taken}"
    return rest


def outer_boundary(data: bytes) -> bytes:
    ctype = raw_field(data, "Content-Type")
    m = re.search(rb'boundary="([^"]+)"', ctype)
    assert m, ctype
    return m.group(1)


@dataclass
class Wrapped:
    head: bytes        # outer header block (up to and including the empty line)
    boundary: bytes
    notice_headers: bytes
    notice: str        # decoded text
    inner_headers: bytes
    inner: bytes       # the message/rfc822 part's content, exactly


def unwrap(data: bytes) -> Wrapped:
    """Take a wrapped message apart by its boundary, byte for byte."""
    boundary = outer_boundary(data)
    delim = b"\r\n--" + boundary
    close = delim + b"--\r\n"
    assert data.endswith(close), data[-200:]
    head_end = data.index(b"\r\n\r\n") + 4
    body = data[head_end - 2:len(data) - len(close)]      # starts with CRLF
    parts = body.split(delim + b"\r\n")
    assert len(parts) == 3, f"{len(parts) - 1} parts"
    assert parts[0].startswith(b"\r\n")                   # the preamble
    notice_part, inner_part = parts[1], parts[2]
    nh_end = notice_part.index(b"\r\n\r\n") + 4
    notice_qp = notice_part[nh_end:]
    for line in notice_qp.split(b"\r\n"):
        assert len(line) <= 76, line
    ih_end = inner_part.index(b"\r\n\r\n") + 4
    return Wrapped(head=data[:head_end], boundary=boundary,
                   notice_headers=notice_part[:nh_end],
                   notice=quopri.decodestring(notice_qp).decode("utf-8"),
                   inner_headers=inner_part[:ih_end],
                   inner=inner_part[ih_end:])


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def single_mailbox(msg, name: str):
    """The one mailbox of an address field (email.headerregistry)."""
    values = msg.get_all(name)
    assert values is not None and len(values) == 1, (name, values)
    hdr = values[0]
    assert not hdr.defects, (name, str(hdr), hdr.defects)
    assert len(hdr.addresses) == 1 and not hdr.groups[0].display_name, (name, str(hdr))
    return hdr.addresses[0]


def mta_sign_and_check_alignment(st, tx: vsmstack.Transaction) -> None:
    """What the list's MTA does with a wrapped/munged copy: sign it with the
    list domain's key; it verifies, and From, envelope sender and d= are
    all the list's domain (DMARC-aligned, strict)."""
    signed = st.dkim_keys[LIST_DOMAIN].sign(tx.data)
    assert st.dkim_verify(signed, 0), "the list MTA's signature does not verify"
    sig = header_values(signed, "DKIM-Signature")[0]
    d = re.search(r"(?:^|;)\s*d=([^;\s]+)", sig).group(1)
    frm = single_mailbox(parse(tx.data), "From")
    env_domain = tx.mail_from.rsplit("@", 1)[1]
    assert frm.domain.lower() == env_domain.lower() == d.lower() == LIST_DOMAIN
    # the list domain's own strict policy (adkim=s, aspf=s) is what this meets
    assert st.dns.txt_lookup(f"_dmarc.{LIST_DOMAIN}") == [ZONE[f"_dmarc.{LIST_DOMAIN}"].encode()]


def check_wrapped(st, out: Outcome, lst: str, author_name: Optional[str],
                  reason: str, trace: bool = True) -> Wrapped:
    """Everything a wrapped copy must be; returns the parts of one copy.
    author_name None: an unusable author (From = the list's own name)."""
    list_name = LIST_NAMES[lst]
    posted = out.posted
    for member, tx in out.each():
        data = tx.data
        for line in data[:data.index(b"\r\n\r\n")].split(b"\r\n"):
            assert len(line) <= 998, f"header line of {len(line)} octets"
        w = unwrap(data)
        names = [n for n, _ in field_blocks(w.head)[0]]
        has = lambda h: bool(header_values(posted, h))
        expected = (["From"]
                    + (["Reply-To"] if has("Reply-To") or author_name is not None else [])
                    + [h for h in ("To", "Cc", "Subject") if has(h)] + ["Date"]
                    + [h for h in ("In-Reply-To", "References") if has(h)]
                    + ["Message-ID", "List-Id", "List-Post"]
                    + (["List-Help", "List-Owner"] if lst == ANNOUNCE else MEMBERSHIP_HEADERS)
                    + ["Precedence", "X-Loop", "MIME-Version", "Content-Type",
                       "Content-Transfer-Encoding"])
        assert names == expected, names
        outer = parse(data)
        assert outer.get_content_type() == "multipart/mixed"
        frm = single_mailbox(outer, "From")
        assert frm.addr_spec == lst
        want_name = list_name if author_name is None else f"{author_name} via {list_name}"
        assert frm.display_name == want_name
        # the raw From is ASCII (RFC 2047 words for anything else)
        raw_field(data, "From").decode("ascii")
        # Reply-To: the post's own, else the author's From field (its value
        # as the author wrote it; compared white space normalised)
        src = "Reply-To" if has("Reply-To") else ("From" if author_name else None)
        if src is not None:
            got = header_values(data, "Reply-To")
            assert len(got) == 1
            assert " ".join(got[0].split()) == " ".join(header_values(posted, src)[0].split())
            assert [a for _, a in email.utils.getaddresses(got)] == \
                [a for _, a in email.utils.getaddresses(header_values(posted, src))]
        for name in ("To", "Cc", "Subject", "Date", "In-Reply-To", "References"):
            if header_values(posted, name):
                assert raw_field(data, name) == raw_field(posted, name), name
        assert msgid_of(data) != msgid_of(posted)
        assert re.fullmatch(r"<[^<>@\s]+@lists\.example>", msgid_of(data)), msgid_of(data)
        assert header_values(data, "List-Id") == [
            f"{list_name} <{lst.split('@')[0]}.{LIST_DOMAIN}>"]
        assert header_values(data, "List-Post") == [f"<mailto:{lst}>"]
        assert header_values(data, "X-Loop") == [lst]
        assert header_values(data, "MIME-Version") == ["1.0"]
        # the notice
        assert b"Content-Type: text/plain; charset=utf-8" in w.notice_headers
        assert b"Content-Transfer-Encoding: quoted-printable" in w.notice_headers
        notice = " ".join(w.notice.split())
        assert reason in notice, notice
        assert (author_name or "an unknown author") in notice, notice
        # the original, byte for byte
        assert b"Content-Type: message/rfc822\r\n" in w.inner_headers
        cte = re.search(rb"Content-Transfer-Encoding: (\S+)\r\n", w.inner_headers).group(1)
        assert cte in (b"7bit", b"8bit", b"binary")
        inner = strip_lmtp_trace(w.inner) if trace else w.inner
        assert inner == posted, "the inner original differs from the post"
        assert w.boundary not in posted
        # the outer message at the list MTA
        mta_sign_and_check_alignment(st, tx)
    ev = out.event
    assert ev["vsmlist_mitigation"] == "wrap", ev
    assert reason in ev["vsmlist_reason"], ev
    assert ev["vsmlist_list"] == lst
    assert int(ev["vsmlist_recipients"]) == len(out.copies)
    return unwrap(out.data)


def check_untouched(st, out: Outcome, lst: str, added=UNTOUCHED_ADDED,
                    reason: Optional[str] = None, verify: bool = True) -> None:
    """An untouched copy: the plugin's fields on top (exactly `added`, in
    that order), then LMTP's trace fields, then the posted bytes."""
    for member, tx in out.each():
        taken, rest = strip_leading(tx.data, UNTOUCHED_ADDED)
        assert taken == list(added), taken
        assert strip_lmtp_trace(rest) == out.posted
        if verify:
            assert st.dkim_verify(tx.data), "author's DKIM signature broken at the relay"
        if "Sender" in added:
            assert header_values(tx.data, "Sender") == [f"<{lst.split('@')[0]}+bounces@{LIST_DOMAIN}>"]
        if "List-Id" in added:
            assert header_values(tx.data, "List-Id") == [
                f"{LIST_NAMES[lst]} <{lst.split('@')[0]}.{LIST_DOMAIN}>"]
        if "List-Post" in added:
            assert header_values(tx.data, "List-Post") == [f"<mailto:{lst}>"]
        local = lst.split('@')[0]
        for name, detail in (("List-Subscribe", "subscribe"), ("List-Unsubscribe", "unsubscribe")):
            if name in added:
                assert header_values(tx.data, name) == [f"<mailto:{local}+{detail}@{LIST_DOMAIN}>"]
        if "X-Loop" in added:
            assert header_values(tx.data, "X-Loop") == [lst]
    assert out.event["vsmlist_mitigation"] == "none", out.event
    if reason is not None:
        assert reason in out.event["vsmlist_reason"], out.event


def author_post(author: str, lst: str = FRIENDS, key: Optional[str] = None,
                st=None, **kw) -> bytes:
    msg = make_message(from_addr=author, to=lst, **kw)
    if key is not None:
        msg = sign(st, msg, key)
    return msg


def addr(author: str) -> str:
    return email.utils.parseaddr(author)[1]


# ---------------------------------------------------------------------------
# auto mode: p=reject / p=quarantine wrapped, p=none / no record untouched

@pytest.mark.parametrize("author,domain,policy", [
    ("Ann Author <ann@reject.example>", "reject.example", "reject"),
    ("Quinn <quinn@quarantine.example>", "quarantine.example", "quarantine"),
])
def test_strict_policy_wrapped_aligned_and_inner_verifies(ms, author, domain, policy):
    msg = author_post(author, key=domain, st=ms, subject=f"{policy} post",
                      extra_headers=[("Cc", "Someone <someone@example.com>"),
                                     ("In-Reply-To", "<parent@example.com>"),
                                     ("References", "<root@example.com>\r\n <parent@example.com>")])
    out = post(ms, FRIENDS, msg, addr(author))
    w = check_wrapped(ms, out, FRIENDS, author.split(" <")[0], f"DMARC policy {policy}")
    # the original inside, as a member extracts it, still verifies
    assert ms.dkim_verify(w.inner), "inner original's DKIM signature broken"
    assert ms.dkim_verify(strip_lmtp_trace(w.inner))
    assert b"Content-Transfer-Encoding: 7bit\r\n" in w.inner_headers
    # Reply-To: the author
    assert single_mailbox(parse(out.data), "Reply-To").addr_spec == addr(author)
    ev = out.event
    assert ev["vsmlist_dmarc_policy"] == policy and ev["vsmlist_author_domain"] == domain


@pytest.mark.parametrize("author,domain,policy,reason", [
    ("Cid <cid@none.example>", "none.example", "none", "DMARC policy none"),
    ("Dan <dan@norecord.example>", "norecord.example", "nopolicy", "no DMARC policy"),
])
def test_lax_policy_untouched_and_verifies(ms, author, domain, policy, reason):
    msg = author_post(author, key=domain, st=ms, body="plain text\r\n")
    out = post(ms, FRIENDS, msg, addr(author))
    check_untouched(ms, out, FRIENDS, reason=reason)
    assert out.event["vsmlist_dmarc_policy"] == policy


@pytest.mark.parametrize("author,mitigation,policy", [
    ("Sam <sam@mail.sp.example>", "wrap", "quarantine"),       # existing: sp
    ("Nat <nat@host.np.example>", "none", "none"),             # existing: sp=none
    ("Gil <gil@ghost.np.example>", "wrap", "reject"),          # non-existent: np
])
def test_subdomain_policies_sp_and_np(ms, author, mitigation, policy):
    msg = author_post(author)
    out = post(ms, FRIENDS, msg, addr(author))
    assert out.event["vsmlist_dmarc_policy"] == policy, out.event
    if mitigation == "wrap":
        check_wrapped(ms, out, FRIENDS, author.split(" <")[0], f"DMARC policy {policy}")
    else:
        check_untouched(ms, out, FRIENDS, verify=False, reason="DMARC policy none")


# ---------------------------------------------------------------------------
# DKIM-safe additions to untouched posts

@pytest.mark.parametrize("signed,added", [
    # oversigned (absent, named in h=): neither may be added
    (["List-Id", "Sender"], ["X-Loop", "List-Post"] + MEMBERSHIP_HEADERS + ["Precedence"]),
    (["List-Post"], ["X-Loop", "Sender", "List-Id"] + MEMBERSHIP_HEADERS + ["Precedence"]),
    (["Precedence"], ["X-Loop", "Sender", "List-Id", "List-Post"] + MEMBERSHIP_HEADERS),
    (["List-Unsubscribe"], ["X-Loop", "Sender", "List-Id", "List-Post", "List-Subscribe",
                            "Precedence"]),
    # X-Loop is the loop guard's anchor: added even where a signature
    # names it (that one signature breaks; no list can loop)
    (["List-Id", "List-Post", "Sender", "X-Loop"], ["X-Loop"] + MEMBERSHIP_HEADERS + ["Precedence"]),
])
def test_signed_list_headers_are_not_added(ms, signed, added):
    author = "Cid <cid@none.example>"
    msg = make_message(from_addr=author, to=FRIENDS)
    h = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
         "Content-Type", "Content-Transfer-Encoding", "From"] + signed
    msg = sign(ms, msg, "none.example", include_headers=h)
    out = post(ms, FRIENDS, msg, addr(author))
    check_untouched(ms, out, FRIENDS, added=added, reason="DMARC policy none",
                    verify="X-Loop" not in signed)
    for name in set(UNTOUCHED_ADDED) - set(added):
        assert not header_values(out.data, name), name
    left = ms.dovecot.wait_log(out.mark, r"header\(s\) not added to keep the author's "
                               r"DKIM signature valid")
    assert left, ms.dovecot.log_since(out.mark)
    for name in signed:
        if name != "X-Loop":
            assert f"{name} (signed by d=none.example)" in left[0], left[0]


def test_second_signature_counts_too(ms):
    """Two signatures: the outer (an ESP's) names List-Id, the author's does
    not; List-Id must still not be added, and both verify."""
    author = "Cid <cid@none.example>"
    msg = sign(ms, make_message(from_addr=author, to=FRIENDS), "none.example")
    msg = sign(ms, msg, "norecord.example",
               include_headers=["From", "Subject", "List-Id"])
    out = post(ms, FRIENDS, msg, addr(author))
    check_untouched(ms, out, FRIENDS, added=["X-Loop", "Sender", "List-Post"]
                    + MEMBERSHIP_HEADERS + ["Precedence"])
    assert ms.dkim_verify(out.data, 0) and ms.dkim_verify(out.data, 1)


def test_existing_unsigned_sender_not_duplicated(ms):
    author = "Cid <cid@none.example>"
    msg = make_message(from_addr=author, to=FRIENDS,
                       extra_headers=[("Sender", "Secretary <sec@none.example>")])
    msg = sign(ms, msg, "none.example",
               include_headers=["From", "To", "Subject", "Date", "Message-ID"])
    out = post(ms, FRIENDS, msg, addr(author))
    assert ms.dkim_verify(out.data)
    assert len(header_values(out.data, "Sender")) == 1, header_values(out.data, "Sender")


# ---------------------------------------------------------------------------
# force and exempt lists

@pytest.mark.parametrize("author,key,wrapped,reason", [
    ("Cid <cid@none.example>", "none.example", True,
     "none.example is forced (sieve_vsmlist_dmarc_force none.example)"),
    ("Dee <dee@dept.none.example>", None, True,
     "dept.none.example is forced (sieve_vsmlist_dmarc_force none.example)"),
    ("Ann <ann@reject.example>", "reject.example", False,
     "reject.example is exempt (sieve_vsmlist_dmarc_exempt reject.example)"),
    ("Ari <ari@dept.reject.example>", None, False,
     "dept.reject.example is exempt (sieve_vsmlist_dmarc_exempt reject.example)"),
    # a domain ending in the exempt name is not its subdomain
    ("Nora <nora@notreject.example>", None, True, "DMARC policy reject"),
    # neither listed: the policy decides as usual
    ("Quinn <quinn@quarantine.example>", "quarantine.example", True,
     "DMARC policy quarantine"),
])
def test_force_and_exempt(ms, author, key, wrapped, reason):
    msg = author_post(author, lst=POLICY, key=key, st=ms)
    out = post(ms, POLICY, msg, addr(author))
    if wrapped:
        w = check_wrapped(ms, out, POLICY, author.split(" <")[0], reason)
        if key:
            assert ms.dkim_verify(w.inner)
    else:
        check_untouched(ms, out, POLICY, reason=reason, verify=key is not None)


# ---------------------------------------------------------------------------
# munge: the setting, and :dmarc per call

def munged_expectation(posted: bytes, remove: List[str]) -> bytes:
    fields, rest = field_blocks(posted)
    return b"".join(raw for n, raw in fields if n not in remove) + rest


@pytest.mark.parametrize("lst,author,key,reason", [
    (MUNGE, "Cid <cid@none.example>", "none.example", "sieve_vsmlist_dmarc is munge"),
    (CALL_MUNGE, "Ann Author <ann@reject.example>", "reject.example",
     "sieve_vsmlist_dmarc is munge"),
])
def test_munge_without_reply_to(ms, lst, author, key, reason):
    msg = author_post(author, lst=lst, key=key, st=ms, body="munged body\r\n")
    out = post(ms, lst, msg, addr(author))
    for member, tx in out.each():
        munged = ["From", "Reply-To", "List-Id", "List-Post"] + MEMBERSHIP_HEADERS + \
            ["Precedence", "X-Loop"]
        taken, rest = strip_leading(tx.data, munged)
        assert taken == munged, taken
        # the rest: LMTP's trace and the post without its From, untouched
        assert strip_lmtp_trace(rest) == munged_expectation(msg, ["From"])
        m = parse(tx.data)
        frm = single_mailbox(m, "From")
        assert frm.addr_spec == lst
        assert frm.display_name == f"{author.split(' <')[0]} via {LIST_NAMES[lst]}"
        assert single_mailbox(m, "Reply-To").addr_spec == addr(author)
        assert tx.data.split(b"\r\n\r\n", 1)[1] == msg.split(b"\r\n\r\n", 1)[1]
        mta_sign_and_check_alignment(ms, tx)
    assert out.event["vsmlist_mitigation"] == "munge", out.event
    assert reason in out.event["vsmlist_reason"]


@pytest.mark.parametrize("cc", [None, "Carl <carl@example.com>, dora@example.org"])
def test_munge_with_reply_to_puts_author_in_cc(ms, cc):
    author = "Cid <cid@none.example>"
    extra = [("Reply-To", "Elsewhere <elsewhere@example.net>")]
    if cc:
        extra.append(("Cc", cc))
    msg = author_post(author, lst=MUNGE, key="none.example", st=ms, extra_headers=extra)
    out = post(ms, MUNGE, msg, addr(author))
    data = out.data
    munged = ["From", "Cc", "List-Id", "List-Post"] + MEMBERSHIP_HEADERS + ["Precedence", "X-Loop"]
    taken, rest = strip_leading(data, munged)
    assert taken == munged, taken
    assert strip_lmtp_trace(rest) == munged_expectation(msg, ["From", "Cc"])
    m = parse(data)
    assert single_mailbox(m, "Reply-To").addr_spec == "elsewhere@example.net"
    ccs = m.get_all("Cc")
    assert len(ccs) == 1 and not ccs[0].defects
    want = ([a[1] for a in email.utils.getaddresses([cc])] if cc else []) + [addr(author)]
    assert [a.addr_spec for a in ccs[0].addresses] == want
    assert single_mailbox(m, "From").addr_spec == MUNGE


def test_munge_mode_wraps_an_unusable_author(ms):
    msg = make_message(from_addr="a@b@c.example", to=MUNGE)
    out = post(ms, MUNGE, msg, "a@c.example")
    check_wrapped(ms, out, MUNGE, None, "unusable author")


def dmarc_queries(st) -> int:
    """DMARC queries dnsmasq has seen (dkimpy's key lookups left out)."""
    return sum(1 for _, name in st.dns.query_log() if "._domainkey." not in name)


def test_dmarc_tag_wrap_and_none(ms):
    # :dmarc "wrap" wraps even a p=none author
    author = "Cid <cid@none.example>"
    msg = author_post(author, lst=CALL_WRAP, key="none.example", st=ms)
    out = post(ms, CALL_WRAP, msg, addr(author))
    w = check_wrapped(ms, out, CALL_WRAP, "Cid", "sieve_vsmlist_dmarc is wrap")
    assert ms.dkim_verify(w.inner)
    # :dmarc "none" sends even a p=reject author untouched, without a lookup
    author = "Ann <ann@reject.example>"
    before = dmarc_queries(ms)
    msg = author_post(author, lst=CALL_NONE, key="reject.example", st=ms)
    out = post(ms, CALL_NONE, msg, addr(author))
    assert dmarc_queries(ms) == before
    check_untouched(ms, out, CALL_NONE, reason="DMARC mitigation is off")


# ---------------------------------------------------------------------------
# DNS down: each sieve_vsmlist_dns_failure

def test_dns_down_wrap(ms):
    author = "Ann <ann@none.example>"
    msg = author_post(author, lst=DNS_LISTS["wrap"], key="none.example", st=ms)
    start = time.monotonic()
    out = post(ms, DNS_LISTS["wrap"], msg, addr(author))
    assert time.monotonic() - start < 3
    w = check_wrapped(ms, out, DNS_LISTS["wrap"], "Ann",
                      "DNS failure (sieve_vsmlist_dns_failure=wrap)")
    assert ms.dkim_verify(w.inner)
    assert out.event["vsmlist_dmarc_policy"] == "temperror"


def test_dns_down_none(ms):
    author = "Ann <ann@none.example>"
    lst = DNS_LISTS["none"]
    msg = author_post(author, lst=lst, key="none.example", st=ms)
    out = post(ms, lst, msg, addr(author))
    check_untouched(ms, out, lst, reason="DNS failure (sieve_vsmlist_dns_failure=none)")
    assert out.event["vsmlist_dmarc_policy"] == "temperror"


def test_dns_down_tempfail(ms):
    author = "Ann <ann@reject.example>"
    lst = DNS_LISTS["tempfail"]
    msg = author_post(author, lst=lst, key="reject.example", st=ms)
    mark = ms.dovecot.log_mark()
    res = ms.dovecot.deliver(msg, addr(author), [lst])
    assert 400 <= res.code(lst) < 500, res
    assert ms.relay.snapshot() == [], "something was sent"
    assert ms.relay.commands == []
    assert msgid_of(msg) not in [v for m in ms.dovecot.messages(lst)
                                 for v in header_values(m, "Message-ID")]
    lines = ms.dovecot.wait_log(mark, r"not distributed: DNS failure "
                                r"\(sieve_vsmlist_dns_failure=tempfail\)")
    assert lines, ms.dovecot.log_since(mark)


def test_dns_down_tempfail_has_an_event(ms):
    author = "Ann <ann@reject.example>"
    lst = DNS_LISTS["tempfail"]
    msg = author_post(author, lst=lst)
    mark = ms.dovecot.log_mark()
    res = ms.dovecot.deliver(msg, addr(author), [lst])
    assert 400 <= res.code(lst) < 500, res
    ev = exported_event(ms, mark, msgid_of(msg), timeout=2)
    assert ev["vsmlist_mitigation"] == "tempfail"
    assert "sieve_vsmlist_dns_failure=tempfail" in ev["vsmlist_reason"]


# ---------------------------------------------------------------------------
# unusable authors: wrapped, From = the list's own name

def _no_from(msg: bytes) -> bytes:
    return b"".join(raw for n, raw in field_blocks(msg)[0] if n != "From") + \
        field_blocks(msg)[1]


@pytest.mark.parametrize("case", ["no-from", "two-from", "two-mailboxes",
                                  "multi-at", "group", "empty-domain"])
def test_unusable_author_wrapped_as_the_list(ms, case):
    sender = "someone@reject.example"
    if case == "no-from":
        msg = _no_from(make_message(to=FRIENDS))
        status = "none"
    elif case == "two-from":
        msg = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                           extra_headers=[("From", "Cid <cid@none.example>")])
        status = "several"
    elif case == "two-mailboxes":
        msg = make_message(from_addr="Ann <ann@reject.example>, Cid <cid@none.example>",
                           to=FRIENDS)
        status = "several"
    elif case == "multi-at":
        msg = make_message(from_addr="a@b@c.example", to=FRIENDS)
        status = "malformed"
    elif case == "group":
        msg = make_message(from_addr="Team: ann@reject.example, cid@none.example;",
                           to=FRIENDS)
        status = "malformed"
    else:
        msg = make_message(from_addr="Ed <ed@>", to=FRIENDS)
        status = "malformed"
    out = post(ms, FRIENDS, msg, sender)
    check_wrapped(ms, out, FRIENDS, None, "unusable author")
    assert not header_values(out.data, "Reply-To")
    assert out.event["vsmlist_author_status"] == status, out.event


# ---------------------------------------------------------------------------
# hostile and unusual display names

ENCODED_WORD_IN_NAME = (
    "bug: a decoded author name that itself looks like an encoded word is put "
    "into the outer From as a quoted string; lenient readers (Python's "
    "email.policy.default, GMime, Thunderbird) decode it again, into a name "
    "with CR LF and 'Bcc: ...'")

REPLY_TO_UNFOLDED = (
    "bug: Reply-To (and munge's Cc) is written from the unfolded field value "
    "on one line; a long author field gives a header line over 998 octets, "
    "which a strict relay refuses (500 Line too long): the post is not "
    "distributed at all")

LONG_NAME = " ".join(["Longname%03d" % i for i in range(180)])      # ~2 KB


def _fold(value: str, width: int = 70) -> str:
    words, lines, cur = value.split(" "), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    lines.append(cur)
    return "\n ".join(lines)


_B64 = lambda text: "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="

HOSTILE = [
    # From value, the display name a reader must see before " via Friends"
    pytest.param('"Smith, John \\"JJ\\" <evil@x.example>" <jj@reject.example>',
                 'Smith, John "JJ" <evil@x.example>', id="quotes-commas"),
    pytest.param("=?utf-8?q?Evil=0D=0ABcc=3A_victim=40evil=2Eexample=0D=0AX-Injected=3A_1?= "
                 "<ev@reject.example>",
                 "Evil Bcc: victim@evil.example X-Injected: 1", id="crlf-q-word"),
    pytest.param(_B64("Eve\r\nX-Injected: yes\r\n\r\nbody") + " <eve@reject.example>",
                 "Eve X-Injected: yes body", id="crlf-b-word"),
    # an encoded word's text that is itself an encoded word: some readers
    # would decode it a second time into CR LF and a field, so the address
    # stands in for the name
    pytest.param(_B64("=?utf-8?q?Mallory=0D=0ABcc=3A_x=40evil.example?=")
                 + " <mal@reject.example>",
                 "mal@reject.example", id="double-encoded"),
    # a name that looks like an encoded word is not passed on at all
    pytest.param('"=?not an encoded word ?= =?x" <n@reject.example>',
                 "n@reject.example", id="literal-encoded-word-start"),
    # RFC 2047 5: no encoded word inside a quoted string; GMime decodes it
    # anyway (as most readers do): either reading is fine, not a third
    pytest.param('"=?utf-8?q?Admin?=" <adm@reject.example>', None, id="quoted-encoded-word"),
    pytest.param("=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@reject.example>",
                 "J\u00fcrgen M\u00fcller", id="non-ascii-encoded"),
    pytest.param("Zo\u00eb Ra\u00fcw <z@reject.example>", "Zo\u00eb Ra\u00fcw", id="raw-utf8"),
    pytest.param('"Folded\n Name" <fold@reject.example>', "Folded Name", id="folded"),
    pytest.param('"a\\\\b (c) ; : @ [d]" <sp@reject.example>', "a\\b (c) ; : @ [d]",
                 id="specials"),
    pytest.param('"friends@lists.example" <imp@reject.example>', "friends@lists.example",
                 id="list-address-as-name"),
    pytest.param('"" <plain@reject.example>', "plain@reject.example", id="empty-name"),
    pytest.param("bare@reject.example", "bare@reject.example", id="no-name"),
    pytest.param('"' + _fold(LONG_NAME) + '" <long@reject.example>', None, id="2kb-name"),
]


@pytest.mark.parametrize("from_value,want", HOSTILE)
def test_hostile_display_names(ms, from_value, want):
    msg = make_message(from_addr=from_value, to=FRIENDS)
    msg = sign(ms, msg, "reject.example")
    out = post(ms, FRIENDS, msg, "x@reject.example")
    data = out.data
    m = parse(data)
    frm = single_mailbox(m, "From")
    assert frm.addr_spec == FRIENDS
    assert frm.display_name.endswith(" via Friends"), frm.display_name
    author_name = frm.display_name[:-len(" via Friends")]
    if from_value.startswith('"=?utf-8?q?Admin?="'):
        # a quoted string is not decoded (RFC 2047 5): the text stays as it is,
        # and must reach the reader as that text, not as "Admin"
        assert author_name in ("=?utf-8?q?Admin?=", "Admin"), author_name
        want = author_name
    elif want is None:                        # the 2 KB name: shortened
        assert author_name.startswith("Longname000 Longname001")
        assert author_name.endswith("\u2026"), author_name[-20:]
        assert len(author_name) <= 101, len(author_name)
        want = author_name
    assert author_name == want
    # no control characters and no injected fields anywhere in the head
    assert not re.search(r"[\x00-\x1f\x7f]", frm.display_name)
    names = [n for n, _ in field_blocks(data)[0]]
    assert "Bcc" not in names and "X-Injected" not in names, names
    check_wrapped(ms, out, FRIENDS, want, "DMARC policy reject")
    w = unwrap(data)
    assert ms.dkim_verify(w.inner)


def test_2kb_name_is_shortened_in_from(ms):
    """The From part of the 2 KB case, with the relay's line limit lifted
    (the Reply-To line is the bug above): the name is cut to 100
    characters and an ellipsis, the outer From is one mailbox."""
    msg = make_message(from_addr='"' + _fold(LONG_NAME) + '" <long@reject.example>',
                       to=FRIENDS)
    msg = sign(ms, msg, "reject.example")
    _relay_long_lines(ms, True)
    try:
        out = post(ms, FRIENDS, msg, "long@reject.example")
    finally:
        _relay_long_lines(ms, False)
    raw_from = raw_field(out.data, "From")
    assert all(len(l) <= 78 for l in raw_from.split(b"\r\n")), raw_from
    frm = single_mailbox(parse(out.data), "From")
    assert frm.addr_spec == FRIENDS
    name = frm.display_name[:-len(" via Friends")]
    assert frm.display_name.endswith(" via Friends")
    assert name.startswith("Longname000 Longname001") and name.endswith("\u2026")
    assert len(name) == 101, len(name)
    assert LONG_NAME.startswith(name[:-1])
    w = unwrap(out.data)
    assert strip_lmtp_trace(w.inner) == msg
    assert ms.dkim_verify(w.inner)


def test_wrap_keeps_the_posts_reply_to_and_dates_an_undated_post(ms):
    """The post's own Reply-To stays where replies go; a post without Date
    or Subject gets a Date (RFC 5322 requires one) and no Subject."""
    msg = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                       extra_headers=[("Reply-To", "Team <team@reject.example>")])
    fields, rest = field_blocks(msg)
    msg = b"".join(raw for n, raw in fields if n not in ("Date", "Subject")) + rest
    msg = sign(ms, msg, "reject.example")
    out = post(ms, FRIENDS, msg, "ann@reject.example")
    w = check_wrapped(ms, out, FRIENDS, "Ann", "DMARC policy reject")
    assert header_values(out.data, "Reply-To") == ["Team <team@reject.example>"]
    assert not header_values(out.data, "Subject")
    date = header_values(out.data, "Date")
    assert len(date) == 1 and email.utils.parsedate_to_datetime(date[0]) is not None
    assert ms.dkim_verify(w.inner)


LONG_ADDRS = ", ".join(f"Person Number {i} <person{i}@example.com>" for i in range(40))


def test_wrap_keeps_a_long_reply_to_folded(ms):
    msg = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                       extra_headers=[("Reply-To", _fold(LONG_ADDRS))])
    out = post(ms, FRIENDS, msg, "ann@reject.example")
    check_wrapped(ms, out, FRIENDS, "Ann", "DMARC policy reject")


def test_munge_keeps_a_long_cc_folded(ms):
    msg = make_message(from_addr="Cid <cid@none.example>", to=MUNGE,
                       extra_headers=[("Reply-To", "r@example.net"),
                                      ("Cc", _fold(LONG_ADDRS))])
    out = post(ms, MUNGE, msg, "cid@none.example")
    for line in out.data.split(b"\r\n\r\n")[0].split(b"\r\n"):
        assert len(line) <= 998


def test_wrap_copies_long_to_and_cc_folded(ms):
    """To and Cc are copied as the post folded them."""
    msg = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                       extra_headers=[("Cc", _fold(LONG_ADDRS))])
    out = post(ms, FRIENDS, msg, "ann@reject.example")
    check_wrapped(ms, out, FRIENDS, "Ann", "DMARC policy reject")
    assert raw_field(out.data, "Cc") == raw_field(msg, "Cc")


# ---------------------------------------------------------------------------
# bodies: 8-bit, binary, no final newline

def test_8bit_bodies_wrapped_8bit_and_intact(ms):
    body = ("UTF-8: Grüße, ¡olé!, 日本語\r\n".encode("utf-8")
            + "Latin-1: Gr\xfc\xdfe, caf\xe9\r\n".encode("latin-1")
            + b"\xff\xfe raw high octets \x80\x81\r\n")
    head = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                        body="").rstrip(b"\r\n") + b"\r\n\r\n"
    msg = sign(ms, head + body, "reject.example")
    out = post(ms, FRIENDS, msg, "ann@reject.example")
    w = check_wrapped(ms, out, FRIENDS, "Ann", "DMARC policy reject")
    assert b"Content-Transfer-Encoding: 8bit\r\n" in w.inner_headers
    assert ms.dkim_verify(w.inner)
    assert strip_lmtp_trace(w.inner).endswith(body)


def test_8bit_body_untouched_intact(ms):
    body = "Grüße\r\n".encode("utf-8") + "caf\xe9\r\n".encode("latin-1")
    head = make_message(from_addr="Cid <cid@none.example>", to=FRIENDS,
                        body="").rstrip(b"\r\n") + b"\r\n\r\n"
    msg = sign(ms, head + body, "none.example")
    out = post(ms, FRIENDS, msg, "cid@none.example")
    check_untouched(ms, out, FRIENDS)


@pytest.mark.parametrize("lst,author", [(FRIENDS, "ann@reject.example"),
                                        (FRIENDS, "cid@none.example")])
def test_8bit_content_declared_8bitmime(ms, lst, author):
    msg = make_message(from_addr=author, to=lst, body="Grüße\n")
    out = post(ms, lst, msg, author)
    for member, tx in out.each():
        assert "BODY=8BITMIME" in [o.upper() for o in tx.mail_options], tx.mail_options


def _relay_long_lines(st, on: bool):
    """aiosmtpd's DATA line limit (1001 incl. CRLF) lifted, or restored."""
    ctrl = st.relay._controller
    if not on:
        ctrl.__dict__.pop("factory", None)
        return
    base = type(ctrl.smtpd)           # the relay's recording SMTP class
    big = type("LongLineSMTP", (base,), {"line_length_limit": 1 << 20})
    ctrl.factory = lambda: big(ctrl.handler, **ctrl.SMTP_kwargs)


def test_binary_body_wrapped_binary_and_intact(ms):
    long_line = b"L" * 1500
    body = (b"before the NUL\r\n" + b"a\x00b NUL in the middle\r\n"
            + long_line + b"\r\n" + b"high \xe9 octet\r\nend\r\n")
    head = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                        body="").rstrip(b"\r\n") + b"\r\n\r\n"
    head = head.replace(b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: binary")
    msg = sign(ms, head + body, "reject.example")
    _relay_long_lines(ms, True)
    try:
        out = post(ms, FRIENDS, msg, "ann@reject.example")
    finally:
        _relay_long_lines(ms, False)
    data = out.data
    w = unwrap(data)
    assert b"Content-Transfer-Encoding: binary\r\n" in w.inner_headers, w.inner_headers
    inner = strip_lmtp_trace(w.inner)
    assert inner == msg
    assert ms.dkim_verify(w.inner)
    assert single_mailbox(parse(data), "From").addr_spec == FRIENDS
    mta_sign_and_check_alignment(ms, out.copies[MEMBERS[0]])


def test_long_line_body_declared_binary(ms):
    body = b"x" * 1200 + b"\r\nshort\r\n"
    head = make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                        body="").rstrip(b"\r\n") + b"\r\n\r\n"
    msg = head.replace(b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: 7bit") + body
    _relay_long_lines(ms, True)
    try:
        out = post(ms, FRIENDS, msg, "ann@reject.example")
    finally:
        _relay_long_lines(ms, False)
    w = unwrap(out.data)
    assert strip_lmtp_trace(w.inner) == msg
    assert b"Content-Transfer-Encoding: binary\r\n" in w.inner_headers, w.inner_headers


def test_no_final_newline_inner_byte_identical(ms):
    """Over LMTP the DATA terminator always ends the post in CRLF, so this
    post comes in through dovecot-lda (which adds no trace fields)."""
    msg = sign(ms, make_message(from_addr="Ann <ann@reject.example>", to=FRIENDS,
                                body="first line\r\nlast line, no newline"),
               "reject.example")
    msg = msg.rstrip(b"\r\n")
    assert not msg.endswith(b"\n")
    ms.relay.clear()
    mark = ms.dovecot.log_mark()
    p = ms.dovecot.lda(msg, FRIENDS, "ann@reject.example")
    assert p.returncode == 0, p
    assert sorted(ms.relay.recipients()) == sorted(MEMBERS)
    copies = {r: txs[0] for r, txs in ms.relay.by_recipient().items()}
    out = Outcome(msg, copies, exported_event(ms, mark, msgid_of(msg)), mark)
    taken, _ = strip_leading(unwrap(out.data).inner, LMTP_TRACE)
    assert taken == [], taken                           # LDA adds none
    w = check_wrapped(ms, out, FRIENDS, "Ann", "DMARC policy reject", trace=False)
    assert w.inner == msg
    assert w.inner.endswith(b"no newline")
    assert out.data.endswith(b"no newline\r\n--" + w.boundary + b"--\r\n")
    assert ms.dkim_verify(w.inner)


# ---------------------------------------------------------------------------
# notice and extra List-* headers

def test_own_notice_and_more_list_headers(ms):
    author = "Ann Author <ann@reject.example>"
    msg = author_post(author, lst=ANNOUNCE, key="reject.example", st=ms)
    out = post(ms, ANNOUNCE, msg, addr(author))
    w = check_wrapped(ms, out, ANNOUNCE, "Ann Author", "DMARC policy reject")
    assert w.notice.replace("\r\n", "\n") == (
        f"NOTICE for Announce <{ANNOUNCE}>: wrapped post by Ann Author\n"
        "because: DMARC policy reject\n")
    assert header_values(out.data, "List-Help") == ["<mailto:announce-help@lists.example>"]
    assert header_values(out.data, "List-Owner") == ["<mailto:announce-owner@lists.example>"]


def test_default_notice_says_why(ms):
    author = "Ann Author <ann@reject.example>"
    msg = author_post(author, key="reject.example", st=ms)
    out = post(ms, FRIENDS, msg, addr(author))
    w = unwrap(out.data)
    text = " ".join(w.notice.split())
    assert "Friends" in text and "Ann Author" in text and FRIENDS in text
    assert "(DMARC policy reject)" in text


# ---------------------------------------------------------------------------
# a 50 MB post

def test_50mb_post_wrapped_and_delivered(ms):
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:-_=+!?\r\n"
    body = line * (50 * 1000 * 1000 // len(line) + 1)
    head = make_message(from_addr="Big <big@reject.example>", to=FRIENDS,
                        subject="50 MB", body="").rstrip(b"\r\n") + b"\r\n\r\n"
    head = head.replace(b"Content-Transfer-Encoding: 8bit",
                        b"Content-Transfer-Encoding: 7bit")
    msg = head + body
    assert len(msg) > 50_000_000
    out = post(ms, FRIENDS, msg, "big@reject.example", timeout=120)
    want_hash = hashlib.sha256(msg).hexdigest()
    for member, tx in out.each():
        w = unwrap(tx.data)
        inner = strip_lmtp_trace(w.inner)
        assert len(inner) == len(msg)
        assert hashlib.sha256(inner).hexdigest() == want_hash
        assert single_mailbox(parse(w.head + b"\r\n"), "From").addr_spec == FRIENDS
        assert b"Content-Transfer-Encoding: 7bit\r\n" in w.inner_headers
    assert out.event["vsmlist_mitigation"] == "wrap"
    assert int(out.event["vsmlist_recipients"]) == len(MEMBERS)


# ---------------------------------------------------------------------------
# the events: mitigation and reason of every kind of decision

def test_events_carry_mitigation_and_reason(ms):
    """One post per kind of decision; each one's exported event names it."""
    cases = [
        (FRIENDS, "Ann <ann@reject.example>", "wrap", "DMARC policy reject"),
        (FRIENDS, "Cid <cid@none.example>", "none", "DMARC policy none"),
        (FRIENDS, "Dan <dan@norecord.example>", "none", "no DMARC policy"),
        (FRIENDS, "a@b@c.example", "wrap", "unusable author ("),
        (MUNGE, "Cid <cid@none.example>", "munge", "sieve_vsmlist_dmarc is munge"),
        (POLICY, "Cid <cid@none.example>", "wrap", "is forced"),
        (POLICY, "Ann <ann@reject.example>", "none", "is exempt"),
        (DNS_LISTS["wrap"], "Ann <ann@none.example>", "wrap", "DNS failure"),
        (DNS_LISTS["none"], "Ann <ann@none.example>", "none", "DNS failure"),
    ]
    for lst, author, mitigation, reason in cases:
        msg = make_message(from_addr=author, to=lst)
        out = post(ms, lst, msg, "poster@example.com")
        ev = out.event
        assert ev["vsmlist_mitigation"] == mitigation, (lst, author, ev)
        assert reason in ev["vsmlist_reason"], (lst, author, ev)
        assert ev["vsmlist_list"] == lst
        # and what was sent is what the event says
        head = out.data[:out.data.index(b"\r\n\r\n")]
        wrapped = b"Content-Type: multipart/mixed" in head
        from_list = header_values(out.data, "From")[0].endswith(f"<{lst}>")
        shape = "wrap" if wrapped else ("munge" if from_list else "none")
        assert shape == mitigation, (lst, author, shape)
