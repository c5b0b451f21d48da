"""The Debian package, installed on a clean Debian root.

scripts/build-deb.sh builds dovecot-sieve-vsmlist (dpkg-buildpackage, then
lintian) from a copy of the working tree, or reuses its last build of the
same sources. make-root.sh unpacks a cached bookworm minbase root with
Dovecot's core, LMTP and Sieve packages, in which the .deb is installed
with apt. Then:

* lintian reports no error for the .deb and the .changes;
* the files are where Dovecot and the administrator look for them, the
  configuration is a conffile, and installing the package changes no
  Dovecot setting (doveconf -n before and after);
* vsmlist-dmarc runs from the package;
* enabled the way the README tells an administrator, Dovecot started in
  the root (chroot: its own /etc, /run and /var; the package's files only)
  takes a post for a list over LMTP and the relay stand-in on the host's
  loopback (vsmstack.Relay) receives it for every member;
  doveadm vsmlist (the package's doveadm plugin) lists the members and
  adds one.

Run as root: /usr/bin/python3 -m pytest sieve-tests/package -v
VSMLIST_KEEP_TMP=1 keeps the root (its Dovecot log: var/log/dovecot.log).
"""

import os
import pathlib
import shutil
import smtplib
import subprocess
import sys
import tempfile

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "integration"))

import vsmstack  # noqa: E402

PACKAGE = "dovecot-sieve-vsmlist"
CONF = "/etc/dovecot/conf.d/90-vsmlist.conf"
PLUGIN = "/usr/lib/dovecot/modules/sieve/lib90_sieve_vsmlist_plugin.so"
DOVEADM_PLUGIN = "/usr/lib/dovecot/modules/doveadm/lib10_doveadm_vsmlist_plugin.so"
LIST = "friends@lists.example"
MEMBERS = ["ann@members.example", "bob@members.example", "cy@other.example"]
# the environment of every command in the root: nothing of the caller's
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
              "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}


class Root:
    """A Debian root in a directory; commands run in it through chroot."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def file(self, name: str) -> pathlib.Path:
        return self.path / name.lstrip("/")

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run(["chroot", str(self.path), *args], env=CHROOT_ENV,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} in the root failed "
                                 f"({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc

    def start(self, *args: str) -> subprocess.Popen:
        """chroot execs the command: the PID started is the command's."""
        return subprocess.Popen(["chroot", str(self.path), *args], env=CHROOT_ENV,
                                stdin=subprocess.DEVNULL)

    def doveconf(self) -> str:
        return self.run("doveconf", "-n").stdout


@pytest.fixture(scope="module")
def build() -> pathlib.Path:
    assert os.geteuid() == 0, "the package test runs as root (chroot, apt)"
    proc = subprocess.run([str(REPO / "scripts" / "build-deb.sh")],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    return pathlib.Path(proc.stdout.split()[-1])


@pytest.fixture(scope="module")
def deb(build) -> pathlib.Path:
    (found,) = build.glob(f"{PACKAGE}_*.deb")
    return found


@pytest.fixture(scope="module")
def root(deb):
    """The root with the package installed by apt; .doveconf_before and
    .doveconf_after are Dovecot's settings before and after."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="vsmlist-root-"))
    make_root = str(HERE / "make-root.sh")
    try:
        subprocess.run([make_root, str(deb), str(path)], check=True,
                       timeout=3600)
        r = Root(path)
        r.doveconf_before = r.doveconf()
        shutil.copy(deb, r.file("/tmp"))
        r.run("apt-get", "install", "-q", "-y", "--no-install-recommends",
              f"/tmp/{deb.name}")
        r.doveconf_after = r.doveconf()
        yield r
    finally:
        if os.environ.get("VSMLIST_KEEP_TMP") == "1":
            print(f"root kept: {path}")
        else:
            subprocess.run([make_root, "--remove", str(path)], check=True)


def test_lintian_reports_no_error(build):
    report = (build / "lintian.txt").read_text()
    errors = [line for line in report.splitlines() if line.startswith("E:")]
    assert errors == [], report
    assert (build / "lintian.rc").read_text().strip() == "0", report


def test_files_are_where_dovecot_looks(root):
    for name in (PLUGIN, DOVEADM_PLUGIN, "/usr/bin/vsmlist-dmarc",
                 "/usr/share/man/man1/vsmlist-dmarc.1.gz",
                 "/usr/share/man/man1/doveadm-vsmlist.1.gz",
                 "/usr/share/man/man7/vsmlist.7.gz",
                 f"/usr/share/doc/{PACKAGE}/README.gz",
                 f"/usr/share/doc/{PACKAGE}/vsmlist.md.gz",
                 f"/usr/share/doc/{PACKAGE}/copyright"):
        assert root.file(name).is_file(), name
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", PACKAGE).stdout
    assert CONF in conffiles.split()


def test_installing_changes_no_dovecot_setting(root):
    assert root.doveconf_after == root.doveconf_before
    lines = root.file(CONF).read_text().splitlines()
    assert [line for line in lines if line and not line.startswith("#")] == []
    assert any("sieve_plugins = sieve_vsmlist" in line for line in lines)


def test_vsmlist_dmarc_runs_from_the_package(root):
    # a refused loopback DNS server: no network, and an answer that shows
    # the tool ran its discovery with the package's libraries
    out = root.run("vsmlist-dmarc", "-s", "127.0.0.1:1", "-t", "1s",
                   "example.com").stdout
    assert out.startswith("example.com policy=temperror "), out


def enable_as_readme_says(root: Root, relay_port: int, lmtp_port: int) -> None:
    """The README's "Install" steps for the package, then a list (the
    README's script, its relay as the per-list setting) and a test
    setup."""
    root.run("sed", "-i", "s/^#//", CONF)
    # passwd-file users instead of system users (Dovecot's own switch)
    root.run("sed", "-i", "-e", "s/^!include auth-system.conf.ext/#&/",
             "-e", "s/^#!include auth-passwdfile.conf.ext/!include auth-passwdfile.conf.ext/",
             "/etc/dovecot/conf.d/10-auth.conf")
    root.run("useradd", "--system", "--home-dir", "/var/vmail", "--create-home",
             "--shell", "/usr/sbin/nologin", "vmail")
    uid = root.run("id", "-u", "vmail").stdout.strip()
    gid = root.run("id", "-g", "vmail").stdout.strip()
    root.file("/etc/dovecot/users").write_text(
        f"{LIST}:{{CRYPT}}*:{uid}:{gid}::/var/vmail/friends::"
        "userdb_sieve_before=/etc/dovecot/sieve/list.sieve "
        f"userdb_sieve_vsmlist_submission_host=127.0.0.1:{relay_port}\n")
    root.file("/etc/dovecot/sieve").mkdir()
    root.file("/etc/dovecot/sieve/list.sieve").write_text(vsmstack.readme_list_script())
    # compiled with the installed plugin, as the README says
    root.run("sievec", "/etc/dovecot/sieve/list.sieve")
    members = root.file("/var/vmail/friends/vsmlist/members")
    members.parent.mkdir(parents=True)
    members.write_text("# the list's members\n" + "".join(m + "\n" for m in MEMBERS))
    root.run("chown", "-R", "vmail:vmail", "/var/vmail/friends")
    # The test's own surroundings: loopback only, no TLS, a log file, the
    # relay stand-in, and no DMARC lookups (they would ask the host's DNS;
    # mitigation has its own tests)
    root.file("/etc/dovecot/local.conf").write_text(f"""\
listen = 127.0.0.1
ssl = no
log_path = /var/log/dovecot.log
mail_location = maildir:~/Maildir
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
plugin {{
  sieve_vsmlist_dmarc = none
}}
""")


def test_delivery_reaches_every_member(root):
    with vsmstack.Relay() as relay:
        lmtp_port = vsmstack.free_port()
        enable_as_readme_says(root, relay.port, lmtp_port)
        assert "sieve_plugins = sieve_vsmlist" in root.doveconf()
        dovecot = root.start("/usr/sbin/dovecot", "-F")
        try:
            vsmstack.wait_tcp("127.0.0.1", lmtp_port, timeout=30,
                              proc=dovecot, banner=b"220")
            # a member's post, and a stranger's (held for moderation)
            post = vsmstack.make_message(from_addr=MEMBERS[0], to=LIST)
            stranger = vsmstack.make_message(from_addr="eve@elsewhere.example", to=LIST)
            with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=60) as lmtp:
                refused = lmtp.sendmail(MEMBERS[0], [LIST], post)
                assert refused == {}
                refused = lmtp.sendmail("eve@elsewhere.example", [LIST], stranger)
            assert refused == {}
            transactions = relay.wait_for(1)
            # doveadm finds the package's doveadm plugin by itself
            listed = root.run("doveadm", "-f", "tab", "vsmlist", "members",
                              "-u", LIST).stdout.splitlines()
            added = root.run("doveadm", "-f", "tab", "vsmlist", "subscribe",
                             "-u", LIST, "dan@members.example").stdout.splitlines()
        finally:
            vsmstack.stop_pid(dovecot, timeout=15)
        log = root.file("/var/log/dovecot.log").read_text()
        assert " Error: " not in log, log
        assert len(transactions) == 1, log
        sent = transactions[0]
        assert sent.accepted, log
        assert sorted(sent.rcpt_tos) == sorted(MEMBERS), log
        assert sent.mail_from == "friends+bounces@lists.example"
        assert sent.header("Message-ID") == vsmstack.header_values(post, "Message-ID")
        assert sent.header("List-Id") == ["friends <friends.lists.example>"]
        assert listed == ["address\tstate\tbounce_points\tlast_bounce"] + \
            [f"{m}\tenabled\t0\t" for m in MEMBERS]
        assert added == ["address\tresult", "dan@members.example\tadded"]
        assert root.file("/var/vmail/friends/vsmlist/members").read_text() == \
            "# the list's members\n" + "".join(m + "\n" for m in MEMBERS + ["dan@members.example"])
        assert f"distributed to {len(MEMBERS)} member(s) of {LIST}" in log
        # the list's own copy, by the script's fileinto
        archived = list(root.file("/var/vmail/friends/Maildir/.Archive/new").iterdir())
        assert len(archived) == 1, log
        held = list(root.file("/var/vmail/friends/Maildir/.Moderation/new").iterdir())
        assert len(held) == 1, log
        assert b"eve@elsewhere.example" in held[0].read_bytes()
