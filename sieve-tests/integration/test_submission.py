"""Dovecot's submission service as the list's relay, with SMTP AUTH
(doc/postfix.md, "Dovecot's submission service as the relay").

The list's sieve_vsmlist_submission_host points at dovecot-submissiond on
loopback, which wants authentication and relays through
submission_relay_host to a private Postfix (postfix_stack.py: its list
relay listener, which takes mail from the host only), whose transport map
sends the member domains on to the stack's relay stand-in:

    plugin --AUTH--> submissiond --> Postfix list relay --> stand-in

The plugin's client logs in with sieve_vsmlist_submission_user/_password
(SASL PLAIN; on loopback no TLS is needed, anywhere else it is); the list
user itself, or a relay account, or a Dovecot master user logging in as
the list.
"""

import collections
import re
import time

import pytest

import vsmstack
from postfix_stack import Postfix
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

MEMBERS = ["s1@example.net", "s2@example.org"]


@pytest.fixture(scope="module")
def sst():
    st = vsmstack.Stack(plugin=True, mail_debug=True, protocols=("lmtp", "submission"),
                        dkim_domains=["author.example"],
                        plugin_settings={"sieve_vsmlist_dmarc": "none"})
    # submission_relay_host is Postfix's list relay; its port is known once
    # Postfix runs, and Postfix needs the stack's relay port: the extra
    # configuration is added then
    st.start()
    postfix = None
    try:
        member_domains = sorted({m.split("@")[1] for m in MEMBERS})
        postfix = Postfix(st.workdir, st.dovecot.lmtp_port,
                          virtual_domains=["lists.example"], mailboxes=[],
                          transports={d: f"smtp:[127.0.0.1]:{st.relay.port}"
                                      for d in member_domains}).start()
        d = st.dovecot
        key, cert = vsmstack.self_signed_certificate(st.workdir, "submission")
        d.extra_conf += f"""
# STARTTLS offered (not required: the plain logins on loopback go on);
# the plugin's client trusts the certificate through ssl_client_ca_file
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_client_ca_file = {cert}
submission_relay_host = 127.0.0.1
submission_relay_port = {postfix.relay_port}
submission_relay_trusted = yes
auth_master_user_separator = *
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d.workdir}/master-users
  master = yes
}}
"""
        with open(f"{d.workdir}/master-users", "w") as f:
            f.write("relaymaster:{PLAIN}mastersecret\n")
        d.stop()
        d.start()
        st.postfix = postfix
    except BaseException:
        if postfix is not None:
            postfix.stop()
        st.stop()
        raise
    yield st
    postfix.stop()
    st.stop()


def submission_list(st, lst, **fields):
    """A list that sends through the stack's submissiond as the user
    sieve_vsmlist_submission_user (the list itself unless given), with
    the password "pass" unless given."""
    fields.setdefault("sieve_vsmlist_submission_host",
                      f"127.0.0.1:{st.dovecot.submission_listener_port}")
    fields.setdefault("sieve_vsmlist_submission_user", lst)
    fields.setdefault("sieve_vsmlist_submission_password", "pass")
    st.add_list(lst, MEMBERS, **fields)
    return lst


def login_lines(st, mark, lst):
    """submissiond's login lines for user lst since mark"""
    return st.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                               + re.escape(lst) + r">")


def wait_members(st, timeout=30.0):
    """The members' copies at the stand-in, once Postfix has passed them
    on (one transaction per member domain, or one for both)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = collections.Counter(r.lower() for r in st.relay.recipients())
        if sum(got.values()) >= len(MEMBERS):
            return got
        time.sleep(0.1)
    return collections.Counter(r.lower() for r in st.relay.recipients())


def deliver(st, lst):
    st.relay.clear()
    msg = make_message(to=lst)
    res = st.dovecot.deliver(msg, "author@author.example", [lst])
    return msg, res


def test_list_relays_through_dovecot_submission_with_auth(sst):
    lst = submission_list(sst, "subm@lists.example")
    mark = sst.dovecot.log_mark()
    pf_mark = sst.postfix.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    got = wait_members(sst)
    assert got == collections.Counter(MEMBERS), got
    txs = sst.relay.snapshot()
    assert {tx.mail_from for tx in txs} == {lst.replace("@", "+bounces@")}
    # the submission service logged the list user in
    assert login_lines(sst, mark, lst)
    for tx in txs:
        assert header_values(tx.data, "Message-ID") == header_values(msg, "Message-ID")
    # Postfix's list relay took it from submissiond and passed it on
    assert sst.postfix.wait_log(pf_mark, r"postfix/list-relay/smtpd\[\d+\]: \w+: "
                                r"client=\S+\[127\.0\.0\.1\]"), \
        sst.postfix.log_since(pf_mark)
    for member in MEMBERS:
        assert sst.postfix.wait_log(pf_mark, rf"to=<{re.escape(member)}>, "
                                    rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sst.relay.port},"
                                    r".* status=sent"), sst.postfix.log_since(pf_mark)


def test_master_user_logs_in_as_the_list(sst):
    lst = submission_list(sst, "subm2@lists.example",
                          sieve_vsmlist_submission_master_user="relaymaster",
                          sieve_vsmlist_submission_password="mastersecret")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    assert wait_members(sst) == collections.Counter(MEMBERS)
    assert login_lines(sst, mark, lst)


def test_login_over_starttls(sst):
    """sieve_vsmlist_submission_ssl = starttls: the password goes only
    over TLS (what a relay that is not on loopback requires), the
    certificate checked against ssl_client_ca_file."""
    lst = submission_list(sst, "subm5@lists.example",
                          sieve_vsmlist_submission_ssl="starttls")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, (res, sst.dovecot.log_since(mark)[-3000:])
    assert wait_members(sst) == collections.Counter(MEMBERS)
    # Dovecot's login line says the session was TLS and the login PLAIN
    lines = login_lines(sst, mark, lst)
    assert lines, sst.dovecot.log_since(mark)
    assert re.search(r"method=PLAIN.*\bTLS\b", lines[0]), lines[0]


def test_plain_login_on_loopback_is_not_tls(sst):
    """The other side of the check above: without the setting, the login
    line has no TLS (the test above would pass for nothing otherwise)."""
    lst = submission_list(sst, "subm6@lists.example")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    lines = login_lines(sst, mark, lst)
    assert lines and not re.search(r"\bTLS\b", lines[0]), lines


def test_wrong_password_defers(sst):
    lst = submission_list(sst, "subm3@lists.example",
                          sieve_vsmlist_submission_password="wrong")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    # authentication refused: a temporary failure (the password may be
    # fixed, the relay's auth back): LMTP 4xx, the MTA retries; nothing
    # sent, nothing kept twice
    assert 400 <= res.code(lst) < 500, res
    assert sst.relay.snapshot() == []
    assert sst.dovecot.messages(lst) == []
    assert sst.dovecot.wait_log(mark, r"distribute action: distribution to the members "
                                r"of subm3@lists.example deferred: .*535 ")


def test_auth_without_tls_off_loopback_is_refused(sst):
    lst = submission_list(sst, "subm4@lists.example",
                          sieve_vsmlist_submission_host="192.0.2.1:587")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res        # kept by the failure
    assert len(sst.dovecot.messages(lst)) == 1
    assert sst.dovecot.wait_log(mark, r"without TLS: the password would cross "
                                r"the network in clear")
