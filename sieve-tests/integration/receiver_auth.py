"""receiver_auth: what a receiving MTA concludes about a message it got,
with real verifiers against the test DNS (vsmstack.DnsServer):

* SPF: pyspf (python3-spf) on the client IP, MAIL FROM and HELO;
* DKIM: dkimpy (python3-dkim), every DKIM-Signature, not just the first;
* DMARC (RFC 7489): the policy record found by section 6.6.3 (the From
  domain's, else its organizational domain's), and identifier alignment
  (section 3.1) of SPF's MAIL FROM domain and of each passing signature's
  d= with the From domain, strict or relaxed as the record says.

DMARC is computed here, not taken from a library.  python3-authheaders
(whose verdict `library_dmarc` is kept beside ours for comparison) checks
the topmost DKIM-Signature only, and its organizational domain of a name
under a TLD the public suffix list does not know is that TLD itself
(lists.example and none.example would be one organization, so relaxed
alignment holds between them); the PSL algorithm's default rule "*"
makes "example" the public suffix and lists.example the organizational
domain.  It and libopendmarc also have discovery bugs (sp applied to the
domain's own record, split TXT strings not joined; notes/TESTING.md); the
tests use simple records, where discovery is not in question.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import authheaders
import dkim
import dns.resolver
import publicsuffix2
import spf

from vsmstack import DnsServer, header_values


@dataclass
class DkimResult:
    domain: str
    selector: str
    passed: bool


@dataclass
class Verdict:
    from_domain: str
    spf: str                         # pyspf's result: pass, fail, softfail, none ...
    spf_domain: str                  # the MAIL FROM domain SPF checked
    dkim: List[DkimResult]           # every signature, topmost first
    record: Optional[Dict[str, str]]  # the DMARC record that applies
    spf_aligned: bool
    dkim_aligned: List[str] = field(default_factory=list)  # d= of aligned passes
    dmarc: str = "none"              # pass, fail, none (no record)
    library_dmarc: str = ""          # python3-authheaders' dmarc= result

    def dkim_pass(self, domain: str) -> bool:
        return any(r.passed and r.domain == domain for r in self.dkim)

    def summary(self) -> str:
        sigs = ", ".join(f"d={r.domain} {'pass' if r.passed else 'fail'}" for r in self.dkim)
        return (f"From {self.from_domain}: SPF {self.spf} ({self.spf_domain}, "
                f"{'aligned' if self.spf_aligned else 'not aligned'}); DKIM {sigs or 'none'}"
                f" (aligned: {', '.join(self.dkim_aligned) or 'none'}); DMARC {self.dmarc}"
                f" (p={(self.record or {}).get('p', '-')}); authheaders says {self.library_dmarc}")


@contextlib.contextmanager
def default_resolver(server: DnsServer):
    """pyspf resolves through dnspython's default resolver: point it at the
    test DNS for the duration."""
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = server.resolver()
    try:
        with warnings.catch_warnings():
            # pyspf calls dnspython's query(), deprecated for resolve()
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        dns.resolver.default_resolver = saved


def _txt_str(server: DnsServer):
    """dnsfunc for dkimpy and authheaders: the first TXT RR of a name as
    one string (its character-strings joined), or None."""
    def lookup(name, timeout=5):
        value = server.get_txt(name, timeout=timeout)
        return None if value is None else value.decode()
    return lookup


def tags(record: str) -> Dict[str, str]:
    """tag=value pairs of a DMARC record or a DKIM-Signature value."""
    out = {}
    for part in record.split(";"):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip().lower()] = v.strip()
    return out


def dmarc_record(server: DnsServer, from_domain: str) -> Optional[Dict[str, str]]:
    """RFC 7489 6.6.3: exactly one v=DMARC1 record at _dmarc.<From
    domain>, else at _dmarc.<organizational domain>."""
    for domain in dict.fromkeys([from_domain, org_domain(from_domain)]):
        records = [r.decode() for r in server.txt_lookup(f"_dmarc.{domain}")
                   if re.match(rb"v\s*=\s*DMARC1\s*(;|$)", r)]
        if len(records) == 1:
            return tags(records[0])
    return None


# Debian's public suffix list (package publicsuffix), as libpsl reads it
PSL_FILE = "/usr/share/publicsuffix/public_suffix_list.dat"
_psl: Optional[publicsuffix2.PublicSuffixList] = None


def org_domain(domain: str) -> str:
    """RFC 7489 3.2: the public suffix (the PSL's rules, "*" when none
    matches) and one more label."""
    global _psl
    if _psl is None:
        with open(PSL_FILE, encoding="utf-8") as f:
            _psl = publicsuffix2.PublicSuffixList(f)
    domain = domain.lower().rstrip(".")
    suffix = _psl.get_tld(domain, wildcard=True, strict=False) or domain.rsplit(".", 1)[-1]
    labels = domain.split(".")
    keep = len(suffix.split(".")) + 1
    return ".".join(labels[-keep:]) if len(labels) >= keep else domain


def aligned(a: str, b: str, mode: str) -> bool:
    """RFC 7489 3.1: strict = equal, relaxed = same organizational domain."""
    a, b = a.lower(), b.lower()
    return a == b if mode == "s" else org_domain(a) == org_domain(b)


def evaluate(server: DnsServer, msg: bytes, ip: str, mail_from: str,
             helo: str) -> Verdict:
    """The receiver's verdict on msg, received from ip with MAIL FROM
    mail_from after HELO helo."""
    froms = email.utils.getaddresses(header_values(msg, "From"))
    if len(froms) != 1 or "@" not in froms[0][1]:
        raise ValueError(f"not exactly one From address: {froms}")
    from_domain = froms[0][1].rsplit("@", 1)[1].lower()
    spf_domain = mail_from.rsplit("@", 1)[1].lower() if "@" in mail_from else helo
    dnsfunc = _txt_str(server)

    with default_resolver(server):
        spf_result, _ = spf.check2(i=ip, s=mail_from, h=helo)
        library = authheaders.authenticate_message(
            msg, "receiver.test", spf=True, dkim=True, dmarc=True, ip=ip,
            mail_from=mail_from, helo=helo, dnsfunc=dnsfunc)

    sigs = []
    for idx, value in enumerate(header_values(msg, "DKIM-Signature")):
        fields = tags(re.sub(r"\s+", "", value))
        try:
            passed = bool(dkim.DKIM(msg, minkey=1024).verify(idx=idx, dnsfunc=dnsfunc))
        except dkim.DKIMException:
            passed = False
        sigs.append(DkimResult(fields.get("d", "").lower(), fields.get("s", ""), passed))

    record = dmarc_record(server, from_domain)
    adkim = (record or {}).get("adkim", "r")
    aspf = (record or {}).get("aspf", "r")
    v = Verdict(from_domain=from_domain, spf=spf_result, spf_domain=spf_domain,
                dkim=sigs, record=record,
                spf_aligned=spf_result == "pass" and aligned(spf_domain, from_domain, aspf))
    v.dkim_aligned = [s.domain for s in sigs
                      if s.passed and aligned(s.domain, from_domain, adkim)]
    if record is not None:
        v.dmarc = "pass" if v.spf_aligned or v.dkim_aligned else "fail"
    m = re.search(r"\bdmarc=(\w+)", library)
    v.library_dmarc = m.group(1) if m else "none"
    return v
