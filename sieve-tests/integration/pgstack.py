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

* ``list_members()``, ``member_states()``, ``set_member_state()`` - a
                      list's member store of either kind (its member file
                      and state file, or its rows), so that a test that
                      runs against both stores asserts the same for both.
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
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

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
        # cwd "/": the caller's directory (a clone in /root) may be closed
        # to the postgres user
        return subprocess.run(args, user=self.uid, group=self.gid, cwd="/",
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
            user=self.uid, group=self.gid, cwd="/", stdin=subprocess.DEVNULL,
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

    def set_state(self, list_address: str, address: str, state: "MemberState") -> None:
        """A member's state columns, with plain SQL."""
        self.sql(f"UPDATE vsmlist_member SET state = {quote(state.state)}, "
                 f"bounce_points = {int(state.bounce_points)}, "
                 f"last_bounce = {int(state.last_bounce)}, "
                 f"disabled_at = {int(state.disabled_at)} "
                 f"WHERE list = {quote(member_key(list_address))} "
                 f"AND member = {quote(member_key(address))}")

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


# --- a list's member store, of either kind -------------------------------------

STATE_FILE_VERSION = "vsmlist-state 1"


@dataclass(frozen=True)
class MemberState:
    """A member's state as both stores hold it (doc/vsmlist.md, "The state
    file"; doc/dict.md): the default is an enabled member without bounces."""
    state: str = "enabled"
    bounce_points: int = 0
    last_bounce: int = 0        # Unix seconds, 0 = never
    disabled_at: int = 0


def _member_file(st, list_address: str) -> str:
    """The list's member file: sieve_vsmlist_members=file:~/... of its
    userdb fields, else ~/vsmlist/members."""
    uri = st.dovecot.users.get(list_address, {}).get(
        "sieve_vsmlist_members", "file:~/vsmlist/members")
    assert uri.startswith("file:~/"), f"not a member file in the home: {uri}"
    return os.path.join(st.dovecot.home(list_address), uri[len("file:~/"):])


def _read_state_file(path: str) -> Dict[str, MemberState]:
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines and lines[0] == STATE_FILE_VERSION, lines[:1]
    states = {}
    for line in lines[1:]:
        state, points, last, disabled, key = line.split(" ", 4)
        states[key] = MemberState(state, int(points), int(last), int(disabled))
    return states


def list_members(st, list_address: str) -> List[str]:
    """The list's members as its store keys them (lower case), sorted:
    the address lines of its member file, or its rows."""
    if st.store_kind(list_address) == "dict":
        return [row[0] for row in st.member_db.members(list_address)]
    with open(_member_file(st, list_address)) as f:
        return sorted(member_key(m) for m in members_from_text(f.read()))


def member_states(st, list_address: str) -> Dict[str, MemberState]:
    """Each member's state by its key: its row, or its line of the state
    file beside the member file (the default state without one; a line of
    an address that is no longer a member is not read, as the store does
    not read it)."""
    if st.store_kind(list_address) == "dict":
        return {m: MemberState(state, int(points), int(last), int(disabled))
                for m, state, points, last, disabled
                in st.member_db.members(list_address)}
    lines = _read_state_file(_member_file(st, list_address) + ".state")
    return {m: lines.get(m, MemberState()) for m in list_members(st, list_address)}


def set_member_state(st, list_address: str, address: str, state: MemberState) -> None:
    """Set a member's state as an administrator would: its row with SQL,
    or its line of the state file (written while no delivery runs)."""
    if st.store_kind(list_address) == "dict":
        st.member_db.set_state(list_address, address, state)
        return
    path = _member_file(st, list_address) + ".state"
    lines = _read_state_file(path)
    lines[member_key(address)] = state
    text = STATE_FILE_VERSION + "\n" + "".join(
        f"{s.state} {s.bounce_points} {s.last_bounce} {s.disabled_at} {key}\n"
        for key, s in lines.items() if s != MemberState())
    st.dovecot.write_user_file(list_address, os.path.relpath(
        path, st.dovecot.home(list_address)), text)
