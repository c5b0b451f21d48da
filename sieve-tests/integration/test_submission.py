"""Dovecot's submission service as the list's relay, with SMTP AUTH
(doc/postfix.md, "Dovecot's submission service as the relay").

The list's sieve_vsmlist_submission_host points at dovecot-submissiond on
loopback, which wants authentication and relays through
submission_relay_host to the stack's relay stand-in. The plugin's client
logs in with sieve_vsmlist_submission_user/_password (SASL PLAIN; on
loopback no TLS is needed, anywhere else it is); the list user itself, or
a relay account, or a Dovecot master user logging in as the list.
"""

import collections
import re

import pytest

import vsmstack
from vsmstack import header_values, make_message

pytestmark = pytest.mark.plugin

MEMBERS = ["s1@example.net", "s2@example.org"]


@pytest.fixture(scope="module")
def sst():
    st = vsmstack.Stack(plugin=True, mail_debug=True, protocols=("lmtp", "submission"),
                        dkim_domains=["author.example"],
                        plugin_settings={"sieve_vsmlist_dmarc": "none"})
    # submission_relay_host is the relay stand-in; it is known once the
    # stack runs, so the extra configuration is added then
    st.start()
    d = st.dovecot
    d.extra_conf += f"""
submission_relay_host = 127.0.0.1
submission_relay_port = {st.relay.port}
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
    yield st
    st.stop()


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
    msg, res = deliver(sst, lst)
    assert res.code(lst) == 250, res
    txs = sst.relay.wait_for(1, timeout=10)
    got = collections.Counter(r.lower() for r in sst.relay.recipients())
    assert got == collections.Counter(MEMBERS), got
    assert txs[0].mail_from == lst.replace("@", "+bounces@")
    # the submission service logged the list user in
    assert sst.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                                + re.escape(lst) + r">")
    assert header_values(txs[0].data, "Message-ID") == header_values(msg, "Message-ID")


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
    sst.relay.wait_for(1, timeout=10)
    assert collections.Counter(r.lower() for r in sst.relay.recipients()) == \
        collections.Counter(MEMBERS)
    assert sst.dovecot.wait_log(mark, r"submission-login: Info: Login: user=<"
                                + re.escape(lst) + r">")


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
