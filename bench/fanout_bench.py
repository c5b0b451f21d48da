#!/usr/bin/python3
"""Fan-out benchmark: one post of 4 KB to lists of 1,000, 10,000 and
100,000 members, all sent to the same relay stand-in (postfix's smtp-sink
on loopback), printing one table:

* vsmlist: one LMTP delivery to a list user of a private Dovecot with the
  plugin (sieve_vsmlist_batch_size 1000, DMARC lookups off); wall time of
  the LMTP session, peak RSS (VmHWM) of the LMTP process that delivered it
  (a fresh one per delivery: service_count = 1);
* mlmmj: stock mlmmj in group mode (control/verp empty, maxverprecips
  100), `mlmmj-receive -F` timed to its end, peak RSS of its processes;
* redirect: Pigeonhole's own redirect, one command per member, as far as
  it goes (a delivery with more than 100 redirects fails);
* smtp-source: postfix's load generator pushing the same post with the
  same batch size over one connection (it waits for each reply: no
  PIPELINING, so it is no ceiling);
* the raw pipelined client (bench/pipelined_client.c, compiled here):
  the message vsmlist sends (captured from a delivery to the same list
  through a relay that keeps it), the same envelope sender, members and
  batch size, each transaction's MAIL, RCPTs, DATA, message and final dot
  written in one go, then its replies read: what the relay itself takes.

vsmlist and the raw client run --repeat times each, alternately, and the
table shows the median run of each (the machine is shared: single runs
vary). SMTP transactions are counted by the relay (smtp-sink -c). Run as
root (bench/run.sh installs what is needed, builds the plugin and runs
this):

    bench/run.sh                 # the whole table
    bench/run.sh --sizes 1000    # other list sizes
    bench/run.sh --sizes 10000 --disabled 1000   # a list with disabled members
"""

import argparse
import contextlib
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sieve-tests", "integration"))

import vsmstack  # noqa: E402

SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
MLMMJ_MAKE_ML = "/usr/bin/mlmmj-make-ml"
MLMMJ_RECEIVE = "/usr/bin/mlmmj-receive"

AUTHOR = "author@author.example"
BATCH = 1000
MLMMJ_BATCH = 100
REDIRECT_LIMIT = 100          # Pigeonhole: the 101st redirect of a delivery fails
SCRIPT = 'require "vnd.vsmlist";\ndistribute;\n'
PIPELINED_CLIENT_SRC = os.path.join(HERE, "pipelined_client.c")


def make_post(to):
    """A 4 KB post (ASCII, CRLF)."""
    para = ("The quick brown fox jumps over the lazy dog; "
            "a list post of plain text. ") * 2 + "\n"
    body = ""
    while len(body) < 3600:
        body += para
    msg = vsmstack.make_message(from_addr=f"Author <{AUTHOR}>", to=to,
                                subject="Benchmark post", body=body)
    return msg


class Sink:
    """smtp-sink with counters (-c), no dump: as fast as the relay gets."""

    def __init__(self, workdir):
        self.port = vsmstack.free_port()
        self.out = os.path.join(workdir, "sink.out")
        self.f = open(self.out, "wb")
        args = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        self.proc = subprocess.Popen(args + [f"127.0.0.1:{self.port}", "1024"],
                                     stdout=self.f, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        vsmstack.wait_tcp("127.0.0.1", self.port, proc=self.proc, banner=b"220")

    def messages(self):
        """Transactions the sink has completed so far."""
        time.sleep(0.05)
        with open(self.out, "rb") as f:
            counts = re.findall(rb"mesg=(\d+)", f.read())
        return int(counts[-1]) if counts else 0

    def stop(self):
        vsmstack.stop_pid(self.proc)
        self.f.close()


GNU_TIME = "/usr/bin/time"


def run_measured(args, stdin=None, timeout=3600):
    """(wall seconds, exit code, peak RSS kB, stderr) of a command. GNU
    time reports the largest RSS of the command's processes (a process
    forked from this Python would count Python's own pages as well)."""
    start = time.monotonic()
    p = subprocess.run([GNU_TIME, "-f", "MAXRSS %M"] + args,
                       stdin=stdin, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    wall = time.monotonic() - start
    m = re.search(rb"MAXRSS (\d+)", p.stderr)
    return wall, p.returncode, int(m.group(1)) if m else None, \
        p.stderr.decode(errors="replace")


def fmt_time(s):
    return f"{s:.2f} s" if s >= 0.1 else f"{s * 1000:.0f} ms"


def fmt_rss(kb):
    return "-" if kb is None else f"{kb / 1024:.1f} MB"


class Row:
    def __init__(self, size, system, wall=None, txs=None, rss_kb=None, note=""):
        self.size, self.system, self.wall = size, system, wall
        self.txs, self.rss_kb, self.note = txs, rss_kb, note

    @property
    def rate(self):
        return self.size / self.wall if self.wall else None


# ---------------------------------------------------------------------------
# vsmlist and redirect: LMTP into a private Dovecot

class Bench:
    def __init__(self, workdir, sink, lmtp_service=""):
        """lmtp_service: more settings of `service lmtp` (profiling)."""
        self.workdir = workdir
        self.sink = sink
        self.dovecot = vsmstack.Dovecot(
            workdir, sink.port, plugin=True, mail_debug=False,
            plugin_settings={"sieve_vsmlist_dmarc": "none",
                             "sieve_vsmlist_batch_size": str(BATCH)},
            extra_conf="service lmtp {\n  service_count = 1\n"
            + lmtp_service + "}\n")
        self.dovecot.start()

    def stop(self):
        self.dovecot.stop()

    def add_list(self, user, members, script, **fields):
        fields.setdefault("sieve_extensions", "+vnd.vsmlist")
        fields.setdefault("sieve_global_extensions", "-vnd.vsmlist")
        self.dovecot.add_user(user, **fields)
        self.dovecot.write_user_file(user, "vsmlist/members",
                                     "".join(m + "\n" for m in members))
        self.dovecot.sieve_put(user, script)

    def deliver(self, user, msg):
        """One LMTP session; returns (wall seconds, code, text, VmHWM kB)."""
        mark = self.dovecot.log_mark()
        start = time.monotonic()
        conn = smtplib.LMTP("127.0.0.1", self.dovecot.lmtp_port, timeout=600)
        try:
            conn.ehlo("bench.test")
            conn.mail(AUTHOR)
            conn.rcpt(user)
            code, text = conn.data(msg)
            wall = time.monotonic() - start
            rss = self._lmtp_hwm(mark)
            conn.quit()
        finally:
            conn.close()
        return wall, code, text.decode(errors="replace"), rss

    def _lmtp_hwm(self, mark):
        """VmHWM of the LMTP process serving the current session (still
        alive: the session is open)."""
        log = self.dovecot.log_since(mark)
        pids = re.findall(r"lmtp\((\d+)\): Info: Connect from", log)
        if not pids:
            return None
        with contextlib.suppress(OSError):
            with open(f"/proc/{pids[-1]}/status") as f:
                m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
                return int(m.group(1)) if m else None
        return None

    def log_since(self, mark):
        return self.dovecot.log_since(mark)


def capture_sent(bench, capture, size, members):
    """(envelope sender, message) of what vsmlist sends for a post to the
    list of this size: one delivery to the same list, with one member and
    a relay that keeps what it gets (the list's own submission host).
    Then the list is set up for the benchmark (all members, smtp-sink)."""
    user = f"list{size}@lists.example"
    bench.add_list(user, members[:1], SCRIPT,
                   sieve_vsmlist_submission_host=f"127.0.0.1:{capture.port}")
    capture.clear()
    _, code, text, _ = bench.deliver(user, make_post(user))
    sent = capture.wait_for(1)
    if code != 250 or len(sent) != 1:
        raise RuntimeError(f"capturing the message failed: LMTP {code} {text}")
    bench.add_list(user, members, SCRIPT)
    return sent[0].mail_from, sent[0].data


def run_vsmlist(bench, size, user=None, system="vsmlist (LMTP, plugin)",
                expect=None):
    """expect: the members a post goes to (default: size)"""
    user = user or f"list{size}@lists.example"
    expect = size if expect is None else expect
    before = bench.sink.messages()
    mark = bench.dovecot.log_mark()
    wall, code, text, rss = bench.deliver(user, make_post(user))
    txs = bench.sink.messages() - before
    note = ""
    if code != 250:
        note = f"LMTP {code} {text[:60]}"
    else:
        m = re.search(r"distributed to (\d+) member", bench.log_since(mark))
        if not m or int(m.group(1)) != expect:
            note = "incomplete: " + (m.group(0) if m else "no log line")
    return Row(size, system, wall, txs, rss, note)


def run_disabled(bench, size, members, disabled, repeat):
    """The same list with `disabled` of its members disabled (by bounces,
    as members.state records them): what the store's state costs a
    delivery beside the plain list's row."""
    user = f"disabled{size}@lists.example"
    disabled = min(disabled, size)
    step = size // disabled if disabled else 0
    now = int(time.time())
    state = "vsmlist-state 1\n" + "".join(
        f"disabled 5 {now} {now} {members[i * step]}\n"
        for i in range(disabled))
    bench.add_list(user, members, SCRIPT)
    bench.dovecot.write_user_file(user, "vsmlist/members.state", state)
    return [run_vsmlist(bench, size, user,
                        f"vsmlist, {disabled:,} disabled",
                        expect=size - disabled)
            for _ in range(repeat)]


def run_redirect(bench, size, members):
    n = min(size, REDIRECT_LIMIT + 1)
    user = f"redir{size}@lists.example"
    script = "".join(f'redirect "{m}";\n' for m in members[:n])
    bench.dovecot.add_user(user, sieve_max_redirects=str(n),
                           sieve_max_actions=str(n + 10))
    bench.dovecot.sieve_put(user, script)
    before = bench.sink.messages()
    wall, code, text, rss = bench.deliver(user, make_post(user))
    txs = bench.sink.messages() - before
    if n < size or code != 250:
        return Row(size, "Pigeonhole redirect", None, txs, rss,
                   f"fails: {n} redirects -> LMTP {code}, {txs} sent "
                   f"(failure keep); at most {REDIRECT_LIMIT} per delivery")
    return Row(size, "Pigeonhole redirect", wall, txs, rss)


# ---------------------------------------------------------------------------
# mlmmj, group mode

def run_mlmmj(workdir, sink, size, members):
    spool = os.path.join(workdir, f"mlmmj{size}")
    os.makedirs(spool)
    answers = "lists.example\npostmaster@lists.example\n\n"
    subprocess.run([MLMMJ_MAKE_ML, "-s", spool, "-L", "bench"], input=answers.encode(),
                   check=True, capture_output=True)
    listdir = os.path.join(spool, "bench")
    ctl = os.path.join(listdir, "control")
    for name, value in (("relayhost", "127.0.0.1"), ("smtpport", str(sink.port)),
                        ("maxverprecips", str(MLMMJ_BATCH)), ("verp", ""),
                        ("tocc", "")):
        with open(os.path.join(ctl, name), "w") as f:
            f.write(value + ("\n" if value else ""))
    with open(os.path.join(listdir, "subscribers.d", "m"), "w") as f:
        f.write("".join(m + "\n" for m in members))
    post = make_post("bench@lists.example")
    path = os.path.join(workdir, f"post{size}.eml")
    with open(path, "wb") as f:
        f.write(post.replace(b"\r\n", b"\n"))
    before = sink.messages()
    with open(path, "rb") as f:
        wall, rc, rss, err = run_measured(
            [MLMMJ_RECEIVE, "-F", "-s", AUTHOR, "-L", listdir], stdin=f)
    txs = sink.messages() - before
    note = "" if rc == 0 else f"exit {rc}: {err[:80]!r}"
    return Row(size, f"mlmmj group mode ({MLMMJ_BATCH}/tx)", wall, txs, rss, note)


# ---------------------------------------------------------------------------
# smtp-source: the ceiling

def run_smtp_source(workdir, sink, size):
    path = os.path.join(workdir, f"source{size}.eml")
    with open(path, "wb") as f:
        f.write(make_post("bench@lists.example").replace(b"\r\n", b"\n"))
    m, rest = divmod(size, BATCH)
    assert rest == 0, "list sizes must be multiples of the batch size"
    before = sink.messages()
    wall, rc, rss, err = run_measured(
        [SMTP_SOURCE, "-d", "-s", "1", "-m", str(m), "-r", str(BATCH),
         "-f", "list+bounces@lists.example", "-t", "member@example.net",
         "-F", path, f"127.0.0.1:{sink.port}"])
    note = "" if rc == 0 else f"exit {rc}: {err[:80]!r}"
    return Row(size, f"smtp-source ({BATCH}/tx)", wall,
               sink.messages() - before, rss, note)


def build_pipelined_client(workdir):
    path = os.path.join(workdir, "pipelined-client")
    subprocess.run(["cc", "-O2", "-Wall", "-o", path, PIPELINED_CLIENT_SRC],
                   check=True)
    return path


def run_pipelined(client, workdir, sink, size, members, mail_from, message):
    """The relay's own bound: the raw pipelined client. Its time is its
    own, from connecting to the end (as vsmlist's is that of the LMTP
    session), not that of starting the process and reading the files."""
    members_path = os.path.join(workdir, f"members{size}")
    message_path = os.path.join(workdir, f"sent{size}.eml")
    if not os.path.exists(members_path):
        with open(members_path, "w") as f:
            f.write("".join(m + "\n" for m in members))
        with open(message_path, "wb") as f:
            f.write(message)
    before = sink.messages()
    wall, rc, rss, err = run_measured(
        [client, "127.0.0.1", str(sink.port), str(BATCH), mail_from,
         members_path, message_path])
    note = "" if rc == 0 else f"exit {rc}: {err[:80]!r}"
    m = re.search(r"elapsed ([\d.]+)", err)
    if m:
        wall = float(m.group(1))
    return Row(size, f"raw pipelined client ({BATCH}/tx)", wall,
               sink.messages() - before, rss, note)


def median_row(runs):
    """The run of median wall time (an odd number of runs); the peak RSS
    is the largest of all runs. The note lists every run."""
    timed = sorted((r for r in runs if r.wall), key=lambda r: r.wall)
    if len(timed) < len(runs) or not timed:
        return next(r for r in runs if not r.wall or r.note)
    row = timed[(len(timed) - 1) // 2]
    rss = [r.rss_kb for r in runs if r.rss_kb]
    notes = [r.note for r in runs if r.note]
    note = notes[0] if notes else ""
    if len(runs) > 1:
        note = (f"median of {len(runs)}: "
                + " ".join(fmt_time(r.wall) for r in runs) + " " + note)
    return Row(row.size, row.system, row.wall, row.txs,
               max(rss) if rss else None, note.strip())


# ---------------------------------------------------------------------------

def print_table(rows):
    head = ["members", "system", "wall time", "recipients/s", "SMTP transactions",
            "peak RSS", "note"]
    lines = [head]
    for r in rows:
        lines.append([f"{r.size:,}", r.system, fmt_time(r.wall) if r.wall else "-",
                      f"{r.rate:,.0f}" if r.rate else "-",
                      "-" if r.txs is None else f"{r.txs:,}", fmt_rss(r.rss_kb), r.note])
    widths = [max(len(l[i]) for l in lines) for i in range(len(head) - 1)]
    for i, l in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(l, widths)) + "  " + l[-1])
        if i == 0:
            print("  ".join("-" * w for w in widths) + "  " + "-" * 4)


def check_targets(rows):
    # the VERP row is a variant of vsmlist, not the one the targets are for
    by = {(r.size, r.system.split()[0]): r for r in rows
          if "VERP" not in r.system}
    ok = True
    print()
    v, ml, src = by.get((10000, "vsmlist")), by.get((10000, "mlmmj")), \
        by.get((10000, "smtp-source"))
    if v and ml and v.rate and ml.rate:
        f = v.rate / ml.rate
        print(f"10,000 members: vsmlist {f:.1f}x mlmmj group mode "
              f"(target >= 5x): {'ok' if f >= 5 else 'MISSED'}")
        ok &= f >= 5
    if v and src and v.rate and src.rate:
        f = v.rate / src.rate
        print(f"10,000 members: vsmlist {f:.2f}x smtp-source "
              f"(target >= 0.8x): {'ok' if f >= 0.8 else 'MISSED'}")
        ok &= f >= 0.8
    big, raw = by.get((100000, "vsmlist")), by.get((100000, "raw"))
    if big and raw and big.wall and raw.wall:
        f = big.wall / raw.wall
        print(f"100,000 members: vsmlist takes {f:.2f}x the time of the raw "
              f"pipelined client (target <= 3x): "
              f"{'ok' if f <= 3 else 'MISSED'}")
        ok &= f <= 3
    if big and big.rss_kb:
        mb = big.rss_kb / 1024
        print(f"100,000 members: vsmlist peak RSS {mb:.1f} MB "
              f"(target < 64 MB): {'ok' if mb < 64 else 'MISSED'}")
        ok &= mb < 64
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of vsmlist and the raw client per size "
                    "(the median is shown)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--disabled", type=int, default=0, metavar="N",
                    help="also run a list of the same size with N members "
                    "disabled (spread over the list, in members.state)")
    ap.add_argument("--verp", action="store_true",
                    help="also run a list with sieve_vsmlist_verp=yes "
                    "(one transaction per member)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (private Dovecot, smtp-sink)")
    for tool in (SMTP_SINK, SMTP_SOURCE, MLMMJ_RECEIVE, MLMMJ_MAKE_ML, GNU_TIME):
        if not os.path.exists(tool):
            sys.exit(f"{tool} missing (bench/run.sh installs it)")

    workdir = tempfile.mkdtemp(prefix="vsmbench", dir="/tmp")
    os.chmod(workdir, 0o755)
    sink = Sink(workdir)
    capture = vsmstack.Relay().start()
    bench = None
    rows = []
    try:
        client = build_pipelined_client(workdir)
        bench = Bench(workdir, sink)
        for size in args.sizes:
            members = [f"m{i:06d}@example{i % 10}.net" for i in range(size)]
            mail_from, message = capture_sent(bench, capture, size, members)
            vsm, raw = [], []
            for _ in range(args.repeat):
                vsm.append(run_vsmlist(bench, size))
                raw.append(run_pipelined(client, workdir, sink, size,
                                         members, mail_from, message))
            rows.append(median_row(vsm))
            rows.append(median_row(raw))
            if args.disabled:
                rows.append(median_row(run_disabled(bench, size, members,
                                                    args.disabled,
                                                    args.repeat)))
            if args.verp:
                verp_user = f"verp{size}@lists.example"
                bench.add_list(verp_user, members, SCRIPT,
                               sieve_vsmlist_verp="yes")
                rows.append(median_row([
                    run_vsmlist(bench, size, verp_user,
                                "vsmlist VERP (1 member/tx)")
                    for _ in range(args.repeat)]))
            rows.append(run_mlmmj(workdir, sink, size, members))
            if size <= 1000:
                rows.append(run_redirect(bench, size, members))
            rows.append(run_smtp_source(workdir, sink, size))
            print(f"... {size:,} members done", file=sys.stderr)
        # redirect where it still works: at most 100 members
        members = [f"m{i:06d}@example{i % 10}.net" for i in range(REDIRECT_LIMIT)]
        rows.append(run_redirect(bench, REDIRECT_LIMIT, members))
    finally:
        if bench is not None:
            bench.stop()
        capture.stop()
        sink.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"One 4 KB post, relay stand-in smtp-sink on 127.0.0.1, "
          f"{os.cpu_count()} CPU(s); vsmlist batch {BATCH}, "
          f"mlmmj maxverprecips {MLMMJ_BATCH}\n")
    print_table(rows)
    sys.exit(0 if check_targets(rows) else 1)


if __name__ == "__main__":
    main()
