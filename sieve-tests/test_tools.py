"""Pigeonhole's command-line tools with the vsmlist plugin: `sievec`
compiles (or refuses) scripts that use `distribute`, `sieve-dump` shows the
compiled operation.

Run:  /usr/bin/python3 -m pytest sieve-tests/test_tools.py -v

* The plugin ($VSMLIST_BUILD_DIR, $VSMLIST_BUILD_DIR/.libs,
  $VSMLIST_BUILD_DIR/src/.libs, else the repository's src/.libs) is copied
  into a private world-readable temporary directory, as
  scripts/run-svtests.sh does, together with a minimal dovecot.conf:

      plugin {
        sieve_plugin_dir = <tmp>/plugin
        sieve_plugins = sieve_vsmlist
        sieve_global_extensions = +vnd.vsmlist
      }

  passed with `-c` (the system's /etc/dovecot is never read).  sievec
  compiles a file as an administrator's script, so the global extension
  is available to it.  The `-P <dir>/sieve_vsmlist -x +vnd.vsmlist` form
  (no plugin settings in the config) is checked as well.
* As root the tools run as the unprivileged system user `vsmlist-test`
  (created if missing) through runuser, with HOME set to the temporary
  directory; otherwise as the calling user.
* A missing plugin or tool fails the tests; nothing is skipped.
"""

import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

import sanitize

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PLUGIN_SO = "lib90_sieve_vsmlist_plugin.so"
TEST_USER = os.environ.get("VSMLIST_TEST_USER", "vsmlist-test")
SIEVEC = "/usr/bin/sievec"
SIEVE_DUMP = "/usr/bin/sieve-dump"

VALID = ('require "vnd.vsmlist";\n'
         'distribute :members ["a@example.net", "b@example.org"];\n')


def find_plugin():
    cands = []
    env = os.environ.get("VSMLIST_BUILD_DIR")
    if env:
        cands += [env, os.path.join(env, ".libs"), os.path.join(env, "src", ".libs")]
    cands.append(str(ROOT / "src" / ".libs"))
    for d in cands:
        p = os.path.join(d, PLUGIN_SO)
        if os.path.isfile(p):
            return p
    return None


class Tools:
    """A staging directory with the plugin and config, and a runner."""

    def __init__(self, plugin_path):
        self.dir = tempfile.mkdtemp(prefix="vsmlist-tools.")
        os.chmod(self.dir, 0o755)
        self.plugin_dir = os.path.join(self.dir, "plugin")
        os.mkdir(self.plugin_dir)
        shutil.copy2(plugin_path, os.path.join(self.plugin_dir, PLUGIN_SO))
        self.run_as = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(TEST_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home",
                                "--shell", "/usr/sbin/nologin", TEST_USER], check=True)
            self.run_as = ["runuser", "-u", TEST_USER, "--"]
            self.user = TEST_USER
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.conf = self.write_conf("dovecot.conf", {
            "sieve_plugin_dir": self.plugin_dir,
            "sieve_plugins": "sieve_vsmlist",
            "sieve_global_extensions": "+vnd.vsmlist",
        })
        # no plugin settings at all: for -P/-x, and for the trust check
        self.bare_conf = self.write_conf("bare.conf", {})
        self.only_plugin_conf = self.write_conf("only-plugin.conf", {
            "sieve_plugin_dir": self.plugin_dir,
            "sieve_plugins": "sieve_vsmlist",
        })
        self.fix_perms()

    def write_conf(self, name, settings):
        text = "# vsmlist test_tools.py\nplugin {\n" + "".join(
            f"  {k} = {v}\n" for k, v in settings.items()) + "}\n"
        if sanitize.ENABLED:
            text += sanitize.IMPORT_ENVIRONMENT + "\n"
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def fix_perms(self):
        """Everything readable; the directory writable by the test user
        (sievec writes the .svbin next to the script)."""
        for base, dirs, files in os.walk(self.dir):
            for d in dirs:
                os.chmod(os.path.join(base, d), 0o755)
            for f in files:
                os.chmod(os.path.join(base, f), 0o644)
        os.chmod(os.path.join(self.plugin_dir, PLUGIN_SO), 0o755)
        if self.run_as:
            pw = pwd.getpwnam(TEST_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def script(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        for ext in (".svbin",):
            with_ext = path[:-len(".sieve")] + ext
            if os.path.exists(with_ext):
                os.unlink(with_ext)
        self.fix_perms()
        return path

    def run(self, *args, timeout=60):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir,
               "USER": self.user, "LANG": "C"}
        if sanitize.ENABLED and args[0] in (SIEVEC, SIEVE_DUMP):
            env.update(sanitize.host_env())      # they load the plugin
        cmd = self.run_as + ["env", "-i"] + [f"{k}={v}" for k, v in env.items()] + list(args)
        p = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=timeout)
        p.output = p.stdout + p.stderr
        return p

    def sievec(self, *args):
        return self.run(SIEVEC, *args)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tools():
    for tool in (SIEVEC, SIEVE_DUMP):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} missing (package dovecot-sieve)", pytrace=False)
    plugin = find_plugin()
    if plugin is None:
        pytest.fail(f"{PLUGIN_SO} not built (run scripts/build.sh or set "
                    "VSMLIST_BUILD_DIR)", pytrace=False)
    t = Tools(plugin)
    yield t
    t.cleanup()


def test_runs_unprivileged(tools):
    p = tools.run("id", "-un")
    assert p.returncode == 0, p.output
    if os.geteuid() == 0:
        assert p.stdout.strip() == TEST_USER


# ---------------------------------------------------------------------------
# compiling

def test_valid_script_compiles(tools):
    path = tools.script("valid.sieve", VALID)
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode == 0, p.output
    assert not re.search(r"error|warning|fatal", p.output, re.I), p.output
    assert os.path.isfile(path[:-len(".sieve")] + ".svbin")


def test_valid_script_from_member_store_compiles(tools):
    path = tools.script("store.sieve", 'require "vnd.vsmlist";\ndistribute;\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode == 0, p.output


def test_malformed_member_address_refused(tools):
    path = tools.script("bad-member.sieve",
                        'require "vnd.vsmlist";\n'
                        '\n'
                        'distribute :members ["ok@example.net", "a@@example.net"];\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 3: error: .*'a@@example\.net'.*invalid", p.output), p.output
    assert "ok@example.net" not in p.output, "the valid address was reported"
    assert not os.path.exists(path[:-len(".sieve")] + ".svbin")


def test_several_malformed_addresses_each_reported(tools):
    path = tools.script("bad-members.sieve",
                        'require "vnd.vsmlist";\n'
                        'distribute :members ["not-an-address",\n'
                        '                     "x@example.net"];\n'
                        'distribute :members "b@";\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 2: error: .*'not-an-address'", p.output), p.output
    assert re.search(r"line 4: error: .*'b@'", p.output), p.output


def test_error_names_the_line_of_the_address_in_a_long_list(tools):
    path = tools.script("bad-member-line.sieve",
                        'require "vnd.vsmlist";\n'
                        'distribute :members [\n'
                        '  "ok@example.net",\n'
                        '  "bad@@example.net"];\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 4: error: .*'bad@@example\.net'", p.output), p.output


def test_member_from_variable_checked_at_runtime_only(tools):
    """An address built from a variable cannot be checked by the compiler."""
    path = tools.script("variable.sieve",
                        'require ["vnd.vsmlist", "variables"];\n'
                        'set "x" "a@@example.net";\n'
                        'distribute :members ["${x}", "b@example.org"];\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode == 0, p.output


def test_unknown_tag_refused(tools):
    path = tools.script("tag.sieve", 'require "vnd.vsmlist";\ndistribute :foo;\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 2: error: unknown tagged argument ':foo' for the distribute command",
                     p.output), p.output


def test_positional_argument_refused(tools):
    path = tools.script("positional.sieve",
                        'require "vnd.vsmlist";\ndistribute "x@example.net";\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 2: error: the distribute command requires 0 positional argument",
                     p.output), p.output


def test_members_needs_a_string_list(tools):
    path = tools.script("members-number.sieve",
                        'require "vnd.vsmlist";\ndistribute :members 5;\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 2: error: .*:members", p.output), p.output


def test_without_require_refused(tools):
    path = tools.script("no-require.sieve", 'distribute;\n')
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 1: error: unknown command 'distribute'", p.output), p.output


# ---------------------------------------------------------------------------
# the extension is registered disabled: enabled only where configured

def test_extension_disabled_unless_enabled(tools):
    path = tools.script("disabled.sieve", VALID)
    p = tools.sievec("-c", tools.only_plugin_conf, path)
    assert p.returncode != 0, p.output
    assert re.search(r"line 1: error: require command: unknown Sieve capability "
                     r"[`']vnd\.vsmlist'", p.output), p.output


def test_plugin_and_extension_from_the_command_line(tools):
    """sievec -P <dir>/sieve_vsmlist -x +vnd.vsmlist, no plugin settings."""
    path = tools.script("cli.sieve", VALID)
    p = tools.sievec("-c", tools.bare_conf, path)
    assert p.returncode != 0, "vnd.vsmlist known without the plugin?\n" + p.output
    p = tools.sievec("-c", tools.bare_conf,
                     "-P", os.path.join(tools.plugin_dir, "sieve_vsmlist"),
                     "-x", "+vnd.vsmlist", path)
    assert p.returncode == 0, p.output
    assert os.path.isfile(path[:-len(".sieve")] + ".svbin")


# ---------------------------------------------------------------------------
# dumping

DUMP_OPERATION = re.compile(
    r"^[0-9a-f]{8}:\s+2: DISTRIBUTE\n"
    r"[0-9a-f]{8}:\s+members: STRLIST \[2\] \(end: [0-9a-f]{8}\)\n"
    r"[0-9a-f]{8}:\s+STR\[13\] \"a@example\.net\"\n"
    r"[0-9a-f]{8}:\s+STR\[13\] \"b@example\.org\"\n", re.M)


def test_sieve_dump_shows_operation_and_members(tools):
    path = tools.script("dump.sieve", VALID)
    p = tools.sievec("-c", tools.conf, path)
    assert p.returncode == 0, p.output
    binary = path[:-len(".sieve")] + ".svbin"
    p = tools.run(SIEVE_DUMP, "-c", tools.conf, binary)
    assert p.returncode == 0, p.output
    assert re.search(r"^\s+\d+: vnd\.vsmlist \(id: \d+\)$", p.stdout, re.M), p.stdout
    assert DUMP_OPERATION.search(p.stdout), p.stdout


def test_sievec_dump_option(tools):
    """sievec -d writes the same dump to stdout instead of a binary."""
    path = tools.script("dumpd.sieve", VALID)
    p = tools.sievec("-c", tools.conf, "-d", path, "-")
    assert p.returncode == 0, p.output
    assert DUMP_OPERATION.search(p.stdout), p.stdout


def test_sieve_dump_without_members_tag(tools):
    path = tools.script("dump-store.sieve", 'require "vnd.vsmlist";\ndistribute;\n')
    p = tools.sievec("-c", tools.conf, "-d", path, "-")
    assert p.returncode == 0, p.output
    assert re.search(r"^[0-9a-f]{8}:\s+2: DISTRIBUTE$", p.stdout, re.M), p.stdout
    assert "members:" not in p.stdout, p.stdout
