#!/usr/bin/python3
"""vsmlist demo: a mailing list inside Dovecot, on loopback.

Starts dnsmasq (the authors' DKIM keys and DMARC records), an SMTP relay
stand-in (records what it gets) and a private Dovecot with the vsmlist
Sieve and doveadm plugins, IMAP and imapsieve; sets up the list
friends@lists.example the way the README's "Configure a list" does (its
list script as an admin script, the imapsieve rule on "Approved", a
setting with spaces in the list's settings file); then

  1. members post (one of them from a p=reject domain: wrapped);
  2. someone joins by mail: request, confirmation with its token, the
     reply to its Reply-To, the welcome;
  3. a non-member's post is held in "Moderation"; a moderator moves it to
     "Approved" over IMAP (UID MOVE) and imapsieve distributes it;
  4. a delivery report reaches the bounce address (a bounce point for the
     member), and an out-of-office reply (dropped);
  5. `doveadm vsmlist members` shows the members;

and prints what each step did, what the relay received and what the list
kept (its members' posts in "Archive", nothing else); stops everything.

Run as root:  /usr/bin/python3 scripts/demo.py   (scripts/demo.sh builds first)
Exit status 0 when every step did what it should ("DEMO OK"); a failed
check is printed with "!!".
"""

import email
import email.header
import email.policy
import os
import re
import shutil
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sieve-tests", "integration"))

import vsmstack  # noqa: E402
from vsmstack import header_values, make_message  # noqa: E402

LIST = "friends@lists.example"
BOUNCES = "friends+bounces@lists.example"
LIST_NAME = "Friends of the Lake"
MEMBERS = ["ann@author.example", "bob@example.org", "carol@example.com",
           "rita@strict.example"]
NEWCOMER = "Erin <erin@example.net>"
STRANGER = "Greg Guest <greg@elsewhere.example>"

# The README's list script and its imapsieve rule
LIST_SCRIPT = """\
require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox"];

if envelope :detail :matches "to" "bounces*" {
    bounce;                          # delivery status notifications
} elsif envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
    membership;                      # join/leave requests and their confirmations
} elsif member {
    distribute;
    fileinto :create "Archive";
} else {
    fileinto :create "Moderation";   # a moderator moves it to "Approved"
}
"""
APPROVE_SCRIPT = 'require "vnd.vsmlist";\ndistribute;\n'

# strict.example publishes p=reject: its posts are wrapped so that they
# pass DMARC as the list's own; author.example publishes no policy
ZONE = {"_dmarc.strict.example": "v=DMARC1; p=reject"}

POSTS = [
    dict(title="a DKIM-signed post, the author's domain has no DMARC policy",
         sender="ann@author.example", sign="author.example",
         from_addr="Ann Author <ann@author.example>",
         subject="Picnic on Saturday?",
         body="Hi friends,\n\nshall we meet at the lake on Saturday at noon?\n\nAnn\n"),
    dict(title="a reply (unsigned)",
         sender="bob@example.org", sign=None,
         from_addr="Bob <bob@example.org>",
         subject="Re: Picnic on Saturday?",
         body="Count me in. I'll bring the bread.\n"),
    dict(title="a non-ASCII subject and body",
         sender="carol@example.com", sign=None,
         from_addr="Carol <carol@example.com>",
         subject="=?utf-8?q?Caf=C3=A9_afterwards=3F?=",
         body="Caf\u00e9 \u00ab Le Lac \u00bb afterwards? \u2615\n"),
    dict(title="a DKIM-signed post, the author's domain says DMARC p=reject",
         sender="rita@strict.example", sign="strict.example",
         from_addr="Rita Strict <rita@strict.example>",
         subject="Weather forecast for Saturday",
         body="Sunny, 24 degrees. See you at the lake!\nRita\n"),
]

SHOW_HEADERS = ["From", "Reply-To", "Subject", "Sender", "List-Id",
                "List-Unsubscribe"]


class Demo:
    def __init__(self, st):
        self.st = st
        self.d = st.dovecot
        self.ok = True

    def check(self, cond, what):
        if not cond:
            print(f"  !! {what}")
            self.ok = False
        return cond

    def deliver(self, msg, sender, rcpt, log_pattern):
        """LMTP delivery; prints the answer and the log lines it caused."""
        mark = self.d.log_mark()
        res = self.d.deliver(msg, sender or "<>", [rcpt])
        print(f"  LMTP  MAIL FROM:<{sender}> RCPT TO:<{rcpt}>  -> "
              f"{res.code(rcpt)} {short(res.text(rcpt), 50)}")
        self.log(mark, log_pattern)
        self.check(res.code(rcpt) == 250, f"LMTP answered {res.code(rcpt)}")
        return res

    def log(self, mark, pattern):
        for line in self.d.wait_log(mark, pattern, timeout=5):
            print(textwrap.fill(logtext(line), width=100, initial_indent="  log   ",
                                subsequent_indent="        ", break_on_hyphens=False,
                                break_long_words=False))

    def sent_since(self, before, n=1):
        return self.st.relay.wait_for(before + n, timeout=10)[before:]


def section(title):
    print()
    print(f"== {title} " + "=" * max(3, 74 - len(title)))


def decoded(v):
    try:
        return str(email.header.make_header(email.header.decode_header(v)))
    except Exception:
        return v


def logtext(line):
    """The interesting part of a Dovecot log line."""
    text = line.split(": sieve: ", 1)[-1]
    return re.sub(r"^msgid=(<[^>]*>|unspecified): ", "", text)


def short(v, n=72):
    v = re.sub(r"\s+", " ", v)
    return v if len(v) <= n else v[:n - 3] + "..."


def text_body(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    part = msg.get_body(("plain",))
    return part.get_content() if part is not None else ""


def show_headers(data, names, indent="    "):
    for h in names:
        for v in header_values(data, h):
            print(f"{indent}{h + ':':18s}{short(decoded(v), 76)}")


def show_text(data, lines=6, indent="    | "):
    body = [l for l in text_body(data).splitlines()]
    for l in body[:lines]:
        print(indent + l)
    if len(body) > lines:
        print(indent + "...")


def dkim_result(st, data):
    sigs = header_values(data, "DKIM-Signature")
    if not sigs:
        return "none (unsigned)"
    out = []
    for i, sig in enumerate(sigs):
        tags = dict(t.strip().split("=", 1) for t in sig.split(";") if "=" in t)
        ok = st.dkim_verify(data, idx=i)
        out.append(f"{'pass' if ok else 'FAIL'} (d={tags.get('d', '?').strip()})")
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


def original_id(data):
    """The Message-ID of the post a copy carries (a wrapped copy has its own)."""
    return header_values(inner_original(data) or data, "Message-ID")[0]


def show_copy(st, t):
    rcpts = ", ".join(t.rcpt_tos)
    print(f"  relay MAIL FROM:<{t.mail_from}>  RCPT TO: {rcpts}  -> {t.response[:3]}")
    show_headers(t.data, SHOW_HEADERS)
    inner = inner_original(t.data)
    if inner is None:
        print(f"    {'DKIM:':18s}{dkim_result(st, t.data)}   (the post, untouched)")
        return
    print(f"    {'body:':18s}a notice + the post as message/rfc822, its DKIM: "
          f"{dkim_result(st, inner)}")


# --------------------------------------------------------------------------
# the steps

def setup_list(demo, admin_dir):
    st, d = demo.st, demo.d
    section(f"the list {LIST}, configured as the README says")
    list_sieve = os.path.join(admin_dir, "list.sieve")
    d.add_user(LIST, sieve_before=list_sieve,
               sieve_vsmlist_submission_host=f"127.0.0.1:{st.relay.port}")
    d.write_user_file(LIST, "vsmlist/settings",
                      f"sieve_vsmlist_name = {LIST_NAME}\n")
    d.write_user_file(LIST, "vsmlist/members",
                      "# the list's members\n" + "".join(m + "\n" for m in MEMBERS))
    fields = " ".join(f"userdb_{k}={v}" for k, v in d.users[LIST].items())
    print(f"userdb fields       {fields}")
    print(f"~/vsmlist/settings  sieve_vsmlist_name = {LIST_NAME}")
    print(f"~/vsmlist/members   {', '.join(MEMBERS)}")
    print(f"the list's script   {list_sieve}:")
    print(textwrap.indent(LIST_SCRIPT.rstrip(), "    "))
    print(f"imapsieve rule      mailbox Approved, cause COPY, "
          f"{os.path.join(admin_dir, 'approve.sieve')}: {' '.join(APPROVE_SCRIPT.split())}")


def members_post(demo):
    st = demo.st
    section("1. members post")
    sent = []
    for i, p in enumerate(POSTS, 1):
        msg = make_message(from_addr=p["from_addr"], to=LIST,
                           subject=p["subject"], body=p["body"])
        if p["sign"]:
            msg = st.dkim_sign(msg, p["sign"])
        print(f"post {i}: {p['title']}, Subject: {decoded(p['subject'])}")
        before = len(st.relay.snapshot())
        demo.deliver(msg, p["sender"], LIST, r"distribute action")
        for t in demo.sent_since(before):
            show_copy(st, t)
        sent.append(header_values(msg, "Message-ID")[0])

    print("each member got each post once:")
    for m in MEMBERS:
        got = [original_id(t.data) for t in st.relay.snapshot()
               if t.accepted and m in t.rcpt_tos]
        print(f"  {m:22s} {len(got)} post(s)")
        demo.check(sorted(got) == sorted(sent), f"{m} did not get each post once")


def subscription(demo):
    st = demo.st
    section("2. joining by mail (double opt-in)")
    erin = re.sub(r".*<(.*)>", r"\1", NEWCOMER)
    print(f"{erin} writes to the List-Subscribe address:")
    before = len(st.relay.snapshot())
    demo.deliver(make_message(from_addr=NEWCOMER, to="friends+subscribe@lists.example",
                              subject="join"),
                 erin, "friends+subscribe@lists.example", r"membership action")
    confirm = demo.sent_since(before)
    if not demo.check(len(confirm) == 1, "no confirmation request sent"):
        return
    t = confirm[0]
    print("the list's confirmation request:")
    print(f"  relay MAIL FROM:<{t.mail_from}>  RCPT TO: {', '.join(t.rcpt_tos)}")
    show_headers(t.data, ["From", "To", "Reply-To", "Subject", "Auto-Submitted"])
    show_text(t.data, lines=5)
    reply_to = header_values(t.data, "Reply-To")
    m = re.fullmatch(r"friends\+confirm-([a-z2-7]+)@lists\.example",
                     reply_to[0] if reply_to else "")
    if not demo.check(m, f"no confirm address in Reply-To: {reply_to}"):
        return
    print(f"{erin} replies (to the Reply-To, token {m.group(1)}):")
    before = len(st.relay.snapshot())
    demo.deliver(make_message(from_addr=NEWCOMER, to=reply_to[0],
                              subject="Re: " + header_values(t.data, "Subject")[0]),
                 erin, reply_to[0], r"membership action")
    welcome = demo.sent_since(before)
    if demo.check(len(welcome) == 1 and welcome[0].rcpt_tos == [erin],
                  "no welcome sent"):
        print("the welcome:")
        show_headers(welcome[0].data, ["Subject"])
        show_text(welcome[0].data, lines=4)
    with open(os.path.join(demo.d.home(LIST), "vsmlist", "members")) as f:
        members = f.read()
    print("~/vsmlist/members now:")
    print(textwrap.indent(members.rstrip(), "    "))
    demo.check(members.splitlines()[-1] == erin, f"{erin} not added to the members")


def moderation(demo):
    st, d = demo.st, demo.d
    section("3. a non-member's post, held for moderation")
    msg = make_message(from_addr=STRANGER, to=LIST, subject="Boat rental at the lake",
                       body="Hello, I rent out rowing boats, 10% off for your group.\n")
    mid = header_values(msg, "Message-ID")[0]
    greg = re.sub(r".*<(.*)>", r"\1", STRANGER)
    before = len(st.relay.snapshot())
    demo.deliver(msg, greg, LIST, r"stored mail into mailbox")
    held = [header_values(m, "Message-ID")[0] for m in d.messages(LIST, "Moderation")]
    print(f"  held in Moderation: {len(held)} message(s); sent: "
          f"{len(st.relay.snapshot()) - before} transaction(s)")
    demo.check(held == [mid] and len(st.relay.snapshot()) == before,
               "the post was not held (or was sent)")

    print(f"a moderator approves it over IMAP (logged in as {LIST}):")
    imap = d.imap(LIST)
    try:
        def cmd(text, res, answer=lambda data: ""):
            typ, data = res
            print(f"  C: {text}\n  S: {typ} {answer(data)}".rstrip())
            demo.check(typ == "OK", f"{text} answered {typ} {data!r}")
            return data

        imap.create("Approved")
        cmd("SELECT Moderation", imap.select("Moderation"),
            lambda data: f"({data[0].decode()} message(s))")
        uids = cmd(f"UID SEARCH HEADER Message-ID {mid}",
                   imap.uid("SEARCH", "HEADER", "Message-ID", mid),
                   lambda data: f"(UID {data[0].decode()})")[0].split()
        if not demo.check(len(uids) == 1, f"SEARCH found {uids}"):
            return
        uid = uids[0].decode()
        mark, before = d.log_mark(), len(st.relay.snapshot())
        cmd(f"UID MOVE {uid} Approved", imap.uid("MOVE", uid, "Approved"))
        sent = demo.sent_since(before)
        demo.log(mark, r"distribute action")
    finally:
        imap.logout()
    want = sorted(MEMBERS + [re.sub(r".*<(.*)>", r"\1", NEWCOMER)])
    for t in sent:
        show_copy(st, t)
    demo.check(sorted(r for t in sent if t.accepted for r in t.rcpt_tos) == want,
               f"the approved post did not reach {want} once each")


def bounces(demo):
    st = demo.st
    section("4. the bounce address: never a second way to post")
    report = (f"From: MAILER-DAEMON@mx.example.com\r\nTo: {BOUNCES}\r\n"
              "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
              "Content-Type: multipart/report; report-type=delivery-status;"
              ' boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n'
              "A copy could not be delivered.\r\n"
              "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
              "Reporting-MTA: dns; mx.example.com\r\n\r\n"
              "Final-Recipient: rfc822; carol@example.com\r\nAction: failed\r\n"
              "Status: 5.2.2\r\n\r\n--B--\r\n").encode()
    before = len(st.relay.snapshot())
    print("a delivery report: carol@example.com's mailbox is full (5.2.2):")
    demo.deliver(report, "", BOUNCES, r"bounce action")
    # RFC 3834: an auto-responder answers the envelope sender
    print("an out-of-office reply from bob@example.org to the envelope sender:")
    demo.deliver(make_message(from_addr="Bob <bob@example.org>", to=BOUNCES,
                              subject="Auto: I am away", body="Back on Monday.\n",
                              extra_headers=(("Auto-Submitted", "auto-replied"),)),
                 "", BOUNCES, r"bounce action")
    demo.check(len(st.relay.snapshot()) == before, "mail to the bounce address was sent on")


def doveadm_members(demo):
    section("5. the administrator: doveadm vsmlist")
    print(f"# doveadm vsmlist members -u {LIST}")
    p = demo.d.doveadm("vsmlist", "members", "-u", LIST)
    out = p.stdout.decode(errors="replace")
    print(textwrap.indent(out.rstrip(), "  "))
    if p.returncode != 0:
        print(textwrap.indent(p.stderr.decode(errors="replace").rstrip(), "  "))
    rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()[1:] if l.strip()}
    demo.check(p.returncode == 0 and sorted(rows) == sorted(
        MEMBERS + [re.sub(r".*<(.*)>", r"\1", NEWCOMER)]),
        f"doveadm vsmlist members: exit {p.returncode}")
    demo.check(rows.get("carol@example.com", [""])[:2] == ["enabled", "1"],
               "carol@example.com has no bounce point")


def mailboxes(demo):
    section(f"what the list kept ({LIST}'s mailboxes)")
    for box in ("INBOX", "Archive", "Moderation", "Approved"):
        kept = demo.d.messages(LIST, box)
        subjects = ", ".join(decoded((header_values(k, "Subject") or ["?"])[0])
                             for k in kept)
        note = "   (flagged \\Deleted by imapsieve)" if box == "Approved" and kept else ""
        print(f"  {box:11s}{len(kept)}  {short(subjects, 64)}{note}")
    archived = [decoded(header_values(k, "Subject")[0])
                for k in demo.d.messages(LIST, "Archive")]
    demo.check(sorted(archived) == sorted(
        [decoded(p["subject"]) for p in POSTS]),
        "the archive does not hold exactly the members' posts")


def main():
    if os.geteuid() != 0:
        print("demo.py must run as root (it starts a Dovecot master and dnsmasq)",
              file=sys.stderr)
        return 2
    if vsmstack.Dovecot.find_plugin_dir() is None:
        print(f"{vsmstack.PLUGIN_SO} not found: build first (scripts/demo.sh) "
              "or set VSMLIST_BUILD_DIR", file=sys.stderr)
        return 2

    # The administrator's scripts: the list script (sieve_before) and the
    # imapsieve rule, owned by the mail user so that Pigeonhole can store
    # their compiled form next to them
    uid, gid = vsmstack.ensure_mail_user()
    admin_dir = tempfile.mkdtemp(prefix="vsmdemo", dir="/tmp")
    os.chmod(admin_dir, 0o755)
    os.chown(admin_dir, uid, gid)
    for name, text in (("list.sieve", LIST_SCRIPT), ("approve.sieve", APPROVE_SCRIPT)):
        path = os.path.join(admin_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, uid, gid)

    section("starting the stack (loopback only)")
    st = vsmstack.Stack(
        dkim_domains=["author.example", "strict.example"], txt_records=ZONE,
        protocols=("lmtp", "imap"), doveadm_plugin=True,
        plugin_settings={
            "sieve_plugins": "sieve_imapsieve sieve_vsmlist",
            "imapsieve_mailbox1_name": "Approved",
            "imapsieve_mailbox1_causes": "COPY",
            "imapsieve_mailbox1_before": "file:" + os.path.join(admin_dir, "approve.sieve"),
        },
        dovecot_extra_conf="protocol imap {\n  mail_plugins = $mail_plugins imap_sieve\n}\n")
    try:
        with st:
            d = st.dovecot
            print(f"dnsmasq   127.0.0.1:{st.dns.port}  (the authors' DKIM keys, "
                  "_dmarc.strict.example p=reject)")
            print(f"relay     127.0.0.1:{st.relay.port}  (an SMTP sink in place of "
                  "the MTA: records every transaction)")
            print(f"dovecot   LMTP 127.0.0.1:{d.lmtp_port}, IMAP 127.0.0.1:{d.imap_port}, "
                  f"config {d.conf_path}")
            print(f"plugins   {d.plugin_source_dir}/{vsmstack.PLUGIN_SO} "
                  f"and {vsmstack.DOVEADM_PLUGIN_SO}")
            demo = Demo(st)
            setup_list(demo, admin_dir)
            members_post(demo)
            subscription(demo)
            moderation(demo)
            bounces(demo)
            doveadm_members(demo)
            mailboxes(demo)
            section("stopping")
    finally:
        shutil.rmtree(admin_dir, ignore_errors=True)
    print("dnsmasq, relay and Dovecot stopped; temporary directory removed"
          if not st.keep_tmp else f"stopped; kept {st.workdir}")
    print()
    print("DEMO OK" if demo.ok else "DEMO FAILED: see the '!!' lines above")
    return 0 if demo.ok else 1


if __name__ == "__main__":
    sys.exit(main())
