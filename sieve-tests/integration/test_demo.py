"""The demo, run the way the README tells a new administrator to run it:
`scripts/demo.sh` (installs what is missing, builds, runs scripts/demo.py
on the vsmstack stack). The demo checks each of its steps itself and ends
with "DEMO OK"; this test runs it once and asserts, on its output, what
each step must show an administrator:

* members' posts reach every member once, a p=reject author's post
  wrapped under the list's name from the list's settings file;
* a subscription round trip: request to list+subscribe, the confirmation
  request with its token in Reply-To, the reply to that address, the
  welcome, the new member in the member file;
* a non-member's post held in Moderation, approved by IMAP UID MOVE to
  Approved, distributed by imapsieve to every member, the new one too;
* a delivery report at the bounce address scores a bounce point, an
  out-of-office reply there is dropped, neither is distributed;
* `doveadm vsmlist members -u <list>` lists the members with their state
  and bounce points;
* the list's archive holds the members' posts and nothing else.

In the sanitizer mode the demo's stack raises on a sanitizer report when
it stops (it is not told of the session's report directory), so a report
fails the demo and this test.
"""

import os
import re
import subprocess

import pytest

import sanitize
import vsmstack

pytestmark = pytest.mark.plugin

DEMO = os.path.join(vsmstack.REPO_DIR, "scripts", "demo.sh")
LIST = "friends@lists.example"
MEMBERS = ["ann@author.example", "bob@example.org", "carol@example.com",
           "rita@strict.example"]
NEWCOMER = "erin@example.net"


@pytest.fixture(scope="module")
def demo():
    env = dict(os.environ)
    env.pop(sanitize.SESSION_DIR_ENV, None)
    env.pop("VSMLIST_KEEP_TMP", None)
    p = subprocess.run([DEMO], env=env, capture_output=True, timeout=600)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out[-6000:] + p.stderr.decode(errors="replace")[-6000:]
    return out


def flat(text):
    """The output with every run of white space one space (log lines are
    wrapped)."""
    return " ".join(text.split())


def section(out, number):
    m = re.search(rf"^== {number}\. .*?(?=^== )", out, re.M | re.S)
    assert m, f"no section {number} in:\n{out}"
    return m.group(0)


def test_demo_ok(demo):
    assert demo.rstrip().splitlines()[-1] == "DEMO OK"
    assert "!!" not in demo


def test_members_posts(demo):
    text = section(demo, 1)
    for m in MEMBERS:
        assert re.search(rf"^  {re.escape(m)} +4 post\(s\)$", text, re.M), text
    assert "From: Rita Strict via Friends of the Lake <friends@lists.example>" in flat(text)
    assert "a notice + the post as message/rfc822, its DKIM: pass (d=strict.example)" \
        in flat(text)
    assert flat(text).count("DKIM: pass (d=author.example) (the post, untouched)") == 1


def test_subscription_round_trip(demo):
    text = flat(section(demo, 2))
    assert ("RCPT TO:<friends+subscribe@lists.example> -> 250" in text), text
    assert (f"membership action: subscribe request from {NEWCOMER}: "
            "confirmation requested; confirmation request sent") in text
    token = re.search(r"Reply-To: friends\+confirm-([a-z2-7]{24})@lists\.example", text)
    assert token, text
    assert f"Subject: confirm {token.group(1)} (subscribe to {LIST})" in text
    assert "Auto-Submitted: auto-replied" in text
    assert f"RCPT TO:<friends+confirm-{token.group(1)}@lists.example> -> 250" in text
    assert (f"membership action: confirmation from {NEWCOMER}: subscribed to "
            f"{LIST}; welcome sent") in text
    assert "Subject: Welcome to the Friends of the Lake list" in text
    assert text.endswith(" ".join(MEMBERS + [NEWCOMER]))


def test_moderation_by_imap_move(demo):
    text = flat(section(demo, 3))
    assert "fileinto action: stored mail into mailbox 'Moderation'" in text
    assert "held in Moderation: 1 message(s); sent: 0 transaction(s)" in text
    assert re.search(r"C: UID MOVE \d+ Approved S: OK", text), text
    assert f"distribute action: distributed to 5 member(s) of {LIST}" in text
    assert ("RCPT TO: " + ", ".join(MEMBERS + [NEWCOMER]) + " -> 250") in text
    assert "From: Greg Guest <greg@elsewhere.example>" in text


def test_bounce_address(demo):
    text = flat(section(demo, 4))
    assert (f"bounce action: delivery report for {LIST}: carol@example.com "
            "(5.2.2, 1 point(s))") in text
    assert f"bounce action: automatic reply to {LIST} ignored" in text
    assert "relay MAIL FROM" not in text


def test_doveadm_members(demo):
    text = section(demo, 5)
    lines = text.splitlines()
    i = lines.index(f"# doveadm vsmlist members -u {LIST}")
    assert lines[i + 1].split() == ["address", "state", "bounce_points", "last_bounce"]
    rows = [l.split() for l in lines[i + 2:] if l.strip()]
    assert [r[0] for r in rows] == MEMBERS + [NEWCOMER]
    assert all(r[1] == "enabled" for r in rows), rows
    assert {r[0]: r[2] for r in rows}["carol@example.com"] == "1"
    assert [r[2] for r in rows if r[0] != "carol@example.com"] == ["0"] * 4


def test_only_the_members_posts_are_archived(demo):
    m = re.search(r"^== what the list kept.*?(?=^== )", demo, re.M | re.S)
    assert m, demo
    boxes = {l.split()[0]: int(l.split()[1]) for l in m.group(0).splitlines()[1:]
             if l.strip()}
    assert boxes == {"INBOX": 0, "Archive": 4, "Moderation": 0, "Approved": 1}
