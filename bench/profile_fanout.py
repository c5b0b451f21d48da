#!/usr/bin/python3
"""Where the LMTP process spends its CPU while it distributes one post.

A profiling aid for the fan-out benchmark (bench/fanout_bench.py), not a
test: the same private Dovecot, list and smtp-sink as the benchmark; one
LMTP session is opened, the LMTP process serving it (a fresh one:
service_count = 1) is found by its "Connect from" log line, and
`perf record` is attached to that process by its PID for the DATA of the
session, i.e. for the whole delivery of the post. Then the functions with
the largest share of the samples are printed (self time, one line each).

    /usr/bin/python3 bench/profile_fanout.py [--members 100000] [--top 25]
                        [--call-graph fp|dwarf] [--callgrind] [--keep]

Run as root, with Debian's linux-perf installed. The CPU clock is sampled
(cpu-clock: works in VMs without hardware counters); the samples show
time, including cache misses, but vary with the load of a shared machine.

--callgrind instead runs the LMTP processes under valgrind's callgrind
(the service's executable) and prints the instructions the delivering
process executed: exact and repeatable, blind to cache misses, about 50
times slower. Besides the functions by self instructions it prints the
inclusive share of the steps of a delivery (reading the members, the
fan-out, the SMTP client).

Functions of Dovecot's libraries are named only where the symbol is
exported; static ones appear as addresses of their library.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fanout_bench as fb  # noqa: E402

PERF = "/usr/bin/perf"
VALGRIND = "/usr/bin/valgrind"
CALLGRIND_ANNOTATE = "/usr/bin/callgrind_annotate"
LMTP = "/usr/lib/dovecot/lmtp"


def lmtp_pid(bench, mark):
    """PID of the LMTP process serving the session opened after mark."""
    for _ in range(100):
        pids = re.findall(r"lmtp\((\d+)\): Info: Connect from",
                          bench.log_since(mark))
        if pids:
            return int(pids[-1])
        time.sleep(0.05)
    raise RuntimeError("no 'Connect from' line of the LMTP process")


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waits(pid):
    """Times a process has waited so far (voluntary context switches:
    each wait for the relay's reply, for the disk ...)."""
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"voluntary_ctxt_switches:\s+(\d+)", f.read())
    return int(m.group(1))


@contextlib.contextmanager
def lmtp_session(bench, user, timeout):
    """An LMTP session up to DATA: yields (connection, PID of the LMTP
    process serving it)."""
    mark = bench.dovecot.log_mark()
    conn = smtplib.LMTP("127.0.0.1", bench.dovecot.lmtp_port,
                        timeout=timeout)
    try:
        conn.ehlo("bench.test")
        conn.mail(fb.AUTHOR)
        conn.rcpt(user)
        yield conn, lmtp_pid(bench, mark)
        conn.quit()
    finally:
        conn.close()


def profile_delivery(bench, user, msg, perf_data, call_graph):
    """Deliver msg to user with perf attached for the DATA; returns the
    LMTP reply code, the wall time of the DATA, the CPU time the LMTP
    process spent on it and the number of times it waited."""
    with lmtp_session(bench, user, 600) as (conn, pid):
        perf = subprocess.Popen([PERF, "record", "-q", "-F", "4999",
                                 "--call-graph", call_graph,
                                 "-o", perf_data, "-p", str(pid)],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1)       # perf attaches
        cpu, waited = cpu_seconds(pid), waits(pid)
        start = time.monotonic()
        code, _ = conn.data(msg)
        wall = time.monotonic() - start
        cpu, waited = cpu_seconds(pid) - cpu, waits(pid) - waited
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    return code, wall, cpu, waited


def patient_wait(connect, banner):
    """Wait until a server greets with banner, however long it takes to
    (up to 2 minutes): connect() returns a connected socket."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with connect() as s:
                s.settimeout(60)
                if banner is None or s.recv(512).startswith(banner):
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def patient_wait_tcp(host, port, timeout=None, proc=None, banner=None):
    """vsmstack.wait_tcp() for an LMTP process under valgrind"""
    patient_wait(lambda: socket.create_connection((host, port), timeout=60),
                 banner)


def patient_wait_unix(path, timeout=None, banner=None):
    """vsmstack.wait_unix() for an LMTP process under valgrind"""
    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(60)
            s.connect(path)
        except OSError:
            s.close()
            raise
        return s
    patient_wait(connect, banner)


def callgrind_delivery(bench, user, msg):
    """Deliver msg to user with the LMTP process under callgrind (the
    service's executable is valgrind); returns the LMTP reply code and
    the path of callgrind's output, written when the process exits."""
    with lmtp_session(bench, user, 3600) as (conn, pid):
        code, _ = conn.data(msg)
    out = os.path.join(bench.workdir, "callgrind", f"callgrind.out.{pid}")
    for _ in range(600):
        if not os.path.exists(f"/proc/{pid}") and os.path.exists(out):
            return code, out
        time.sleep(0.1)
    raise RuntimeError(f"no callgrind output {out}")


def callgrind_functions(out, top):
    """(instructions, share %, symbol) of the top functions by self
    instructions, the process's total and the inclusive instructions of
    the steps of a delivery."""
    def annotate(*opts):
        return subprocess.run([CALLGRIND_ANNOTATE, *opts, out],
                              capture_output=True, text=True,
                              check=True).stdout

    def rows(text):
        for line in text.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*?)"
                         r"(?:\s+\[.*\])?$", line)
            if m:
                yield (int(m.group(1).replace(",", "")), float(m.group(2)),
                       m.group(3))
    total = re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS",
                      annotate())
    total = int(total.group(1).replace(",", "")) if total else 0
    self_rows = [r for r in rows(annotate("--threshold=99"))
                 if r[2] != "PROGRAM TOTALS"][:top]
    steps = {}
    for ir, _, sym in rows(annotate("--inclusive=yes", "--threshold=100")):
        name = sym.split(":", 1)[-1].split(" ")[0]
        if name in STEPS and name not in steps:
            steps[name] = ir
    return total, self_rows, steps


# The steps of a delivery whose inclusive cost is printed
STEPS = ("act_distribute_execute", "vsmlist_members_read_file",
         "vsmlist_fanout_send", "vsmlist_smtp_send")


def top_functions(perf_data, top):
    """(share %, symbol, library) of the top functions by self time."""
    out = subprocess.run(
        [PERF, "report", "-i", perf_data, "--stdio", "--no-children",
         "-g", "none", "-F", "overhead,sym,dso", "--percent-limit", "0.5"],
        capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[[.k]\]\s+(.*?)\s{2,}(\S+)\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3)))
    return rows[:top]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=100000)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--call-graph", default="fp",
                    help="perf record --call-graph (fp, dwarf); look at "
                    "the call chains with --keep and perf report")
    ap.add_argument("--callgrind", action="store_true",
                    help="count instructions with valgrind's callgrind "
                    "instead of sampling with perf (slow, but exact)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (and perf.data in it)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (private Dovecot, smtp-sink, perf)")
    tool = VALGRIND if args.callgrind else PERF
    if not os.path.exists(tool):
        sys.exit(f"{tool} missing (apt-get install "
                 f"{'valgrind' if args.callgrind else 'linux-perf'})")

    workdir = tempfile.mkdtemp(prefix="vsmprof", dir="/tmp")
    os.chmod(workdir, 0o755)
    sink = fb.Sink(workdir)
    bench = None
    lmtp_service = ""
    if args.callgrind:
        outdir = os.path.join(workdir, "callgrind")
        os.makedirs(outdir)
        os.chmod(outdir, 0o1777)
        # valgrind needs more address space than Dovecot's default limit
        lmtp_service = (f"  executable = {VALGRIND} --tool=callgrind "
                        f"--callgrind-out-file={outdir}/callgrind.out.%p "
                        f"{LMTP}\n  vsz_limit = 0\n")
        # An LMTP process under valgrind takes seconds to greet
        fb.vsmstack.wait_tcp = patient_wait_tcp
        fb.vsmstack.wait_unix = patient_wait_unix
    try:
        bench = fb.Bench(workdir, sink, lmtp_service)
        user = f"list{args.members}@lists.example"
        members = [f"m{i:06d}@example{i % 10}.net"
                   for i in range(args.members)]
        bench.add_list(user, members, 'require "vnd.vsmlist";\ndistribute;\n')
        if args.callgrind:
            code, out = callgrind_delivery(bench, user, fb.make_post(user))
            total, rows, steps = callgrind_functions(out, args.top)
        else:
            perf_data = os.path.join(workdir, "perf.data")
            code, wall, cpu, waited = profile_delivery(
                bench, user, fb.make_post(user), perf_data, args.call_graph)
            rows = top_functions(perf_data, args.top)
    finally:
        if bench is not None:
            bench.stop()
        sink.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory: {workdir}", file=sys.stderr)

    if args.callgrind:
        print(f"{args.members:,} members: LMTP {code}; the LMTP process "
              f"executed {total:,} instructions, of which:\n")
        for name in STEPS:
            if name in steps:
                print(f"{steps[name]:>15,} {100 * steps[name] / total:6.2f}%"
                      f"  {name} (inclusive)")
        print("\nits functions by self instructions:\n")
        for ir, share, sym in rows:
            print(f"{ir:>15,} {share:6.2f}%  {sym}")
        return
    print(f"{args.members:,} members: LMTP {code}, DATA took "
          f"{fb.fmt_time(wall)}, {fb.fmt_time(cpu)} CPU of the LMTP process, "
          f"which waited {waited:,} times; its functions by self time:\n")
    for share, sym, dso in rows:
        print(f"{share:6.2f}%  {sym}  ({dso})")


if __name__ == "__main__":
    main()
