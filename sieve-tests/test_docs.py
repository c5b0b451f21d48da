"""The documentation keeps up with the code.

* Every setting the plugin reads (each "sieve_vsmlist_..." string literal
  of src/vsmlist-settings.c, where all of them are looked up) is named in
  the reference doc/vsmlist.md and in the man page vsmlist(7).
* The documentation names no sieve_vsmlist_* setting the code does not
  read (a renamed or removed setting, a typo).
* Every man page in doc/ renders without a warning from groff (-ww, with
  tbl) and mandoc's linter, and is installed by `make install`
  (doc/Makefile.am) and by the Debian package (its .install file).

Run:  /usr/bin/python3 -m pytest sieve-tests/test_docs.py -v
"""

import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "doc"
SETTINGS_SOURCE = ROOT / "src" / "vsmlist-settings.c"
# not part of a longer identifier such as lib90_sieve_vsmlist_plugin
SETTING_NAME = re.compile(r"(?<![A-Za-z0-9_])sieve_vsmlist_[a-z0-9_]*[a-z0-9]")
MAN_PAGES = sorted(p for p in DOC.iterdir() if re.fullmatch(r".+\.[1-8]", p.name))
# the texts an administrator reads
DOCUMENTS = sorted(DOC.glob("*.md")) + MAN_PAGES + [
    DOC / "example-config" / "conf.d" / "90-vsmlist.conf", ROOT / "README"]


def settings_read_by_code() -> set:
    source = SETTINGS_SOURCE.read_text()
    names = set(re.findall(r'"(sieve_vsmlist_[a-z0-9_]+)"', source))
    # the PRODUCT contract's names: the pattern must find them, or it
    # finds nothing and every check below would pass
    assert {"sieve_vsmlist_address", "sieve_vsmlist_name",
            "sieve_vsmlist_bounce_address", "sieve_vsmlist_members",
            "sieve_vsmlist_dmarc", "sieve_vsmlist_dns_servers",
            "sieve_vsmlist_dns_timeout", "sieve_vsmlist_dns_failure",
            "sieve_vsmlist_confirm_expire", "sieve_vsmlist_confirm_limit",
            "sieve_vsmlist_owner", "sieve_vsmlist_verp"} <= names, names
    return names


def names_in(path: pathlib.Path) -> set:
    text = path.read_text()
    if path in MAN_PAGES:
        # a roff comment is no documentation
        text = "\n".join(line for line in text.splitlines()
                         if not line.startswith(('.\\"', "'\\\"")))
    return set(SETTING_NAME.findall(text))


def test_man_pages_found():
    assert {p.name for p in MAN_PAGES} >= {
        "vsmlist.7", "vsmlist-dmarc.1", "doveadm-vsmlist.1"}


@pytest.mark.parametrize("doc", ["vsmlist.md", "vsmlist.7"])
def test_every_setting_is_documented(doc):
    missing = settings_read_by_code() - names_in(DOC / doc)
    assert missing == set(), f"doc/{doc} lacks {sorted(missing)}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_name_only_settings_the_code_reads(path):
    unknown = names_in(path) - settings_read_by_code()
    assert unknown == set(), f"{path.relative_to(ROOT)} names {sorted(unknown)}"


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_renders_without_warnings(page):
    groff = subprocess.run(["groff", "-t", "-man", "-ww", "-z", str(page)],
                           capture_output=True, text=True, timeout=60)
    assert (groff.returncode, groff.stdout + groff.stderr) == (0, "")
    # mandoc's linter also checks the man(7) macros' use
    lint = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(page)],
                          capture_output=True, text=True, timeout=60)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


@pytest.mark.parametrize("page", MAN_PAGES, ids=lambda p: p.name)
def test_man_page_is_installed(page):
    makefile = (DOC / "Makefile.am").read_text()
    man_lines = [line for line in makefile.replace("\\\n", " ").splitlines()
                 if re.match(r"\s*(dist_)?man[0-9]?_MANS\s*\+?=", line)]
    assert any(page.name in line.split() for line in man_lines), man_lines
    section = page.suffix[1:]
    install = (ROOT / "debian" / "dovecot-sieve-vsmlist.install").read_text()
    assert f"usr/share/man/man{section}/{page.name}" in install.split()
