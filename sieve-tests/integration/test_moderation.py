"""Members-only posting and moderation by IMAP, the way the README sets a
list up (doc/vsmlist.md, "Moderation"):

* the list's script (the README's): a member's post is distributed and
  archived (`fileinto :create "Archive"`), a non-member's is filed into
  "Moderation";
* a moderator (the list user over IMAP) MOVEs a held post into "Approved",
  where an imapsieve admin rule (cause COPY) distributes it: every member
  gets it exactly once, built from the post as it was received (a p=reject
  author's post is wrapped); moving it there again sends nothing; an
  administrator logged in as the list through a Dovecot master user
  (list*master) approves the same way;
* the `member` test with each tag over LMTP (its answers kept as IMAP
  flags by a probe list), and under imapsieve, where
  there is no envelope: `member :envelope` is false and `member` falls
  back to From.
"""

import collections
import glob
import os
import re
import shutil
import tempfile
import time

import pytest

import vsmstack
from conftest import STORE_KINDS
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

LIST = "club@lists.example"
MEMBERS = ["m1@example.net", "m2@example.org", "m3@example.com"]
STRANGER = "stranger@elsewhere.example"

LIST_SCRIPT = """require ["vnd.vsmlist", "envelope", "subaddress", "fileinto", "mailbox"];

if envelope :detail :matches "to" "bounces*" {
    keep;
} elsif member {
    distribute;
    fileinto :create "Archive";
} else {
    fileinto :create "Moderation";   # a moderator moves it to "Approved"
}
"""

APPROVE = 'require "vnd.vsmlist";\ndistribute;\n'

# Under imapsieve: what `member` sees, as IMAP flags on the moved message
PROBE = """require ["vnd.vsmlist", "imap4flags"];
if member { addflag "$member"; }
if member :envelope { addflag "$envelope"; }
if member :from { addflag "$from"; }
if member :addresses "m2@example.org" { addflag "$given"; }
keep;
"""


# Over LMTP: the same probe as the list's script, the flags kept in INBOX
PROBE_LIST = "probe@lists.example"
LMTP_PROBE = PROBE.replace(
    "keep;", 'if member :addresses "stranger@elsewhere.example" '
    '{ addflag "$given-stranger"; }\nkeep;')

# A Dovecot master user an administrator moderates as (doc/vsmlist.md,
# "Moderation": user*master)
MASTER, MASTER_PASSWORD = "modmaster", "modsecret"
MASTER_CONF = """
auth_master_user_separator = *
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {path}
  master = yes
}}
"""


@pytest.fixture(scope="module", params=STORE_KINDS)
def mst(pg, request):
    uid, gid = vsmstack.ensure_mail_user()
    admin_dir = tempfile.mkdtemp(prefix="vsmmod", dir="/tmp")
    os.chmod(admin_dir, 0o755)
    os.chown(admin_dir, uid, gid)
    master_users = os.path.join(admin_dir, "master-users")
    with open(master_users, "w") as f:
        f.write(f"{MASTER}:{{PLAIN}}{MASTER_PASSWORD}\n")
    os.chmod(master_users, 0o644)
    scripts = {}
    for name, text in (("approve", APPROVE), ("probe", PROBE)):
        path = os.path.join(admin_dir, name + ".sieve")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, uid, gid)
        scripts[name] = path
    st = vsmstack.Stack(
        plugin=True, mail_debug=True, protocols=("lmtp", "imap"),
        dkim_domains=["author.example", "reject.example"],
        txt_records={"_dmarc.reject.example": "v=DMARC1; p=reject"},
        plugin_settings={
            "sieve_plugins": "sieve_imapsieve sieve_vsmlist",
            "imapsieve_mailbox1_name": "Approved",
            "imapsieve_mailbox1_causes": "COPY",
            "imapsieve_mailbox1_before": "file:" + scripts["approve"],
            "imapsieve_mailbox2_name": "Probe",
            "imapsieve_mailbox2_causes": "COPY",
            "imapsieve_mailbox2_before": "file:" + scripts["probe"],
        },
        dovecot_extra_conf="protocol imap {\n  mail_plugins = $mail_plugins imap_sieve\n}\n"
        + MASTER_CONF.format(path=master_users) + vsmstack.EVENT_EXPORTER_CONF,
        member_db=pg)
    try:
        st.start()
        # The list's own script is an admin script too (sieve_before would
        # do); here it is the list user's, with the extension allowed for
        # that user only, as doc/vsmlist.md shows for ManageSieve lists.
        st.add_list(LIST, MEMBERS, script=LIST_SCRIPT, store=request.param)
        st.add_list(PROBE_LIST, MEMBERS, script=LMTP_PROBE, store=request.param)
        yield st
    finally:
        st.stop()
        shutil.rmtree(admin_dir, ignore_errors=True)


def imap_ok(res, what=""):
    typ, data = res
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data


class Moderator:
    def __init__(self, st, login=LIST, password="pass"):
        self.c = st.dovecot.imap(login, password)
        for box in ("Approved", "Probe", "Check"):
            typ, data = self.c.create(box)
            assert typ == "OK" or b"ALREADYEXISTS" in b" ".join(data), data

    def uid_of(self, box, message_id):
        imap_ok(self.c.select(box), f"SELECT {box}")
        data = imap_ok(self.c.uid("SEARCH", "HEADER", "Message-ID", message_id))
        uids = [int(x) for x in data[0].split()]
        assert len(uids) == 1, (box, message_id, uids)
        return uids[0]

    def move(self, src, uid, dst):
        imap_ok(self.c.select(src), f"SELECT {src}")
        imap_ok(self.c.uid("MOVE", str(uid), dst), "MOVE")

    def flags(self, box, message_id):
        uid = self.uid_of(box, message_id)
        data = imap_ok(self.c.uid("FETCH", str(uid), "(FLAGS)"), "FETCH")
        return re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode().split()

    def append(self, box, msg):
        imap_ok(self.c.append(box, None, None, msg), "APPEND")

    def close(self):
        try:
            self.c.logout()
        except Exception:
            pass


@pytest.fixture
def mod(mst):
    mst.relay.clear()
    m = Moderator(mst)
    yield m
    m.close()


def recipients(st):
    return collections.Counter(r.lower() for r in st.relay.recipients())


def test_member_post_is_distributed_and_archived(mst, mod):
    msg = make_message(from_addr="M One <m1@example.net>", to=LIST)
    res = mst.dovecot.deliver(msg, "m1@example.net", [LIST])
    assert res.code(LIST) == 250
    assert recipients(mst) == collections.Counter(MEMBERS)
    mid = header_values(msg, "Message-ID")[0]
    assert mod.uid_of("Archive", mid)


def test_member_by_from_only(mst, mod):
    """A member writing through a mailer whose envelope sender is not the
    member's address (a bounce-tracking ESP): From decides."""
    msg = make_message(from_addr="M Two <M2@Example.ORG>", to=LIST)
    res = mst.dovecot.deliver(msg, "bounce-7781@esp.example", [LIST])
    assert res.code(LIST) == 250
    assert recipients(mst) == collections.Counter(MEMBERS)


def test_non_member_held_then_approved_once(mst, mod):
    msg = make_message(from_addr=f"Stranger <{STRANGER}>", to=LIST,
                       subject="may I post?")
    mid = header_values(msg, "Message-ID")[0]
    res = mst.dovecot.deliver(msg, STRANGER, [LIST])
    assert res.code(LIST) == 250
    time.sleep(0.2)
    assert mst.relay.snapshot() == [], "a non-member's post went out"
    uid = mod.uid_of("Moderation", mid)

    mod.move("Moderation", uid, "Approved")
    mst.relay.wait_for(1, timeout=10)
    assert recipients(mst) == collections.Counter(MEMBERS)

    # Approved again (back to Moderation, then Approved): nothing more
    mst.relay.clear()
    mod.c.select("Approved")
    mod.c.uid("STORE", str(mod.uid_of("Approved", mid)), "-FLAGS", "(\\Deleted)")
    mod.move("Approved", mod.uid_of("Approved", mid), "Moderation")
    mod.move("Moderation", mod.uid_of("Moderation", mid), "Approved")
    lines = mst.dovecot.wait_log(0, r"already distributed to the members of "
                                 + re.escape(LIST), timeout=10)
    assert lines, mst.dovecot.log()[-3000:]
    assert mst.relay.snapshot() == []


def test_approved_post_keeps_its_dmarc_decision(mst, mod):
    """The copy is built from the post as it was received: a p=reject
    author's post is wrapped when approved."""
    msg = mst.dkim_sign(make_message(from_addr="Rob <rob@reject.example>", to=LIST,
                                     subject="strict domain"), "reject.example")
    mid = header_values(msg, "Message-ID")[0]
    assert mst.dovecot.deliver(msg, "rob@reject.example", [LIST]).code(LIST) == 250
    mod.move("Moderation", mod.uid_of("Moderation", mid), "Approved")
    txs = mst.relay.wait_for(1, timeout=10)
    assert recipients(mst) == collections.Counter(MEMBERS)
    data = txs[0].data
    assert header_values(data, "From")[0].endswith(f"<{LIST}>")
    assert b"Content-Type: message/rfc822" in data


def test_member_under_imapsieve(mst, mod):
    """No envelope under imapsieve: :envelope is false, the default falls
    back to From, :addresses works as anywhere."""
    member_post = make_message(from_addr="M Three <m3@example.com>", to=LIST)
    stranger_post = make_message(from_addr=f"<{STRANGER}>", to=LIST)
    for msg in (member_post, stranger_post):
        mod.append("Check", msg)
        mid = header_values(msg, "Message-ID")[0]
        mod.move("Check", mod.uid_of("Check", mid), "Probe")
    flags = mod.flags("Probe", header_values(member_post, "Message-ID")[0])
    assert "$member" in flags and "$from" in flags and "$given" in flags
    assert "$envelope" not in flags
    flags = mod.flags("Probe", header_values(stranger_post, "Message-ID")[0])
    assert "$member" not in flags and "$from" not in flags
    assert "$given" in flags


def test_moderator_as_a_master_user(mst, mod):
    """An administrator logs in as the list through a Dovecot master user
    (list*master) and approves a held post: it is distributed once."""
    msg = make_message(from_addr=f"Stranger <{STRANGER}>", to=LIST,
                       subject="held for the administrator")
    mid = header_values(msg, "Message-ID")[0]
    assert mst.dovecot.deliver(msg, STRANGER, [LIST]).code(LIST) == 250
    mark = mst.dovecot.log_mark()
    admin = Moderator(mst, login=f"{LIST}*{MASTER}", password=MASTER_PASSWORD)
    try:
        admin.move("Moderation", admin.uid_of("Moderation", mid), "Approved")
        mst.relay.wait_for(1, timeout=10)
        assert recipients(mst) == collections.Counter(MEMBERS)
    finally:
        admin.close()
    # the session was the list user's (Dovecot 2.3 does not name the
    # master user in the line); the password was the master user's, which
    # is not the list user's own
    assert mst.dovecot.wait_log(mark, r"imap-login: Info: Login: user=<"
                                + re.escape(LIST) + r">, method=PLAIN")
    with pytest.raises(vsmstack.StackError):
        mst.dovecot.imap(LIST, MASTER_PASSWORD).logout()


@pytest.mark.parametrize("envelope,author,expected", [
    ("m1@example.net", STRANGER, {"$member", "$envelope", "$given"}),
    ("M1@EXAMPLE.NET", STRANGER, {"$member", "$envelope", "$given"}),
    (STRANGER, "m2@example.org", {"$member", "$from", "$given"}),
    (STRANGER, STRANGER, {"$given"}),
    ("m1@example.net", "m3@example.com", {"$member", "$envelope", "$from", "$given"}),
], ids=["envelope", "envelope-upper-case", "from", "neither", "both"])
def test_member_tags_over_lmtp(mst, envelope, author, expected):
    """`member` with each tag on a delivery over LMTP (an envelope): what
    each test said is kept as IMAP flags on the message."""
    msg = make_message(from_addr=f"<{author}>", to=PROBE_LIST)
    mid = header_values(msg, "Message-ID")[0]
    assert mst.dovecot.deliver(msg, envelope, [PROBE_LIST]).code(PROBE_LIST) == 250
    probe = Moderator(mst, login=PROBE_LIST)
    try:
        flags = {f for f in probe.flags("INBOX", mid) if f.startswith("$")}
    finally:
        probe.close()
    assert flags == expected, flags


def test_unreadable_post_is_deferred_with_an_event(mst, mod):
    """The approved message cannot be read (its file unreadable: a broken
    disk, a wrong permission): nothing is sent, the move is refused or
    left for another try, and the distribute action still has its one
    event and line, outcome "deferred", with the mail's error."""
    msg = make_message(from_addr=f"Stranger <{STRANGER}>", to=LIST,
                       subject="unreadable")
    mid = header_values(msg, "Message-ID")[0]
    assert mst.dovecot.deliver(msg, STRANGER, [LIST]).code(LIST) == 250
    uid = mod.uid_of("Moderation", mid)
    home = mst.dovecot.home(LIST)
    held = [p for sub in ("new", "cur")
            for p in glob.glob(os.path.join(home, "Maildir", ".Moderation", sub, "*"))
            if mid.encode() in open(p, "rb").read()]
    assert len(held) == 1, held
    os.chmod(held[0], 0)
    mark = mst.dovecot.log_mark()
    try:
        mod.c.select("Moderation")
        mod.c.uid("MOVE", str(uid), "Approved")
        ev = mst.dovecot.exported_events(mark, "vsmlist_distribute_finished")
        assert ev, mst.dovecot.log_since(mark)[-3000:]
        assert ev[0]["vsmlist_outcome"] == "deferred", ev
        assert "Permission denied" in ev[0]["vsmlist_error"], ev
        lines = mst.dovecot.wait_log(mark, r"distribute action: failed to read the post: "
                                     r".*Permission denied.* \(temporary failure\)")
        assert len(lines) == 1, mst.dovecot.log_since(mark)[-3000:]
        assert mst.relay.snapshot() == []
    finally:
        if os.path.exists(held[0]):
            os.chmod(held[0], 0o600)
