"""The README is the front door: its commands and its table of settings must stay true."""

from __future__ import annotations

from portal.config import ROOT, SETTINGS

README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme_table():
    missing = [s.name for s in SETTINGS if f"| `PORTAL_{s.name}`" not in README]
    assert missing == []


def test_the_two_commands_are_documented_and_exist():
    makefile = (ROOT / "Makefile").read_text()
    for command in ("run", "test"):
        assert f"make {command}" in README
        assert f"\n{command}:" in makefile


def test_ci_calls_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_licence_is_an_osi_licence():
    assert (ROOT / "LICENSE").read_text().startswith("Mozilla Public License Version 2.0")
    assert "Mozilla Public License 2.0" in README
