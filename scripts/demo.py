#!/usr/bin/python3
"""vsmlist demo: a mailing list inside Dovecot, on loopback.

Starts dnsmasq (DKIM keys), an SMTP relay stand-in (records what it gets) and
a private Dovecot with the vsmlist Sieve plugin; creates the list
friends@lists.example with 4 members; posts 4 messages through LMTP (two
DKIM-signed by their authors' domains, one of which publishes a DMARC
policy of p=reject and is therefore wrapped) plus an auto-reply the loop
guard must hold back; prints what each member would receive and why;
stops everything.

Run as root:  /usr/bin/python3 scripts/demo.py   (scripts/demo.sh builds first)
Exit status 0 when every member got every post exactly once and the
auto-reply stayed in the list's mailbox.
"""

import email.header
import os
import re
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sieve-tests", "integration"))

import vsmstack  # noqa: E402
from vsmstack import header_values, make_message  # noqa: E402

LIST = "friends@lists.example"
MEMBERS = ["alice@example.net", "bob@example.org", "carol@example.com", "dave@example.net"]
SCRIPT = 'require "vnd.vsmlist";\ndistribute;\n'

# strict.example publishes p=reject: its posts are wrapped so that they pass
# DMARC as the list's own; author.example publishes no policy: untouched
ZONE = {"_dmarc.strict.example": "v=DMARC1; p=reject"}

POSTS = [
    dict(title="a DKIM-signed post from a domain without a DMARC policy",
         sender="author@author.example", sign="author.example",
         from_addr="Ann Author <author@author.example>",
         subject="Picnic on Saturday?",
         body="Hi friends,\n\nshall we meet at the lake on Saturday at noon?\n\nAnn\n"),
    dict(title="a member's reply (unsigned)",
         sender="bob@example.org", sign=None,
         from_addr="Bob <bob@example.org>",
         subject="Re: Picnic on Saturday?",
         body="Count me in. I'll bring the bread.\n"),
    dict(title="a post with a non-ASCII subject and body",
         sender="carol@example.com", sign=None,
         from_addr="Carol <carol@example.com>",
         subject="=?utf-8?q?Caf=C3=A9_afterwards=3F?=",
         body="Caf\u00e9 \u00ab Le Lac \u00bb afterwards? \u2615\n"),
    dict(title="a DKIM-signed post from a domain with DMARC p=reject",
         sender="rita@strict.example", sign="strict.example",
         from_addr="Rita Strict <rita@strict.example>",
         subject="Weather forecast for Saturday",
         body="Sunny, 24 degrees. See you at the lake!\nRita\n"),
]
GUARD = dict(title="an out-of-office auto-reply (must NOT be distributed)",
             sender="dave@example.net", from_addr="Dave <dave@example.net>",
             subject="Auto: I am away", body="I am away until Monday.\n",
             extra=(("Auto-Submitted", "auto-replied"),))

SHOW_HEADERS = ["From", "Reply-To", "To", "Subject", "Message-ID", "Sender",
                "List-Id", "X-Loop"]


def section(title):
    print()
    print(f"== {title} " + "=" * max(3, 70 - len(title)))


def decoded(v):
    try:
        return str(email.header.make_header(email.header.decode_header(v)))
    except Exception:
        return v


def logtext(line):
    """The interesting part of a Dovecot log line."""
    text = line.split(": sieve: ", 1)[-1]
    return re.sub(r"^msgid=<[^>]*>: ", "", text)


def short(v, n=72):
    v = re.sub(r"\s+", " ", v)
    return v if len(v) <= n else v[:n - 3] + "..."


def dkim_result(st, data):
    sigs = header_values(data, "DKIM-Signature")
    if not sigs:
        return "none (unsigned)"
    out = []
    for i, sig in enumerate(sigs):
        tags = dict(t.strip().split("=", 1) for t in sig.split(";") if "=" in t)
        d, s = tags.get("d", "?").strip(), tags.get("s", "?").strip()
        ok = st.dkim_verify(data, idx=i)
        out.append(f"{'pass' if ok else 'FAIL'} (d={d}, s={s})")
    return ", ".join(out)


def inner_original(data):
    """The message/rfc822 part of a wrapped copy, as bytes, or None."""
    m = re.search(rb'boundary="([^"]+)"', data.split(b"\r\n\r\n", 1)[0])
    if not m or b"Content-Type: message/rfc822" not in data:
        return None
    delim = b"\r\n--" + m.group(1)
    part = data.split(b"Content-Type: message/rfc822", 1)[1]
    part = part.split(b"\r\n\r\n", 1)[1]
    return part.split(delim + b"--", 1)[0]


def show_copy(st, data):
    for h in SHOW_HEADERS:
        for v in header_values(data, h):
            print(f"    {h + ':':12s}{short(decoded(v))}")
    inner = inner_original(data)
    if inner is None:
        print(f"    {'DKIM:':12s}{dkim_result(st, data)}   (the original, untouched)")
        return
    print(f"    {'wrapped:':12s}notice + the original as message/rfc822:")
    for h in ("From", "Subject"):
        for v in header_values(inner, h):
            print(f"      {h + ':':10s}{short(decoded(v))}")
    print(f"      {'DKIM:':10s}{dkim_result(st, inner)}   (the original, inside)")


def main():
    if os.geteuid() != 0:
        print("demo.py must run as root (it starts a Dovecot master and dnsmasq)",
              file=sys.stderr)
        return 2
    if vsmstack.Dovecot.find_plugin_dir() is None:
        print(f"{vsmstack.PLUGIN_SO} not found: build first (scripts/demo.sh) "
              "or set VSMLIST_BUILD_DIR", file=sys.stderr)
        return 2

    ok = True
    section("starting the stack (loopback only)")
    with vsmstack.Stack(dkim_domains=["author.example", "strict.example"],
                        txt_records=ZONE) as st:
        d = st.dovecot
        print(f"work dir       {st.workdir}")
        print(f"dnsmasq        127.0.0.1:{st.dns.port}   "
              f"(DKIM key {st.dkim_keys['author.example'].txt_name})")
        print(f"relay          127.0.0.1:{st.relay.port}   (aiosmtpd, records every transaction)")
        print(f"dovecot        LMTP 127.0.0.1:{d.lmtp_port} and {d.lmtp_socket}")
        print(f"plugin         {d.plugin_source_dir}/{vsmstack.PLUGIN_SO}")

        section(f"creating the list {LIST}")
        st.add_list(LIST, members=MEMBERS, script=SCRIPT)
        print(f"userdb fields  {d.users[LIST]}")
        print(f"members file   ~/vsmlist/members: {', '.join(MEMBERS)}")
        print("sieve script   (uploaded with doveadm sieve put, active)")
        print(textwrap.indent(SCRIPT.rstrip(), "                 "))

        section("posting through LMTP")
        sent = []
        for i, p in enumerate(POSTS, 1):
            msg = make_message(from_addr=p["from_addr"], to=LIST,
                               subject=p["subject"], body=p["body"])
            if p["sign"]:
                msg = st.dkim_sign(msg, p["sign"])
            mark = d.log_mark()
            res = d.deliver(msg, p["sender"], [LIST])
            mid = header_values(msg, "Message-ID")[0]
            sent.append((i, p, mid))
            print(f"post {i}: {p['title']}")
            print(f"        MAIL FROM:<{p['sender']}>  Subject: {decoded(p['subject'])}")
            print(f"        LMTP: {res.code(LIST)} {res.text(LIST)}")
            for line in d.wait_log(mark, r"distribute", timeout=2):
                print("        log: " + short(logtext(line), 400))
            ok &= res.code(LIST) == 250

        msg = make_message(from_addr=GUARD["from_addr"], to=LIST, subject=GUARD["subject"],
                           body=GUARD["body"], extra_headers=GUARD["extra"])
        before = len(st.relay.snapshot())
        mark = d.log_mark()
        res = d.deliver(msg, GUARD["sender"], [LIST])
        guard_mid = header_values(msg, "Message-ID")[0]
        print(f"post {len(POSTS) + 1}: {GUARD['title']}")
        print(f"        MAIL FROM:<{GUARD['sender']}>  Auto-Submitted: auto-replied")
        print(f"        LMTP: {res.code(LIST)} {res.text(LIST)}")
        for line in d.wait_log(mark, r"distribut", timeout=2):
            print("        log: " + short(logtext(line), 400))
        guard_sent = len(st.relay.snapshot()) - before
        ok &= res.code(LIST) == 250 and guard_sent == 0

        section("what the relay received (SMTP transactions)")
        txs = st.relay.snapshot()
        for n, t in enumerate(txs, 1):
            subj = decoded((header_values(t.data, "Subject") or ["?"])[0])
            print(f"#{n} connection {t.connection}: MAIL FROM:<{t.mail_from}>")
            print(f"   RCPT TO: {', '.join('<%s>' % r for r in t.rcpt_tos)}")
            print(f"   DATA {len(t.data)} bytes, Subject: {subj} -> {t.response}")

        section("per member")
        for m in MEMBERS:
            got = [t for t in txs if t.accepted and m in [r.lower() for r in t.rcpt_tos]]
            print(f"{m}: {len(got)} message(s)")
            for t in got:
                print(f"  - envelope  MAIL FROM:<{t.mail_from}>  RCPT TO:<{m}>")
                show_copy(st, t.data)
            # a wrapped copy has a Message-ID of its own: count originals
            mids = [header_values(inner_original(t.data) or t.data,
                                  "Message-ID")[0] for t in got]
            want = [mid for _, _, mid in sent]
            if sorted(mids) != sorted(want):
                print(f"  !! expected exactly the {len(want)} posts once each")
                ok = False

        section(f"the list's own mailbox ({LIST} INBOX)")
        kept = d.messages(LIST)
        for k in kept:
            print(f"  kept: Subject: {(header_values(k, 'Subject') or ['?'])[0]}"
                  f"  ({', '.join(header_values(k, 'Auto-Submitted')) or 'no Auto-Submitted'})")
        if not kept:
            print("  (empty)")
        kept_ids = [header_values(k, "Message-ID")[0] for k in kept]
        if kept_ids != [guard_mid]:
            print("  !! expected exactly the auto-reply to be kept")
            ok = False

        section("stopping")
    print("dnsmasq, relay and Dovecot stopped; temporary directory removed"
          if not st.keep_tmp else f"stopped; kept {st.workdir}")
    print()
    print("DEMO OK" if ok else "DEMO FAILED: see the '!!' lines above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
