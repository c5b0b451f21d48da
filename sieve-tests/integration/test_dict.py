"""Members in PostgreSQL through Dovecot's dict (doc/dict.md): the dict
server with doc/example-config/dict-vsmlist.conf.ext on a private cluster
set up from doc/example-config/vsmlist.sql, lists whose
sieve_vsmlist_members is dict:proxy::vsmlist.

* the store's operations (read, lookup, add, remove, update) through the
  real dict server, by the unit test binary (src/test-vsmlist-store-dict);
* an administrator's plain SQL: a member added gets the next post, a
  member disabled none;
* the database down between posts, or going down while a post is being
  sent, or too slow: LMTP 4xx, and once it is back every member has
  exactly one copy; a membership request and a delivery report deferred
  too, doveadm exiting 75;
* dicts that cannot serve as a store: refused with a clear error, the
  post deferred, never a crash;
* two Dovecot backends sharing one home directory (as behind a director
  with shared storage) delivering the same post at once: every member
  exactly one copy.
"""

import collections
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

import vsmstack
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

AUTHOR = "author@author.example"
DISTRIBUTE = 'require "vnd.vsmlist";\ndistribute;\n'
UNIT_TEST = os.path.join(vsmstack.REPO_DIR, "src", "test-vsmlist-store-dict")

# A dict the server has, whose driver cannot iterate
NOITER_CONF = """
dict {
  noiter = redis:host=127.0.0.1:port=9
}
"""


@pytest.fixture(scope="module")
def dst(pg):
    st = vsmstack.Stack(plugin=True, mail_debug=True, dkim_domains=["author.example"],
                        dovecot_extra_conf=NOITER_CONF, member_db=pg,
                        plugin_settings={"sieve_vsmlist_dmarc": "none"},
                        doveadm_plugin=True)
    st.start()
    yield st
    st.stop()


@pytest.fixture
def db(dst, pg):
    """The database, running (a test that stopped it gets it back)."""
    dst.relay.clear()
    dst.relay.data_hook = dst.relay.rcpt_hook = None
    yield pg
    if pg.proc is None:
        pg.restart()


_counter = [0]


def new_list(st, members, script=DISTRIBUTE, **fields):
    _counter[0] += 1
    lst = f"db{_counter[0]}@lists.example"
    st.add_list(lst, members=members, script=script, store="dict", **fields)
    return lst


def received(st):
    return collections.Counter(r.lower() for r in st.relay.recipients())


def hold_first_data(relay):
    """The relay keeps its reply to the first DATA until release is set
    (30 s at most): a delivery held in the middle of sending. Returns the
    events (reached, release)."""
    reached, release = threading.Event(), threading.Event()

    def hold(t):
        if not reached.is_set():
            reached.set()
            release.wait(30)
        return None

    relay.data_hook = hold
    return reached, release


def deliver_in_background(dovecot, msg, lst):
    """A delivery in a thread of its own; join() it, then result["res"]"""
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(res=dovecot.deliver(msg, AUTHOR, [lst])))
    worker.start()
    return worker, result


def connect_dict_server(st, lst):
    """A post that gets through, then an empty relay: the dict server's
    connection to the database is up again. After an earlier test restarted
    the database, the first query on the old connection fails fast (LMTP
    4xx), which a test that means to time a later outage must not see."""
    deliver_until_accepted(st.dovecot, make_message(to=lst), lst)
    st.relay.clear()


def deliver_until_accepted(dovecot, msg, lst, attempts=20):
    """The MTA's retries: deliver until LMTP answers 250 (a database
    client reconnects with a back-off of its own after an outage)."""
    for _ in range(attempts):
        res = dovecot.deliver(msg, AUTHOR, [lst])
        if res.code(lst) == 250:
            return res
        assert 400 <= res.code(lst) < 500, res
        time.sleep(0.5)
    raise AssertionError(f"still deferred after {attempts} attempts: {res}")


# ---------------------------------------------------------------------------
# the store itself through the dict server

def test_store_operations_through_the_dict_server(dst, db):
    """The unit test's store operations, run as the mail user against
    dict:proxy:<socket>:vsmlist: each one a round trip to PostgreSQL."""
    lst = "ops@lists.example"
    env = dict(os.environ,
               VSMLIST_TEST_DICT_URI=f"proxy:{dst.dovecot.base_dir}/dict:vsmlist",
               VSMLIST_TEST_DICT_LIST=lst)
    # a copy in the stack's directory: the mail user may not enter the
    # clone's (a clone in /root, as root does on a fresh machine)
    unit_test = os.path.join(dst.workdir, os.path.basename(UNIT_TEST))
    shutil.copy2(UNIT_TEST, unit_test)
    p = subprocess.run([unit_test], env=env, capture_output=True, timeout=120,
                       user=dst.dovecot.uid, group=dst.dovecot.gid, cwd="/")
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0, out
    assert re.search(r"^0 / \d+ tests failed", out, re.M), out
    # The last one left a member with state behind: written into the
    # row's columns, readable with SQL
    assert db.members(lst) == [("kept@example.net", "disabled", "5", "1767657600",
                                "1767657600")]
    db.sql(f"DELETE FROM vsmlist_member WHERE list = '{lst}'")


# ---------------------------------------------------------------------------
# an administrator's SQL

def test_member_added_with_plain_sql_gets_the_next_post(dst, db):
    lst = new_list(dst, ["a@example.net"])
    res = dst.dovecot.deliver(make_message(to=lst), AUTHOR, [lst])
    assert res.code(lst) == 250, res
    assert received(dst) == {"a@example.net": 1}
    dst.relay.clear()
    # as doc/dict.md shows it
    db.sql(f"INSERT INTO vsmlist_member (list, member) VALUES ('{lst}', 'b@example.org')")
    res = dst.dovecot.deliver(make_message(to=lst), AUTHOR, [lst])
    assert res.code(lst) == 250, res
    assert received(dst) == {"a@example.net": 1, "b@example.org": 1}


def test_member_disabled_with_sql_gets_none(dst, db):
    lst = new_list(dst, ["a@example.net", "b@example.org"])
    db.sql(f"UPDATE vsmlist_member SET state = 'disabled' "
           f"WHERE list = '{lst}' AND member = 'b@example.org'")
    mark = dst.dovecot.log_mark()
    res = dst.dovecot.deliver(make_message(to=lst), AUTHOR, [lst])
    assert res.code(lst) == 250, res
    assert received(dst) == {"a@example.net": 1}
    assert dst.dovecot.wait_log(mark, r"distributed to 1 member")


def test_member_test_looks_members_up(dst, db):
    """The member test asks the database about the sender alone; only
    distribute reads the whole list."""
    lst = new_list(dst, ["a@example.net", AUTHOR])
    dst.dovecot.sieve_put(lst, 'require "vnd.vsmlist";\n'
                               'if member { distribute; } else { keep; }\n')
    mark = dst.dovecot.log_mark()
    res = dst.dovecot.deliver(make_message(to=lst), AUTHOR, [lst])
    assert res.code(lst) == 250, res
    assert received(dst) == {"a@example.net": 1, AUTHOR: 1}
    iterated = dst.dovecot.wait_log(mark, r"dict\(proxy\): Iterating prefix")
    assert any(f"prefix shared/vsmlist/{lst}/member/{AUTHOR}" in l for l in iterated), iterated
    assert sum(l.endswith(f"prefix shared/vsmlist/{lst}/member/") for l in iterated) == 1, iterated

    dst.relay.clear()
    msg = make_message(from_addr="Eve <eve@elsewhere.example>", to=lst)
    res = dst.dovecot.deliver(msg, "eve@elsewhere.example", [lst])
    assert res.code(lst) == 250, res
    assert dst.relay.snapshot() == []
    assert len(dst.dovecot.messages(lst)) == 1


def test_upper_case_address_refused_by_the_schema(db):
    """The table holds addresses as the store keys them: lower case."""
    with pytest.raises(vsmstack.StackError, match="check constraint"):
        db.sql("INSERT INTO vsmlist_member (list, member) "
               "VALUES ('x@lists.example', 'Bob@Example.org')")


# ---------------------------------------------------------------------------
# the database down or slow

def test_database_down_between_posts(dst, db):
    lst = new_list(dst, ["a@example.net", "b@example.org", "c@example.com"])
    res = dst.dovecot.deliver(make_message(to=lst), AUTHOR, [lst])
    assert res.code(lst) == 250
    dst.relay.clear()

    db.stop()
    msg = make_message(to=lst)
    mark = dst.dovecot.log_mark()
    res = dst.dovecot.deliver(msg, AUTHOR, [lst])
    assert 400 <= res.code(lst) < 500, res
    assert dst.dovecot.wait_log(mark, rf"failed to read the members of {lst}")
    assert dst.relay.snapshot() == []
    assert dst.dovecot.messages(lst) == [] or \
        header_values(msg, "Message-ID")[0] not in \
        [v for m in dst.dovecot.messages(lst) for v in header_values(m, "Message-ID")]

    db.restart()
    deliver_until_accepted(dst.dovecot, msg, lst)
    assert received(dst) == {"a@example.net": 1, "b@example.org": 1, "c@example.com": 1}
    # a further retry (a lost LMTP reply) sends nothing (it may be deferred
    # again: Dovecot's dict server can crash on a reconnect, doc/dict.md)
    deliver_until_accepted(dst.dovecot, msg, lst)
    assert received(dst) == {"a@example.net": 1, "b@example.org": 1, "c@example.com": 1}


def test_database_stops_while_a_post_is_sent(dst, db):
    """The database goes down while a post is on its way to the relay (a
    slow relay holds the delivery in its second batch): that post still
    reaches everybody once; the next is deferred, and sent once the
    database is back."""
    members = [f"m{i}@example.net" for i in range(6)]
    lst = new_list(dst, members, sieve_vsmlist_batch_size="2")
    connect_dict_server(dst, lst)
    in_data, release = hold_first_data(dst.relay)
    first = make_message(to=lst)
    worker, result = deliver_in_background(dst.dovecot, first, lst)
    if not in_data.wait(30):
        release.set()
        worker.join(60)
        raise AssertionError(f"the post did not reach the relay: {result.get('res')}")
    db.stop()
    release.set()
    worker.join(60)
    assert result["res"].code(lst) == 250, result["res"]
    assert received(dst) == {m: 1 for m in members}

    dst.relay.clear()
    dst.relay.data_hook = None
    second = make_message(to=lst)
    res = dst.dovecot.deliver(second, AUTHOR, [lst])
    assert 400 <= res.code(lst) < 500, res
    assert dst.relay.snapshot() == []
    db.restart()
    deliver_until_accepted(dst.dovecot, second, lst)
    deliver_until_accepted(dst.dovecot, first, lst)       # a late retry of the first
    assert received(dst) == {m: 1 for m in members}


def test_slow_database_bounded(dst, db):
    """A database that does not answer (the table locked by another
    session): the read gives up after sieve_vsmlist_members_timeout,
    LMTP 4xx; once it answers, the post goes out once."""
    lst = new_list(dst, ["a@example.net"], sieve_vsmlist_members_timeout="1s")
    connect_dict_server(dst, lst)
    locker = subprocess.Popen(
        [os.path.join(db.bindir, "psql"), "-X", "-q", "-A", "-t", "-h", db.sockdir,
         "-p", str(db.port), "-U", "dovecot", "-d", "mail"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        user=db.uid, group=db.gid, cwd="/")
    try:
        locker.stdin.write(b"BEGIN;\nLOCK TABLE vsmlist_member IN ACCESS EXCLUSIVE MODE;\n"
                           b"SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline() == b"locked\n"
        msg = make_message(to=lst)
        mark = dst.dovecot.log_mark()
        res = dst.dovecot.deliver(msg, AUTHOR, [lst])
        assert 400 <= res.code(lst) < 500, res
        assert dst.dovecot.wait_log(
            mark, r"no answer from the dict within 1\.000 s \(sieve_vsmlist_members_timeout\)")
        assert dst.relay.snapshot() == []
    finally:
        locker.stdin.write(b"COMMIT;\n")
        locker.stdin.close()
        locker.wait(30)
    deliver_until_accepted(dst.dovecot, msg, lst)
    assert received(dst) == {"a@example.net": 1}


LIST_SCRIPT = """require ["vnd.vsmlist", "envelope", "subaddress"];
if envelope :detail :matches "to" "bounces*" {
    bounce;
} elsif envelope :detail :matches "to" ["subscribe", "unsubscribe", "confirm-*"] {
    membership;
} else {
    distribute;
}
"""


def test_database_down_defers_requests_reports_and_doveadm(dst, db):
    """What changes members fails temporarily while the database is down:
    a subscribe request and a delivery report get LMTP 4xx (the MTA
    retries them), doveadm exits 75; once it is back the retried report
    counts its point."""
    lst = new_list(dst, ["a@example.net", "b@example.org"], script=LIST_SCRIPT)
    local = lst.split("@")[0]
    bounces = f"{local}+bounces@lists.example"
    dsn = vsmstack.make_dsn(bounces, ["a@example.net"])

    db.stop()
    mark = dst.dovecot.log_mark()
    res = dst.dovecot.deliver(dsn, "", [bounces])
    assert 400 <= res.code(bounces) < 500, res
    assert dst.dovecot.wait_log(mark, rf"bounce not processed: failed to change "
                                      rf"the members of {lst}: .* \(temporary failure\)")
    subscribe = f"{local}+subscribe@lists.example"
    res = dst.dovecot.deliver(make_message(from_addr="new@example.com", to=subscribe),
                              "new@example.com", [subscribe])
    assert 400 <= res.code(subscribe) < 500, res
    assert dst.dovecot.wait_log(mark, r"membership action: subscribe request from "
                                      r"new@example.com: member store: .* \(temporary failure\)")
    assert dst.relay.snapshot() == []
    for args in (("members",), ("subscribe", "new@example.com"),
                 ("enable", "a@example.net"), ("unsubscribe", "b@example.org")):
        p = dst.dovecot.doveadm("vsmlist", args[0], "-u", lst, *args[1:])
        assert p.returncode == 75, (args, p.stderr.decode())

    db.restart()
    for _ in range(20):
        res = dst.dovecot.deliver(dsn, "", [bounces])
        if res.code(bounces) == 250:
            break
        time.sleep(0.5)
    assert res.code(bounces) == 250, res
    assert db.members(lst) == [
        ("a@example.net", "enabled", "1", db.members(lst)[0][3], "0"),
        ("b@example.org", "enabled", "0", "0", "0")]
    assert abs(int(db.members(lst)[0][3]) - time.time()) < 600


# ---------------------------------------------------------------------------
# dicts that cannot be a store

@pytest.mark.parametrize("uri,why", [
    ("dict:redis:host=127.0.0.1:port=9",
     r"sieve_vsmlist_members: member store '[^']*': the dict driver redis cannot iterate, and a member "
     r"store is read by iterating"),
    ("dict:proxy::noiter",
     r"the dict cannot iterate \(behind a proxy: the dict server's driver for it cannot\)"),
    ("dict:pgsql:/etc/dovecot/dict-vsmlist.conf.ext",
     r"sieve_vsmlist_members: member store '[^']*': .*the pgsql driver is in Dovecot's dict server only: use dict:proxy::<name>"),
])
def test_dict_that_cannot_be_a_store(dst, db, uri, why):
    lst = new_list(dst, [], sieve_vsmlist_members=uri)
    mark = dst.dovecot.log_mark()
    res = dst.dovecot.deliver(make_message(to=lst), AUTHOR, [lst])
    assert 400 <= res.code(lst) < 500, res
    lines = dst.dovecot.wait_log(mark, r"failed to read the members")
    assert lines and re.search(why, lines[0]), lines
    assert not re.search(r"Panic|Fatal|assertion", dst.dovecot.log_since(mark))


# ---------------------------------------------------------------------------
# two backends, one home

@pytest.fixture
def two_nodes(dst, db):
    """A second Dovecot sharing the first one's homes, database and relay:
    one list served by two backends, as with shared storage."""
    workdir = tempfile.mkdtemp(prefix="vsm2", dir="/tmp")
    os.chmod(workdir, 0o755)
    node = vsmstack.Dovecot(workdir, dst.relay.port, plugin=True,
                            plugin_settings={"sieve_vsmlist_dmarc": "none"},
                            extra_conf=db.dict_config(workdir, "vsmlist-test"))
    node.home_root = dst.dovecot.home_root
    try:
        node.start()
        yield dst.dovecot, node
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_two_backends_deliver_the_same_post_at_once(dst, db, two_nodes):
    """Node one is sending (its relay transaction held open); node two gets
    the same post: the post's progress record in the shared home is
    locked, so node two defers it; its retry, after node one finished,
    sends nothing. Every member exactly one copy."""
    one, two = two_nodes
    members = ["a@example.net", "b@example.org", "c@example.com"]
    lst = new_list(dst, members)
    two.add_user(lst, **dst.dovecot.users[lst])
    in_data, release = hold_first_data(dst.relay)
    msg = make_message(to=lst)
    worker, result = deliver_in_background(one, msg, lst)
    try:
        assert in_data.wait(30)
        mark = two.log_mark()
        res_two = two.deliver(msg, AUTHOR, [lst])
    finally:
        release.set()
        worker.join(60)
    assert result["res"].code(lst) == 250, result["res"]
    assert 400 <= res_two.code(lst) < 500, res_two
    assert two.wait_log(mark, r"another delivery of this post is distributing it")
    res_two = two.deliver(msg, AUTHOR, [lst])            # the MTA's retry
    assert res_two.code(lst) == 250, res_two
    assert received(dst) == {m: 1 for m in members}


def test_two_backends_race_for_posts(dst, db, two_nodes):
    """The same posts given to both backends at the same moment, each
    retried until accepted: every member one copy of each post."""
    one, two = two_nodes
    members = ["a@example.net", "b@example.org"]
    lst = new_list(dst, members)
    two.add_user(lst, **dst.dovecot.users[lst])
    posts = [make_message(to=lst) for _ in range(5)]
    errors = []

    def run(node, msg, go):
        try:
            go.wait(10)
            deliver_until_accepted(node, msg, lst)
        except BaseException as e:          # reported below
            errors.append(e)

    for msg in posts:
        go = threading.Event()
        threads = [threading.Thread(target=run, args=(n, msg, go)) for n in (one, two)]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join(120)
    assert not errors, errors
    got = collections.Counter((header_values(t.data, "Message-ID")[0], r.lower())
                              for t in dst.relay.snapshot() if t.accepted
                              for r in t.rcpt_tos)
    want = {(header_values(m, "Message-ID")[0], r): 1 for m in posts for r in members}
    assert got == want

