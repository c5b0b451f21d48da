#!/usr/bin/python3
"""Peak memory of wrapping: a 50 KB and a 50 MB post to a p=reject list.

A benchmark, not a test: it prints figures and asserts only that each post
really went out wrapped (otherwise the figures would mean nothing).

    /usr/bin/python3 bench/wrap_memory.py [--sizes 50K,50M] [--members 3]
                                          [--reference]

What runs: the real-stack harness (sieve-tests/integration/vsmstack.py):
dnsmasq with _dmarc.reject.example "p=reject", the aiosmtpd relay that
keeps every DATA byte, and a private Dovecot with LMTP + Pigeonhole + the
built plugin.  Each post is LMTP-delivered to a list whose author domain
is p=reject, so it is wrapped (multipart/mixed with the original as
message/rfc822) and sent to the members in one SMTP transaction.

How the peak RSS is measured (one fresh lmtp process per measurement):

* The stack's config gets `service lmtp { service_count = 1 }`: every
  LMTP connection is served by a new lmtp process that exits after that
  one connection, so no earlier delivery's heap inflates the figure.
* The script opens its own LMTP connection and waits for the greeting;
  the process that serves it is identified twice, and both must agree:
  by the `lmtp(<pid>): Info: Connect from 127.0.0.1` line that the
  process logs after our log mark, and by /proc: a child of the Dovecot
  master this script started, whose process title is
  `dovecot-<instance_name>/lmtp` (the stack's unique instance name).
  Nothing is ever found or stopped by name.
* It delivers the post (LHLO, MAIL, RCPT, DATA) and reads the per-rcpt
  reply, but does not QUIT yet: the process stays alive with the whole
  delivery behind it, and /proc/<pid>/status VmHWM (the kernel's
  resident-set high-water mark for the process's lifetime) is read then.
  No polling, so no peak can fall between two samples.  Then QUIT, and the
  process exits as service_count=1 says.
* VmHWM covers the whole lmtp process: Dovecot's own buffering of the
  incoming DATA (LMTP spools large mails to a temporary file), Pigeonhole,
  the plugin's scan and the SMTP client streaming the wrapped copy.  If
  wrapping were not streamed, the 50 MB row would show the post (or the
  wrapped copy) resident, i.e. tens of MB more than the 50 KB row.

"delivery wall time" is from the DATA command to the LMTP reply: LMTP
receiving the post, Sieve, the DMARC lookup, wrapping and sending it to
the relay (the relay is a Python sink in this process, so it is part of
the time; the time is not a throughput figure of the plugin alone).

--reference adds a 50 MB p=none post (sent untouched) as a baseline for
what LMTP itself costs at that size.
"""

import argparse
import os
import re
import smtplib
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sieve-tests", "integration"))

import vsmstack  # noqa: E402
from vsmstack import crlf, make_message  # noqa: E402

LIST = "bench@lists.example"
ZONE = {
    "_dmarc.reject.example": "v=DMARC1; p=reject",
    "_dmarc.none.example": "v=DMARC1; p=none",
}
# one fresh lmtp process per LMTP connection (see the docstring)
EXTRA_CONF = """
service lmtp {
  service_count = 1
  process_min_avail = 0
}
"""


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    return int(m.group(1)) * {"": 1, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3}[m.group(2)]


def make_post(author: str, size: int) -> bytes:
    """A 7-bit text post of about `size` octets (CRLF lines of 76)."""
    head = make_message(from_addr=author, to=LIST, subject=f"{size} octets",
                        body="").rstrip(b"\r\n") + b"\r\n\r\n"
    line = b"The quick brown fox jumps over the lazy dog; 0123456789 ABCDEFGHIJKLMNOP.\r\n"
    n = max(1, (size - len(head)) // len(line))
    return head + line * n


def proc_status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def lmtp_children(master_pid: int, instance: str):
    """PIDs of the lmtp processes whose parent is our Dovecot master (their
    title is "dovecot-<instance_name>/lmtp")."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")[0]
        except (OSError, ValueError, IndexError):
            continue
        if ppid == master_pid and cmd == f"dovecot-{instance}/lmtp".encode():
            pids.append(int(d))
    return pids


def find_lmtp_pid(st, mark: int) -> int:
    """The lmtp process serving the connection just opened (log + /proc)."""
    deadline = time.monotonic() + 5
    while True:
        logged = [int(p) for p in re.findall(r"lmtp\((\d+)\): Info: Connect from 127\.0\.0\.1",
                                             st.dovecot.log_since(mark))]
        children = lmtp_children(st.dovecot.proc.pid, st.dovecot.instance_name)
        if logged and logged[-1] in children:
            if len(logged) != 1:
                raise RuntimeError(f"more than one LMTP connection since the mark: {logged}")
            return logged[-1]
        if time.monotonic() > deadline:
            raise RuntimeError(f"lmtp process not found (log {logged}, children {children})")
        time.sleep(0.02)


def deliver_measured(st, msg: bytes, sender: str, rcpt: str):
    """Deliver over a connection of our own; VmHWM of its lmtp process read
    after the reply, before QUIT.  Returns (code, text, seconds, hwm_kB, pid)."""
    mark = st.dovecot.log_mark()
    conn = smtplib.LMTP("127.0.0.1", st.dovecot.lmtp_port, timeout=300)
    try:
        pid = find_lmtp_pid(st, mark)
        code, _ = conn.ehlo("bench.test")
        assert code == 250
        assert conn.mail(sender)[0] == 250
        assert conn.rcpt(rcpt)[0] == 250
        data = smtplib._quote_periods(crlf(msg))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        start = time.monotonic()
        conn.putcmd("data")
        code, resp = conn.getreply()
        assert code == 354, (code, resp)
        conn.send(data + b".\r\n")
        code, resp = conn.getreply()
        elapsed = time.monotonic() - start
        status = proc_status(pid)                 # still alive: no QUIT yet
        hwm_kb = int(status["VmHWM"].split()[0])
        conn.quit()
    finally:
        conn.close()
    return code, resp.decode(errors="replace"), elapsed, hwm_kb, pid


def fmt_size(n: int) -> str:
    for unit, div in (("MB", 1000 ** 2), ("KB", 1000)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="50K,50M",
                    help="post sizes, comma-separated (K/M = 10^3/10^6 octets)")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--reference", action="store_true",
                    help="also a 50 MB untouched (p=none) post as a baseline")
    args = ap.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    members = [f"m{i}@example.net" for i in range(1, args.members + 1)]
    runs = [("wrapped", "Ann <ann@reject.example>", s) for s in sizes]
    if args.reference:
        runs.append(("untouched", "Cid <cid@none.example>", 50 * 1000 ** 2))

    if os.geteuid() != 0:
        print("must run as root (Dovecot master, dnsmasq)", file=sys.stderr)
        return 2
    st = vsmstack.Stack(plugin=True, txt_records=ZONE, dkim_domains=[],
                        dovecot_extra_conf=EXTRA_CONF)
    st.start()
    rows = []
    try:
        st.add_list(LIST, members=members)
        for kind, author, size in runs:
            msg = make_post(author, size)
            sender = author.split("<")[1].rstrip(">")
            st.relay.clear()
            code, text, secs, hwm, pid = deliver_measured(st, msg, sender, LIST)
            if code != 250:
                raise RuntimeError(f"delivery failed: {code} {text}\n{st.dovecot.log()[-3000:]}")
            txs = st.relay.snapshot()
            got = sorted(r for t in txs if t.accepted for r in t.rcpt_tos)
            if got != sorted(members):
                raise RuntimeError(f"relay got {got}")
            out = txs[0].data
            head = out[:out.index(b"\r\n\r\n")]
            is_wrapped = b"Content-Type: multipart/mixed" in head and b"message/rfc822" in out
            if is_wrapped != (kind == "wrapped"):
                raise RuntimeError(f"{kind} post went out {'wrapped' if is_wrapped else 'untouched'}")
            rows.append((kind, len(msg), len(out), secs, hwm, pid))
            del msg, out, txs
            st.relay.clear()
    finally:
        st.stop()

    print()
    print(f"{'post':>10} {'kind':>10} {'at the relay':>13} {'delivery':>9} "
          f"{'lmtp VmHWM':>11}  lmtp pid")
    for kind, size, out, secs, hwm, pid in rows:
        print(f"{fmt_size(size):>10} {kind:>10} {fmt_size(out):>13} {secs:>8.2f}s "
              f"{hwm / 1024:>8.1f} MB  {pid}")
    base = rows[0][4]
    for kind, size, out, secs, hwm, pid in rows[1:]:
        print(f"VmHWM {fmt_size(size)} {kind} - {fmt_size(rows[0][1])} {rows[0][0]}: "
              f"{(hwm - base) / 1024:+.1f} MB")
    print(f"\n{args.members} member(s), one SMTP transaction each; "
          "one fresh lmtp process per row (service_count = 1)")
    print("reproduce: cd " + os.path.dirname(HERE) + " && scripts/build.sh && "
          "/usr/bin/python3 bench/wrap_memory.py" + (" --reference" if args.reference else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
