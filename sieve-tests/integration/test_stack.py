"""Self-tests of the harness (vsmstack) without the vsmlist plugin:
dnsmasq answers, the relay records, Dovecot delivers and Pigeonhole's
redirect reaches the relay with the author's DKIM signature intact."""

import smtplib

import pytest

import vsmstack
from vsmstack import header_values, make_message


def test_dns_txt_records(tmp_path):
    long_value = "v=DKIM1; k=rsa; p=" + "A" * 400
    # records set before start; a list gives one RR of several strings
    d = vsmstack.DnsServer(str(tmp_path), txt_records={
        "_dmarc.example.com": "v=DMARC1; p=reject",
        "long.example.com": long_value,
    })
    d.add_txt("split.example.com", ["v=DMARC1; ", "p=quarantine"])
    d.add_txt("two.example.com", "one")
    d.add_txt("two.example.com", "two")
    with d:
        assert d.txt_lookup("_dmarc.example.com") == [b"v=DMARC1; p=reject"]
        assert d.txt_lookup("long.example.com") == [long_value.encode()]
        r = d.resolver().resolve("split.example.com", "TXT")
        assert [rr.strings for rr in r.rrset] == [(b"v=DMARC1; ", b"p=quarantine")]
        assert sorted(d.txt_lookup("two.example.com")) == [b"one", b"two"]
        assert d.txt_lookup("nothing.example.com") == []
        assert d.get_txt(b"_dmarc.example.com.") == b"v=DMARC1; p=reject"
        assert d.count_queries("_dmarc.example.com", "TXT") == 2
        d.set_txt("_dmarc.example.com", ["v=DMARC1; p=none"])
        d.restart()
        assert d.txt_lookup("_dmarc.example.com") == [b"v=DMARC1; p=none"]


def test_relay_records_and_refuses():
    with vsmstack.Relay() as r:
        r.rcpt_hook = lambda a: "550 5.1.1 unknown" if a.startswith("bad") else None
        s = smtplib.SMTP("127.0.0.1", r.port)
        s.ehlo("me.test")
        data = b"Subject: x\r\n\r\n.leading dot\r\nline\r\n"
        refused = s.sendmail("s@example.com", ["a@example.com", "bad@example.com",
                                                "b@example.com"] + [f"m{i}@example.com" for i in range(300)],
                             data)
        assert list(refused) == ["bad@example.com"]
        s.sendmail("", ["c@example.com"], b"Subject: y\r\n\r\nz\r\n")
        s.quit()
        t1, t2 = r.wait_for(2)
        assert t1.mail_from == "s@example.com"
        assert t1.rcpt_tos[:2] == ["a@example.com", "b@example.com"]
        assert len(t1.rcpt_tos) == 302
        assert t1.rcpt_refused == [("bad@example.com", "550 5.1.1 unknown")]
        assert t1.data == data
        assert t2.mail_from == ""
        assert t1.connection == t2.connection == 1


def test_redirect_reaches_relay_signed(bare):
    user = "redir@lists.example"
    bare.dovecot.add_user(user)
    bare.dovecot.sieve_put(user, 'redirect "a@example.net";\nredirect "b@example.org";\n')
    msg = bare.dkim_sign(make_message(to=user), "author.example")
    res = bare.dovecot.deliver(msg, "author@author.example", [user, "nobody@lists.example"])
    assert res.code(user) == 250
    assert res.code("nobody@lists.example") == 550
    txs = bare.relay.snapshot()
    assert sorted(bare.relay.recipients()) == ["a@example.net", "b@example.org"]
    for t in txs:
        assert t.mail_from == "author@author.example"
        assert bare.dkim_verify(t.data)
        assert t.data.endswith(msg.split(b"\r\n\r\n", 1)[1])
    assert bare.dovecot.messages(user) == []
    # a modified body breaks the signature (the oracle is not vacuous)
    assert not bare.dkim_verify(txs[0].data + b"tampered\r\n")


def test_keep_and_maildir(bare):
    user = "plain@lists.example"
    bare.dovecot.add_user(user)
    msg = make_message(to=user)
    res = bare.dovecot.deliver(msg, "x@example.com", [user], unix=True)
    assert res.code(user) == 250
    stored = bare.dovecot.messages(user)
    assert len(stored) == 1
    assert header_values(stored[0], "Message-ID") == header_values(msg, "Message-ID")
    assert header_values(stored[0], "Return-Path") == ["<x@example.com>"]


def test_compile_error_reported(bare):
    user = "bad@lists.example"
    bare.dovecot.add_user(user)
    with pytest.raises(vsmstack.SieveCompileError) as ei:
        bare.dovecot.sieve_put(user, 'require "vnd.vsmlist";\ndistribute;\n')
    assert "unknown Sieve capability" in ei.value.output
