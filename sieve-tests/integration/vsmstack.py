"""vsmstack: a real mail stack on loopback for the vsmlist integration tests.

Components (each a context manager, each stopped by the PID it started):

* ``DnsServer``  - dnsmasq answering TXT records given by the caller
                   (DKIM keys, DMARC records) and NXDOMAIN for everything else.
* ``Relay``      - an aiosmtpd SMTP sink in a thread that records every
                   transaction (MAIL FROM, RCPT list, exact DATA bytes) and can
                   be told to refuse chosen commands (fault injection).
* ``Dovecot``    - a private Dovecot instance (LMTP, optionally IMAP and
                   ManageSieve) with Pigeonhole and the vsmlist plugin, whose
                   ``submission_host`` is the relay.
* ``DkimKey``    - an RSA key pair; signs with dkimpy; its TXT record is
                   published by ``DnsServer``.
* ``Stack``      - all of the above in one temporary directory.

Only /usr/bin/python3 with Debian's python3-aiosmtpd, python3-dkim and
python3-dnspython is supported.  Everything must run as root (Dovecot's master
process, dnsmasq); mail users run as the system user ``vsmlist-test``.

Environment:
  VSMLIST_BUILD_DIR   directory holding the built plugin (default: the
                      repository's src/.libs, then src/; build-asan/ in
                      the sanitizer mode)
  VSMLIST_KEEP_TMP=1  do not delete the temporary directory on stop
  VSMLIST_SANITIZE=1  the sanitizer mode (sanitize.py): the plugin from
                      build-asan/, Dovecot and doveadm with libasan
                      preloaded, reports in <workdir>/sanitizer/
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import glob
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import dkim
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver

import sanitize

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN_SO = "lib90_sieve_vsmlist_plugin.so"
DOVEADM_PLUGIN_SO = "lib10_doveadm_vsmlist_plugin.so"
MAIL_USER = "vsmlist-test"

DNSMASQ = "/usr/sbin/dnsmasq"
DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
OPENSSL = "/usr/bin/openssl"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
SIEVE_MODULE_DIR = "/usr/lib/dovecot/modules/sieve"
# doveadm loads modules from this compiled-in directory only
DOVEADM_MODULE_DIR = "/usr/lib/dovecot/modules/doveadm"
UNSHARE = "/usr/bin/unshare"


class StackError(RuntimeError):
    pass


class SieveCompileError(StackError):
    """doveadm sieve put refused a script (the text is doveadm's output)."""

    def __init__(self, user, name, output):
        super().__init__(f"sieve script {name!r} of {user} refused:\n{output}")
        self.user = user
        self.name = name
        self.output = output


# --------------------------------------------------------------------------
# small helpers

def self_signed_certificate(directory: str, name: str) -> Tuple[str, str]:
    """(key, certificate) files NAME.key and NAME.crt in directory: a
    self-signed certificate for 127.0.0.1 and localhost (the names a
    client on loopback connects to and checks), readable by all."""
    key = os.path.join(directory, name + ".key")
    cert = os.path.join(directory, name + ".crt")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    os.chmod(cert, 0o644)
    return key, cert


def free_port(udp_too: bool = False) -> int:
    """A loopback port that is free now (TCP, and UDP as well if asked)."""
    for _ in range(100):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                finally:
                    u.close()
            return port
        finally:
            t.close()
    raise StackError("no free port found")


def wait_tcp(host: str, port: int, timeout: float = 10.0, proc=None,
             banner: Optional[bytes] = None) -> None:
    """Wait until host:port accepts a connection (and sends banner, if given)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                if banner is None:
                    return
                s.settimeout(2.0)
                data = s.recv(512)
                if data.startswith(banner):
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.02)
    raise StackError(f"{host}:{port} not ready after {timeout}s ({last!r})")


def wait_unix(path: str, timeout: float = 10.0, banner: Optional[bytes] = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2.0)
                s.connect(path)
                if banner is None or s.recv(512).startswith(banner):
                    return
        except OSError as e:
            last = e
        time.sleep(0.02)
    raise StackError(f"{path} not ready after {timeout}s ({last!r})")


def stop_pid(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process we started (by its PID), SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def ensure_mail_user(name: str = MAIL_USER) -> Tuple[int, int]:
    """uid/gid of the system user that owns the mail users' files."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", name], check=True)
        pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def readme_list_script() -> str:
    """The list's script as the README's "Configure a list" gives it:
    tests take it from there, so that the two cannot drift apart."""
    with open(os.path.join(REPO_DIR, "README")) as f:
        readme = f.read()
    m = re.search(r"/etc/dovecot/sieve/list\.sieve:\n\n((?: {7}.*\n|\n)+?)\n {3}\S",
                  readme)
    assert m, "README: no list script after 'list.sieve:'"
    script = textwrap.dedent(m.group(1))
    assert "distribute;" in script and "membership;" in script
    return script


def make_message_id(domain: str = "test.example") -> str:
    return f"<{time.time_ns()}.{secrets.token_hex(6)}@{domain}>"


def crlf(data: Union[str, bytes]) -> bytes:
    """Bytes with every line ending CRLF (bare LF and bare CR converted)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    return data


def make_message(from_addr: str = "Author <author@author.example>",
                 to: str = "friends@lists.example",
                 subject: str = "Test post",
                 body: str = "Hello list.\n",
                 message_id: Optional[str] = None,
                 extra_headers: Sequence[Tuple[str, str]] = (),
                 date: Optional[str] = None) -> bytes:
    """A simple RFC 5322 message with CRLF line endings and a fresh Message-ID."""
    if message_id is None:
        dom = from_addr.rsplit("@", 1)[-1].strip(">") if "@" in from_addr else "test.example"
        message_id = make_message_id(dom)
    hdrs = [
        ("From", from_addr),
        ("To", to),
        ("Subject", subject),
        ("Date", date or email.utils.formatdate(localtime=False)),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "8bit"),
    ]
    hdrs.extend(extra_headers)
    text = "".join(f"{k}: {v}\n" for k, v in hdrs) + "\n" + body
    return crlf(text)


def make_dsn(to: str, recipients: Sequence[str], status: str = "5.1.1",
             action: str = "failed") -> bytes:
    """A delivery report (RFC 3464) to a list's bounce address, one
    recipient block per address"""
    blocks = "".join(f"Final-Recipient: rfc822; {r}\r\nAction: {action}\r\n"
                     f"Status: {status}\r\n\r\n" for r in recipients)
    return ("From: MAILER-DAEMON@mx.example\r\nTo: " + to + "\r\n"
            "Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;"
            " boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
            "failed\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example\r\n\r\n" + blocks +
            "--B--\r\n").encode()


def header_block(msg: bytes) -> bytes:
    end = msg.find(b"\r\n\r\n")
    if end < 0:
        end = msg.find(b"\n\n")
    return msg if end < 0 else msg[:end + 2]


def headers(msg: bytes) -> List[Tuple[str, str]]:
    """Unfolded (name, value) header pairs of the top-level header block."""
    out: List[Tuple[str, str]] = []
    for line in re.split(rb"\r?\n", header_block(msg)):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            n, v = out[-1]
            out[-1] = (n, v + " " + line.strip().decode("utf-8", "replace"))
        elif b":" in line:
            n, v = line.split(b":", 1)
            out.append((n.decode("ascii", "replace").strip(),
                        v.strip().decode("utf-8", "replace")))
    return out


def header_values(msg: bytes, name: str) -> List[str]:
    return [v for n, v in headers(msg) if n.lower() == name.lower()]


def split_txt(value: Union[str, Sequence[str]]) -> List[str]:
    """TXT character-strings of at most 255 bytes (a long value is split)."""
    if isinstance(value, str):
        raw = value.encode()
        return [raw[i:i + 255].decode() for i in range(0, len(raw), 255)] or [""]
    return list(value)


# --------------------------------------------------------------------------
# DKIM

class DkimKey:
    """An RSA key pair for DKIM, with the TXT record that publishes it."""

    def __init__(self, domain: str, selector: str = "sel1", bits: int = 2048,
                 private_pem: Optional[bytes] = None):
        self.domain = domain
        self.selector = selector
        if private_pem is None:
            private_pem = subprocess.run(
                [OPENSSL, "genpkey", "-algorithm", "RSA",
                 "-pkeyopt", f"rsa_keygen_bits:{bits}"],
                check=True, capture_output=True).stdout
        self.private_pem = private_pem
        der = subprocess.run([OPENSSL, "pkey", "-pubout", "-outform", "DER"],
                             input=private_pem, check=True,
                             capture_output=True).stdout
        self.public_b64 = base64.b64encode(der).decode()

    @property
    def txt_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def txt_value(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public_b64}"

    def sign(self, msg: bytes, include_headers: Optional[Sequence[str]] = None,
             canonicalize: Tuple[str, str] = ("relaxed", "simple"),
             identity: Optional[str] = None) -> bytes:
        """The message with a DKIM-Signature header prepended.

        include_headers: header names for h= (repeat a name to oversign it);
        default dkimpy's list."""
        msg = crlf(msg)
        ih = None if include_headers is None else [h.encode() for h in include_headers]
        sig = dkim.sign(msg, self.selector.encode(), self.domain.encode(),
                        self.private_pem,
                        identity=identity.encode() if identity else None,
                        canonicalize=(canonicalize[0].encode(), canonicalize[1].encode()),
                        include_headers=ih, linesep=b"\r\n")
        return sig + msg


# Dovecot exports each post's vsmlist_distribute_finished event as JSON
# into its log (the stats process logs it): pass as dovecot_extra_conf
EVENT_EXPORTER_CONF = """
event_exporter vsmlist {
  format = json
  format_args = time-rfc3339
  transport = log
}
metric vsmlist_distribute {
  exporter = vsmlist
  exporter_include = name fields
  filter = event=vsmlist_distribute_finished
}
"""

# dnsmasq as the authoritative server of "example": answers carry TTLs and
# negative answers the zone's SOA, as real servers' do (its local data
# otherwise has TTL 0 and no SOA, which nothing may cache): pass as
# dns_extra_conf
AUTH_ZONE_EXAMPLE = [
    "local-ttl=300",
    "auth-server=ns.example,127.0.0.1",
    "auth-zone=example",
    "auth-soa=1,hostmaster.example,1200,120,604800,300",
    "auth-ttl=300",
]

# --------------------------------------------------------------------------
# DNS: dnsmasq

class DnsServer:
    """dnsmasq on 127.0.0.1:<port>, authoritative-ish for the caller's TXT
    records; all other names are NXDOMAIN (local=/#/), nothing is forwarded."""

    def __init__(self, workdir: str, port: Optional[int] = None,
                 txt_records: Optional[Dict[str, Union[str, Sequence[str]]]] = None,
                 extra_conf: Sequence[str] = (), log_queries: bool = True):
        self.workdir = workdir
        self.port = port
        self.address = "127.0.0.1"
        self.txt: Dict[str, List[Union[str, Sequence[str]]]] = {}
        for name, value in (txt_records or {}).items():
            self.add_txt(name, value)
        self.extra_conf = list(extra_conf)
        self.log_queries = log_queries
        self.conf_path = os.path.join(workdir, "dnsmasq.conf")
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        self.proc: Optional[subprocess.Popen] = None

    def add_txt(self, name: str, value: Union[str, Sequence[str]]) -> None:
        """Add one TXT RR. A str is split into 255-byte strings; a list gives
        exactly those strings (one RR of several strings).  Takes effect at
        start() or restart()."""
        self.txt.setdefault(name.rstrip(".").lower(), []).append(value)

    def set_txt(self, name: str, values: Sequence[Union[str, Sequence[str]]]) -> None:
        """Replace all TXT RRs of name (empty list removes the name)."""
        name = name.rstrip(".").lower()
        if values:
            self.txt[name] = list(values)
        else:
            self.txt.pop(name, None)

    def _conf(self) -> str:
        lines = [
            f"port={self.port}",
            f"listen-address={self.address}",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "no-poll",
            "local=/#/",
            "user=nobody",
            "group=nogroup",
            f"pid-file={os.path.join(self.workdir, 'dnsmasq.pid')}",
            "cache-size=0",
        ]
        if self.log_queries:
            lines += ["log-queries", f"log-facility={self.log_path}"]
        for name, rrs in sorted(self.txt.items()):
            for rr in rrs:
                parts = split_txt(rr)
                for p in parts:
                    if '"' in p or "\\" in p:
                        raise StackError(f"unsupported character in TXT {name}: {p!r}")
                lines.append(f"txt-record={name}," + ",".join(f'"{p}"' for p in parts))
        lines += self.extra_conf
        return "\n".join(lines) + "\n"

    def start(self) -> "DnsServer":
        if self.port is None:
            self.port = free_port(udp_too=True)
        with open(self.conf_path, "w") as f:
            f.write(self._conf())
        if self.log_queries:
            open(self.log_path, "a").close()
            os.chown(self.log_path, 65534, 65534)
        self.proc = subprocess.Popen([DNSMASQ, "-k", "-C", self.conf_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_tcp(self.address, self.port, timeout=10, proc=self.proc)
        except StackError:
            out = b""
            if self.proc.poll() is not None and self.proc.stdout:
                out = self.proc.stdout.read()
            self.stop()
            raise StackError(f"dnsmasq did not start: {out.decode(errors='replace')}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    def restart(self) -> None:
        """Apply changed records: dnsmasq rereads its config only on start."""
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- queries -----------------------------------------------------------

    def resolver(self) -> dns.resolver.Resolver:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.address]
        r.port = self.port
        r.timeout = 2.0
        r.lifetime = 5.0
        r.cache = None
        return r

    def get_txt(self, name: Union[str, bytes], timeout: float = 5) -> Optional[bytes]:
        """dkimpy-compatible dnsfunc: first TXT RR of name, strings joined."""
        if isinstance(name, bytes):
            name = name.decode()
        r = self.resolver()
        try:
            ans = r.resolve(name, "TXT", raise_on_no_answer=False, lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        if ans.rrset is None:
            return None
        for rr in ans.rrset:
            return b"".join(rr.strings)
        return None

    def txt_lookup(self, name: str) -> List[bytes]:
        """All TXT RRs of name (each one's strings joined)."""
        try:
            ans = self.resolver().resolve(name, "TXT", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        return [b"".join(rr.strings) for rr in (ans.rrset or [])]

    def query_log(self) -> List[Tuple[str, str]]:
        """(qtype, name) of each query dnsmasq has logged so far."""
        if not self.log_queries or not os.path.exists(self.log_path):
            return []
        out = []
        with open(self.log_path, errors="replace") as f:
            for line in f:
                # "auth[...]" where dnsmasq serves an auth-zone
                m = re.search(r"(?:query|auth)\[(\w+)\] (\S+) from", line)
                if m:
                    out.append((m.group(1), m.group(2).lower()))
        return out

    def count_queries(self, name: Optional[str] = None, qtype: Optional[str] = None) -> int:
        """Queries seen so far (dnsmasq writes its log synchronously unless
        log-async is set), optionally only for one name and/or type."""
        n = name.rstrip(".").lower() if name else None
        return sum(1 for t, q in self.query_log()
                   if (n is None or q == n) and (qtype is None or t == qtype.upper()))


# --------------------------------------------------------------------------
# SMTP relay stand-in: aiosmtpd

@dataclass
class Transaction:
    """One SMTP transaction the relay took (DATA done, or refused)."""
    connection: int                 # connection number (1, 2, ...) at the relay
    peer: Tuple[str, int]
    helo: str
    mail_from: str                  # "" for the null sender <>
    mail_options: List[str]
    rcpt_tos: List[str]             # accepted recipients, in order
    rcpt_refused: List[Tuple[str, str]]  # (address, response) refused by hooks
    data: bytes                     # exact DATA bytes (dot-unstuffed, CRLF kept)
    response: str                   # the relay's answer to DATA
    time: float = field(default_factory=time.time)

    @property
    def accepted(self) -> bool:
        return self.response.startswith("2")

    def headers(self) -> List[Tuple[str, str]]:
        return headers(self.data)

    def header(self, name: str) -> List[str]:
        return header_values(self.data, name)


class Relay:
    """An SMTP sink on 127.0.0.1:<port> that records every transaction.

    Fault injection: hooks return None (accept) or an SMTP response string.
      mail_hook(address) ; rcpt_hook(address) ; data_hook(transaction)
    A refused RCPT is recorded in rcpt_refused of the transaction that follows.
    aiosmtpd has no recipient limit; its line length limit is 1000 octets +
    CRLF and its DATA size limit is set by data_size_limit (default 64 MiB).
    """

    def __init__(self, host: str = "127.0.0.1", port: Optional[int] = None,
                 data_size_limit: int = 64 * 1024 * 1024,
                 mail_hook: Optional[Callable[[str], Optional[str]]] = None,
                 rcpt_hook: Optional[Callable[[str], Optional[str]]] = None,
                 data_hook: Optional[Callable[[Transaction], Optional[str]]] = None,
                 hostname: str = "relay.test"):
        self.host = host
        self.port = port
        self.data_size_limit = data_size_limit
        self.mail_hook = mail_hook
        self.rcpt_hook = rcpt_hook
        self.data_hook = data_hook
        self.hostname = hostname
        # Fault injection: close each connection after its N-th DATA reply
        # (None: never); the client sees the connection dropped between
        # transactions
        self.drop_after: Optional[int] = None
        self.transactions: List[Transaction] = []
        self.connections = 0
        self.commands: List[Tuple[int, str]] = []    # (connection, command line)
        self._cond = threading.Condition()
        self._controller = None

    # --- aiosmtpd plumbing ---------------------------------------------------

    def _make_controller(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        relay = self

        class RecordingSMTP(SMTP):
            def connection_made(self, transport):
                with relay._cond:
                    relay.connections += 1
                    self._vsm_conn = relay.connections
                    self._vsm_refused = []
                super().connection_made(transport)

            async def smtp_MAIL(self, arg):
                self._vsm_refused = []
                with relay._cond:
                    relay.commands.append((self._vsm_conn, f"MAIL {arg}"))
                return await super().smtp_MAIL(arg)

            async def smtp_RCPT(self, arg):
                with relay._cond:
                    relay.commands.append((self._vsm_conn, f"RCPT {arg}"))
                return await super().smtp_RCPT(arg)

            async def smtp_DATA(self, arg):
                await super().smtp_DATA(arg)
                n = relay.drop_after
                if n is not None and getattr(self, "_vsm_data", 0) >= n:
                    # the reply is out (close() flushes it): drop
                    self.transport.close()

            async def smtp_RSET(self, arg):
                with relay._cond:
                    relay.commands.append((self._vsm_conn, "RSET"))
                return await super().smtp_RSET(arg)

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, mail_options):
                resp = relay.mail_hook(address) if relay.mail_hook else None
                if resp:
                    return resp
                envelope.mail_from = address
                envelope.mail_options.extend(mail_options)
                return "250 2.1.0 OK"

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                resp = relay.rcpt_hook(address) if relay.rcpt_hook else None
                if resp:
                    server._vsm_refused.append((address, resp))
                    return resp
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.extend(rcpt_options)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                mail_from = envelope.mail_from
                t = Transaction(
                    connection=server._vsm_conn,
                    peer=tuple(session.peer) if session.peer else ("", 0),
                    helo=session.host_name or "",
                    mail_from="" if mail_from == "<>" else mail_from,
                    mail_options=list(envelope.mail_options),
                    rcpt_tos=list(envelope.rcpt_tos),
                    rcpt_refused=list(server._vsm_refused),
                    data=bytes(envelope.original_content),
                    # a queue id the way Postfix words it, as the
                    # plugin's log line and event pick it up
                    response=f"250 2.0.0 Ok: queued as Q{len(relay.transactions) + 1:05d}")
                resp = relay.data_hook(t) if relay.data_hook else None
                if resp:
                    t.response = resp
                server._vsm_refused = []
                server._vsm_data = getattr(server, "_vsm_data", 0) + 1
                with relay._cond:
                    relay.transactions.append(t)
                    relay._cond.notify_all()
                return t.response

        class RecordingController(Controller):
            def factory(self):
                return RecordingSMTP(self.handler, **self.SMTP_kwargs)

        return RecordingController(Handler(), hostname=self.host, port=self.port,
                                   server_hostname=self.hostname,
                                   data_size_limit=self.data_size_limit,
                                   enable_SMTPUTF8=True, decode_data=False,
                                   ident="vsmstack relay")

    def start(self) -> "Relay":
        if self.port is None:
            self.port = free_port()
        self._controller = self._make_controller()
        self._controller.start()
        wait_tcp(self.host, self.port, banner=b"220")
        self.clear()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            with contextlib.suppress(Exception):
                self._controller.stop()
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- inspection ----------------------------------------------------------

    def clear(self) -> None:
        with self._cond:
            self.transactions.clear()
            self.commands.clear()
            self.connections = 0

    def snapshot(self) -> List[Transaction]:
        with self._cond:
            return list(self.transactions)

    def wait_for(self, n: int, timeout: float = 10.0) -> List[Transaction]:
        """Wait until at least n transactions were recorded."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.transactions) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.transactions)

    def recipients(self) -> List[str]:
        """Accepted recipients over all transactions whose DATA was accepted."""
        return [r for t in self.snapshot() if t.accepted for r in t.rcpt_tos]

    def by_recipient(self) -> Dict[str, List[Transaction]]:
        out: Dict[str, List[Transaction]] = {}
        for t in self.snapshot():
            if t.accepted:
                for r in t.rcpt_tos:
                    out.setdefault(r, []).append(t)
        return out


# --------------------------------------------------------------------------
# SMTP relay stand-in: postfix's smtp-sink (fast; fault injection by option)

SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    """`smtp-sink` on 127.0.0.1:<port>, started and stopped by its PID.

    options: smtp-sink's own, e.g. ["-r", "MAIL"] (4xx to MAIL), ["-f",
    "DATA"] (5xx), ["-Q", "RCPT"] (421 and disconnect), ["-w", "5"] (wait
    before answering DATA).  dump=True writes one file per transaction
    into <workdir>/sink-<port>/ (envelope as X-Mail-Args:/X-Rcpt-Args:,
    CR stripped) for recipients()/messages().  restart() keeps the port."""

    def __init__(self, workdir: str, port: Optional[int] = None,
                 options: Sequence[str] = (), dump: bool = True,
                 backlog: int = 256):
        self.workdir = workdir
        self.port = port
        self.options = list(options)
        self.dump = dump
        self.backlog = backlog
        self.proc: Optional[subprocess.Popen] = None
        self.dump_dir: Optional[str] = None

    def start(self) -> "SmtpSink":
        if self.port is None:
            self.port = free_port()
        args = [SMTP_SINK]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        if self.dump:
            self.dump_dir = os.path.join(self.workdir, f"sink-{self.port}")
            os.makedirs(self.dump_dir, exist_ok=True)
            os.chmod(self.dump_dir, 0o777)
            args += ["-d", os.path.join(self.dump_dir, "%Y%m%d%H%M%S.")]
        args += self.options + [f"127.0.0.1:{self.port}", str(self.backlog)]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_tcp("127.0.0.1", self.port, proc=self.proc, banner=b"220")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None

    def restart(self, options: Optional[Sequence[str]] = None) -> "SmtpSink":
        self.stop()
        if options is not None:
            self.options = list(options)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def messages(self) -> List[Tuple[str, List[str], bytes]]:
        """(mail from, recipients, message) of each dumped transaction."""
        out = []
        if not self.dump_dir:
            return out
        for name in sorted(os.listdir(self.dump_dir)):
            with open(os.path.join(self.dump_dir, name), "rb") as f:
                data = f.read()
            head, _, msg = data.partition(b"\nReceived: ")
            mail_from, rcpts = "", []
            for line in head.split(b"\n"):
                if line.startswith(b"X-Mail-Args: "):
                    mail_from = line[13:].split(b" ")[0].decode().strip("<>")
                elif line.startswith(b"X-Rcpt-Args: "):
                    rcpts.append(line[13:].split(b" ")[0].decode().strip("<>"))
            out.append((mail_from, rcpts, b"Received: " + msg))
        return out

    def recipients(self) -> List[str]:
        return [r for _, rcpts, _ in self.messages() for r in rcpts]

    def clear(self) -> None:
        if self.dump_dir:
            for name in os.listdir(self.dump_dir):
                os.unlink(os.path.join(self.dump_dir, name))


# --------------------------------------------------------------------------
# Dovecot

@dataclass
class LmtpResult:
    """Outcome of one LMTP delivery: per recipient (code, text)."""
    rcpt: Dict[str, Tuple[int, str]]     # RCPT TO stage answers
    data: Dict[str, Tuple[int, str]]     # per-recipient answers after DATA
    mail: Tuple[int, str] = (0, "")

    def code(self, rcpt: str) -> int:
        """Final code for rcpt: the DATA answer if RCPT was accepted."""
        if rcpt in self.data:
            return self.data[rcpt][0]
        return self.rcpt.get(rcpt, (0, ""))[0]

    def text(self, rcpt: str) -> str:
        if rcpt in self.data:
            return self.data[rcpt][1]
        return self.rcpt.get(rcpt, (0, ""))[1]


# The sanitizer mode: the master clears its children's environment but
# for import_environment. ASan reserves terabytes of address space for its
# shadow memory, more than any vsz_limit allows. LeakSanitizer reads /proc
# when a process exits, which a chrooted service cannot (anvil), from a
# clone of the process, which the login processes forbid themselves
# (RLIMIT_NPROC 1): they never load the plugin and run without the preload.
# Nor does the dict server (Dovecot's SQL drivers, none of our code), which
# in Dovecot 2.3.19 crashes when its PostgreSQL connection is refused
# (doc/dict.md): without the preload that is the log line and the
# temporary failure the tests assert, as in the normal run. Nor do the
# auth processes, where LeakSanitizer's own tracer crashed at exit in one
# suite run ("Tracer caught signal 11 ... LeakSanitizer has encountered a
# fatal error"): a report about the sanitizer, not about a leak.
SANITIZER_CONF = sanitize.IMPORT_ENVIRONMENT + """
default_vsz_limit = 0
service anvil {
  chroot =
}
""" + "".join(f"service {name} {{\n  executable = /usr/bin/env -u LD_PRELOAD "
              f"/usr/lib/dovecot/{binary}\n}}\n"
              for name, binary in (("imap-login", "imap-login"),
                                   ("managesieve-login", "managesieve-login"),
                                   ("pop3-login", "pop3-login"),
                                   ("submission-login", "submission-login"),
                                   ("dict", "dict"),
                                   ("auth", "auth"),
                                   ("auth-worker", "auth -w")))


class Dovecot:
    """A private Dovecot instance (root master, mail users as vsmlist-test)."""

    def __init__(self, workdir: str, relay_port: int,
                 plugin: bool = True, plugin_dir: Optional[str] = None,
                 mail_debug: bool = False,
                 plugin_settings: Optional[Dict[str, str]] = None,
                 protocols: Sequence[str] = ("lmtp",),
                 extra_conf: str = "",
                 hostname: str = "mx.lists.example",
                 mail_user: str = MAIL_USER,
                 sanitizer_options: Optional[Dict[str, str]] = None,
                 doveadm_plugin: bool = False,
                 doveadm_http: bool = False):
        self.workdir = workdir
        self.relay_port = relay_port
        self.plugin = plugin
        self.plugin_dir_src = plugin_dir
        self.mail_debug = mail_debug
        self.plugin_settings = dict(plugin_settings or {})
        self.protocols = list(protocols)
        self.extra_conf = extra_conf
        self.hostname = hostname
        self.uid, self.gid = ensure_mail_user(mail_user)
        self.instance_name = "vsm" + secrets.token_hex(4)
        self.base_dir = os.path.join(workdir, "run")
        self.state_dir = os.path.join(workdir, "state")
        self.home_root = os.path.join(workdir, "home")
        self.global_dir = os.path.join(workdir, "global")
        self.conf_path = os.path.join(workdir, "dovecot.conf")
        self.users_path = os.path.join(workdir, "users")
        self.log_path = os.path.join(workdir, "dovecot.log")
        self.lmtp_socket = os.path.join(self.base_dir, "lmtp")
        self.lmtp_port: Optional[int] = None
        self.imap_port: Optional[int] = None
        self.managesieve_port: Optional[int] = None
        # Dovecot's own submission service (protocols has "submission")
        self.submission_listener_port: Optional[int] = None
        self.plugin_dir: Optional[str] = None
        # doveadm vsmlist: the master (doveadm's HTTP server) and every
        # doveadm() call run in a mount namespace where this directory is
        # doveadm's module directory
        self.doveadm_plugin = doveadm_plugin
        self.doveadm_module_dir: Optional[str] = None
        self.doveadm_http = doveadm_http
        self.doveadm_http_port: Optional[int] = None
        self.doveadm_api_key = secrets.token_hex(16)
        self.users: Dict[str, Dict[str, str]] = {}
        self.proc: Optional[subprocess.Popen] = None
        # the sanitizer mode: where Dovecot's processes write their reports
        self.sanitizer_dir = (os.path.join(workdir, "sanitizer")
                              if sanitize.ENABLED else None)
        self.sanitizer_options = dict(sanitizer_options or {})

    # --- configuration -------------------------------------------------------

    @staticmethod
    def find_plugin_dir(explicit: Optional[str] = None) -> Optional[str]:
        """Directory holding lib90_sieve_vsmlist_plugin.so, or None."""
        cands = []
        if explicit:
            cands.append(explicit)
        env = os.environ.get("VSMLIST_BUILD_DIR")
        if env:
            cands += [env, os.path.join(env, ".libs"), os.path.join(env, "src", ".libs")]
        if sanitize.ENABLED:
            cands.append(os.path.join(sanitize.BUILD_DIR, "src", ".libs"))
        else:
            cands += [os.path.join(REPO_DIR, "src", ".libs"), os.path.join(REPO_DIR, "src")]
        for d in cands:
            if os.path.isfile(os.path.join(d, PLUGIN_SO)):
                return d
        return None

    def _install_plugin(self) -> str:
        """Copy the built plugin into the work dir: the build tree may not be
        readable by the mail user, and a rebuild must not change it mid-test."""
        src = self.find_plugin_dir(self.plugin_dir_src)
        if src is None:
            raise StackError(f"{PLUGIN_SO} not found (set VSMLIST_BUILD_DIR or build src/)")
        dst = os.path.join(self.workdir, "plugins")
        os.makedirs(dst, exist_ok=True)
        shutil.copy2(os.path.join(src, PLUGIN_SO), os.path.join(dst, PLUGIN_SO))
        os.chmod(dst, 0o755)
        os.chmod(os.path.join(dst, PLUGIN_SO), 0o755)
        # sieve_plugin_dir is one directory for all Sieve plugins: link
        # Pigeonhole's own (sieve_imapsieve, sieve_extprograms) next to ours
        # so that sieve_plugins may name them too.
        for so in glob.glob(os.path.join(SIEVE_MODULE_DIR, "lib*_sieve_*_plugin.so")):
            link = os.path.join(dst, os.path.basename(so))
            if not os.path.lexists(link):
                os.symlink(so, link)
        self.plugin_source_dir = src
        return dst

    def _install_doveadm_plugin(self) -> str:
        """doveadm's module directory for this instance: copies of the
        system's doveadm plugins (doveadm sieve ...) and ours. Copies, not
        links: the directory is mounted over the system's, which a link
        would then point back into."""
        src = self.find_plugin_dir(self.plugin_dir_src)
        if src is None or not os.path.isfile(os.path.join(src, DOVEADM_PLUGIN_SO)):
            raise StackError(f"{DOVEADM_PLUGIN_SO} not found (set VSMLIST_BUILD_DIR or build src/)")
        dst = os.path.join(self.workdir, "doveadm-modules")
        os.makedirs(dst, exist_ok=True)
        os.chmod(dst, 0o755)
        for so in glob.glob(os.path.join(DOVEADM_MODULE_DIR, "*.so")) + \
                [os.path.join(src, DOVEADM_PLUGIN_SO)]:
            target = os.path.join(dst, os.path.basename(so))
            shutil.copy2(so, target)
            os.chmod(target, 0o644)
        return dst

    def _tool_command(self, cmd: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
        """cmd (the master, doveadm) and its environment (tool_env()).
        With doveadm_plugin it runs where DOVEADM_MODULE_DIR is the
        instance's module directory: a private mount namespace (unshare(1)
        makes its mounts private), so that the system and other processes
        never see it. unshare and sh exec, so the PID is cmd's; they and
        mount run without the sanitizer's preload, env(1) gives it to cmd
        only."""
        if self.doveadm_module_dir is None:
            return list(cmd), self.tool_env()
        preload = [] if not self.sanitizer_dir else [
            "/usr/bin/env", *(f"{k}={v}" for k, v in sanitize.host_env(
                self.sanitizer_dir, self.sanitizer_options).items())]
        return [UNSHARE, "--mount", "--propagation", "private",
                "/bin/sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"',
                "sh", self.doveadm_module_dir, DOVEADM_MODULE_DIR,
                *preload, *cmd], dict(os.environ)

    def _doveadm_server_executable(self) -> str:
        """In the sanitizer mode, doveadm's server runs without leak checks:
        it serves each request with the user's effective uid (a temporary
        privilege drop), which leaves the process undumpable, and
        LeakSanitizer cannot trace such a process at its exit (a "fatal
        error" report). Memory errors are still checked there; the same
        commands run by the doveadm CLI are leak-checked."""
        if not self.sanitizer_dir:
            return ""
        options = dict(self.sanitizer_options, detect_leaks="0")
        asan = sanitize.options(self.sanitizer_dir, options)["ASAN_OPTIONS"]
        return (f"  executable = /usr/bin/env ASAN_OPTIONS={asan} "
                "/usr/lib/dovecot/doveadm-server\n")

    def _conf(self) -> str:
        inet = lambda port: f"address = 127.0.0.1\n    port = {port}"
        plugin_lines = {
            "sieve": "file:~/sieve;active=~/.dovecot.sieve",
        }
        if self.plugin:
            plugin_lines.update({
                "sieve_plugin_dir": self.plugin_dir,
                "sieve_plugins": "sieve_vsmlist",
                "sieve_global_extensions": "+vnd.vsmlist",
            })
        plugin_lines.update(self.plugin_settings)
        plugin_block = "\n".join(f"  {k} = {v}" for k, v in plugin_lines.items())
        sanitizer = SANITIZER_CONF if self.sanitizer_dir else ""
        unlimited = ""
        if self.sanitizer_dir:
            # after the caller's settings: a vsz_limit of theirs (a bound
            # the normal run enforces) would keep ASan from starting
            limited = re.findall(r"service\s+(\S+)\s*\{[^}]*\bvsz_limit\b", self.extra_conf)
            unlimited = "".join(f"service {name} {{\n  vsz_limit = 0\n}}\n"
                                for name in limited)
        doveadm_http = ""
        if self.doveadm_http:
            doveadm_http = f"""doveadm_api_key = {self.doveadm_api_key}
service doveadm {{
  inet_listener http {{
    {inet(self.doveadm_http_port)}
  }}
{self._doveadm_server_executable()}}}
"""
        return f"""# generated by vsmstack.py
{sanitizer}
instance_name = {self.instance_name}
base_dir = {self.base_dir}
state_dir = {self.state_dir}
protocols = {' '.join(self.protocols)}
listen = 127.0.0.1
ssl = no
hostname = {self.hostname}
postmaster_address = postmaster@lists.example
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
mail_debug = {'yes' if self.mail_debug else 'no'}
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
mail_location = maildir:~/Maildir
disable_plaintext_auth = no
auth_mechanisms = plain
submission_host = 127.0.0.1:{self.relay_port}
recipient_delimiter = +

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_path}/%Lu
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_path}/%Lu
}}

service lmtp {{
  inet_listener lmtp {{
    {inet(self.lmtp_port)}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service imap-login {{
  inet_listener imap {{
    {inet(self.imap_port or 0)}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    {inet(self.submission_listener_port or 0)}
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    {inet(self.managesieve_port or 0)}
  }}
}}

protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
protocol lda {{
  mail_plugins = $mail_plugins sieve
}}

plugin {{
{plugin_block}
}}
{doveadm_http}{self.extra_conf}
{unlimited}"""

    def _write_user(self, user: str) -> None:
        """One passwd-file per user (userdb path has %u): Dovecot stats a
        passwd-file at most once per second and would not see a user added
        to a shared file within that second; a new file is always read."""
        fields = self.users[user]
        extra = " ".join(f"userdb_{k}={v}" for k, v in fields.items())
        line = f"{user}:{{PLAIN}}pass:{self.uid}:{self.gid}::{self.home(user)}::{extra}\n"
        path = os.path.join(self.users_path, user.lower())
        os.makedirs(self.users_path, exist_ok=True)
        os.chmod(self.users_path, 0o755)
        if os.path.exists(path):
            # redefinition: make sure the next sync sees another mtime
            time.sleep(1.1)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)

    # --- users -----------------------------------------------------------------

    def home(self, user: str) -> str:
        return os.path.join(self.home_root, user)

    def add_user(self, user: str, **fields: str) -> str:
        """Create (or redefine) a mail user; keyword arguments are userdb
        extra fields, i.e. per-user settings (sieve_extensions='+vnd.vsmlist',
        sieve_vsmlist_batch_size='2', sieve_before='/path' ...).  Values must
        not contain white space (passwd-file splits extra fields on spaces;
        ':' is fine).  Returns the home directory."""
        for k, v in fields.items():
            if re.search(r"\s", str(v)):
                raise StackError(f"userdb field {k}={v!r}: no white space allowed")
        self.users[user] = {k: str(v) for k, v in fields.items()}
        self._write_user(user)
        home = self.home(user)
        os.makedirs(home, exist_ok=True)
        os.chown(home, self.uid, self.gid)
        os.chmod(home, 0o700)
        return home

    def write_user_file(self, user: str, relpath: str, content: Union[str, bytes],
                        mode: int = 0o600) -> str:
        """Write a file in the user's home (owned by the mail user)."""
        path = os.path.join(self.home(user), relpath)
        d = os.path.dirname(path)
        rel_dirs = []
        while not os.path.isdir(d):
            rel_dirs.append(d)
            d = os.path.dirname(d)
        for dd in reversed(rel_dirs):
            os.mkdir(dd, 0o700)
            os.chown(dd, self.uid, self.gid)
        data = content.encode() if isinstance(content, str) else content
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)
        return path

    def write_global_script(self, name: str, text: str) -> str:
        """An administrator's script (for sieve_before/sieve_after/...).
        The directory is owned by the mail user so that Pigeonhole can store
        the compiled binary next to it."""
        os.makedirs(self.global_dir, exist_ok=True)
        os.chown(self.global_dir, self.uid, self.gid)
        path = os.path.join(self.global_dir, name if name.endswith(".sieve") else name + ".sieve")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, self.uid, self.gid)
        for b in glob.glob(path[:-len(".sieve")] + ".svbin"):
            os.unlink(b)
        return path

    # --- process ---------------------------------------------------------------

    def start(self) -> "Dovecot":
        for d in (self.base_dir, self.state_dir, self.home_root):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        if self.plugin:
            self.plugin_dir = self._install_plugin()
        if self.doveadm_plugin:
            self.doveadm_module_dir = self._install_doveadm_plugin()
        self.lmtp_port = self.lmtp_port or free_port()
        if self.doveadm_http:
            self.doveadm_http_port = self.doveadm_http_port or free_port()
        if "imap" in self.protocols:
            self.imap_port = self.imap_port or free_port()
        if "sieve" in self.protocols:
            self.managesieve_port = self.managesieve_port or free_port()
        if "submission" in self.protocols:
            self.submission_listener_port = self.submission_listener_port or free_port()
        os.makedirs(self.users_path, exist_ok=True)
        os.chmod(self.users_path, 0o755)
        with open(self.conf_path, "w") as f:
            f.write(self._conf())
        open(self.log_path, "a").close()
        if self.sanitizer_dir:
            sanitize.make_report_dir(self.sanitizer_dir)
            sanitize.REPORT_DIRS.add(self.sanitizer_dir)
        argv, env = self._tool_command([DOVECOT, "-F", "-c", self.conf_path])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_tcp("127.0.0.1", self.lmtp_port, timeout=15, proc=self.proc, banner=b"220")
            wait_unix(self.lmtp_socket, timeout=5, banner=b"220")
            if self.doveadm_http:
                wait_tcp("127.0.0.1", self.doveadm_http_port, timeout=5, proc=self.proc)
        except StackError as e:
            out = b""
            if self.proc.poll() is not None and self.proc.stdout:
                out = self.proc.stdout.read()
            self.stop()
            raise StackError(f"dovecot did not start: {e}\n{out.decode(errors='replace')}\n"
                             f"log:\n{self.log()}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            # a process writes its leak report when it exits: wait for all
            # of them, not only for the master
            children = sanitize.descendants(self.proc.pid) if self.sanitizer_dir else []
            stop_pid(self.proc, timeout=15)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None
            left = sanitize.wait_gone(children)
            if left:
                raise StackError(f"Dovecot's processes {left} still running after its master stopped")

    def tool_env(self) -> Dict[str, str]:
        """The environment for Dovecot's programs (the master, doveadm,
        dovecot-lda): in the sanitizer mode with libasan preloaded."""
        env = dict(os.environ)
        if self.sanitizer_dir:
            env.update(sanitize.host_env(self.sanitizer_dir, self.sanitizer_options))
        return env

    def sanitizer_reports(self) -> List[str]:
        return sanitize.reports(self.sanitizer_dir) if self.sanitizer_dir else []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- doveadm / sieve scripts ------------------------------------------------

    def doveadm(self, *args: str, input: Optional[bytes] = None,
                check: bool = False) -> subprocess.CompletedProcess:
        argv, env = self._tool_command([DOVEADM, "-c", self.conf_path, *args])
        p = subprocess.run(argv, input=input, env=env, capture_output=True, timeout=60)
        if check and p.returncode != 0:
            raise StackError(f"doveadm {' '.join(args)} failed ({p.returncode}):\n"
                             f"{p.stdout.decode(errors='replace')}{p.stderr.decode(errors='replace')}")
        return p

    def doveadm_api(self, commands: list) -> Tuple[int, object]:
        """POST commands ([[name, {params}, tag], ...]) to doveadm's HTTP
        API; returns the HTTP status and the decoded JSON answer."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.doveadm_http_port}/doveadm/v1",
            data=json.dumps(commands).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": "X-Dovecot-API " +
                     base64.b64encode(self.doveadm_api_key.encode()).decode()})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def sieve_put(self, user: str, script: str, name: str = "main",
                  activate: bool = True) -> subprocess.CompletedProcess:
        """Compile, store and (by default) activate a personal script with
        `doveadm sieve put`.  Raises SieveCompileError when refused."""
        args = ["sieve", "put", "-u", user]
        if activate:
            args.append("-a")
        args.append(name)
        p = self.doveadm(*args, input=script.encode())
        if p.returncode != 0:
            raise SieveCompileError(user, name, (p.stdout + p.stderr).decode(errors="replace"))
        return p

    def install_script_file(self, user: str, script: str, name: str = "main") -> str:
        """Put a personal script in place WITHOUT compiling it (as a user with
        shell access could): ~/sieve/NAME.sieve, activated by the
        ~/.dovecot.sieve symlink.  Delivery compiles it."""
        path = self.write_user_file(user, f"sieve/{name}.sieve", script)
        link = os.path.join(self.home(user), ".dovecot.sieve")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(link)
        os.symlink(f"sieve/{name}.sieve", link)
        os.lchown(link, self.uid, self.gid)
        return path

    # --- delivery -----------------------------------------------------------------

    def deliver(self, msg: Union[str, bytes], mail_from: str,
                rcpt_tos: Union[str, Sequence[str]], unix: bool = False,
                timeout: float = 60.0) -> LmtpResult:
        """Deliver one message over LMTP; per-recipient answers (smtplib's
        LMTP reads only one reply after DATA, so this does DATA by hand)."""
        if isinstance(rcpt_tos, str):
            rcpt_tos = [rcpt_tos]
        data = crlf(msg)
        if unix:
            conn = smtplib.LMTP(self.lmtp_socket, timeout=timeout)
        else:
            conn = smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=timeout)
        res = LmtpResult(rcpt={}, data={})
        try:
            code, resp = conn.ehlo("client.test")
            if code != 250:
                raise StackError(f"LHLO refused: {code} {resp!r}")
            res.mail = conn.mail(mail_from)
            if res.mail[0] != 250:
                raise StackError(f"MAIL FROM refused: {res.mail}")
            accepted = []
            for r in rcpt_tos:
                code, resp = conn.rcpt(r)
                res.rcpt[r] = (code, resp.decode(errors="replace"))
                if code == 250:
                    accepted.append(r)
            if accepted:
                conn.putcmd("data")
                code, resp = conn.getreply()
                if code != 354:
                    raise StackError(f"DATA refused: {code} {resp!r}")
                q = smtplib._quote_periods(data)
                if not q.endswith(b"\r\n"):
                    q += b"\r\n"
                conn.send(q + b".\r\n")
                for r in accepted:
                    code, resp = conn.getreply()
                    res.data[r] = (code, resp.decode(errors="replace"))
            with contextlib.suppress(Exception):
                conn.quit()
        finally:
            conn.close()
        return res

    def lda(self, msg: bytes, user: str, sender: str,
            timeout: float = 60.0) -> subprocess.CompletedProcess:
        """dovecot-lda -c <conf> -d <user> -f <sender> < msg, as root (it
        drops to the user's uid itself, after a userdb lookup through the
        master's auth socket)."""
        return subprocess.run([DOVECOT_LDA, "-c", self.conf_path, "-d", user,
                               "-f", sender], input=msg, env=self.tool_env(),
                              capture_output=True, timeout=timeout)

    def imap(self, user: str, password: str = "pass", timeout: float = 30.0):
        """An imaplib.IMAP4 connection logged in as user (protocols must
        include "imap"; plaintext LOGIN is allowed on the loopback listener)."""
        import imaplib
        if self.imap_port is None:
            raise StackError('IMAP not enabled: protocols=("lmtp", "imap")')
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=timeout)
        try:
            typ, data = c.login(user, password)
        except imaplib.IMAP4.error as e:
            with contextlib.suppress(Exception):
                c.shutdown()
            raise StackError(f"IMAP login of {user} failed: {e}")
        return c

    def managesieve(self, user: Optional[str] = None, password: str = "pass") -> "ManageSieve":
        """A ManageSieve connection (protocols must include "sieve"),
        authenticated as user if given."""
        if self.managesieve_port is None:
            raise StackError('ManageSieve not enabled: protocols=("lmtp", "sieve")')
        c = ManageSieve("127.0.0.1", self.managesieve_port)
        if user is not None:
            status, text = c.authenticate(user, password)
            if status != "OK":
                c.close()
                raise StackError(f"ManageSieve login of {user} failed: {text}")
        return c

    # --- inspection ----------------------------------------------------------------

    def maildir(self, user: str, folder: str = "INBOX") -> str:
        base = os.path.join(self.home(user), "Maildir")
        return base if folder.upper() == "INBOX" else os.path.join(base, "." + folder)

    def messages(self, user: str, folder: str = "INBOX") -> List[bytes]:
        """Messages stored in a folder (new/ and cur/), oldest first."""
        d = self.maildir(user, folder)
        files = glob.glob(os.path.join(d, "new", "*")) + glob.glob(os.path.join(d, "cur", "*"))
        files.sort(key=lambda p: (os.path.getmtime(p), p))
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def sieve_log(self, user: str) -> str:
        p = os.path.join(self.home(user), ".dovecot.sieve.log")
        if not os.path.exists(p):
            return ""
        with open(p, errors="replace") as f:
            return f.read()

    def log(self) -> str:
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_mark(self) -> int:
        """Current end of the log; pass to log_since() / wait_log()."""
        return os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0

    def log_since(self, mark: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def exported_events(self, mark: int, name: str, n: int = 1,
                        timeout: float = 5.0,
                        message_id: Optional[str] = None) -> List[dict]:
        """The fields of the events called name that the exporter of
        EVENT_EXPORTER_CONF logged since mark (only those of the post with
        this Message-ID, if given), in order; waits until there are n or
        timeout seconds have passed."""
        pattern = re.compile(r'(\{"event":"' + re.escape(name) + r'".*\})\s*$')
        deadline = time.monotonic() + timeout
        while True:
            found = []
            for line in self.log_since(mark).splitlines():
                m = pattern.search(line)
                if not m:
                    continue
                fields = json.loads(m.group(1)).get("fields", {})
                if message_id is None or fields.get("message_id") == message_id:
                    found.append(fields)
            if len(found) >= n or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def wait_log(self, mark: int, pattern: str, timeout: float = 5.0,
                 flags: int = re.I) -> List[str]:
        """Log lines after mark matching the regex; waits for at least one
        (the log process writes asynchronously).  Returns [] on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [l for l in self.log_since(mark).splitlines() if re.search(pattern, l, flags)]
            if lines or time.monotonic() >= deadline:
                return lines
            time.sleep(0.05)


# --------------------------------------------------------------------------
# ManageSieve (RFC 5804): just enough of a client for the tests

class ManageSieve:
    """Minimal ManageSieve client: authenticate (PLAIN), capability,
    putscript, setactive, listscripts, getscript.  Each command returns
    (status, text) with status "OK"/"NO"/"BYE"; literals are read whole."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        self.greeting = self._response()

    def _line(self) -> bytes:
        line = self.f.readline()
        if not line:
            raise StackError("ManageSieve connection closed")
        return line

    def _response(self) -> Tuple[str, str]:
        """Read up to and including the status line (OK/NO/BYE ...)."""
        lines: List[str] = []
        while True:
            line = self._line()
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            while m:                   # a literal: read it, then the rest of the line
                lit = self.f.read(int(m.group(1)))
                line = line[:m.start()] + b'"' + lit + b'"' + self._line()
                m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            word = text.split(" ", 1)[0].upper()
            if word in ("OK", "NO", "BYE"):
                return word, "\n".join(lines + [text])
            lines.append(text)

    def command(self, cmd: str, literal: Optional[bytes] = None) -> Tuple[str, str]:
        if literal is None:
            self.sock.sendall(cmd.encode() + b"\r\n")
        else:
            self.sock.sendall(cmd.encode() + b" {%d+}\r\n" % len(literal) + literal + b"\r\n")
        return self._response()

    @staticmethod
    def _q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def authenticate(self, user: str, password: str = "pass") -> Tuple[str, str]:
        tok = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.command(f'AUTHENTICATE "PLAIN" "{tok}"')

    def capability(self) -> Dict[str, str]:
        status, text = self.command("CAPABILITY")
        caps = {}
        for line in text.splitlines()[:-1]:
            m = re.match(r'"([^"]*)"(?: "(.*)")?$', line)
            if m:
                caps[m.group(1).upper()] = m.group(2) or ""
        return caps

    def putscript(self, name: str, script: str) -> Tuple[str, str]:
        return self.command(f"PUTSCRIPT {self._q(name)}", script.encode())

    def checkscript(self, script: str) -> Tuple[str, str]:
        return self.command("CHECKSCRIPT", script.encode())

    def setactive(self, name: str) -> Tuple[str, str]:
        return self.command(f"SETACTIVE {self._q(name)}")

    def logout(self) -> None:
        with contextlib.suppress(Exception):
            self.command("LOGOUT")
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.f.close()
        with contextlib.suppress(Exception):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.logout()


# --------------------------------------------------------------------------
# the whole stack

class Stack:
    """dnsmasq + relay + Dovecot in one temporary directory.

        with Stack(dkim_domains=["author.example"]) as st:
            st.dovecot.add_user("friends@lists.example", sieve_extensions="+vnd.vsmlist")
            ...
    """

    def __init__(self, plugin: bool = True, mail_debug: bool = False,
                 dkim_domains: Iterable[Union[str, Tuple[str, str]]] = ("author.example",),
                 txt_records: Optional[Dict[str, Union[str, Sequence[str]]]] = None,
                 plugin_settings: Optional[Dict[str, str]] = None,
                 protocols: Sequence[str] = ("lmtp",),
                 dovecot_extra_conf: str = "",
                 dns_extra_conf: Sequence[str] = (),
                 relay_kwargs: Optional[dict] = None,
                 submission_port: Optional[int] = None,
                 dns_servers_setting: bool = True,
                 member_db=None,
                 keep_tmp: Optional[bool] = None,
                 sanitizer_options: Optional[Dict[str, str]] = None,
                 doveadm_plugin: bool = False,
                 doveadm_http: bool = False):
        self.plugin = plugin
        self.doveadm_plugin = doveadm_plugin
        self.doveadm_http = doveadm_http
        self.mail_debug = mail_debug
        self.dkim_domains = list(dkim_domains)
        self.txt_records = dict(txt_records or {})
        self.plugin_settings = dict(plugin_settings or {})
        self.protocols = protocols
        self.dovecot_extra_conf = dovecot_extra_conf
        self.dns_extra_conf = list(dns_extra_conf)
        self.relay_kwargs = dict(relay_kwargs or {})
        # Dovecot's submission_host: the relay stand-in, unless a real MTA
        # in front (postfix_stack) is to be Dovecot's relay
        self.submission_port = submission_port
        self.dns_servers_setting = dns_servers_setting
        # A pgstack.Postgres: Dovecot gets the dict "vsmlist" on it, and
        # add_list(store="dict") lists whose members are rows there
        self.member_db = member_db
        # more ASAN_OPTIONS for this stack's Dovecot in the sanitizer mode
        self.sanitizer_options = sanitizer_options
        self.keep_tmp = (os.environ.get("VSMLIST_KEEP_TMP") == "1") if keep_tmp is None else keep_tmp
        self.workdir: Optional[str] = None
        self.dns: Optional[DnsServer] = None
        self.relay: Optional[Relay] = None
        self.dovecot: Optional[Dovecot] = None
        self.dkim_keys: Dict[str, DkimKey] = {}
        # list address (lower case) -> the kind of its member store
        self.list_stores: Dict[str, str] = {}

    def start(self) -> "Stack":
        try:
            self.workdir = tempfile.mkdtemp(prefix="vsm", dir="/tmp")
            os.chmod(self.workdir, 0o755)
            for d in self.dkim_domains:
                dom, sel = (d, "sel1") if isinstance(d, str) else d
                self.dkim_keys[dom] = DkimKey(dom, sel)
            self.dns = DnsServer(self.workdir, txt_records=self.txt_records,
                                 extra_conf=self.dns_extra_conf)
            for k in self.dkim_keys.values():
                self.dns.add_txt(k.txt_name, k.txt_value)
            self.dns.start()
            self.relay = Relay(**self.relay_kwargs).start()
            settings = {}
            if self.dns_servers_setting:
                settings["sieve_vsmlist_dns_servers"] = f"127.0.0.1:{self.dns.port}"
            settings.update(self.plugin_settings)
            extra_conf = self.dovecot_extra_conf
            if self.member_db is not None:
                extra_conf += self.member_db.dict_config(
                    self.workdir, grp.getgrgid(ensure_mail_user()[1]).gr_name)
            self.dovecot = Dovecot(self.workdir, self.submission_port or self.relay.port,
                                   plugin=self.plugin,
                                   mail_debug=self.mail_debug, plugin_settings=settings,
                                   protocols=self.protocols,
                                   extra_conf=extra_conf,
                                   sanitizer_options=self.sanitizer_options,
                                   doveadm_plugin=self.doveadm_plugin,
                                   doveadm_http=self.doveadm_http)
            self.dovecot.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        errors = []
        for comp in (self.dovecot, self.relay, self.dns):
            if comp is not None:
                try:
                    comp.stop()
                except Exception as e:       # keep stopping the others
                    errors.append(e)
        reports = self.dovecot.sanitizer_reports() if self.dovecot else []
        if reports and not os.environ.get(sanitize.SESSION_DIR_ENV):
            # no test session checks them (sieve-tests/conftest.py does)
            errors.append(StackError("sanitizer reports:\n" + sanitize.describe(reports)))
        # the reports stay where they are, with the logs that go with them
        if self.workdir and not self.keep_tmp and not reports:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise StackError(f"errors while stopping: {errors!r}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- conveniences ------------------------------------------------------------

    def dkim_sign(self, msg: bytes, domain: str = "author.example", **kw) -> bytes:
        return self.dkim_keys[domain].sign(msg, **kw)

    def dkim_verify(self, msg: bytes, idx: int = 0) -> bool:
        """Verify signature number idx (0 = topmost) against dnsmasq's keys."""
        d = dkim.DKIM(msg, minkey=1024)
        try:
            return bool(d.verify(idx=idx, dnsfunc=self.dns.get_txt))
        except dkim.DKIMException:
            return False

    def add_list(self, address: str, members: Optional[Sequence[str]] = None,
                 script: str = 'require "vnd.vsmlist";\ndistribute;\n',
                 members_text: Optional[str] = None, store: str = "file",
                 **fields: str) -> str:
        """A list user with sieve_extensions=+vnd.vsmlist, its members and
        its personal script (compiled by doveadm).

        store="file": the members file ~/vsmlist/members; store="dict":
        sieve_vsmlist_members=dict:proxy::vsmlist and the members as rows
        of the stack's member_db (members_text read as a member file would
        be: comments and blank lines left out).

        Pigeonhole gotcha: an extension that is also in
        sieve_global_extensions is flagged global and then refused in personal
        scripts ("its use is restricted to global scripts") even when
        sieve_extensions lists it.  The stack enables +vnd.vsmlist globally
        (for admin scripts), so a ManageSieve-style list user also gets
        sieve_global_extensions=-vnd.vsmlist."""
        fields.setdefault("sieve_extensions", "+vnd.vsmlist")
        if self.plugin and script is not None:
            fields.setdefault("sieve_global_extensions", "-vnd.vsmlist")
        if store == "dict":
            import pgstack
            fields.setdefault("sieve_vsmlist_members", pgstack.DICT_URI)
        elif store != "file":
            raise StackError(f"unknown member store kind {store!r}")
        home = self.dovecot.add_user(address, **fields)
        self.list_stores[address.lower()] = store
        if members_text is None and members is not None:
            members_text = "".join(m + "\n" for m in members)
        if members_text is not None:
            self.write_members(address, members_text, store)
        if script is not None:
            self.dovecot.sieve_put(address, script)
        return home

    def store_kind(self, address: str) -> str:
        """"file" or "dict": the member store add_list() gave the list
        (pgstack.list_members() and member_states() read it)."""
        return self.list_stores.get(address.lower(), "file")

    def write_members(self, address: str, members_text: str, store: str = "file") -> None:
        """Replace a list's members: its member file, or its rows in the
        member database."""
        if store == "dict":
            import pgstack
            self.member_db.set_members(address, pgstack.members_from_text(members_text))
        else:
            self.dovecot.write_user_file(address, "vsmlist/members", members_text)
