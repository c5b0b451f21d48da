"""What a post costs a long-lived delivery process: one reused LMTP
process (service_count = 0, process_limit = 1: every delivery goes to the
same process) takes 25 posts to a list of 10,000 members; its resident
memory after the 25th post is within 8 MB of what it was after the 5th
(the first posts warm up caches and pools). A post's memory that is never
freed (about 1.2 MB per post at 10,000 members when the Sieve result pool
leaked) grows it by far more.

The relay is postfix's smtp-sink (fast enough for 250,000 RCPTs); the
process is found among the children of this stack's own Dovecot master.
"""

import os

import pytest

import vsmstack
from vsmstack import make_message

pytestmark = pytest.mark.plugin

AUTHOR = "author@author.example"
LIST = "big@lists.example"
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


def test_reused_lmtp_process_memory_stays_flat(rst):
    with vsmstack.SmtpSink(rst.workdir) as sink:
        rst.add_list(LIST, members_text="".join(
            f"m{i:05d}@example.net\n" for i in range(MEMBERS)),
            sieve_vsmlist_submission_host=f"127.0.0.1:{sink.port}")
        rss = {}
        for post in range(1, POSTS + 1):
            res = rst.dovecot.deliver(make_message(to=LIST, subject=f"post {post}"),
                                      AUTHOR, LIST)
            assert res.code(LIST) == 250, res
            if post in (WARM_UP_POSTS, POSTS):
                rss[post] = (lmtp_child(rst), rss_kb(lmtp_child(rst)))
        assert len(sink.recipients()) == POSTS * MEMBERS
    (pid_warm, warm), (pid_last, last) = rss[WARM_UP_POSTS], rss[POSTS]
    # the figures (pytest -s shows them; doc/vsmlist.md, "Resource bounds")
    print(f"\nreused LMTP process: VmRSS {warm} kB after post {WARM_UP_POSTS}, "
          f"{last} kB after post {POSTS} ({last - warm:+d} kB)")
    assert pid_warm == pid_last, "the LMTP process was not reused"
    assert last - warm < MAX_GROWTH_KB, (
        f"LMTP process {pid_last}: VmRSS {warm} kB after post {WARM_UP_POSTS}, "
        f"{last} kB after post {POSTS}: {(last - warm) / (POSTS - WARM_UP_POSTS):.0f} kB a post")
