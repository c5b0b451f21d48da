"""`distribute` on Dovecot's other delivery paths, on a real stack:

* dovecot-lda (the LDA an MTA pipes a message into, run as root with -d:
  it looks the user up through the master's auth-userdb socket and drops
  to the mail user's uid, as Dovecot expects it to be run);
* imapsieve: moderation by moving mail.  The list user (its own
  moderator) APPENDs a post into "Pending" and MOVEs or COPYs it into
  "Approved"; an administrator's imapsieve rule on "Approved" runs
  `distribute`.  There is no envelope under imapsieve, so the envelope
  sender comes from the settings only;
* a 250-member list over LMTP: one SMTP transaction with 250 RCPTs with the
  default batch size (no 100-recipient ceiling).

One stack for this module: LMTP + IMAP, sieve_plugins =
sieve_imapsieve sieve_vsmlist, `protocol imap { mail_plugins = imap_sieve }`
and `protocol lda { mail_plugins = sieve }` (vsmstack's default config).
"""

import collections
import os
import re
import shutil
import tempfile
import time

import pytest

import vsmstack
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

EX_TEMPFAIL = 75

AUTHOR = "author@author.example"
MEMBERS = ["alice@example.net", "bob@example.org", "carol@example.com"]
DISTRIBUTE = 'require "vnd.vsmlist";\ndistribute;\n'

LDA_LIST = "ldalist@lists.example"
MOD_LIST = "modlist@lists.example"          # its own moderator over IMAP
TEAM_LIST = "teamlist@lists.example"        # address/bounce set per user
BIG_LIST = "big@lists.example"

IMAP_EXTRA_CONF = """
protocol imap {
  mail_plugins = $mail_plugins imap_sieve
}
"""


def lc(addrs):
    return [a.lower() for a in addrs]


def message_ids(msgs):
    return [v for m in msgs for v in header_values(m, "Message-ID")]


def body_of(msg: bytes) -> bytes:
    return msg.split(b"\r\n\r\n", 1)[1]


# ---------------------------------------------------------------------------
# the module's stack

@pytest.fixture(scope="module")
def paths_stack():
    uid, gid = vsmstack.ensure_mail_user()
    # The admin script must be named in plugin { } before Dovecot starts,
    # i.e. before the stack's own directory exists: it lives in a directory
    # of its own, owned by the mail user (Pigeonhole stores the .svbin
    # next to it).
    admin_dir = tempfile.mkdtemp(prefix="vsmadm", dir="/tmp")
    os.chmod(admin_dir, 0o755)
    os.chown(admin_dir, uid, gid)
    approve = os.path.join(admin_dir, "approve.sieve")
    with open(approve, "w") as f:
        f.write(DISTRIBUTE)
    os.chown(approve, uid, gid)
    st = vsmstack.Stack(
        plugin=True, mail_debug=True, protocols=("lmtp", "imap"),
        dkim_domains=["author.example"],
        plugin_settings={
            "sieve_plugins": "sieve_imapsieve sieve_vsmlist",
            "imapsieve_mailbox1_name": "Approved",
            "imapsieve_mailbox1_causes": "COPY",
            "imapsieve_mailbox1_before": "file:" + approve,
        },
        dovecot_extra_conf=IMAP_EXTRA_CONF)
    try:
        st.start()
        st.admin_script = approve
        st.startup_log = st.dovecot.log()
        yield st
    finally:
        st.stop()
        shutil.rmtree(admin_dir, ignore_errors=True)


@pytest.fixture
def dst(paths_stack, request):
    """The module's stack with the relay emptied and its hooks reset; the
    log of a failed test is printed (as conftest's `st` does)."""
    from conftest import _attach_logs
    st = paths_stack
    st.relay.clear()
    st.relay.mail_hook = st.relay.rcpt_hook = st.relay.data_hook = None
    mark = st.dovecot.log_mark()
    st.log_mark = mark
    yield st
    _attach_logs(request, st, mark)


def test_stack_config(paths_stack):
    """The configuration the tests below rely on, and a clean start."""
    conf = open(paths_stack.dovecot.conf_path).read()
    assert re.search(r"protocol lda \{\s*mail_plugins = \$mail_plugins sieve\s*\}", conf), conf
    assert re.search(r"protocol imap \{\s*mail_plugins = \$mail_plugins imap_sieve\s*\}", conf)
    assert "sieve_plugins = sieve_imapsieve sieve_vsmlist" in conf
    assert "sieve_global_extensions = +vnd.vsmlist" in conf
    assert os.path.exists(os.path.join(paths_stack.dovecot.plugin_dir,
                                       "lib90_sieve_imapsieve_plugin.so"))
    bad = [l for l in paths_stack.startup_log.splitlines()
           if re.search(r": (Error|Fatal|Panic): ", l)]
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------------------
# 1. dovecot-lda

def run_lda(st, msg: bytes, user: str, sender: str):
    assert os.geteuid() == 0
    return st.dovecot.lda(msg, user, sender)


@pytest.fixture(scope="module")
def lda_list(paths_stack):
    paths_stack.add_list(LDA_LIST, members=MEMBERS, script=DISTRIBUTE)
    return LDA_LIST


def test_lda_distributes_to_every_member_once(dst, lda_list):
    msg = dst.dkim_sign(make_message(to=LDA_LIST, subject="via LDA"), "author.example")
    mid = header_values(msg, "Message-ID")[0]
    p = run_lda(dst, msg, LDA_LIST, AUTHOR)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)

    txs = dst.relay.snapshot()
    assert txs, "the relay received nothing"
    assert len(txs) == 1, [t.rcpt_tos for t in txs]
    got = collections.Counter(lc(dst.relay.recipients()))
    assert got == collections.Counter(lc(MEMBERS)), sorted(got.items())
    t = txs[0]
    assert t.accepted
    assert t.mail_from == "ldalist+bounces@lists.example"
    assert body_of(t.data) == body_of(msg)
    assert dst.dkim_verify(t.data), "author DKIM signature broken at the relay"
    assert LDA_LIST in [v.strip("<> ") for v in header_values(t.data, "X-Loop")]
    assert not header_values(t.data, "Return-Path")

    # implicit keep cancelled: nothing stored
    assert mid not in message_ids(dst.dovecot.messages(LDA_LIST))

    # it really ran as dovecot-lda, as the mail user
    lines = dst.dovecot.wait_log(dst.log_mark, r"^\S+ \S+ \S+ lda\(" + re.escape(LDA_LIST)
                                 + r"\).*distribute action: distributed to 3 member")
    assert len(lines) == 1, dst.dovecot.log_since(dst.log_mark)[-3000:]
    uid_lines = dst.dovecot.wait_log(dst.log_mark, r"lda\(.*Effective uid=(\d+)")
    assert uid_lines and f"Effective uid={dst.dovecot.uid}," in uid_lines[0], uid_lines


def test_lda_relay_tempfail_exits_ex_tempfail_and_stores_nothing(dst, lda_list):
    dst.relay.data_hook = lambda t: "451 4.3.0 try again later"
    msg = make_message(to=LDA_LIST, subject="LDA tempfail")
    mid = header_values(msg, "Message-ID")[0]
    p = run_lda(dst, msg, LDA_LIST, AUTHOR)
    assert p.returncode == EX_TEMPFAIL, (p.returncode, p.stdout, p.stderr)
    txs = dst.relay.snapshot()
    assert txs and not any(t.accepted for t in txs), \
        "the relay should have seen (and refused) the transaction"
    # neither distributed nor kept: the MTA keeps it queued and retries
    assert mid not in message_ids(dst.dovecot.messages(LDA_LIST))

    # the MTA's retry, relay healthy again: distributed, still nothing stored
    dst.relay.data_hook = None
    dst.relay.clear()
    p = run_lda(dst, msg, LDA_LIST, AUTHOR)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert collections.Counter(lc(dst.relay.recipients())) == collections.Counter(lc(MEMBERS))
    assert mid not in message_ids(dst.dovecot.messages(LDA_LIST))


# ---------------------------------------------------------------------------
# 2. imapsieve: moderation by moving mail

@pytest.fixture(scope="module")
def mod_list(paths_stack):
    """A list user without a personal script (the admin rule does the
    work) and without sieve_global_extensions=-vnd.vsmlist, so the admin
    script may use the extension; its members in ~/vsmlist/members."""
    d = paths_stack.dovecot
    d.add_user(MOD_LIST)
    d.write_user_file(MOD_LIST, "vsmlist/members", "".join(m + "\n" for m in MEMBERS))
    return MOD_LIST


@pytest.fixture(scope="module")
def team_list(paths_stack):
    """A list whose address and bounce address are settings (userdb)."""
    d = paths_stack.dovecot
    d.add_user(TEAM_LIST, sieve_vsmlist_address="team@lists.example",
               sieve_vsmlist_bounce_address="team-owner@bounces.lists.example")
    d.write_user_file(TEAM_LIST, "vsmlist/members", "p1@example.net\np2@example.org\n")
    return TEAM_LIST


def imap_ok(res, what=""):
    typ, data = res
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data


class Moderator:
    """The list user logged in over IMAP, with Pending and Approved."""

    def __init__(self, st, user):
        self.st = st
        self.user = user
        self.c = st.dovecot.imap(user)
        for box in ("Pending", "Approved"):
            typ, data = self.c.create(box)
            assert typ == "OK" or b"ALREADYEXISTS" in b" ".join(data), data

    def append(self, box, msg) -> int:
        data = imap_ok(self.c.append(box, None, None, msg), "APPEND")
        m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
        assert m, data
        return int(m.group(1))

    def uids(self, box):
        imap_ok(self.c.select(box), f"SELECT {box}")
        data = imap_ok(self.c.uid("SEARCH", "ALL"), "SEARCH")
        return [int(x) for x in data[0].split()]

    def flags(self, box, uid):
        imap_ok(self.c.select(box), f"SELECT {box}")
        data = imap_ok(self.c.uid("FETCH", str(uid), "(FLAGS)"), "FETCH")
        m = re.search(rb"FLAGS \(([^)]*)\)", data[0] or b"")
        return m.group(1).decode().split() if m else []

    def message_ids(self, box):
        imap_ok(self.c.select(box), f"SELECT {box}")
        data = imap_ok(self.c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"),
                       "FETCH")
        out = []
        for item in data:
            if isinstance(item, tuple):
                out += header_values(item[1], "Message-ID")
        return out

    def move(self, src, uid, dst="Approved", command="MOVE"):
        imap_ok(self.c.select(src), f"SELECT {src}")
        return imap_ok(self.c.uid(command, str(uid), dst), command)

    def close(self):
        try:
            self.c.logout()
        except Exception:
            pass


@pytest.fixture
def moderator(dst, mod_list):
    m = Moderator(dst, mod_list)
    yield m
    m.close()


def test_imapsieve_move_to_approved_distributes(dst, moderator):
    msg = dst.dkim_sign(make_message(to=MOD_LIST, subject="held for moderation"),
                        "author.example")
    mid = header_values(msg, "Message-ID")[0]
    uid = moderator.append("Pending", msg)
    time.sleep(0.2)
    assert dst.relay.snapshot() == [], "APPEND into Pending must not distribute"

    moderator.move("Pending", uid)

    txs = dst.relay.wait_for(1, timeout=10)
    assert len(txs) == 1, [t.rcpt_tos for t in txs]
    got = collections.Counter(lc(dst.relay.recipients()))
    assert got == collections.Counter(lc(MEMBERS)), sorted(got.items())
    t = txs[0]
    assert t.accepted
    # no envelope under imapsieve: the default bounce address of the user
    assert t.mail_from == "modlist+bounces@lists.example"
    assert body_of(t.data) == body_of(msg)
    assert dst.dkim_verify(t.data), "author DKIM signature broken at the relay"
    assert MOD_LIST in [v.strip("<> ") for v in header_values(t.data, "X-Loop")]

    # moved: gone from Pending; in Approved the keep was cancelled, which
    # imapsieve expresses as \Deleted (imapsieve_expunge_discarded=no)
    assert mid not in moderator.message_ids("Pending")
    approved = moderator.uids("Approved")
    assert len(approved) >= 1
    ids = moderator.message_ids("Approved")
    assert mid in ids
    assert "\\Deleted" in moderator.flags("Approved", approved[ids.index(mid)])

    # Under imapsieve Pigeonhole logs action results at Debug level (no
    # SIEVE_EXECUTE_FLAG_LOG_RESULT); the stack runs with mail_debug=yes.
    lines = dst.dovecot.wait_log(dst.log_mark, r"imap\(" + re.escape(MOD_LIST)
                                 + r"\).*distribute action: distributed to 3 member")
    assert len(lines) == 1, dst.dovecot.log_since(dst.log_mark)[-3000:]


def test_imapsieve_copy_to_approved_distributes(dst, moderator):
    msg = make_message(to=MOD_LIST, subject="copied, not moved")
    mid = header_values(msg, "Message-ID")[0]
    uid = moderator.append("Pending", msg)
    moderator.move("Pending", uid, command="COPY")
    txs = dst.relay.wait_for(1, timeout=10)
    assert len(txs) == 1
    assert collections.Counter(lc(dst.relay.recipients())) == collections.Counter(lc(MEMBERS))
    assert txs[0].mail_from == "modlist+bounces@lists.example"
    assert mid in moderator.message_ids("Pending"), "COPY left the source alone"


def test_imapsieve_relay_tempfail_keeps_post_for_another_approval(dst, moderator):
    """Under imapsieve nothing retries: on a relay 4xx the MOVE still
    succeeds (imapsieve cannot fail it), the post stays in Approved and is
    not marked \\Deleted, and Pigeonhole logs an error.  Moving it back and
    into Approved again, relay healthy, distributes it."""
    dst.relay.data_hook = lambda t: "451 4.3.0 try again later"
    msg = make_message(to=MOD_LIST, subject="approved while the relay was down")
    mid = header_values(msg, "Message-ID")[0]
    uid = moderator.append("Pending", msg)
    moderator.move("Pending", uid)
    txs = dst.relay.wait_for(1, timeout=10)
    assert txs and not any(t.accepted for t in txs)
    ids = moderator.message_ids("Approved")
    assert mid in ids, "post lost after a temporary relay failure"
    approved_uid = moderator.uids("Approved")[ids.index(mid)]
    assert "\\Deleted" not in moderator.flags("Approved", approved_uid)
    assert dst.dovecot.wait_log(dst.log_mark, r"imap\(" + re.escape(MOD_LIST)
                                + r"\).*Error: .*aborted due to temporary failure")

    dst.relay.data_hook = None
    dst.relay.clear()
    moderator.move("Approved", approved_uid, dst="Pending")
    time.sleep(0.2)
    assert dst.relay.snapshot() == [], "moving out of Approved distributed"
    pending_ids = moderator.message_ids("Pending")
    assert mid in pending_ids
    moderator.move("Pending", moderator.uids("Pending")[pending_ids.index(mid)])
    dst.relay.wait_for(1, timeout=10)
    assert collections.Counter(lc(dst.relay.recipients())) == collections.Counter(lc(MEMBERS))


def test_imapsieve_append_to_approved_does_not_distribute(dst, moderator):
    """The rule's cause is COPY (MOVE is reported as COPY): a post APPENDed
    straight into Approved is not distributed."""
    moderator.append("Approved", make_message(to=MOD_LIST, subject="appended"))
    time.sleep(0.3)
    assert dst.relay.snapshot() == []


def test_imapsieve_bounce_address_from_settings(dst, team_list):
    m = Moderator(dst, team_list)
    try:
        uid = m.append("Pending", make_message(to="team@lists.example"))
        m.move("Pending", uid)
    finally:
        m.close()
    txs = dst.relay.wait_for(1, timeout=10)
    assert len(txs) == 1
    assert txs[0].mail_from == "team-owner@bounces.lists.example"
    assert sorted(dst.relay.recipients()) == ["p1@example.net", "p2@example.org"]
    assert "team@lists.example" in [v.strip("<> ") for v in header_values(txs[0].data, "X-Loop")]


def test_imapsieve_null_sender_check_does_not_apply(dst, moderator):
    """A post that was delivered with a null envelope sender (Return-Path:
    <>) and then approved is distributed: under imapsieve there is no
    envelope, so the guard's null-sender check is not made."""
    msg = b"Return-Path: <>\r\n" + make_message(to=MOD_LIST, subject="was a bounce")
    uid = moderator.append("Pending", msg)
    moderator.move("Pending", uid)
    txs = dst.relay.wait_for(1, timeout=10)
    assert len(txs) == 1, "an approved post with Return-Path: <> was not distributed"
    assert collections.Counter(lc(dst.relay.recipients())) == collections.Counter(lc(MEMBERS))
    assert txs[0].mail_from == "modlist+bounces@lists.example"
    assert not header_values(txs[0].data, "Return-Path")
    assert not dst.dovecot.wait_log(dst.log_mark, r"not distributed", timeout=0.2)


def test_imapsieve_auto_submitted_still_guarded(dst, moderator):
    msg = make_message(to=MOD_LIST, subject="out of office",
                       extra_headers=(("Auto-Submitted", "auto-replied"),))
    mid = header_values(msg, "Message-ID")[0]
    uid = moderator.append("Pending", msg)
    moderator.move("Pending", uid)
    # a Debug line under imapsieve (see above): needs mail_debug=yes
    lines = dst.dovecot.wait_log(dst.log_mark, r"not distributed")
    time.sleep(0.2)
    assert dst.relay.snapshot() == [], "an Auto-Submitted post was distributed"
    assert len(lines) == 1, lines
    assert re.search(r"imap\(" + re.escape(MOD_LIST) + r"\)", lines[0]), lines[0]
    assert re.search(r"Auto-Submitted: auto-replied", lines[0]), lines[0]
    # kept: the moved message stays in Approved, not marked \Deleted
    ids = moderator.message_ids("Approved")
    assert mid in ids
    uids = moderator.uids("Approved")
    assert "\\Deleted" not in moderator.flags("Approved", uids[ids.index(mid)])


# ---------------------------------------------------------------------------
# 3. 250 members: one transaction, no 100-recipient ceiling

BIG_MEMBERS = [f"member{i:03d}@example{i % 7}.net" for i in range(250)]


def test_250_members_in_one_transaction(dst):
    dst.add_list(BIG_LIST, members=BIG_MEMBERS, script=DISTRIBUTE)
    msg = dst.dkim_sign(make_message(to=BIG_LIST, subject="to 250"), "author.example")
    res = dst.dovecot.deliver(msg, AUTHOR, [BIG_LIST])
    assert res.code(BIG_LIST) == 250, res
    txs = dst.relay.snapshot()
    assert len(txs) == 1, f"{len(txs)} transactions: {[len(t.rcpt_tos) for t in txs]}"
    t = txs[0]
    assert t.accepted
    assert len(t.rcpt_tos) == 250
    got = collections.Counter(lc(t.rcpt_tos))
    assert got == collections.Counter(lc(BIG_MEMBERS)), "some member missing or repeated"
    assert t.mail_from == "big+bounces@lists.example"
    assert dst.dkim_verify(t.data)
    assert dst.relay.connections == 1
    assert header_values(msg, "Message-ID")[0] not in message_ids(dst.dovecot.messages(BIG_LIST))
    lines = dst.dovecot.wait_log(dst.log_mark, r"distributed to 250 member\(s\) .* in 1 SMTP")
    assert len(lines) == 1, dst.dovecot.log_since(dst.log_mark)[-2000:]
