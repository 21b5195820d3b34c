"""Every browser-test module runs on its own copy of the seeded demo, so modules pass in any order,
alone or together: what one module adds or changes is never seen by the next. Checked by running
two small modules through the real ``live_app`` fixture in both orders (no browser needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHANGES = """
import sqlalchemy as sa

from portal.auth.models import Account
from portal.database import db, write_transaction


def test_this_module_changes_its_demo(live_app):
    with live_app.app_context(), write_transaction():
        db.session.execute(sa.update(Account).values(surname="Изменённая"))
"""

READS = """
import sqlalchemy as sa

from portal.auth.models import Account
from portal.database import db


def test_this_module_sees_the_demo_as_seeded(live_app):
    with live_app.app_context():
        assert "Изменённая" not in set(db.session.scalars(sa.select(Account.surname)))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) > 0
"""


def test_modules_do_not_see_each_others_changes_in_either_order(tmp_path):
    (tmp_path / "conftest.py").write_text("from e2e.conftest import *  # noqa: F403\n")
    (tmp_path / "test_a_changes.py").write_text(CHANGES)
    (tmp_path / "test_b_reads.py").write_text(READS)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for order in (["test_a_changes.py", "test_b_reads.py"], ["test_b_reads.py", "test_a_changes.py"]):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *order],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert "2 passed" in run.stdout
