"""The DNS module against servers that attack it: whatever a server sends,
a lookup ends by the discovery's deadline and the probe exits; through
LMTP, the post is delivered (wrapped: a DNS failure) within the deadline.

    /usr/bin/python3 -m pytest sieve-tests/integration/test_dns_hostile.py -v

The servers are small Python threads on 127.0.0.1, started and stopped by
each test. The probe (src/test-vsmlist-dns-probe) is the one test_dns.py
runs; a probe that does not exit within RUN_TIMEOUT_S is killed and the
test fails. The tests through LMTP use a list whose
sieve_vsmlist_dns_servers is the hostile server.

Before the fix (bde7560^, with these tests), the probe of the "00 02"
stream and the one of the UDP flood were still running after
RUN_TIMEOUT_S: the loop that did not end.
"""

import select
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.rrset
import pytest

import vsmstack
from test_dns import DEADLINE_MARGIN_MS, probe1
from vsmstack import make_message

DEADLINE_MS = 500
# Far beyond the deadline: reaching it means the probe would not stop
RUN_TIMEOUT_S = 10


class TruncatingServer:
    """UDP and TCP on one 127.0.0.1 port. Every UDP query gets an empty
    reply with TC=1, so the client asks again over TCP; every TCP
    connection then gets, after the query, what tcp_mode says:
    'length2': 00 02 00 02 ... as fast as the client reads, forever (a
    length that is shorter than a DNS header, read as the next length by
    a careless reader); 'trickle': the length 65535, then one byte every
    50 ms."""

    def __init__(self, tcp_mode):
        self.tcp_mode = tcp_mode
        self.tcp_connections = 0
        self.stopping = threading.Event()
        self.port = vsmstack.free_port(udp_too=True)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.1)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.tcp.settimeout(0.1)
        self.threads = [threading.Thread(target=self._udp_run, daemon=True),
                        threading.Thread(target=self._tcp_run, daemon=True)]
        for t in self.threads:
            t.start()

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def _udp_run(self):
        while not self.stopping.is_set():
            try:
                data, addr = self.udp.recvfrom(65535)
                query = dns.message.from_wire(data)
            except socket.timeout:
                continue
            except Exception:
                continue
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.TC | dns.flags.RA
            try:
                self.udp.sendto(resp.to_wire(), addr)
            except OSError:
                pass

    def _tcp_run(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.tcp_connections += 1
            t = threading.Thread(target=self._stream, args=(conn,),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _stream(self, conn):
        try:
            conn.settimeout(2)
            conn.recv(65535)
            if self.tcp_mode == "length2":
                chunk = b"\x00\x02" * 32768
                while not self.stopping.is_set():
                    conn.sendall(chunk)
            else:
                conn.sendall(b"\xff\xff")
                while not self.stopping.wait(0.05):
                    conn.sendall(b"\x00")
        except OSError:
            # the client closed the connection: what it should do
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(5)
        self.udp.close()
        self.tcp.close()


def big_wrong_id_reply(query_wire):
    """A reply to the query with another ID and some 4000 TXT RRs: cheap
    to send, costly for a client that parses a datagram before it checks
    the ID."""
    (qid,) = struct.unpack("!H", query_wire[:2])
    # the question as it was sent: from the header to the end of QCLASS
    question = query_wire[12:]
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 300, 2) + b"\x01x"
    count = (65000 - 12 - len(question)) // len(rr)
    header = struct.pack("!HHHHHH", qid ^ 0x5555, 0x8180, 1, count, 0, 0)
    return header + question + rr * count


class Flooder:
    """UDP on 127.0.0.1 that answers a query with an endless flood of
    datagrams that are no answer to it: big replies with a wrong ID from
    its own address, and right-ID answers (TXT "spoofed") from another
    port, the wrong source. Floods until stopped."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.floods = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def _take_query(self, wait):
        if wait and not select.select([self.sock], [], [], 0.1)[0]:
            return None
        try:
            data, addr = self.sock.recvfrom(65535)
        except BlockingIOError:
            return None
        self.queries += 1
        query = dns.message.from_wire(data)
        spoofed = dns.message.make_response(query)
        spoofed.answer.append(dns.rrset.from_text(
            query.question[0].name, 30, "IN", "TXT", '"spoofed"'))
        return addr, big_wrong_id_reply(data), spoofed.to_wire()

    def _run(self):
        target = None
        while not self.stopping.is_set():
            taken = self._take_query(wait=target is None)
            if taken is not None:
                target = taken
            if target is None:
                continue
            addr, wrong_id, wrong_source = target
            try:
                self.sock.sendto(wrong_id, addr)
                self.other.sendto(wrong_source, addr)
                self.floods += 1
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()
        self.other.close()


@pytest.fixture
def hostile():
    started = []

    def start(server):
        started.append(server)
        return server
    yield start
    for s in started:
        s.stop()


def test_tcp_length_shorter_than_a_header_is_rejected(hostile):
    server = hostile(TruncatingServer("length2"))
    r, queries, elapsed, log = probe1([server.server], "_dmarc.x.example",
                                      DEADLINE_MS, RUN_TIMEOUT_S)
    assert r.status == "temperror", log
    assert "shorter than a DNS header" in r.error
    assert server.tcp_connections == 1
    # one UDP query (truncated), one over TCP
    assert queries == 2
    assert elapsed < DEADLINE_MS + DEADLINE_MARGIN_MS


def test_tcp_trickle_ends_at_the_deadline(hostile):
    server = hostile(TruncatingServer("trickle"))
    r, _, elapsed, log = probe1([server.server], "_dmarc.x.example",
                                DEADLINE_MS, RUN_TIMEOUT_S)
    assert r.status == "temperror", log
    assert "timed out" in r.error
    assert elapsed < DEADLINE_MS + DEADLINE_MARGIN_MS


def test_flood_of_foreign_replies_ends_at_the_deadline(hostile):
    flooder = hostile(Flooder())
    r, queries, elapsed, log = probe1([flooder.server], "_dmarc.x.example",
                                      DEADLINE_MS, RUN_TIMEOUT_S)
    assert r.status == "temperror", log
    assert r.txts == []
    assert "timed out" in r.error
    assert elapsed < DEADLINE_MS + DEADLINE_MARGIN_MS
    # the flood ran while the probe waited, and the query was asked again
    assert flooder.floods > 0
    assert queries == 2


# ---------------------------------------------------------------------------
# through LMTP: a list whose resolver is the hostile server

MEMBERS = ["m1@example.net", "m2@example.org"]
AUTHOR = "ann@victim.example"
# Far beyond the deadline, well below the MTA's: reaching it is a hang
LMTP_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def hstack():
    st = vsmstack.Stack(plugin=True, mail_debug=True,
                        dovecot_extra_conf=vsmstack.EVENT_EXPORTER_CONF)
    st.start()
    yield st
    st.stop()


@pytest.mark.parametrize("kind,error", [
    ("length2", r"TCP reply length 2 is shorter than a DNS header"),
    ("trickle", r"timed out"),
    ("flood", r"timed out"),
])
def test_hostile_resolver_post_wrapped_not_held(hstack, hostile, kind, error):
    """A post whose author's DMARC lookup meets the hostile server: LMTP
    250 (a lookup held past its deadline would hold the delivery until
    LMTP_TIMEOUT_S), the members get it wrapped (DNS failure:
    sieve_vsmlist_dns_failure=wrap, the default), the lmtp process lives."""
    server = hostile(Flooder() if kind == "flood" else TruncatingServer(kind))
    lst = f"hostile-{kind}@lists.example"
    hstack.add_list(lst, members=MEMBERS,
                    sieve_vsmlist_dns_servers=server.server,
                    sieve_vsmlist_dns_timeout=f"{DEADLINE_MS}ms",
                    sieve_vsmlist_dns_cache="no")
    hstack.relay.clear()
    msg = make_message(from_addr=f"Ann <{AUTHOR}>", to=lst)
    mark = hstack.dovecot.log_mark()
    res = hstack.dovecot.deliver(msg, AUTHOR, [lst], timeout=LMTP_TIMEOUT_S)
    assert res.code(lst) == 250, res
    assert sorted(hstack.relay.recipients()) == sorted(MEMBERS)
    ev = hstack.dovecot.exported_events(mark, "vsmlist_distribute_finished")
    assert ev, hstack.dovecot.log_since(mark)
    assert ev[0]["vsmlist_dmarc_policy"] == "temperror"
    assert ev[0]["vsmlist_mitigation"] == "wrap"
    assert hstack.dovecot.wait_log(mark, r"TXT _dmarc\.victim\.example: .*" + error), \
        hstack.dovecot.log_since(mark)
    log = hstack.dovecot.log_since(mark)
    assert "Panic:" not in log and "Fatal:" not in log, log
