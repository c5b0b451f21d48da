"""`doveadm vsmlist` on a real stack: members, subscribe, unsubscribe and
enable against the list's member store, their output formats and exit
codes, the store's lock, and doveadm's HTTP API.

The stack's Dovecot and every doveadm call run in a private mount
namespace where doveadm's module directory holds the system's doveadm
plugins and lib10_doveadm_vsmlist_plugin.so (vsmstack
`doveadm_plugin=True`): doveadm loads plugins from its compiled-in
directory only, and the system's stays untouched.
"""

import concurrent.futures
import json
import os
import re

import pytest

import vsmstack
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
def doveadm_stack():
    st = vsmstack.Stack(plugin=True, doveadm_plugin=True, doveadm_http=True,
                        dkim_domains=["author.example"])
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


def new_list(st, members_text="", **fields) -> str:
    """A list user of its own with this member file (None: no file)."""
    global _list_seq
    _list_seq += 1
    address = f"list{_list_seq}@lists.example"
    st.add_list(address, members_text=members_text, script=None, **fields)
    return address


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
    return [(r["address"], r["state"], r["bounce_points"])
            for r in json_rows(vsmlist(st, "members", "-u", address,
                                       fmt="json"))]


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


def test_members_formats(dst):
    lst = new_list(dst, "# the list\nalice@example.net\n\n"
                        "<Bob@Example.ORG>  # bob\n")
    state = os.path.join(dst.dovecot.home(lst), "vsmlist", "members.state")
    last = 1767225600          # 2026-01-01 00:00:00 UTC
    dst.dovecot.write_user_file(
        lst, "vsmlist/members.state",
        f"vsmlist-state 1\ndisabled 5 {last} {last} bob@example.org\n")
    assert os.path.exists(state)

    table = vsmlist(dst, "members", "-u", lst)
    assert table.returncode == 0, table.stderr.decode()
    lines = table.stdout.decode().splitlines()
    assert lines[0].split() == ["address", "state", "bounce_points", "last_bounce"]
    assert lines[1].split() == ["alice@example.net", "enabled", "0"]
    assert lines[2].split()[:3] == ["Bob@Example.ORG", "disabled", "5"]

    tab = vsmlist(dst, "members", "-u", lst, fmt="tab")
    assert tab.returncode == 0
    rows = [l.split("\t") for l in tab.stdout.decode().splitlines()]
    assert rows[0] == ["address", "state", "bounce_points", "last_bounce"]
    assert rows[1] == ["alice@example.net", "enabled", "0", ""]
    assert rows[2][:3] == ["Bob@Example.ORG", "disabled", "5"]
    # ISO 8601 in the local time zone: the same instant
    stamp = rows[2][3]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", stamp), stamp

    js = json_rows(vsmlist(dst, "members", "-u", lst, fmt="json"))
    assert js[0] == {"address": "alice@example.net", "state": "enabled",
                     "bounce_points": 0, "last_bounce": ""}
    assert js[1]["address"] == "Bob@Example.ORG"
    assert js[1]["state"] == "disabled" and js[1]["bounce_points"] == 5
    assert js[1]["last_bounce"] == stamp

    flow = vsmlist(dst, "members", "-u", lst, fmt="flow")
    assert flow.returncode == 0
    assert flow.stdout.decode().splitlines()[0] == \
        "address=alice@example.net state=enabled bounce_points=0 last_bounce="


def test_subscribe_unsubscribe_keep_comments_and_order(dst):
    text = ("# friends of the house\n"
            "alice@example.net   # since 2019\n"
            "\n"
            "bob@example.org\n"
            "# former members below\n"
            "carol@example.com\n")
    lst = new_list(dst, text)

    p = vsmlist(dst, "subscribe", "-u", lst, "dave@example.net",
                "<Erin@Example.COM>", "ALICE@example.NET", fmt="tab")
    assert p.returncode == 0, p.stderr.decode()
    assert results(p) == [("dave@example.net", "added"),
                          ("Erin@Example.COM", "added"),
                          ("ALICE@example.NET", "already a member")]
    assert read_members_file(dst, lst) == \
        text + "dave@example.net\nErin@Example.COM\n"

    p = vsmlist(dst, "unsubscribe", "-u", lst, "BOB@example.org",
                "erin@example.com", fmt="tab")
    assert p.returncode == 0, p.stderr.decode()
    assert results(p) == [("BOB@example.org", "removed"),
                          ("erin@example.com", "removed")]
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
    lst = new_list(dst, None)
    assert not os.path.exists(members_path(dst, lst))
    p = vsmlist(dst, "subscribe", "-u", lst, "first@example.net")
    assert p.returncode == 0, p.stderr.decode()
    assert read_members_file(dst, lst) == "first@example.net\n"
    st = os.stat(members_path(dst, lst))
    assert (st.st_uid, st.st_gid) == (dst.dovecot.uid, dst.dovecot.gid)


def test_unsubscribe_not_a_member_exits_68(dst):
    lst = new_list(dst, "alice@example.net\nbob@example.org\n")
    p = vsmlist(dst, "unsubscribe", "-u", lst, "nobody@example.net",
                "bob@example.org", fmt="tab")
    # the other address is still removed
    assert p.returncode == DOVEADM_EX_NOTFOUND, p.stderr.decode()
    assert results(p) == [("nobody@example.net", "not a member"),
                          ("bob@example.org", "removed")]
    assert read_members_file(dst, lst) == "alice@example.net\n"


def test_enable(dst):
    lst = new_list(dst, "alice@example.net\nbob@example.org\n")
    dst.dovecot.write_user_file(
        lst, "vsmlist/members.state",
        "vsmlist-state 1\ndisabled 5 1767225600 1767225600 bob@example.org\n"
        "enabled 2 1767225600 0 alice@example.net\n")
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
    with open(members_path(dst, lst) + ".state") as f:
        state = f.read()
    # bob has no state left: a clean slate
    assert "bob@example.org" not in state
    assert read_members_file(dst, lst) == "alice@example.net\nbob@example.org\n"

    p = vsmlist(dst, "enable", "-u", lst, "nobody@example.net", fmt="tab")
    assert p.returncode == DOVEADM_EX_NOTFOUND
    assert results(p) == [("nobody@example.net", "not a member")]


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
    lst = new_list(dst, None)
    p = vsmlist(dst, "members", "-u", lst)
    assert p.returncode == EX_DATAERR, p.stderr.decode()
    assert "does not exist (an empty list is an empty file)" in p.stderr.decode()
    # nothing to remove: no member
    p = vsmlist(dst, "unsubscribe", "-u", lst, "a@example.net")
    assert p.returncode == DOVEADM_EX_NOTFOUND
    assert not os.path.exists(members_path(dst, lst))


def test_per_user_members_setting(dst):
    """userdb fields apply: the store is the one sieve_vsmlist_members names"""
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
    delivery"""
    lst = new_list(dst, None)
    dst.dovecot.write_user_file(lst, "vsmlist/settings",
                                "sieve_vsmlist_members = file:~/lists/from-file\n")
    dst.dovecot.write_user_file(lst, "lists/from-file", "fay@example.net\n")
    assert members(dst, lst) == [("fay@example.net", "enabled", 0)]


def test_held_lock_exits_75(dst):
    """A change waits for the store's dotlock (10 s), then fails
    temporarily; the addresses after the failed one are not tried, and
    reading never waits."""
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


def test_concurrent_changes(dst):
    """Changes in parallel processes serialise on the store's lock: none
    is lost, and the file's own lines stay first and in order."""
    text = "# list\nalice@example.net\n"
    lst = new_list(dst, text)
    batches = [[f"m{i}-{j}@example.net" for j in range(5)] for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(len(batches)) as pool:
        procs = list(pool.map(
            lambda b: vsmlist(dst, "subscribe", "-u", lst, *b), batches))
    for p in procs:
        assert p.returncode == 0, p.stderr.decode()
    lines = read_members_file(dst, lst).splitlines()
    assert lines[:2] == ["# list", "alice@example.net"]
    assert sorted(lines[2:]) == sorted(a for b in batches for a in b)
    # each process's own addresses in its order
    for b in batches:
        assert [l for l in lines if l in b] == b


def test_delivery_sees_doveadm_changes(dst):
    """The Sieve plugin and doveadm share the store: a post reaches the
    member doveadm added, not the one it removed, and a disabled member
    again once doveadm enabled it."""
    lst = "deliver@lists.example"
    dst.add_list(lst, members=["alice@example.net", "bob@example.org",
                               "dora@example.org"],
                 script=DISTRIBUTE)
    dst.dovecot.write_user_file(
        lst, "vsmlist/members.state",
        "vsmlist-state 1\ndisabled 5 1767225600 1767225600 dora@example.org\n")
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


def test_http_api(dst):
    """doveadm's HTTP API runs the same commands (camelCase names)"""
    lst = new_list(dst, "alice@example.net\n")
    status, answer = dst.dovecot.doveadm_api(
        [["vsmlistSubscribe", {"user": lst, "address": ["bob@example.org"]}, "t1"],
         ["vsmlistMembers", {"user": lst}, "t2"],
         ["vsmlistUnsubscribe", {"user": lst, "address": ["nobody@example.org"]}, "t3"],
         ["vsmlistMembers", {"user": "nobody@lists.example"}, "t4"]])
    assert status == 200, answer
    assert answer[0] == ["doveadmResponse",
                         [{"address": "bob@example.org", "result": "added"}], "t1"]
    assert answer[1] == ["doveadmResponse",
                         [{"address": "alice@example.net", "state": "enabled",
                           "bounce_points": 0, "last_bounce": ""},
                          {"address": "bob@example.org", "state": "enabled",
                           "bounce_points": 0, "last_bounce": ""}], "t2"]
    assert answer[2] == ["error", {"type": "exitCode",
                                   "exitCode": DOVEADM_EX_NOTFOUND}, "t3"]
    assert answer[3] == ["error", {"type": "exitCode", "exitCode": EX_NOUSER}, "t4"]
    assert read_members_file(dst, lst) == "alice@example.net\nbob@example.org\n"
    # a usage error fails the request, not the server
    status, answer = dst.dovecot.doveadm_api(
        [["vsmlistSubscribe", {"user": lst}, "t5"],
         ["vsmlistMembers", {"user": lst}, "t6"]])
    assert status == 200, answer
    assert answer[0] == ["error", {"type": "exitCode", "exitCode": EX_USAGE}, "t5"]
    assert answer[1][0] == "doveadmResponse"
