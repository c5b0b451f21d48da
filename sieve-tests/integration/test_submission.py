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
import os
import re
import subprocess
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
        key, cert = make_certificate(st.workdir)
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


def make_certificate(workdir):
    """A self-signed certificate for 127.0.0.1 (the name the plugin's
    client connects to and checks)."""
    key, cert = os.path.join(workdir, "submission.key"), os.path.join(workdir, "submission.crt")
    subprocess.run([vsmstack.OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    os.chmod(cert, 0o644)
    return key, cert


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
    port = sst.dovecot.submission_listener_port
    lst = "subm@lists.example"
    sst.add_list(lst, MEMBERS,
                 sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                 sieve_vsmlist_submission_user=lst,
                 sieve_vsmlist_submission_password="pass")
    mark = sst.dovecot.log_mark()
    pf_mark = sst.postfix.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    got = wait_members(sst)
    assert got == collections.Counter(MEMBERS), got
    txs = sst.relay.snapshot()
    assert {tx.mail_from for tx in txs} == {lst.replace("@", "+bounces@")}
    # the submission service logged the list user in
    assert sst.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                                + re.escape(lst) + r">")
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
    port = sst.dovecot.submission_listener_port
    lst = "subm2@lists.example"
    sst.add_list(lst, MEMBERS,
                 sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                 sieve_vsmlist_submission_user=lst,
                 sieve_vsmlist_submission_master_user="relaymaster",
                 sieve_vsmlist_submission_password="mastersecret")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    assert wait_members(sst) == collections.Counter(MEMBERS)
    assert sst.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                                + re.escape(lst) + r">")


def test_login_over_starttls(sst):
    """sieve_vsmlist_submission_ssl = starttls: the password goes only
    over TLS (what a relay that is not on loopback requires), the
    certificate checked against ssl_client_ca_file."""
    port = sst.dovecot.submission_listener_port
    lst = "subm5@lists.example"
    sst.add_list(lst, MEMBERS,
                 sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                 sieve_vsmlist_submission_ssl="starttls",
                 sieve_vsmlist_submission_user=lst,
                 sieve_vsmlist_submission_password="pass")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, (res, sst.dovecot.log_since(mark)[-3000:])
    assert wait_members(sst) == collections.Counter(MEMBERS)
    # Dovecot's login line says the session was TLS and the login PLAIN
    lines = sst.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                                 + re.escape(lst) + r">")
    assert lines, sst.dovecot.log_since(mark)
    assert re.search(r"method=PLAIN.*\bTLS\b", lines[0]), lines[0]


def test_plain_login_on_loopback_is_not_tls(sst):
    """The other side of the check above: without the setting, the login
    line has no TLS (the test above would pass for nothing otherwise)."""
    port = sst.dovecot.submission_listener_port
    lst = "subm6@lists.example"
    sst.add_list(lst, MEMBERS,
                 sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                 sieve_vsmlist_submission_user=lst,
                 sieve_vsmlist_submission_password="pass")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    lines = sst.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                                 + re.escape(lst) + r">")
    assert lines and not re.search(r"\bTLS\b", lines[0]), lines


def test_wrong_password_defers(sst):
    port = sst.dovecot.submission_listener_port
    lst = "subm3@lists.example"
    sst.add_list(lst, MEMBERS,
                 sieve_vsmlist_submission_host=f"127.0.0.1:{port}",
                 sieve_vsmlist_submission_user=lst,
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
    lst = "subm4@lists.example"
    sst.add_list(lst, MEMBERS,
                 sieve_vsmlist_submission_host="192.0.2.1:587",
                 sieve_vsmlist_submission_user=lst,
                 sieve_vsmlist_submission_password="pass")
    mark = sst.dovecot.log_mark()
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res        # kept by the failure
    assert len(sst.dovecot.messages(lst)) == 1
    assert sst.dovecot.wait_log(mark, r"without TLS: the password would cross "
                                r"the network in clear")
