"""pgstack: a private PostgreSQL on loopback for the dict member store.

* ``Postgres``      - a cluster made with ``initdb`` in a temporary
                      directory, ``postgres -D dir -k socketdir -h 127.0.0.1
                      -p PORT`` run as the system user ``postgres`` and
                      stopped by its PID (no system cluster is touched).
                      The schema is doc/example-config/vsmlist.sql.
* ``dict_config()`` - the dovecot.conf lines that give a private Dovecot
                      the dict ``vsmlist`` on that database, with the map
                      file doc/example-config/dict-vsmlist.conf.ext (its
                      ``connect`` line pointed at the cluster).

Both configuration files are the ones doc/dict.md tells an administrator
to install: the tests set the database up with them.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Iterable, List, Optional, Sequence, Tuple

import vsmstack

DOC_CONFIG = os.path.join(vsmstack.REPO_DIR, "doc", "example-config")
SCHEMA_SQL = os.path.join(DOC_CONFIG, "vsmlist.sql")
DICT_MAP = os.path.join(DOC_CONFIG, "dict-vsmlist.conf.ext")
PG_USER = "postgres"
DB_NAME = "mail"
DB_ROLE = "dovecot"
# The member store URI a list user gets for the dict
DICT_URI = "dict:proxy::vsmlist"


def pg_bindir() -> str:
    """Debian's newest PostgreSQL server binaries."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                  key=lambda p: int(p.split("/")[4]))
    if not dirs:
        raise vsmstack.StackError("PostgreSQL not installed (scripts/install-deps.sh)")
    return os.path.dirname(dirs[-1])


def member_key(address: str) -> str:
    """An address as the store keys it (the addresses of these tests need
    no quoting and hold no '/' or '\\')."""
    return address.strip().strip("<>").lower()


def members_from_text(text: str) -> List[str]:
    """The member lines of a member file's text, comments and blank lines
    left out (a line that is no address stays: the store skips it)."""
    out = []
    for line in text.splitlines():
        line = re.split(r"(?:^|\s)#", line, 1)[0].strip()
        if line:
            out.append(line)
    return out


class Postgres:
    """A private PostgreSQL cluster; ``sql()`` runs statements as the
    database owner through psql on the unix socket."""

    def __init__(self, workdir: Optional[str] = None):
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="vsmpg", dir="/tmp")
        os.chmod(self.workdir, 0o755)
        self.datadir = os.path.join(self.workdir, "data")
        self.sockdir = os.path.join(self.workdir, "sock")
        self.log_path = os.path.join(self.workdir, "postgres.log")
        self.bindir = pg_bindir()
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        pw = pwd.getpwnam(PG_USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def _as_pg(self, args: Sequence[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(args, user=self.uid, group=self.gid,
                              capture_output=True, **kw)

    def start(self) -> "Postgres":
        try:
            return self._start()
        except BaseException:
            self.destroy()
            raise

    def _start(self) -> "Postgres":
        if not os.path.isdir(self.datadir):
            for d in (self.datadir, self.sockdir):
                os.makedirs(d)
                os.chown(d, self.uid, self.gid)
            p = self._as_pg([os.path.join(self.bindir, "initdb"), "-D", self.datadir,
                             "-U", PG_USER, "--auth=trust", "-E", "UTF8",
                             "--locale=C.UTF-8", "--no-sync"])
            if p.returncode != 0:
                raise vsmstack.StackError(f"initdb failed: {p.stderr.decode(errors='replace')}")
            fresh = True
        else:
            fresh = False
        self._start_server()
        if fresh:
            self.sql(f"CREATE ROLE {DB_ROLE} LOGIN", db="postgres", user=PG_USER)
            self.sql(f"CREATE DATABASE {DB_NAME} OWNER {DB_ROLE}", db="postgres",
                     user=PG_USER)
            with open(SCHEMA_SQL) as f:
                self.sql(f.read(), user=DB_ROLE)
        return self

    def _start_server(self) -> None:
        self.port = self.port or vsmstack.free_port()
        log = open(self.log_path, "ab")
        os.chown(self.log_path, self.uid, self.gid)
        # fsync off: a test cluster, thrown away after the run
        self.proc = subprocess.Popen(
            [os.path.join(self.bindir, "postgres"), "-D", self.datadir,
             "-k", self.sockdir, "-h", "127.0.0.1", "-p", str(self.port),
             "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            user=self.uid, group=self.gid, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise vsmstack.StackError(f"postgres exited:\n{self.log()[-3000:]}")
            p = self._as_pg([os.path.join(self.bindir, "pg_isready"), "-q",
                             "-h", self.sockdir, "-p", str(self.port)])
            if p.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise vsmstack.StackError(f"postgres not ready:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): clients such as Dovecot's dict server
        are disconnected, as when a database server goes down."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                vsmstack.stop_pid(self.proc)
        self.proc = None

    def restart(self) -> None:
        """Start again on the same port and data (after stop())."""
        self._start_server()

    def destroy(self) -> None:
        self.stop()
        if self.own_workdir and os.environ.get("VSMLIST_KEEP_TMP") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # --- SQL -------------------------------------------------------------------

    def sql(self, statements: str, db: str = DB_NAME, user: str = DB_ROLE,
            stdin: Optional[bytes] = None) -> List[Tuple[str, ...]]:
        """Run statements with psql (stopping at the first error); the rows
        of the last one, each a tuple of strings."""
        args = [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", self.sockdir,
                "-p", str(self.port), "-U", user, "-d", db]
        # COPY ... FROM STDIN reads psql's input
        p = self._as_pg(args + ["-c", statements], input=stdin)
        if p.returncode != 0:
            raise vsmstack.StackError(f"psql failed: {p.stderr.decode(errors='replace')}\n"
                                      f"{statements[:500]}")
        out = p.stdout.decode()
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def copy_members(self, list_address: str, members: Iterable[str]) -> None:
        """Many members at once (COPY), as an administrator's bulk load."""
        data = "".join(f"{member_key(list_address)}\t{member_key(m)}\n" for m in members)
        self.sql("COPY vsmlist_member (list, member) FROM STDIN", stdin=data.encode())

    def set_members(self, list_address: str, members: Iterable[str]) -> None:
        """The list's members, replacing any it had, with plain SQL (the way
        doc/dict.md shows an administrator)."""
        lst = member_key(list_address)
        self.sql(f"DELETE FROM vsmlist_member WHERE list = {quote(lst)}")
        rows = sorted({member_key(m) for m in members})
        if rows:
            self.sql("INSERT INTO vsmlist_member (list, member) VALUES "
                     + ", ".join(f"({quote(lst)}, {quote(m)})" for m in rows))

    def add_member(self, list_address: str, address: str) -> None:
        self.sql("INSERT INTO vsmlist_member (list, member) VALUES "
                 f"({quote(member_key(list_address))}, {quote(member_key(address))})")

    def members(self, list_address: str) -> List[Tuple[str, ...]]:
        """(member, state, bounce_points, last_bounce, disabled_at) rows."""
        return self.sql("SELECT member, state, bounce_points, last_bounce, disabled_at "
                        "FROM vsmlist_member WHERE list = "
                        f"{quote(member_key(list_address))} ORDER BY member")

    # --- Dovecot ---------------------------------------------------------------

    def dict_map(self) -> str:
        """The map file of doc/example-config, connecting to this cluster."""
        with open(DICT_MAP) as f:
            text = f.read()
        connect = (f"connect = host=127.0.0.1 port={self.port} dbname={DB_NAME} "
                   f"user={DB_ROLE}")
        text, n = re.subn(r"(?m)^connect = .*$", connect, text)
        assert n == 1, "the example map file has no connect line"
        return text

    def dict_config(self, conf_dir: str, mail_group: str,
                    extra_dicts: str = "") -> str:
        """dovecot.conf lines for the dict "vsmlist" (the map file written
        into conf_dir) and the dict socket readable by the mail user's
        group, as doc/dict.md gives them."""
        path = os.path.join(conf_dir, "dict-vsmlist.conf.ext")
        with open(path, "w") as f:
            f.write(self.dict_map())
        os.chmod(path, 0o644)
        return f"""
dict {{
  vsmlist = pgsql:{path}
{extra_dicts}}}
service dict {{
  unix_listener dict {{
    mode = 0660
    group = {mail_group}
  }}
}}
"""


def quote(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
