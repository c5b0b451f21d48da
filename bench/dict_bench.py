#!/usr/bin/python3
"""Member store benchmark: a list of 100,000 members in a file (file:) and
in PostgreSQL through Dovecot's dict proxy (dict:proxy::vsmlist, the
configuration of doc/dict.md), one LMTP delivery each, printed against
each other:

* member test: a script whose `member` test asks about an address that
  is no member (nothing sent): a member file is read whole, a dict is
  asked about that address alone;
* distribute: the post sent to every member (smtp-sink on loopback as the
  relay, batches of 1000), the whole store read first.

Wall time of the LMTP session (the median of --runs deliveries) and peak
RSS (VmHWM) of the LMTP process that delivered it (a fresh one per
delivery: service_count = 1); for dict:, the CPU time of the dict server
and PostgreSQL, and the dict server's peak RSS over the whole run.
Target: dict: under 2x the time of file:.

Run as root after scripts/build.sh:

    /usr/bin/python3 bench/dict_bench.py [--members 100000] [--runs 3]
"""

import argparse
import os
import re
import shutil
import smtplib
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sieve-tests", "integration"))

import fanout_bench  # noqa: E402
import pgstack  # noqa: E402
import vsmstack  # noqa: E402

MEMBER_SCRIPT = ('require "vnd.vsmlist";\n'
               'if member :addresses "nobody@example.invalid" { discard; stop; }\n'
               'keep;\n')
DISTRIBUTE_SCRIPT = 'require "vnd.vsmlist";\ndistribute;\n'


class DictBench(fanout_bench.Bench):
    """fanout_bench's private Dovecot, with the dict "vsmlist" on pg"""

    def __init__(self, workdir, sink, pg):
        self.workdir = workdir
        self.sink = sink
        self.dovecot = vsmstack.Dovecot(
            workdir, sink.port, plugin=True, mail_debug=False,
            plugin_settings={"sieve_vsmlist_dmarc": "none",
                             "sieve_vsmlist_batch_size": str(fanout_bench.BATCH)},
            extra_conf="service lmtp {\n  service_count = 1\n}\n"
            + pg.dict_config(workdir, "vsmlist-test"))
        self.dovecot.start()

    def add_list(self, user, members, script, store, pg):
        fields = {"sieve_extensions": "+vnd.vsmlist",
                  "sieve_global_extensions": "-vnd.vsmlist"}
        if store == "dict":
            fields["sieve_vsmlist_members"] = pgstack.DICT_URI
        self.dovecot.add_user(user, **fields)
        if store == "dict":
            pg.sql(f"DELETE FROM vsmlist_member WHERE list = {pgstack.quote(user)}")
            pg.copy_members(user, members)
        else:
            self.dovecot.write_user_file(user, "vsmlist/members",
                                         "".join(m + "\n" for m in members))
        self.dovecot.sieve_put(user, script)

    def deliver_measured(self, user, msg):
        """One LMTP session: (wall seconds, CPU seconds of the LMTP process,
        its VmHWM kB, LMTP code, text)"""
        mark = self.dovecot.log_mark()
        start = time.monotonic()
        conn = smtplib.LMTP("127.0.0.1", self.dovecot.lmtp_port, timeout=600)
        try:
            conn.ehlo("bench.test")
            conn.mail(fanout_bench.AUTHOR)
            conn.rcpt(user)
            code, text = conn.data(msg)
            wall = time.monotonic() - start
            pids = re.findall(r"lmtp\((\d+)\): Info: Connect from",
                              self.dovecot.log_since(mark))
            cpu = rss = None
            if pids:
                cpu = stat_cpu(pids[-1])
                rss = self._lmtp_hwm(mark)
            conn.quit()
        finally:
            conn.close()
        return wall, cpu, rss, code, text.decode(errors="replace")

    def dict_server_hwm(self):
        """VmHWM (kB) of the dict server processes, the largest"""
        hwms = [status_kb(status, "VmHWM")
                for _, status in children(self.dovecot.proc.pid, b"/dict")]
        return max(hwms) if hwms else None

    def dict_server_cpu(self):
        """CPU seconds the dict server processes have used so far"""
        return sum(stat_cpu(pid) for pid, _ in
                   children(self.dovecot.proc.pid, b"/dict"))


def children(ppid, title_suffix=None):
    """(pid, /proc status text) of ppid's children, titled ...title_suffix"""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].rstrip()
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except OSError:
            continue
        if re.search(r"^PPid:\s+(\d+)", status, re.M).group(1) != str(ppid):
            continue
        if title_suffix is None or title.endswith(title_suffix):
            out.append((int(pid), status))
    return out


def status_kb(status, name):
    m = re.search(rf"^{name}:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) if m else 0


def stat_cpu(pid):
    """user + system CPU seconds of a process (0 once it is gone)"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(bench, pg):
    """CPU seconds of the dict server and of PostgreSQL's processes"""
    return bench.dict_server_cpu() + sum(stat_cpu(pid) for pid, _ in
                                         children(pg.proc.pid))


def measure(bench, pg, store, what, members, runs):
    user = f"{what.split()[0]}-{store}@lists.example"
    bench.add_list(user, members,
                   MEMBER_SCRIPT if what == "member test" else DISTRIBUTE_SCRIPT,
                   store, pg)
    walls, cpus, servers, rsss = [], [], [], []
    for _ in range(runs):
        mark = bench.dovecot.log_mark()
        before = server_cpu(bench, pg)
        wall, cpu, rss, code, text = bench.deliver_measured(
            user, fanout_bench.make_post(user))
        servers.append(server_cpu(bench, pg) - before)
        if code != 250:
            sys.exit(f"{user}: LMTP {code} {text}\n{bench.log_since(mark)[-3000:]}")
        if what == "distribute":
            m = re.search(r"distributed to (\d+) member", bench.log_since(mark))
            if not m or int(m.group(1)) != len(members):
                sys.exit(f"{user}: incomplete: {m.group(0) if m else 'no log line'}")
        walls.append(wall)
        cpus.append(cpu or 0)
        rsss.append(rss or 0)
    return (statistics.median(walls), statistics.median(cpus),
            statistics.median(servers), max(rsss))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (private Dovecot, PostgreSQL, smtp-sink)")

    workdir = tempfile.mkdtemp(prefix="vsmdictbench", dir="/tmp")
    os.chmod(workdir, 0o755)
    members = [f"m{i:06d}@example{i % 10}.net" for i in range(args.members)]
    os.makedirs(os.path.join(workdir, "pg"))
    pg = pgstack.Postgres(os.path.join(workdir, "pg"))
    sink = bench = None
    results = {}
    try:
        pg.start()
        sink = fanout_bench.Sink(workdir)
        bench = DictBench(workdir, sink, pg)
        for what in ("member test", "distribute"):
            for store in ("file", "dict"):
                results[(what, store)] = measure(bench, pg, store, what, members,
                                                 args.runs)
                print(f"... {what} {store} done", file=sys.stderr)
        dict_hwm = bench.dict_server_hwm()
    finally:
        if bench is not None:
            bench.stop()
        if sink is not None:
            sink.stop()
        pg.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"{args.members:,} members, one 4 KB post, median of {args.runs} LMTP "
          f"deliveries, {os.cpu_count()} CPU(s); relay smtp-sink on 127.0.0.1\n")
    head = ["delivery", "store", "wall time", "LMTP CPU", "dict server + PostgreSQL CPU",
            "LMTP peak RSS"]
    lines = [head]
    for what in ("member test", "distribute"):
        for store in ("file", "dict"):
            wall, cpu, server, rss = results[(what, store)]
            lines.append([what, store + ":", fanout_bench.fmt_time(wall),
                          fanout_bench.fmt_time(cpu),
                          fanout_bench.fmt_time(server) if store == "dict" else "-",
                          fanout_bench.fmt_rss(rss)])
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    for i, l in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(l, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\ndict server peak RSS over the run: {fanout_bench.fmt_rss(dict_hwm)}")
    ok = True
    for what in ("member test", "distribute"):
        (fw, fc, _, _), (dw, dc, _, _) = results[(what, "file")], results[(what, "dict")]
        print(f"{what}: dict: {dw / fw:.2f}x the wall time of file:, "
              f"{dc / fc:.2f}x its CPU time (target < 2x): "
              f"{'ok' if dw < 2 * fw else 'MISSED'}")
        ok &= dw < 2 * fw
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
