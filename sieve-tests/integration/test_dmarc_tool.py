"""vsmlist-dmarc, the administrator's policy tool, against a real dnsmasq
and misbehaving DNS servers on loopback: every discovery case of issue 3
answered as RFC 9989 and RFC 7489 say."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

# the misbehaving-server fixture is the DNS module tests' own
from test_dns import Dnsmasq, REPO_DIR, responder  # noqa: F401

TOOL_NAME = "vsmlist-dmarc"


def find_tool():
    env = os.environ.get("VSMLIST_BUILD_DIR")
    dirs = ([env, os.path.join(env, "src")] if env else []) + \
        [os.path.join(REPO_DIR, "src")]
    for d in dirs:
        path = os.path.join(d, TOOL_NAME)
        if os.access(path, os.X_OK):
            return path
    raise pytest.UsageError(f"{TOOL_NAME} not built (run scripts/build.sh)")


TOOL = find_tool()

ZONE = [
    'txt-record=_dmarc.reject.example,"v=DMARC1; p=reject"',
    'txt-record=_dmarc.quarantine.example,"v=DMARC1; p=quarantine; rua=mailto:r@quarantine.example"',
    'txt-record=_dmarc.none.example,"v=DMARC1; p=none"',
    # one RR of two strings, joined with nothing between them
    'txt-record=_dmarc.split.example,"v=DMARC1; p=rej","ect"',
    # two DMARC records: both discarded
    'txt-record=_dmarc.two.example,"v=DMARC1; p=reject"',
    'txt-record=_dmarc.two.example,"v=DMARC1; p=none"',
    # a CNAME to a shared policy
    "cname=_dmarc.alias.example,policy.provider.example",
    'txt-record=policy.provider.example,"v=DMARC1; p=quarantine"',
    # sp for subdomains, np for subdomains that do not exist
    'txt-record=_dmarc.parent.example,"v=DMARC1; p=none; sp=quarantine; np=reject"',
    "host-record=real.parent.example,192.0.2.10",
    # a public suffix operator publishing psd=y
    'txt-record=_dmarc.psd.example,"v=DMARC1; p=reject; psd=y"',
]


@pytest.fixture(scope="module")
def zone():
    workdir = tempfile.mkdtemp(prefix="vsmlist-dmarc-")
    os.chmod(workdir, 0o755)
    server = Dnsmasq(workdir, ZONE)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def run_tool(servers, domains, timeout="2s"):
    args = [TOOL, "-t", timeout]
    for s in servers:
        args += ["-s", s]
    start = time.monotonic()
    proc = subprocess.run(args + list(domains), capture_output=True,
                          text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(domains), proc.stdout
    return [parse_line(line) for line in lines], elapsed


FIELD_RE = re.compile(r' (\S+?)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_line(line):
    domain, _, rest = line.partition(" ")
    fields = {"domain": domain}
    for key, value in FIELD_RE.findall(" " + rest):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        fields[key] = value
    assert line.startswith(f"{domain} policy="), line
    return fields


def tool1(zone, domain, **kw):
    (result,), _ = run_tool([zone.server], [domain], **kw)
    return result


@pytest.mark.parametrize("domain,policy", [
    ("reject.example", "reject"),
    ("quarantine.example", "quarantine"),
    ("none.example", "none"),
    ("norecord.example", "nopolicy"),
])
def test_policy_of_a_domain(zone, domain, policy):
    r = tool1(zone, domain)
    assert r["policy"] == policy, r
    if policy != "nopolicy":
        assert r["rfc9989"] == r["rfc7489"] == policy
        assert r["rfc9989.policy_domain"] == domain


def test_split_txt_strings_are_joined(zone):
    r = tool1(zone, "split.example")
    assert r["policy"] == "reject", r
    assert r["rfc9989.record"] == "v=DMARC1; p=reject"


def test_two_records_are_both_discarded(zone):
    r = tool1(zone, "two.example")
    assert r["policy"] == "nopolicy", r
    assert "several DMARC records" in r.get("rfc9989.note", ""), r


def test_cname_to_a_shared_policy(zone):
    r = tool1(zone, "alias.example")
    assert r["policy"] == "quarantine", r


def test_subdomain_gets_sp_and_org_domain(zone):
    r = tool1(zone, "real.parent.example")
    assert r["policy"] == "quarantine", r
    assert r["rfc9989.tag"] == "sp"
    assert r["rfc9989.org_domain"] == "parent.example"
    assert r["rfc9989.policy_domain"] == "parent.example"


def test_nonexistent_subdomain_gets_np(zone):
    r = tool1(zone, "ghost.parent.example")
    assert r["policy"] == "reject", r
    assert r["rfc9989.tag"] == "np"
    # RFC 7489 knows no np
    assert r["rfc7489"] == "quarantine"


def test_deep_name_walk_takes_eight_queries(zone):
    r = tool1(zone, "a.b.c.d.e.f.g.h.i.j.mail.reject.example")
    assert r["policy"] == "reject", r
    # author + 7-label suffix ... TLD: 8, no more
    assert int(r["queries"]) == 8, r
    assert r["rfc9989.org_domain"] == "reject.example"


def test_psd_record_applies_below_the_suffix(zone):
    r = tool1(zone, "mail.shop.psd.example")
    assert r["policy"] == "reject", r
    assert r["rfc9989.org_domain"] == "shop.psd.example"
    assert r["rfc9989.policy_domain"] == "psd.example"


def test_idn_domain_is_looked_up_as_a_labels(zone):
    r = tool1(zone, "b\u00fccher.example")
    assert r["domain"] == "xn--bcher-kva.example", r
    assert zone.log().count("_dmarc.xn--bcher-kva.example") >= 1


def test_invalid_domain_is_reported(zone):
    r = tool1(zone, "a..example")
    assert r["policy"] == "nopolicy"
    assert "invalid domain" in r["error"]


@pytest.mark.parametrize("mode", ["servfail", "refused"])
def test_server_failure_is_temperror(responder, mode):
    bad = responder(mode)
    (r,), _ = run_tool([bad.server], ["reject.example"])
    assert r["policy"] == "temperror", r
    assert mode.upper() in r["rfc9989.error"], r


def test_nxdomain_is_not_an_error(zone):
    r = tool1(zone, "nxdomain.invalid-tld")
    assert r["policy"] == "nopolicy", r
    assert "rfc9989.error" not in r


@pytest.fixture(scope="module")
def startup(zone):
    """Seconds the tool takes without asking anybody (an invalid domain):
    its start and exit, which the sanitizer mode makes longer (ASan's
    start, LeakSanitizer's check at exit)."""
    (r,), elapsed = run_tool([zone.server], ["a..example"])
    assert r["policy"] == "nopolicy", r
    return elapsed


def test_silent_server_deadline_holds(responder, startup):
    silent = responder("silent")
    (r,), elapsed = run_tool([silent.server], ["reject.example"],
                             timeout="400ms")
    assert r["policy"] == "temperror", r
    assert elapsed - startup < 0.4 + 0.5, \
        f"took {elapsed:.2f}s ({startup:.2f}s to start and exit) for a 400 ms bound"


def test_dead_first_server_then_good_one(zone, responder):
    silent = responder("silent")
    (r,), elapsed = run_tool([silent.server, zone.server], ["reject.example"],
                             timeout="2s")
    assert r["policy"] == "reject", r


def test_each_domain_gets_its_own_deadline(zone, responder, startup):
    silent = responder("silent")
    results, elapsed = run_tool([silent.server], ["a.example", "b.example"],
                                timeout="300ms")
    assert [r["policy"] for r in results] == ["temperror", "temperror"]
    assert elapsed - startup < 2 * 0.3 + 0.5


def test_usage_error_exit_code():
    proc = subprocess.run([TOOL], capture_output=True, text=True)
    assert proc.returncode == 64
    assert "Usage: vsmlist-dmarc" in proc.stderr


@pytest.mark.parametrize("args,message", [
    (["-s", "not-an-ip", "x.example"], "Invalid DNS server"),
    (["-p", "/nonexistent/psl.dat", "x.example"], "cannot be loaded"),
    (["-t", "soon", "x.example"], "-t soon"),
])
def test_bad_arguments_are_usage_errors(args, message):
    proc = subprocess.run([TOOL] + args, capture_output=True, text=True)
    assert proc.returncode == 64, proc
    assert message in proc.stderr
