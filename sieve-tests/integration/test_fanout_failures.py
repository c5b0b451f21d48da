"""The fan-out's failure semantics on a real stack (doc/fanout.md): Dovecot
LMTP + the plugin -> a relay stand-in with fault injection (the aiosmtpd
relay of vsmstack with its hooks and drop_after, postfix's smtp-sink with
-r/-f/-Q/-w), every member exactly once whatever the relay does.

* a member refused with 5xx is logged with the reply, counted in the
  event, and does not touch the others or the delivery's result;
* the relay unreachable, or refusing the transaction temporarily, before
  anybody got the post: LMTP 4xx, nothing stored (also with fileinto),
  the retry sends to everybody once;
* the relay failing half-way: LMTP 4xx, the retry sends only to the rest;
* a relay slower than the timeout: a bounded failure, then the retry;
* another delivery of a post that went out sends nothing.

One stack for the module (its own, with Dovecot's event exporter in the
log); lists point at other relays with the userdb field
sieve_vsmlist_submission_host.
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

AUTHOR = "author@author.example"
EXPORTER = vsmstack.EVENT_EXPORTER_CONF
# Lists that do not name the relay use the stack's submission_host (the
# aiosmtpd relay); the slow-relay list waits 1s at most
TIMEOUT_SETTING = "1s"


def members(prefix, n, domain="example.net"):
    return [f"{prefix}{i:02d}@{domain}" for i in range(n)]


def lc(addrs):
    return [a.lower() for a in addrs]


def inbox_ids(st, user, folder="INBOX"):
    return [v for m in st.dovecot.messages(user, folder)
            for v in header_values(m, "Message-ID")]


def exported_event(st, mark, message_id, timeout=5.0, index=-1):
    """Fields of the vsmlist_distribute_finished event(s) of a post (the
    last one by default: a retry logs one more)."""
    found = st.dovecot.exported_events(mark, "vsmlist_distribute_finished",
                                       timeout=timeout, message_id=message_id)
    assert found, f"no event for {message_id}:\n" + st.dovecot.log_since(mark)[-3000:]
    return found[index]


def progress_files(st, user):
    d = os.path.join(st.dovecot.home(user), "vsmlist", "progress")
    if not os.path.isdir(d):
        return []
    return [os.path.join(d, n) for n in sorted(os.listdir(d))]


@pytest.fixture(scope="module")
def fst():
    st = vsmstack.Stack(plugin=True, mail_debug=True,
                        dkim_domains=["author.example"],
                        dovecot_extra_conf=EXPORTER,
                        plugin_settings={"sieve_vsmlist_dmarc": "none"})
    st.start()
    yield st
    st.stop()


@pytest.fixture
def fs(fst, request):
    """The module's stack with its aiosmtpd relay emptied and healthy."""
    relay = fst.relay
    relay.clear()
    relay.mail_hook = relay.rcpt_hook = relay.data_hook = None
    relay.drop_after = None
    fst.log_mark = fst.dovecot.log_mark()
    yield fst
    relay.mail_hook = relay.rcpt_hook = relay.data_hook = None
    relay.drop_after = None
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        log = "".join(l for l in fst.dovecot.log_since(fst.log_mark).splitlines(True)
                      if ": Debug: " not in l)
        print(f"\n----- dovecot log during {request.node.name} -----\n{log[-15000:]}")
        for t in relay.snapshot():
            print(f"conn {t.connection} RCPT {t.rcpt_tos} refused {t.rcpt_refused} "
                  f"-> {t.response}")


_counter = [0]


def new_list(st, n_members, script='require "vnd.vsmlist";\ndistribute;\n',
              **fields):
    """A fresh list user (its own progress directory) with n members."""
    _counter[0] += 1
    lst = f"fan{_counter[0]}@lists.example"
    mem = members(f"f{_counter[0]}m", n_members)
    st.add_list(lst, members=mem, script=script, **fields)
    return lst, mem


def deliver(st, lst, msg=None, **kw):
    if msg is None:
        msg = make_message(to=lst, **kw)
    res = st.dovecot.deliver(msg, AUTHOR, [lst])
    return msg, res


def mid_of(msg):
    return header_values(msg, "Message-ID")[0]


# ---------------------------------------------------------------------------
# 5xx for some members

def test_two_of_ten_members_rejected(fs):
    lst, mem = new_list(fs, 10)
    refused = {mem[3], mem[7]}
    fs.relay.rcpt_hook = lambda a: "550 5.1.1 no such user" if a in refused else None
    msg, res = deliver(fs, lst)
    assert res.code(lst) == 250, res

    got = collections.Counter(lc(fs.relay.recipients()))
    assert got == collections.Counter(lc(m for m in mem if m not in refused))
    assert max(got.values()) == 1

    # not a failed delivery: no failure keep, nothing in the user's log
    assert mid_of(msg) not in inbox_ids(fs, lst)
    assert mid_of(msg) not in fs.dovecot.sieve_log(lst)

    # each refused member logged with the relay's reply
    for m in refused:
        lines = fs.dovecot.wait_log(fs.log_mark, re.escape(f"member {m} rejected: "
                                                         "RCPT TO: 550 5.1.1 no such user"))
        assert len(lines) == 1, fs.dovecot.log_since(fs.log_mark)[-3000:]
    line = fs.dovecot.wait_log(fs.log_mark, r"distributed to 8 member\(s\)")
    assert line and "2 member(s) rejected" in line[0], line

    ev = exported_event(fs, fs.log_mark, mid_of(msg))
    assert ev["vsmlist_members"] == 10
    assert ev["vsmlist_recipients"] == 8
    assert ev["vsmlist_rejected_recipients"] == 2
    assert ev["vsmlist_failed_recipients"] == 2
    assert ev["vsmlist_deferred_recipients"] == 0
    assert ev["vsmlist_connections"] == 1


def test_every_member_rejected_is_kept(fs):
    """Nobody got it: the post is not lost silently, it stays in the list's
    INBOX (Pigeonhole's failure keep), the delivery succeeds (a retry
    would be refused the same way)."""
    lst, mem = new_list(fs, 3)
    fs.relay.rcpt_hook = lambda a: "550 5.1.1 no such user"
    msg, res = deliver(fs, lst)
    assert res.code(lst) == 250, res
    assert fs.relay.recipients() == []
    assert inbox_ids(fs, lst).count(mid_of(msg)) == 1
    assert fs.dovecot.wait_log(fs.log_mark, r"not distributed: every one of the 3 member")
    # nothing to protect: no progress record left behind
    assert progress_files(fs, lst) == []


def test_transaction_refused_permanently_by_smtp_sink(fs):
    """smtp-sink -f DATA: a 5xx for the whole transaction."""
    with vsmstack.SmtpSink(fs.workdir, options=["-f", "DATA"]) as sink:
        lst, mem = new_list(fs, 4, sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}")
        msg, res = deliver(fs, lst)
        assert res.code(lst) == 250, res
        assert sink.recipients() == []
    assert inbox_ids(fs, lst).count(mid_of(msg)) == 1
    ev = exported_event(fs, fs.log_mark, mid_of(msg))
    assert ev["vsmlist_rejected_recipients"] == 4
    assert "DATA" in ev["error"] and "5" == ev["error"].split(": ", 1)[1][0], ev


# ---------------------------------------------------------------------------
# the relay unreachable, then back

ARCHIVE_SCRIPT = ('require ["vnd.vsmlist", "fileinto", "mailbox"];\n'
                  'distribute;\nfileinto :create "Archive";\n')


SCRIPTS = {
    "plain": 'require "vnd.vsmlist";\ndistribute;\n',
    "fileinto": ARCHIVE_SCRIPT,
    "keep": 'require "vnd.vsmlist";\ndistribute;\nkeep;\n',
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_relay_down_then_up(fs, script):
    port = vsmstack.free_port()
    text = SCRIPTS[script]
    lst, mem = new_list(fs, 5, script=text,
                        sieve_vsmlist_submission_host=f"127.0.0.1:{port}")
    msg = make_message(to=lst)

    start = time.monotonic()
    _, res = deliver(fs, lst, msg)
    assert 400 <= res.code(lst) < 500, res          # the MTA keeps it and retries
    assert time.monotonic() - start < 5
    assert mid_of(msg) not in inbox_ids(fs, lst), \
        "stored although the delivery failed: the retry would store it twice"
    assert mid_of(msg) not in inbox_ids(fs, lst, "Archive"), \
        "archived although the delivery failed: the retry would archive it twice"
    assert progress_files(fs, lst) == []            # nobody got it

    with vsmstack.SmtpSink(fs.workdir, port=port) as sink:
        _, res = deliver(fs, lst, msg)              # the MTA's retry
        assert res.code(lst) == 250, res
        got = collections.Counter(lc(sink.recipients()))
    assert got == collections.Counter(lc(mem)), sorted(got.items())
    if script == "fileinto":
        assert inbox_ids(fs, lst, "Archive").count(mid_of(msg)) == 1
    assert inbox_ids(fs, lst).count(mid_of(msg)) == (1 if script == "keep" else 0)


def test_relay_tempfails_mail_from(fs):
    """smtp-sink -r MAIL: 4xx for the transaction before anybody got it."""
    with vsmstack.SmtpSink(fs.workdir, options=["-r", "MAIL"]) as sink:
        lst, mem = new_list(fs, 6, sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}",
                            sieve_vsmlist_batch_size="2")
        msg, res = deliver(fs, lst)
        assert 400 <= res.code(lst) < 500, res
        assert sink.recipients() == []
        ev = exported_event(fs, fs.log_mark, mid_of(msg))
        assert ev["vsmlist_deferred_recipients"] == 6
        assert ev["vsmlist_transactions"] == 1     # stopped at the first
        sink.restart(options=[])
        _, res = deliver(fs, lst, msg)
        assert res.code(lst) == 250, res
        assert collections.Counter(lc(sink.recipients())) == collections.Counter(lc(mem))
    assert mid_of(msg) not in inbox_ids(fs, lst)


def test_relay_closes_with_421_at_rcpt(fs):
    """smtp-sink -Q RCPT: 421 and disconnect in the middle of the RCPTs."""
    with vsmstack.SmtpSink(fs.workdir, options=["-Q", "RCPT"]) as sink:
        lst, mem = new_list(fs, 3, sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}")
        msg, res = deliver(fs, lst)
        assert 400 <= res.code(lst) < 500, res
        assert sink.recipients() == []
        sink.restart(options=[])
        _, res = deliver(fs, lst, msg)
        assert res.code(lst) == 250, res
        assert collections.Counter(lc(sink.recipients())) == collections.Counter(lc(mem))


# ---------------------------------------------------------------------------
# the relay failing half-way

def test_connection_dropped_after_second_of_five_transactions(fs):
    lst, mem = new_list(fs, 10, sieve_vsmlist_batch_size="2")
    fs.relay.drop_after = 2
    msg, res = deliver(fs, lst)
    assert 400 <= res.code(lst) < 500, res
    first = fs.relay.snapshot()
    assert [len(t.rcpt_tos) for t in first] == [2, 2], [t.rcpt_tos for t in first]
    assert {t.connection for t in first} == {1}
    assert mid_of(msg) not in inbox_ids(fs, lst)
    ev = exported_event(fs, fs.log_mark, mid_of(msg))
    assert ev["vsmlist_recipients"] == 4 and ev["vsmlist_deferred_recipients"] == 6
    assert fs.dovecot.wait_log(fs.log_mark, r"deferred: 4 sent, 6 deferred")

    # the progress record survives the process; the retry sends the rest
    assert len(progress_files(fs, lst)) == 1
    fs.relay.drop_after = None
    mark = fs.dovecot.log_mark()
    _, res = deliver(fs, lst, msg)
    assert res.code(lst) == 250, res
    total = collections.Counter(lc(fs.relay.recipients()))
    assert total == collections.Counter(lc(mem)), sorted(total.items())
    retry = fs.relay.snapshot()[len(first):]
    assert [len(t.rcpt_tos) for t in retry] == [2, 2, 2]
    ev = exported_event(fs, mark, mid_of(msg))
    assert ev["vsmlist_recipients"] == 6 and ev["vsmlist_previous_recipients"] == 4
    assert fs.dovecot.wait_log(mark, r"distributed to 6 member\(s\) .* 4 member\(s\) "
                                     r"got it in an earlier attempt")
    assert mid_of(msg) not in inbox_ids(fs, lst)


def test_data_tempfail_half_way(fs):
    """451 to the DATA of the 2nd of 3 transactions, then healthy."""
    lst, mem = new_list(fs, 6, sieve_vsmlist_batch_size="2")
    calls = []

    def data_hook(t):
        calls.append(t)
        return "451 4.3.0 queue full" if len(calls) == 2 else None
    fs.relay.data_hook = data_hook
    msg, res = deliver(fs, lst)
    assert 400 <= res.code(lst) < 500, res
    assert len(fs.relay.recipients()) == 2
    fs.relay.data_hook = None
    _, res = deliver(fs, lst, msg)
    assert res.code(lst) == 250, res
    assert collections.Counter(lc(fs.relay.recipients())) == collections.Counter(lc(mem))


def test_member_tempfail_retried_alone(fs):
    lst, mem = new_list(fs, 5)
    fs.relay.rcpt_hook = lambda a: "450 4.2.1 mailbox busy" if a == mem[2] else None
    msg, res = deliver(fs, lst)
    assert 400 <= res.code(lst) < 500, res
    assert fs.dovecot.wait_log(fs.log_mark, re.escape(f"member {mem[2]} deferred: "
                                                     "RCPT TO: 450 4.2.1"))
    fs.relay.rcpt_hook = None
    _, res = deliver(fs, lst, msg)
    assert res.code(lst) == 250, res
    assert collections.Counter(lc(fs.relay.recipients())) == collections.Counter(lc(mem))
    assert fs.relay.snapshot()[-1].rcpt_tos == [mem[2]]


def test_relay_recipient_limit(fs):
    """A relay that takes 3 RCPTs per transaction and answers the rest
    "452 4.5.3 too many recipients" (RFC 5321 4.5.3.1.10): the others go
    in the next transactions of the same delivery, which succeeds."""
    lst, mem = new_list(fs, 10)
    count = [0]

    def mail_hook(addr):
        count[0] = 0

    def rcpt_hook(addr):
        count[0] += 1
        return "452 4.5.3 too many recipients" if count[0] > 3 else None
    fs.relay.mail_hook, fs.relay.rcpt_hook = mail_hook, rcpt_hook
    msg, res = deliver(fs, lst)
    assert res.code(lst) == 250, res
    txs = fs.relay.snapshot()
    assert [len(t.rcpt_tos) for t in txs] == [3, 3, 3, 1], [t.rcpt_tos for t in txs]
    assert {t.connection for t in txs} == {1}
    assert collections.Counter(lc(fs.relay.recipients())) == collections.Counter(lc(mem))
    ev = exported_event(fs, fs.log_mark, mid_of(msg))
    assert ev["vsmlist_deferred_recipients"] == 0 and ev["vsmlist_transactions"] == 4


# ---------------------------------------------------------------------------
# every wait bounded

def test_slow_relay_beyond_timeout(fs):
    """smtp-sink -w 5 answers DATA after 5 s; the list waits 1 s."""
    with vsmstack.SmtpSink(fs.workdir, options=["-w", "5"]) as sink:
        lst, mem = new_list(fs, 4, sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}",
                            sieve_vsmlist_submission_timeout=TIMEOUT_SETTING)
        msg = make_message(to=lst)
        start = time.monotonic()
        _, res = deliver(fs, lst, msg)
        took = time.monotonic() - start
        assert 400 <= res.code(lst) < 500, res
        assert took < 4, f"a 1 s timeout took {took:.1f} s"
        assert sink.recipients() == []
        ev = exported_event(fs, fs.log_mark, mid_of(msg))
        assert re.search(r"timed out", ev["error"], re.I), ev

        sink.restart(options=[])
        _, res = deliver(fs, lst, msg)
        assert res.code(lst) == 250, res
        assert collections.Counter(lc(sink.recipients())) == collections.Counter(lc(mem))
    assert mid_of(msg) not in inbox_ids(fs, lst)


def test_silent_relay_bounded(fs):
    """A relay that accepts the connection and never says a word."""
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    try:
        port = srv.getsockname()[1]
        lst, mem = new_list(fs, 2, sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                            sieve_vsmlist_submission_timeout=TIMEOUT_SETTING)
        start = time.monotonic()
        _, res = deliver(fs, lst)
        assert 400 <= res.code(lst) < 500, res
        assert time.monotonic() - start < 4
    finally:
        srv.close()


# ---------------------------------------------------------------------------
# another delivery of a post that went out

def test_second_delivery_of_a_post_sends_nothing(fs):
    """An MTA that lost the LMTP reply delivers the post again: nobody gets
    it twice, and it is not stored either."""
    lst, mem = new_list(fs, 3)
    msg, res = deliver(fs, lst)
    assert res.code(lst) == 250
    assert len(fs.relay.recipients()) == 3
    mark = fs.dovecot.log_mark()
    _, res = deliver(fs, lst, msg)
    assert res.code(lst) == 250, res
    assert len(fs.relay.recipients()) == 3
    assert mid_of(msg) not in inbox_ids(fs, lst)
    assert fs.dovecot.wait_log(mark, r"already distributed to the members of")
    # the record is the short complete form
    files = progress_files(fs, lst)
    assert len(files) == 1
    with open(files[0]) as f:
        text = f.read()
    assert re.search(r"^complete 3 0$", text, re.M), text
    assert mid_of(msg) in text


def test_post_without_message_id_retried_by_digest(fs):
    lst, mem = new_list(fs, 4, sieve_vsmlist_batch_size="2")
    msg = make_message(to=lst)
    msg = re.sub(rb"(?m)^Message-ID: .*\r\n", b"", msg)
    fs.relay.drop_after = 1
    res = fs.dovecot.deliver(msg, AUTHOR, [lst])
    assert 400 <= res.code(lst) < 500, res
    assert len(fs.relay.recipients()) == 2
    fs.relay.drop_after = None
    res = fs.dovecot.deliver(msg, AUTHOR, [lst])
    assert res.code(lst) == 250, res
    total = collections.Counter(lc(fs.relay.recipients()))
    assert total == collections.Counter(lc(mem)), sorted(total.items())


def test_same_content_without_message_id_or_date_is_kept(fs):
    """Without Message-ID and Date a post is known by a digest of From,
    Subject and body only: a second post with the same content cannot be
    told from a retry. It is not sent again, but kept in the list's
    mailbox for a person to look at, never dropped."""
    lst, mem = new_list(fs, 3)
    msg = make_message(to=lst, subject="Same words", body="Same body.\n")
    msg = re.sub(rb"(?m)^(Message-ID|Date): .*\r\n", b"", msg)
    mark = fs.dovecot.log_mark()
    res = fs.dovecot.deliver(msg, AUTHOR, [lst])
    assert res.code(lst) == 250, res
    assert collections.Counter(lc(fs.relay.recipients())) == \
        collections.Counter(lc(mem))
    assert fs.dovecot.messages(lst) == []
    fs.relay.clear()
    res = fs.dovecot.deliver(msg, AUTHOR, [lst])
    assert res.code(lst) == 250, res
    assert fs.relay.recipients() == []
    kept = fs.dovecot.messages(lst)
    assert len(kept) == 1 and b"Same body." in kept[0]
    assert fs.dovecot.wait_log(mark, r"without Message-ID.*message kept")


def test_8bit_post_declares_8bitmime(fs):
    lst, mem = new_list(fs, 2)
    msg, res = deliver(fs, lst, body="Grüße aus Köln\n")
    assert res.code(lst) == 250
    for t in fs.relay.snapshot():
        assert "BODY=8BITMIME" in [o.upper() for o in t.mail_options], t.mail_options
    fs.relay.clear()
    msg, res = deliver(fs, lst, body="plain ascii\n")
    for t in fs.relay.snapshot():
        assert not any(o.upper().startswith("BODY=") for o in t.mail_options)


def test_sendmail_fallback_without_relay(tmp_path):
    """No submission_host: Dovecot's sendmail_path, through Pigeonhole's
    sieve_smtp_* (one status per transaction). A stack of its own: the
    relay is switched off for LMTP in dovecot.conf."""
    work = tempfile.mkdtemp(prefix="vsmsm", dir="/tmp")
    os.chmod(work, 0o755)
    out = os.path.join(work, "sendmail.out")
    script = os.path.join(work, "fake-sendmail")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n{ echo \"ARGS $*\"; cat; echo; } >> %s\n" % out)
    os.chmod(script, 0o755)
    open(out, "w").close()
    os.chmod(out, 0o666)
    conf = EXPORTER + f"""
protocol lmtp {{
  submission_host =
  sendmail_path = {script}
}}
"""
    st = vsmstack.Stack(plugin=True, dkim_domains=["author.example"],
                        dovecot_extra_conf=conf,
                        plugin_settings={"sieve_vsmlist_dmarc": "none"})
    st.start()
    try:
        mark = st.dovecot.log_mark()
        lst, mem = new_list(st, 3, sieve_vsmlist_batch_size="2")
        msg, res = deliver(st, lst)
        assert res.code(lst) == 250, (res, st.dovecot.log_since(mark)[-3000:])
        assert st.relay.recipients() == []
        with open(out) as f:
            text = f.read()
        args = [l for l in text.splitlines() if l.startswith("ARGS ")]
        assert len(args) == 2, text[:2000]
        assert sorted(a for l in args for a in l.split()[1:] if a in mem) == sorted(mem)
        ev = exported_event(st, mark, mid_of(msg))
        assert ev["vsmlist_relay"] == "sieve_smtp"
        assert ev["vsmlist_recipients"] == 3 and ev["vsmlist_transactions"] == 2
    finally:
        st.stop()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
# TLS to the relay (submission_ssl / sieve_vsmlist_submission_ssl)

@pytest.mark.parametrize("mode", ["starttls", "smtps", "untrusted"])
def test_tls_relay(mode):
    """The relay speaks TLS (STARTTLS, or from the start); its certificate
    is checked against Dovecot's ssl_client_ca_file: a certificate nobody
    vouches for is a temporary failure."""
    import ssl
    from aiosmtpd.controller import Controller

    work = tempfile.mkdtemp(prefix="vsmtls", dir="/tmp")
    os.chmod(work, 0o755)
    key, cert = vsmstack.self_signed_certificate(work, "relay")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            tls = (session.ssl is not None or
                   server.transport.get_extra_info("ssl_object") is not None)
            got.append((tls, list(envelope.rcpt_tos)))
            return "250 2.0.0 OK"

    port = vsmstack.free_port()
    if mode in ("starttls", "untrusted"):
        ctrl = Controller(Handler(), hostname="127.0.0.1", port=port,
                          tls_context=ctx, require_starttls=True)
    else:
        ctrl = Controller(Handler(), hostname="127.0.0.1", port=port,
                          ssl_context=ctx)
    ctrl.start()
    ca = "" if mode == "untrusted" else f"ssl_client_ca_file = {cert}\n"
    st = vsmstack.Stack(plugin=True, dkim_domains=["author.example"],
                        dovecot_extra_conf=ca,
                        plugin_settings={"sieve_vsmlist_dmarc": "none"})
    try:
        st.start()
        mark = st.dovecot.log_mark()
        lst, mem = new_list(st, 3, sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                            sieve_vsmlist_submission_ssl=mode.replace(
                                "untrusted", "starttls"))
        msg, res = deliver(st, lst)
        if mode == "untrusted":
            assert 400 <= res.code(lst) < 500, res
            assert got == []
            assert st.dovecot.wait_log(mark, r"certificate|SSL|TLS")
            return
        assert res.code(lst) == 250, (res, st.dovecot.log_since(mark)[-3000:])
        assert got == [(True, mem)], got
        assert st.relay.recipients() == []
    finally:
        st.stop()
        ctrl.stop()
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
# VERP: a transaction of its own for each member, on one connection

def test_verp_one_transaction_per_member_on_one_connection(fs):
    """sieve_vsmlist_verp = yes: each member's copy goes in a transaction
    of its own whose envelope sender names that member (doc/vsmlist.md,
    "Bounces"), all on one connection to the relay; the event counts them."""
    lst, mem = new_list(fs, 5, sieve_vsmlist_verp="yes")
    local, domain = lst.split("@")
    msg, res = deliver(fs, lst)
    assert res.code(lst) == 250, res
    txs = fs.relay.snapshot()
    assert len(txs) == len(mem)
    for tx in txs:
        assert len(tx.rcpt_tos) == 1
        member_local, member_domain = tx.rcpt_tos[0].split("@")
        assert tx.mail_from == f"{local}+bounces-{member_local}={member_domain}@{domain}"
        assert header_values(tx.data, "Message-ID") == [mid_of(msg)]
    assert sorted(tx.rcpt_tos[0] for tx in txs) == sorted(mem)
    assert len({tx.connection for tx in txs}) == 1
    ev = exported_event(fs, fs.log_mark, mid_of(msg))
    assert ev["vsmlist_verp"] == "yes"
    assert ev["vsmlist_recipients"] == len(mem)
    assert ev["vsmlist_transactions"] == len(mem)
    assert ev["vsmlist_connections"] == 1
