"""The README is the front door: its commands and its table of settings must stay true."""

from __future__ import annotations

import os
import re
import subprocess

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


# -- two commands on a fresh machine: make run and make test install the system packages ------------

SYSTEM_PACKAGES = ROOT / "e2e" / "system-packages"


def run_system_packages(tmp_path, *, installed: set[str], uid: int, target: str = "test"):
    """Run e2e/system-packages on a pretend Debian machine: dpkg-query knows only ``installed``,
    ``id -u`` answers ``uid``, and apt-get writes its arguments to a file instead of installing."""
    fake = tmp_path / "bin"
    fake.mkdir(parents=True)
    scripts = {
        "dpkg-query": 'for p in "$@"; do :; done; case " ' + " ".join(sorted(installed)) + ' " in '
        '*" $p "*) printf "install ok installed";; *) exit 1;; esac',
        "id": f"echo {uid}",
        "apt-get": f'echo "$@" >> {tmp_path / "apt.log"}',
    }
    for name, body in scripts.items():
        (fake / name).write_text(f"#!/bin/bash\n{body}\n")
        (fake / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PORTAL_CHROMIUM"}
    env["PATH"] = f"{fake}:{env['PATH']}"
    result = subprocess.run(  # noqa: S603 - our own script
        [str(SYSTEM_PACKAGES), target], capture_output=True, text=True, env=env, check=False
    )
    log = tmp_path / "apt.log"
    return result, log.read_text() if log.exists() else ""


def test_the_tests_packages_are_listed_once_and_used_by_make_and_ci():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"\ntest: deps\b", makefile) and re.search(r"\nrun: deps-run\b", makefile)
    assert "e2e/system-packages test" in makefile and "e2e/system-packages run" in makefile
    listed = subprocess.run([str(SYSTEM_PACKAGES), "list"], capture_output=True, text=True, check=True).stdout.split()  # noqa: S603
    assert {"chromium", "poppler-utils", "libpango-1.0-0", "fonts-dejavu-core"} <= set(listed)
    # Nowhere else: not in the README, not in CI, not in the Chromium finder's message.
    for other in (README, (ROOT / ".ci" / "run").read_text(), (ROOT / "e2e" / "find_chromium.py").read_text()):
        assert "poppler-utils" not in other and "libpangoft2" not in other


def test_a_fresh_machine_as_root_gets_what_is_missing(tmp_path):
    result, apt = run_system_packages(tmp_path, installed={"fonts-dejavu-core", "chromium"}, uid=0)
    assert result.returncode == 0, result.stderr
    install = next(line.split() for line in apt.splitlines() if line.startswith("install"))
    assert "poppler-utils" in install and "libpango-1.0-0" in install
    assert "chromium" not in install and "fonts-dejavu-core" not in install


def test_a_fresh_machine_without_root_stops_with_the_one_command(tmp_path):
    result, apt = run_system_packages(tmp_path, installed={"fonts-dejavu-core"}, uid=1000)
    assert result.returncode == 1 and apt == ""
    command = next(line for line in result.stderr.splitlines() if "apt-get install" in line)
    assert command.strip().startswith("sudo apt-get update && sudo apt-get install -y")
    assert "chromium" in command and "poppler-utils" in command and "fonts-dejavu-core" not in command


def test_everything_installed_installs_nothing(tmp_path):
    listed = subprocess.run([str(SYSTEM_PACKAGES), "list"], capture_output=True, text=True, check=True).stdout.split()  # noqa: S603
    result, apt = run_system_packages(tmp_path, installed=set(listed), uid=0)
    assert result.returncode == 0 and apt == "" and result.stderr == ""


def test_make_run_needs_only_what_serving_and_pdfs_need(tmp_path):
    result, _apt = run_system_packages(tmp_path, installed=set(), uid=1000, target="run")
    assert result.returncode == 1
    assert "libpango-1.0-0" in result.stderr and "chromium" not in result.stderr


def test_make_bench_installs_wrk_as_root_or_prints_the_command(tmp_path):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"\nbench: deps-bench\b", makefile) and "e2e/system-packages bench" in makefile
    assert "make bench" in README
    serving = {"fonts-dejavu-core", "fonts-liberation", "libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"}
    result, apt = run_system_packages(tmp_path / "root", installed=serving, uid=0, target="bench")
    assert result.returncode == 0, result.stderr
    assert next(line.split() for line in apt.splitlines() if line.startswith("install"))[-1:] == ["wrk"]
    result, apt = run_system_packages(tmp_path / "user", installed=serving, uid=1000, target="bench")
    assert result.returncode == 1 and apt == ""
    assert "sudo apt-get update && sudo apt-get install -y wrk" in result.stderr
    result, apt = run_system_packages(tmp_path / "done", installed=serving | {"wrk"}, uid=0, target="bench")
    assert result.returncode == 0 and apt == ""
