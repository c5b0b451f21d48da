"""What a post costs a long-lived delivery process: one reused LMTP
process (service_count = 0, process_limit = 1: every delivery goes to the
same process) takes 25 posts to a list of 10,000 members; its resident
memory after the 25th post is within 8 MB of what it was after the 5th
(the first posts warm up caches and pools). A post's memory that is never
freed grows it by far more. Both ways of leaking it were tried by undoing
the fix: the members' table never destroyed (its reference kept the
action's pool: issue 8, defect 4) grows the process by 1.3 MB a post with
inline members; the action's pool never released, by 2.0 MB a post with
the member file. Each variant then fails.

The relay is postfix's smtp-sink (fast enough for 250,000 RCPTs); the
process is found among the children of this stack's own Dovecot master.
"""

import os

import pytest

import vsmstack
from vsmstack import make_message

pytestmark = pytest.mark.plugin

AUTHOR = "author@author.example"
MEMBERS = 10_000
POSTS = 25
WARM_UP_POSTS = 5
MAX_GROWTH_KB = 8 * 1024
LMTP = "/usr/lib/dovecot/lmtp"

ONE_LMTP_PROCESS = """
service lmtp {
  service_count = 0
  process_limit = 1
}
"""

# ASan keeps freed memory aside (256 MB of it) to catch its use: in the
# sanitizer mode that alone would grow the process; LeakSanitizer finds the
# leaks there anyway when the process exits
QUARANTINE_OFF = {"quarantine_size_mb": "0"}


@pytest.fixture(scope="module")
def rst():
    st = vsmstack.Stack(plugin=True, dovecot_extra_conf=ONE_LMTP_PROCESS,
                        sanitizer_options=QUARANTINE_OFF)
    st.start()
    try:
        yield st
    finally:
        st.stop()


def lmtp_child(st):
    """The PID of the LMTP process of this stack's master."""
    master = st.dovecot.proc.pid
    with open(f"/proc/{master}/task/{master}/children") as f:
        children = [int(pid) for pid in f.read().split()]
    lmtp = [pid for pid in children if os.readlink(f"/proc/{pid}/exe") == LMTP]
    assert len(lmtp) == 1, f"LMTP processes of master {master}: {lmtp}"
    return lmtp[0]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def inline_members_script(members):
    """The list's script naming its members itself (distribute :members):
    they are deduplicated in a table of the action's own."""
    listed = ",\n  ".join(f'"{m}"' for m in members)
    return f'require "vnd.vsmlist";\ndistribute :members [\n  {listed}\n];\n'


@pytest.mark.parametrize("source", ["store", "inline"])
def test_reused_lmtp_process_memory_stays_flat(rst, source):
    """Members from the list's member file, and members named by the
    script (the table that used to hold a reference to the action's pool,
    issue 8, defect 4)."""
    members = [f"m{i:05d}@example.net" for i in range(MEMBERS)]
    lst = f"big-{source}@lists.example"
    with vsmstack.SmtpSink(rst.workdir) as sink:
        if source == "store":
            rst.add_list(lst, members_text="".join(m + "\n" for m in members),
                         sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}")
        else:
            rst.add_list(lst, script=inline_members_script(members),
                         sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}")
        rss = {}
        for post in range(1, POSTS + 1):
            res = rst.dovecot.deliver(make_message(to=lst, subject=f"post {post}"),
                                      AUTHOR, lst)
            assert res.code(lst) == 250, res
            if post in (WARM_UP_POSTS, POSTS):
                rss[post] = (lmtp_child(rst), rss_kb(lmtp_child(rst)))
        assert len(sink.recipients()) == POSTS * MEMBERS
    (pid_warm, warm), (pid_last, last) = rss[WARM_UP_POSTS], rss[POSTS]
    # the figures (pytest -s shows them; doc/vsmlist.md, "Resource bounds")
    print(f"\nreused LMTP process ({source} members): VmRSS {warm} kB after post {WARM_UP_POSTS}, "
          f"{last} kB after post {POSTS} ({last - warm:+d} kB)")
    assert pid_warm == pid_last, "the LMTP process was not reused"
    assert last - warm < MAX_GROWTH_KB, (
        f"LMTP process {pid_last}: VmRSS {warm} kB after post {WARM_UP_POSTS}, "
        f"{last} kB after post {POSTS}: {(last - warm) / (POSTS - WARM_UP_POSTS):.0f} kB a post")
