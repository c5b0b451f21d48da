"""`doveadm vsmlist` on a real stack: members, subscribe, unsubscribe and
enable against the list's member store, their output formats and exit
codes, the store's lock, and doveadm's HTTP API.

The stack's Dovecot and every doveadm call run in a private mount
namespace where doveadm's module directory holds the system's doveadm
plugins and lib10_doveadm_vsmlist_plugin.so (vsmstack
`doveadm_plugin=True`): doveadm loads plugins from its compiled-in
directory only, and the system's stays untouched.

A test of what the commands do to members runs against both store kinds,
a member file and PostgreSQL rows through Dovecot's dict (the `store`
fixture), and reads the store through pgstack, the same for both. Tests
of the member file itself (its comments and order, its creation, its
dotlock, file: URIs) and of what is refused before the store is opened
are file only, and say so.
"""

import concurrent.futures
import json
import os
import random
import re
import subprocess
import time

import pytest

import vsmstack
from pgstack import MemberState, list_members, member_states, set_member_state
from vsmstack import make_message

pytestmark = pytest.mark.plugin

EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
DOVEADM_EX_NOTFOUND = 68
EX_TEMPFAIL = 75
EX_CONFIG = 78

DISTRIBUTE = 'require "vnd.vsmlist";\ndistribute;\n'


@pytest.fixture(scope="module")
def doveadm_stack(pg):
    st = vsmstack.Stack(plugin=True, doveadm_plugin=True, doveadm_http=True,
                        dkim_domains=["author.example"], member_db=pg)
    st.start()
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture
def dst(doveadm_stack, request):
    """The module's stack, relay emptied; the log of a failed test is
    printed (as conftest's `st` does)."""
    from conftest import _attach_logs
    st = doveadm_stack
    st.relay.clear()
    mark = st.dovecot.log_mark()
    yield st
    _attach_logs(request, st, mark)


_list_seq = 0


def new_list(st, members_text="", store="file", **fields) -> str:
    """A list user of its own with these members (None: no member file)."""
    global _list_seq
    _list_seq += 1
    address = f"list{_list_seq}@lists.example"
    st.add_list(address, members_text=members_text, script=None, store=store,
                **fields)
    return address


def as_stored(store, address):
    """An address as the store gives it back: a member file keeps its
    spelling, a row holds the key (lower case)"""
    return address if store == "file" else address.lower()


def members_path(st, address) -> str:
    return os.path.join(st.dovecot.home(address), "vsmlist", "members")


def read_members_file(st, address) -> str:
    with open(members_path(st, address)) as f:
        return f.read()


def vsmlist(st, *args, fmt=None):
    opts = ["-f", fmt] if fmt else []
    return st.dovecot.doveadm(*opts, "vsmlist", *args)


def json_rows(p):
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def members(st, address):
    """(address, state, bounce_points) of `doveadm vsmlist members`, sorted
    (a dict gives its own order)"""
    return sorted((r["address"], r["state"], r["bounce_points"])
                  for r in json_rows(vsmlist(st, "members", "-u", address,
                                             fmt="json")))


def in_order(lines, header=True):
    """The lines of `members` output, the members sorted by address (a
    dict gives its own order; the tests' member files are in order)"""
    head = lines[:1] if header else []
    return head + sorted(lines[len(head):], key=str.lower)


def results(p):
    """(address, result) rows of a change command's tab output"""
    lines = p.stdout.decode().splitlines()
    assert lines[0].split("\t") == ["address", "result"], lines
    return [tuple(l.split("\t")) for l in lines[1:]]


def test_plugin_loaded(dst):
    """The stack's doveadm knows the commands"""
    p = dst.dovecot.doveadm("help")
    out = (p.stdout + p.stderr).decode()
    assert re.search(r"^\s*vsmlist\s+enable\|members\|subscribe\|unsubscribe$",
                     out, re.M), out


def test_members_formats(dst, store):
    lst = new_list(dst, "# the list\nalice@example.net\n\n"
                        "<Bob@Example.ORG>  # bob\n", store=store)
    bob = as_stored(store, "Bob@Example.ORG")
    last = 1767225600          # 2026-01-01 00:00:00 UTC
    set_member_state(dst, lst, bob, MemberState("disabled", 5, last, last))

    table = vsmlist(dst, "members", "-u", lst)
    assert table.returncode == 0, table.stderr.decode()
    # alice before bob (a dict gives its own order: sorted here)
    lines = in_order(table.stdout.decode().splitlines())
    assert lines[0].split() == ["address", "state", "bounce_points", "last_bounce"]
    assert lines[1].split() == ["alice@example.net", "enabled", "0"]
    assert lines[2].split()[:3] == [bob, "disabled", "5"]

    tab = vsmlist(dst, "members", "-u", lst, fmt="tab")
    assert tab.returncode == 0
    rows = [l.split("\t") for l in in_order(tab.stdout.decode().splitlines())]
    assert rows[0] == ["address", "state", "bounce_points", "last_bounce"]
    assert rows[1] == ["alice@example.net", "enabled", "0", ""]
    assert rows[2][:3] == [bob, "disabled", "5"]
    # ISO 8601 in the local time zone: the same instant
    stamp = rows[2][3]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", stamp), stamp

    js = sorted(json_rows(vsmlist(dst, "members", "-u", lst, fmt="json")),
                key=lambda r: r["address"].lower())
    assert js[0] == {"address": "alice@example.net", "state": "enabled",
                     "bounce_points": 0, "last_bounce": ""}
    assert js[1]["address"] == bob
    assert js[1]["state"] == "disabled" and js[1]["bounce_points"] == 5
    assert js[1]["last_bounce"] == stamp

    flow = vsmlist(dst, "members", "-u", lst, fmt="flow")
    assert flow.returncode == 0
    assert in_order(flow.stdout.decode().splitlines(), header=False)[0] == \
        "address=alice@example.net state=enabled bounce_points=0 last_bounce="


def test_subscribe_unsubscribe(dst, store):
    """The results of each address; a member file keeps its comments and
    order"""
    text = ("# friends of the house\n"
            "alice@example.net   # since 2019\n"
            "\n"
            "bob@example.org\n"
            "# former members below\n"
            "carol@example.com\n")
    lst = new_list(dst, text, store=store)

    p = vsmlist(dst, "subscribe", "-u", lst, "dave@example.net",
                "<Erin@Example.COM>", "ALICE@example.NET", fmt="tab")
    assert p.returncode == 0, p.stderr.decode()
    assert results(p) == [("dave@example.net", "added"),
                          ("Erin@Example.COM", "added"),
                          ("ALICE@example.NET", "already a member")]
    assert list_members(dst, lst) == ["alice@example.net", "bob@example.org",
                                      "carol@example.com", "dave@example.net",
                                      "erin@example.com"]
    if store == "file":
        assert read_members_file(dst, lst) == \
            text + "dave@example.net\nErin@Example.COM\n"

    p = vsmlist(dst, "unsubscribe", "-u", lst, "BOB@example.org",
                "erin@example.com", fmt="tab")
    assert p.returncode == 0, p.stderr.decode()
    assert results(p) == [("BOB@example.org", "removed"),
                          ("erin@example.com", "removed")]
    if store == "file":
        assert read_members_file(dst, lst) == (
            "# friends of the house\n"
            "alice@example.net   # since 2019\n"
            "\n"
            "# former members below\n"
            "carol@example.com\n"
            "dave@example.net\n")
    assert members(dst, lst) == [("alice@example.net", "enabled", 0),
                                 ("carol@example.com", "enabled", 0),
                                 ("dave@example.net", "enabled", 0)]


def test_subscribe_creates_the_member_file(dst):
    """File only: the member file's creation and owner"""
    lst = new_list(dst, None)
    assert not os.path.exists(members_path(dst, lst))
    p = vsmlist(dst, "subscribe", "-u", lst, "first@example.net")
    assert p.returncode == 0, p.stderr.decode()
    assert read_members_file(dst, lst) == "first@example.net\n"
    st = os.stat(members_path(dst, lst))
    assert (st.st_uid, st.st_gid) == (dst.dovecot.uid, dst.dovecot.gid)


def test_unsubscribe_not_a_member_exits_68(dst, store):
    lst = new_list(dst, "alice@example.net\nbob@example.org\n", store=store)
    p = vsmlist(dst, "unsubscribe", "-u", lst, "nobody@example.net",
                "bob@example.org", fmt="tab")
    # the other address is still removed
    assert p.returncode == DOVEADM_EX_NOTFOUND, p.stderr.decode()
    assert results(p) == [("nobody@example.net", "not a member"),
                          ("bob@example.org", "removed")]
    assert list_members(dst, lst) == ["alice@example.net"]


def test_enable(dst, store):
    lst = new_list(dst, "alice@example.net\nbob@example.org\n", store=store)
    set_member_state(dst, lst, "bob@example.org",
                     MemberState("disabled", 5, 1767225600, 1767225600))
    set_member_state(dst, lst, "alice@example.net",
                     MemberState("enabled", 2, 1767225600, 0))
    assert members(dst, lst) == [("alice@example.net", "enabled", 2),
                                 ("bob@example.org", "disabled", 5)]

    # subscribe does not re-enable
    p = vsmlist(dst, "subscribe", "-u", lst, "bob@example.org", fmt="tab")
    assert p.returncode == 0
    assert results(p) == [("bob@example.org", "already a member (disabled)")]

    p = vsmlist(dst, "enable", "-u", lst, "Bob@Example.org",
                "alice@example.net", fmt="tab")
    assert p.returncode == 0, p.stderr.decode()
    assert results(p) == [("Bob@Example.org", "enabled"),
                          ("alice@example.net", "was not disabled")]
    assert members(dst, lst) == [("alice@example.net", "enabled", 2),
                                 ("bob@example.org", "enabled", 0)]
    # bob has no state left: a clean slate
    assert member_states(dst, lst) == {
        "alice@example.net": MemberState("enabled", 2, 1767225600, 0),
        "bob@example.org": MemberState()}

    p = vsmlist(dst, "enable", "-u", lst, "nobody@example.net", fmt="tab")
    assert p.returncode == DOVEADM_EX_NOTFOUND
    assert results(p) == [("nobody@example.net", "not a member")]


# Refused before the store is opened: file only

@pytest.mark.parametrize("bad", [
    "no-domain",
    "two@at@example.net",
    "",
    "<unclosed@example.net",
])
def test_invalid_address_changes_nothing(dst, bad):
    text = "alice@example.net\n"
    lst = new_list(dst, text)
    p = vsmlist(dst, "subscribe", "-u", lst, "new@example.net", bad)
    assert p.returncode == EX_USAGE, p.stderr.decode()
    assert f"Invalid address '{bad}'" in p.stderr.decode()
    assert "nothing changed" in p.stderr.decode()
    assert read_members_file(dst, lst) == text


def test_list_own_address_refused(dst):
    """What a membership request could not subscribe, doveadm cannot
    either: the list's own addresses (a list mailing itself), a local part
    over 64 octets"""
    text = "alice@example.net\n"
    lst = new_list(dst, text)
    local = lst.split("@")[0]
    for bad, reason in ((lst, "it is the list's own"),
                        (f"{local}+subscribe@lists.example", "it is the list's own"),
                        (f"{local}+bounces@lists.example", "it is the list's own"),
                        ("x" * 65 + "@example.net", "longer than 64 octets")):
        p = vsmlist(dst, "subscribe", "-u", lst, "new@example.net", bad)
        assert p.returncode == EX_USAGE, p.stderr.decode()
        err = p.stderr.decode()
        assert f"Invalid address '{bad}': " in err and reason in err, err
        assert "nothing changed" in err
        assert read_members_file(dst, lst) == text


def test_usage_errors(dst):
    lst = new_list(dst, "alice@example.net\n")
    for cmd in ("subscribe", "unsubscribe", "enable"):
        p = vsmlist(dst, cmd, "-u", lst)
        assert p.returncode == EX_USAGE
        assert f"doveadm vsmlist {cmd}" in p.stderr.decode()
    p = vsmlist(dst, "members", "-u", lst, "extra@example.net")
    assert p.returncode == EX_USAGE


def test_unknown_user(dst):
    p = vsmlist(dst, "members", "-u", "nobody@lists.example")
    assert p.returncode == EX_NOUSER
    assert "User doesn't exist" in p.stderr.decode()
    p = vsmlist(dst, "subscribe", "-u", "nobody@lists.example", "a@example.net")
    assert p.returncode == EX_NOUSER


def test_invalid_settings_exit_78(dst):
    lst = new_list(dst, "alice@example.net\n", sieve_vsmlist_dmarc="sometimes")
    p = vsmlist(dst, "members", "-u", lst)
    assert p.returncode == EX_CONFIG, p.stderr.decode()
    assert "Invalid list settings: sieve_vsmlist_dmarc" in p.stderr.decode()

    lst = new_list(dst, "alice@example.net\n",
                   sieve_vsmlist_members="sql:members")
    p = vsmlist(dst, "subscribe", "-u", lst, "new@example.net")
    assert p.returncode == EX_CONFIG, p.stderr.decode()
    assert "member store 'sql:members': unknown store type" in p.stderr.decode()


def test_missing_member_file(dst):
    """File only: a list without its member file"""
    lst = new_list(dst, None)
    p = vsmlist(dst, "members", "-u", lst)
    assert p.returncode == EX_DATAERR, p.stderr.decode()
    assert "does not exist (an empty list is an empty file)" in p.stderr.decode()
    # nothing to remove: no member
    p = vsmlist(dst, "unsubscribe", "-u", lst, "a@example.net")
    assert p.returncode == DOVEADM_EX_NOTFOUND
    assert not os.path.exists(members_path(dst, lst))


def test_per_user_members_setting(dst):
    """userdb fields apply: the store is the one sieve_vsmlist_members names
    (file only: another file)"""
    lst = new_list(dst, None, sieve_vsmlist_members="file:~/lists/team")
    dst.dovecot.write_user_file(lst, "lists/team", "tina@example.net\n")
    assert members(dst, lst) == [("tina@example.net", "enabled", 0)]
    p = vsmlist(dst, "subscribe", "-u", lst, "tom@example.net")
    assert p.returncode == 0
    with open(os.path.join(dst.dovecot.home(lst), "lists", "team")) as f:
        assert f.read() == "tina@example.net\ntom@example.net\n"
    assert not os.path.exists(members_path(dst, lst))


def test_settings_file_applies(dst):
    """The list's settings file (~/vsmlist/settings) applies as for a
    delivery (file only: a file: URI)"""
    lst = new_list(dst, None)
    dst.dovecot.write_user_file(lst, "vsmlist/settings",
                                "sieve_vsmlist_members = file:~/lists/from-file\n")
    dst.dovecot.write_user_file(lst, "lists/from-file", "fay@example.net\n")
    assert members(dst, lst) == [("fay@example.net", "enabled", 0)]


def test_held_lock_exits_75(dst):
    """A change waits for the store's dotlock (10 s), then fails
    temporarily; the addresses after the failed one are not tried, and
    reading never waits. (File only: a dict has no lock, doc/dict.md.)"""
    text = "alice@example.net\n"
    lst = new_list(dst, text)
    lock = members_path(dst, lst) + ".lock"
    dst.dovecot.write_user_file(lst, "vsmlist/members.lock", "")
    try:
        p = vsmlist(dst, "subscribe", "-u", lst, "new@example.net",
                    "other@example.net", fmt="tab")
        assert p.returncode == EX_TEMPFAIL, p.stderr.decode()
        assert results(p) == [("new@example.net", "failed"),
                              ("other@example.net", "skipped")]
        assert "still locked" in p.stderr.decode()
        assert members(dst, lst) == [("alice@example.net", "enabled", 0)]
        assert os.path.exists(lock)
    finally:
        os.unlink(lock)
    assert read_members_file(dst, lst) == text
    p = vsmlist(dst, "subscribe", "-u", lst, "new@example.net")
    assert p.returncode == 0


def test_concurrent_changes(dst, store):
    """Changes in parallel processes: none is lost (the file store
    serialises them on its lock, the dict makes each one statement), and a
    member file's own lines stay first and in order."""
    text = "# list\nalice@example.net\n"
    lst = new_list(dst, text, store=store)
    batches = [[f"m{i}-{j}@example.net" for j in range(5)] for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(len(batches)) as pool:
        procs = list(pool.map(
            lambda b: vsmlist(dst, "subscribe", "-u", lst, *b), batches))
    for p in procs:
        assert p.returncode == 0, p.stderr.decode()
    assert list_members(dst, lst) == sorted(
        ["alice@example.net"] + [a for b in batches for a in b])
    if store != "file":
        return
    lines = read_members_file(dst, lst).splitlines()
    assert lines[:2] == ["# list", "alice@example.net"]
    assert sorted(lines[2:]) == sorted(a for b in batches for a in b)
    # each process's own addresses in its order
    for b in batches:
        assert [l for l in lines if l in b] == b


def test_killed_while_writing_leaves_a_whole_file(dst):
    """doveadm processes killed (SIGKILL) at random moments while they
    rewrite a large member file: after each, the file is the old one or a
    newer one, never torn (every line whole, the file's own lines first
    and in order, each added address at most once), and a change goes
    through again once a dead writer's lock is stale. File
    store only: the dict makes each change one SQL statement."""
    original = [f"o{i:05d}@example.net" for i in range(20000)]
    lst = new_list(dst, "# list\n" + "".join(a + "\n" for a in original))
    added = [f"k{i:03d}@example.net" for i in range(120)]
    rnd = random.Random(20261130)
    for n in range(12):
        batch = added[n * 10:(n + 1) * 10]
        argv, env = dst.dovecot._tool_command(
            [vsmstack.DOVEADM, "-c", dst.dovecot.conf_path,
             "vsmlist", "subscribe", "-u", lst, *batch])
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.01, 0.3))
        proc.kill()
        proc.wait()
        text = read_members_file(dst, lst)
        assert text.endswith("\n")
        lines = text.split("\n")[:-1]
        assert lines[:len(original) + 1] == ["# list"] + original
        rest = lines[len(original) + 1:]
        assert len(rest) == len(set(rest)) and set(rest) <= set(added[:(n + 1) * 10]), rest
    # A killed writer's lock holds no pid (with Dovecot's dotlock the lock
    # file is the new content): it is overridden once stale (30 s); until
    # then a change is a temporary failure (exit 75), then it goes through
    deadline = time.monotonic() + 60
    while True:
        p = vsmlist(dst, "subscribe", "-u", lst, "last@example.net")
        if p.returncode == 0 or time.monotonic() > deadline:
            break
        assert p.returncode == 75, p.stderr.decode()
    assert p.returncode == 0, p.stderr.decode()
    assert read_members_file(dst, lst).endswith("last@example.net\n")


def test_delivery_sees_doveadm_changes(dst, store):
    """The Sieve plugin and doveadm share the store: a post reaches the
    member doveadm added, not the one it removed, and a disabled member
    again once doveadm enabled it."""
    lst = f"deliver-{store}@lists.example"
    dst.add_list(lst, members=["alice@example.net", "bob@example.org",
                               "dora@example.org"],
                 script=DISTRIBUTE, store=store)
    set_member_state(dst, lst, "dora@example.org",
                     MemberState("disabled", 5, 1767225600, 1767225600))
    assert vsmlist(dst, "subscribe", "-u", lst, "carol@example.com").returncode == 0
    assert vsmlist(dst, "unsubscribe", "-u", lst, "bob@example.org").returncode == 0
    r = dst.dovecot.deliver(make_message(to=lst), "author@author.example", [lst])
    assert r.code(lst) == 250, r.text(lst)
    dst.relay.wait_for(1)
    assert sorted(dst.relay.recipients()) == ["alice@example.net",
                                              "carol@example.com"]

    dst.relay.clear()
    assert vsmlist(dst, "enable", "-u", lst, "dora@example.org").returncode == 0
    r = dst.dovecot.deliver(make_message(to=lst), "author@author.example", [lst])
    assert r.code(lst) == 250, r.text(lst)
    dst.relay.wait_for(1)
    assert sorted(dst.relay.recipients()) == ["alice@example.net",
                                              "carol@example.com",
                                              "dora@example.org"]


def test_http_api(dst, store):
    """doveadm's HTTP API runs the same commands (camelCase names)"""
    lst = new_list(dst, "alice@example.net\n", store=store)
    status, answer = dst.dovecot.doveadm_api(
        [["vsmlistSubscribe", {"user": lst, "address": ["bob@example.org"]}, "t1"],
         ["vsmlistMembers", {"user": lst}, "t2"],
         ["vsmlistUnsubscribe", {"user": lst, "address": ["nobody@example.org"]}, "t3"],
         ["vsmlistMembers", {"user": "nobody@lists.example"}, "t4"]])
    assert status == 200, answer
    assert answer[0] == ["doveadmResponse",
                         [{"address": "bob@example.org", "result": "added"}], "t1"]
    answer[1][1].sort(key=lambda r: r["address"])
    assert answer[1] == ["doveadmResponse",
                         [{"address": "alice@example.net", "state": "enabled",
                           "bounce_points": 0, "last_bounce": ""},
                          {"address": "bob@example.org", "state": "enabled",
                           "bounce_points": 0, "last_bounce": ""}], "t2"]
    assert answer[2] == ["error", {"type": "exitCode",
                                   "exitCode": DOVEADM_EX_NOTFOUND}, "t3"]
    assert answer[3] == ["error", {"type": "exitCode", "exitCode": EX_NOUSER}, "t4"]
    assert list_members(dst, lst) == ["alice@example.net", "bob@example.org"]
    # a usage error fails the request, not the server
    status, answer = dst.dovecot.doveadm_api(
        [["vsmlistSubscribe", {"user": lst}, "t5"],
         ["vsmlistMembers", {"user": lst}, "t6"]])
    assert status == 200, answer
    assert answer[0] == ["error", {"type": "exitCode", "exitCode": EX_USAGE}, "t5"]
    assert answer[1][0] == "doveadmResponse"
