"""The DNS module (src/vsmlist-dns.c) against real servers.

A dnsmasq on 127.0.0.1 serves the records; small Python UDP responders play
the misbehaving servers (SERVFAIL, REFUSED, silence, slowness, spoofed
replies, negative answers with an SOA). Each case runs the probe
src/test-vsmlist-dns-probe, which does one discovery over the names given.

    /usr/bin/python3 -m pytest sieve-tests/integration/test_dns.py -v

The probe is taken from $VSMLIST_BUILD_DIR (or its src/), else the
repository's src/.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

import vsmstack

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
PROBE_NAME = "test-vsmlist-dns-probe"
DNSMASQ = "/usr/sbin/dnsmasq"

# Leeway for process start, scheduling and rounding, on top of -t
DEADLINE_MARGIN_MS = 200

LOCAL_TTL = 120
CNAME_TTL = 60
BIG_STRING = "x" * 200
BIG_COUNT = 4


def find_probe():
    cands = []
    env = os.environ.get("VSMLIST_BUILD_DIR")
    if env:
        cands += [env, os.path.join(env, "src")]
    cands.append(os.path.join(REPO_DIR, "src"))
    for d in cands:
        path = os.path.join(d, PROBE_NAME)
        if os.access(path, os.X_OK):
            return path
    return None


PROBE = find_probe()
# Missing prerequisites fail the run: these tests are never skipped
if PROBE is None:
    raise pytest.UsageError(f"{PROBE_NAME} not built (run scripts/build.sh)")
if not os.access(DNSMASQ, os.X_OK):
    raise pytest.UsageError("dnsmasq not installed (scripts/install-deps.sh)")


def free_port():
    """A loopback port free for both TCP and UDP now."""
    return vsmstack.free_port(udp_too=True)


# --- servers -----------------------------------------------------------------

class Dnsmasq(vsmstack.DnsServer):
    """The stack's dnsmasq with raw config lines for records and a TTL for
    its local data, started at once."""

    def __init__(self, workdir, records):
        super().__init__(workdir, extra_conf=list(records) +
                         [f"local-ttl={LOCAL_TTL}"])
        self.start()

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Responder:
    """A UDP server on 127.0.0.1 that answers every query as told:
    'servfail', 'refused', 'formerr', 'silent' (reads, never answers),
    'slow:<ms>' (NOERROR with TXT "slow" after a delay), 'spoof' (first a
    reply with a wrong ID, then a right one), 'nxdomain-soa:<ttl>:<min>',
    'nodata-soa:<ttl>:<min>', 'referral'."""

    def __init__(self, mode):
        self.mode = mode
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.timers = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def _soa(self, query, ttl, minimum):
        zone = query.question[0].name.parent()
        return dns.rrset.from_text(zone, ttl, "IN", "SOA",
                                   f"ns.{zone} host.{zone} 1 3600 600 86400 {minimum}")

    def _reply(self, query):
        mode, _, arg = self.mode.partition(":")
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.RA
        if mode in ("servfail", "refused", "formerr"):
            resp.set_rcode({"servfail": dns.rcode.SERVFAIL,
                            "refused": dns.rcode.REFUSED,
                            "formerr": dns.rcode.FORMERR}[mode])
        elif mode in ("nxdomain-soa", "nodata-soa"):
            ttl, minimum = (int(x) for x in arg.split(":"))
            if mode == "nxdomain-soa":
                resp.set_rcode(dns.rcode.NXDOMAIN)
            resp.authority.append(self._soa(query, ttl, minimum))
        elif mode == "referral":
            resp.flags &= ~dns.flags.RA
            resp.authority.append(dns.rrset.from_text(
                "example.", 3600, "IN", "NS", "ns.example."))
        else:
            text = {"slow": "slow", "spoof": "real"}[mode]
            resp.answer.append(dns.rrset.from_text(
                query.question[0].name, 30, "IN", "TXT", f'"{text}"'))
        return resp

    def _run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.mode == "silent":
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            resp = self._reply(query)
            wire = resp.to_wire()
            if self.mode.startswith("slow:"):
                delay = int(self.mode.split(":")[1]) / 1000
                t = threading.Timer(delay, self._send, (wire, addr))
                self.timers.append(t)
                t.start()
                continue
            if self.mode == "spoof":
                bad = dns.message.make_response(query)
                bad.id = (query.id + 1) & 0xffff
                bad.answer.append(dns.rrset.from_text(
                    query.question[0].name, 30, "IN", "TXT", '"spoofed"'))
                self._send(bad.to_wire(), addr)
            self._send(wire, addr)

    def _send(self, wire, addr):
        try:
            self.sock.sendto(wire, addr)
        except OSError:
            pass

    def stop(self):
        self.stopping = True
        for t in self.timers:
            t.cancel()
        self.thread.join(2)
        self.sock.close()


# --- the probe ---------------------------------------------------------------

LINE_RE = re.compile(r"^(\S+) status=(\w+) ttl=(\d+) txts=(.*)$")


class Result:
    def __init__(self, name, status, ttl, txts, error):
        self.name, self.status, self.ttl = name, status, ttl
        self.txts, self.error = txts, error

    def __repr__(self):
        return (f"Result({self.name} {self.status} ttl={self.ttl} "
                f"txts={self.txts!r} error={self.error!r})")


def probe(servers, names, timeout_ms=2000, run_timeout_s=30):
    """Runs the probe; a probe still running after run_timeout_s is killed
    and the test fails (subprocess.TimeoutExpired)."""
    args = [PROBE, "-d", "-t", str(timeout_ms)]
    for s in servers:
        args += ["-s", s]
    args += names
    proc = subprocess.run(args, capture_output=True, text=True,
                          timeout=run_timeout_s)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(names) + 1, proc.stdout
    results = []
    for line in lines[:-1]:
        m = LINE_RE.match(line)
        assert m, line
        txts, end = json.JSONDecoder().raw_decode(m.group(4))
        rest = m.group(4)[end:]
        assert rest.startswith(" error="), line
        results.append(Result(m.group(1), m.group(2), int(m.group(3)), txts,
                              rest[len(" error="):]))
    m = re.match(r"^queries=(\d+) elapsed_ms=(\d+)$", lines[-1])
    assert m, lines[-1]
    return results, int(m.group(1)), int(m.group(2)), proc.stderr


def probe1(servers, name, timeout_ms=2000, run_timeout_s=30):
    results, queries, elapsed, log = probe(servers, [name], timeout_ms,
                                           run_timeout_s)
    return results[0], queries, elapsed, log


# --- fixtures ----------------------------------------------------------------

RECORDS = [
    # one RR of two strings
    'txt-record=split.example,"v=DMARC1; ","p=reject"',
    # two RRs
    'txt-record=two.example,"first"',
    'txt-record=two.example,"second"',
    # CNAME (chain) to a name with a TXT
    f"cname=alias.example,target.example,{CNAME_TTL}",
    "cname=chain1.example,chain2.example",
    f"cname=chain2.example,target.example,{CNAME_TTL}",
    'txt-record=target.example,"v=DMARC1; p=none"',
    # exists, but no TXT
    "host-record=host.example,192.0.2.1",
    # too big for 512 bytes of UDP
] + [f'txt-record=big.example,"{i}{BIG_STRING}"' for i in range(BIG_COUNT)]


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="vsmlist-dns-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def dnsmasq(workdir):
    server = Dnsmasq(workdir, RECORDS)
    yield server
    server.stop()


@pytest.fixture
def responder():
    started = []

    def start(mode):
        r = Responder(mode)
        started.append(r)
        return r
    yield start
    for r in started:
        r.stop()


@pytest.fixture
def closed_port():
    """A loopback UDP port with nobody behind it (ICMP unreachable)."""
    return free_port()


# --- answers -----------------------------------------------------------------

def test_split_strings_are_joined(dnsmasq):
    r, queries, _, log = probe1([dnsmasq.server], "split.example")
    assert r.status == "ok", log
    assert r.txts == ["v=DMARC1; p=reject"]
    assert r.ttl == LOCAL_TTL
    assert queries == 1


def test_qname_case_and_trailing_dot(dnsmasq):
    r, _, _, log = probe1([dnsmasq.server], "SPLIT.Example.")
    assert r.status == "ok", log
    assert r.txts == ["v=DMARC1; p=reject"]


def test_two_rrs_are_two_txts(dnsmasq):
    r, _, _, log = probe1([dnsmasq.server], "two.example")
    assert r.status == "ok", log
    assert sorted(r.txts) == ["first", "second"]


def test_cname_followed(dnsmasq):
    r, queries, _, log = probe1([dnsmasq.server], "alias.example")
    assert r.status == "ok", log
    assert r.txts == ["v=DMARC1; p=none"]
    # the smallest TTL of the RRs used: the CNAME's
    assert r.ttl == CNAME_TTL
    assert queries == 1


def test_cname_chain_followed(dnsmasq):
    r, _, _, log = probe1([dnsmasq.server], "chain1.example")
    assert r.status == "ok", log
    assert r.txts == ["v=DMARC1; p=none"]
    assert r.ttl <= CNAME_TTL


def test_nxdomain(dnsmasq):
    r, queries, _, log = probe1([dnsmasq.server], "_dmarc.nothing.example")
    assert r.status == "nxdomain", log
    assert r.txts == []
    # dnsmasq sends no SOA for local=/#/
    assert r.ttl == 0
    assert queries == 1


def test_nodata(dnsmasq):
    r, _, _, log = probe1([dnsmasq.server], "host.example")
    assert r.status == "ok", log
    assert r.txts == []
    assert r.ttl == 0


def test_truncated_answer_retried_over_tcp(dnsmasq):
    r, queries, _, log = probe1([dnsmasq.server], "big.example")
    assert r.status == "ok", log
    assert sorted(r.txts) == [f"{i}{BIG_STRING}" for i in range(BIG_COUNT)]
    # one over UDP (truncated), one over TCP
    assert queries == 2
    assert "truncated" in log and "over TCP" in log


def test_several_names_one_discovery(dnsmasq):
    results, queries, _, log = probe(
        [dnsmasq.server], ["split.example", "nothing.example", "two.example"])
    assert [r.status for r in results] == ["ok", "nxdomain", "ok"], log
    assert queries == 3


# --- negative caching --------------------------------------------------------

def test_nxdomain_ttl_from_soa(responder):
    r, _, _, log = probe1([responder("nxdomain-soa:600:300").server],
                          "_dmarc.gone.example")
    assert r.status == "nxdomain", log
    assert r.ttl == 300


def test_nodata_ttl_from_soa(responder):
    r, _, _, log = probe1([responder("nodata-soa:100:3600").server],
                          "_dmarc.empty.example")
    assert r.status == "ok", log
    assert r.txts == []
    assert r.ttl == 100


# --- failures ----------------------------------------------------------------

@pytest.mark.parametrize("mode,rcode", [("servfail", "SERVFAIL"),
                                        ("refused", "REFUSED"),
                                        ("formerr", "FORMERR")])
def test_error_rcode_is_temperror(responder, mode, rcode):
    server = responder(mode)
    r, queries, elapsed, log = probe1([server.server], "_dmarc.x.example", 2000)
    assert r.status == "temperror", log
    assert rcode in r.error
    assert server.server in r.error
    # an error is an answer: the server is not asked again
    assert queries == 1
    assert server.queries == 1
    assert elapsed < 1000


def test_referral_is_temperror(responder):
    r, _, _, log = probe1([responder("referral").server], "_dmarc.x.example")
    assert r.status == "temperror", log
    assert "referral" in r.error


def test_error_rcode_then_next_server(dnsmasq, responder):
    bad = responder("servfail")
    r, queries, _, log = probe1([bad.server, dnsmasq.server], "split.example")
    assert r.status == "ok", log
    assert r.txts == ["v=DMARC1; p=reject"]
    assert queries == 2


def test_connection_refused(closed_port):
    r, queries, elapsed, log = probe1([f"127.0.0.1:{closed_port}"],
                                      "_dmarc.x.example", 2000)
    assert r.status == "temperror", log
    assert "refused" in r.error.lower()
    assert elapsed < 1000


def test_silent_server_deadline_holds(responder):
    silent = responder("silent")
    r, queries, elapsed, log = probe1([silent.server], "_dmarc.x.example", 500)
    assert r.status == "temperror", log
    assert "timed out" in r.error
    assert elapsed < 500 + DEADLINE_MARGIN_MS
    # it had a second chance within the deadline
    assert elapsed >= 450
    assert queries == 2


def test_deadline_is_for_the_whole_discovery(responder):
    silent = [responder("silent"), responder("silent")]
    results, queries, elapsed, log = probe(
        [s.server for s in silent],
        ["_dmarc.a.example", "_dmarc.b.example", "_dmarc.c.example"], 500)
    assert [r.status for r in results] == ["temperror"] * 3, log
    assert elapsed < 500 + DEADLINE_MARGIN_MS
    # the first lookup used the time up: the others sent nothing
    assert queries == 4
    assert "deadline" in results[2].error


def test_dead_first_server_then_good(dnsmasq, responder):
    silent = responder("silent")
    results, queries, elapsed, log = probe(
        [silent.server, dnsmasq.server],
        ["split.example", "two.example", "alias.example"], 1000)
    assert [r.status for r in results] == ["ok"] * 3, log
    assert elapsed < 1000
    # the server that answered is asked first in the rest of the discovery
    assert queries == 4
    assert silent.queries == 1


def test_late_answer_is_taken(responder):
    slow = responder("slow:350")
    silent = responder("silent")
    # 4 tries of 250 ms: slow's answer comes while silent is being waited
    # for, and is taken
    r, queries, elapsed, log = probe1([slow.server, silent.server],
                                      "_dmarc.x.example", 1000)
    assert r.status == "ok", log
    assert r.txts == ["slow"]
    assert queries == 2
    assert 300 <= elapsed < 1000


def test_spoofed_reply_ignored(responder):
    r, queries, _, log = probe1([responder("spoof").server], "_dmarc.x.example")
    assert r.status == "ok", log
    assert r.txts == ["real"]
    assert queries == 1
    assert "does not match" in log


def test_invalid_name_sends_nothing(dnsmasq):
    r, queries, _, _ = probe1([dnsmasq.server], "a" * 64 + ".example")
    assert r.status == "temperror"
    assert "Invalid DNS name" in r.error
    assert queries == 0
