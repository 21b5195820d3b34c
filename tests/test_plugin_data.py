"""Plugins' own tables: installed, migrated on their own branch, kept while disabled, refused when
misnamed or keyed into the core. Each test has a database of its own (the plugin's tables must
not reach the shared one)."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import db
from portal.plugin_api import PluginData, account_key, patient_key
from portal.plugin_host_data import check_plugins, migrate_plugins
from portal.plugins import PluginError
from tests.conftest import ON_POSTGRES

NOTES = "tests.fixture_plugins.notes"
SMS = "tests.fixture_plugins.sms_gateway"  # conftest's default test plugin, kept when notes is off


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own: a copy of the template (SQLite) or a clone of it,
    dropped after (PostgreSQL)."""
    if not ON_POSTGRES:
        shutil.copyfile(database_template, tmp_path / "medkarta.db")
        yield f"sqlite:///{tmp_path / 'medkarta.db'}"
        return
    template = sa.make_url(database_template)
    name = f"medkarta_data_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(os.environ["PORTAL_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    try:
        yield template.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def column(app, sql: str) -> list:
    with app.app_context():
        return list(db.session.execute(sa.text(sql)).scalars())


def test_hook_plugin_data(app_factory):
    app = app_factory(TESTING_PLUGINS=[NOTES])
    assert f"{NOTES}: upgraded from nothing to notes02" in cli(app, "db", "upgrade")
    assert cli(app, "notes-add", "Bring the X-ray") == "note 1 written\n"
    assert cli(app, "notes-tag", "1", "urgent") == "note 1 tagged urgent\n"
    html = app.test_client().get("/notes/").get_data(as_text=True)
    assert "<li>Bring the X-ray</li>" in html and "<li>urgent</li>" in html
    assert column(app, "SELECT version_num FROM notes_alembic_version") == ["notes02"]


def test_a_disabled_plugin_keeps_its_data_and_continues_its_branch_when_enabled_again(app_factory):
    # Installed at the plugin's first version: its branch up to notes01 only.
    first = app_factory(TESTING_PLUGINS=[SMS, NOTES])
    migrate_plugins(first, {NOTES: "notes01"})
    cli(first, "notes-add", "Bring the X-ray")
    assert cli(first, "db", "plugin-status") == f"{NOTES}: notes01, behind (head notes02)\n"
    core_head = column(first, "SELECT version_num FROM alembic_version")

    # Disabled: its routes and commands are gone, its rows stay, the core still upgrades.
    off = app_factory(TESTING_PLUGINS=[SMS])
    assert off.test_client().get("/notes/").status_code == 404
    assert off.test_cli_runner().invoke(args=["notes-add", "lost"]).exit_code != 0
    cli(off, "db", "upgrade")
    cli(off, "db", "check")  # the core's autogenerate sees nothing to drop: the tables are the plugin's
    assert column(off, "SELECT body FROM notes_note") == ["Bring the X-ray"]
    assert column(off, "SELECT version_num FROM alembic_version") == core_head  # no plugin revision in it
    assert cli(off, "db", "plugin-status") == "notes: not enabled, its tables are kept\n"

    # Enabled again, at its second version: the branch goes on from notes01, the note is still there.
    on = app_factory(TESTING_PLUGINS=[SMS, NOTES])
    assert f"{NOTES}: upgraded from notes01 to notes02" in cli(on, "db", "upgrade")
    assert f"{NOTES}: notes02, up to date" in cli(on, "db", "upgrade")
    cli(on, "notes-tag", "1", "urgent")
    html = on.test_client().get("/notes/").get_data(as_text=True)
    assert "<li>Bring the X-ray</li>" in html and "<li>urgent</li>" in html
    assert column(on, "SELECT count(*) FROM notes_note") == [1]


def test_the_notes_plugin_imports_only_the_plugin_api():
    from tests.test_plugins import _portal_imports

    files = list((Path(__file__).parent / "fixture_plugins" / "notes").rglob("*.py"))
    assert len(files) == 4  # the hooks, the models, two revisions
    assert set().union(*map(_portal_imports, files)) == {"portal.plugin_api"}


def test_a_wrongly_named_table_stops_start_up_naming_the_plugin_and_the_table(app_factory):
    plugin = "tests.fixture_plugins.bad_tables:WrongPrefix"
    with pytest.raises(PluginError, match=f"plugin '{plugin}' declares table 'memo': .* named bad_tables_"):
        app_factory(TESTING_PLUGINS=[plugin])


def test_a_foreign_key_into_a_core_table_stops_start_up(app_factory):
    plugin = "tests.fixture_plugins.bad_tables:CoreKey"
    with pytest.raises(PluginError, match=f"'{plugin}': table 'bad_tables_booking' refers to appointment.id"):
        app_factory(TESTING_PLUGINS=[plugin])


def declaring(name: str, table: str, *columns: sa.Column) -> PluginData:
    data = PluginData(name, __file__)
    sa.Table(table, data.metadata, sa.Column("id", sa.Integer, primary_key=True), *columns)
    return data


@pytest.mark.parametrize(
    ("plugin", "data", "message"),
    [
        ("myregion", declaring("region", "region_visit"), "'myregion' names its data 'region', not 'myregion'"),
        ("audit", declaring("audit", "audit_extra"), "the core's table 'audit_\\w+' already uses audit_"),
        (
            "myregion",
            declaring("myregion", "myregion_visit", sa.Column("patient_id", sa.ForeignKey("patient.id"))),
            "refers to patient.id; .* with patient_key\\(\\) and account_key\\(\\)",
        ),
        ("myregion", declaring("myregion", "myregion_alembic_version"), "declares table 'myregion_alembic_version'"),
    ],
)
def test_plugin_data_that_breaks_the_rules_is_refused(app, plugin, data, message):
    with pytest.raises(PluginError, match=message):
        check_plugins(app, [(plugin, data)])


def test_two_plugins_cannot_keep_tables_under_one_name(app):
    first, second = declaring("notes", "notes_note"), declaring("notes", "notes_page")
    with pytest.raises(PluginError, match="'b.notes': another enabled plugin already keeps tables as 'notes'"):
        check_plugins(app, [("a.notes", first), ("b.notes", second)])


def test_keys_to_patient_and_account_are_allowed(app):
    data = PluginData("myregion", __file__)

    class Visit(data.Model):
        __tablename__ = "myregion_visit"

        id: Mapped[int] = mapped_column(primary_key=True)
        patient_id: Mapped[int] = mapped_column(patient_key())
        nurse_id: Mapped[int] = mapped_column(account_key())

    assert check_plugins(app, [("myregion", data)]) == {"myregion": data}


DRAFTS = """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    from portal.plugin_api import PluginData, account_key, hookimpl

    CONTRACT = "1.0"
    data = PluginData("drafts", __file__)


    class Draft(data.Model):
        __tablename__ = "drafts_draft"

        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(account_key())
        text: Mapped[str] = mapped_column(String(100))


    @hookimpl
    def plugin_data():
        return data
"""


def write_plugin(root: Path, name: str, files: dict[str, str], monkeypatch) -> Path:
    """A plugin package ``name`` under ``root``, importable for this test only."""
    package = root / "src" / name
    for path, text in files.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(root / "src"))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return package


def test_an_author_generates_a_revision_for_the_plugins_branch_and_applies_it(app_factory, tmp_path, monkeypatch):
    package = write_plugin(tmp_path, "drafts", {"__init__.py": DRAFTS}, monkeypatch)
    app = app_factory(TESTING_PLUGINS=["drafts"])

    cli(app, "db", "plugin-revision", "drafts", "-m", "drafts", "--autogenerate", "--rev-id", "drafts01")
    revision = (package / "migrations" / "versions" / "drafts01_drafts.py").read_text()
    assert "op.create_table('drafts_draft'" in revision and "['account.id']" in revision
    assert "patient" not in revision  # the core's tables are not the branch's business
    assert "drafts: upgraded from nothing to drafts01" in cli(app, "db", "upgrade")
    assert column(app, "SELECT count(*) FROM drafts_draft") == [0]
    output = cli(app, "db", "plugin-revision", "drafts", "-m", "again", "--autogenerate")
    assert output == "drafts: its tables match the database, no revision written\n"


BROKEN_REVISION = """
    import sqlalchemy as sa
    from alembic import op

    revision = "wobbly01"
    down_revision = None


    def upgrade():
        op.create_table("wobbly_half", sa.Column("id", sa.Integer, primary_key=True))
        raise RuntimeError("the region's data file is missing")
"""


def test_a_failing_plugin_migration_names_the_plugin_and_leaves_nothing_half_done(app_factory, tmp_path, monkeypatch):
    plugin = """
        from portal.plugin_api import PluginData, hookimpl

        CONTRACT = "1.0"
        data = PluginData("wobbly", __file__)


        @hookimpl
        def plugin_data():
            return data
    """
    files = {"__init__.py": plugin, "migrations/versions/wobbly01_half.py": BROKEN_REVISION}
    write_plugin(tmp_path, "wobbly", files, monkeypatch)
    app = app_factory(TESTING_PLUGINS=[NOTES, "wobbly"])

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert f"{NOTES}: upgraded from nothing to notes02" in result.output  # enabled before it: migrated
    assert "plugin 'wobbly': its migration failed: RuntimeError(\"the region's data file is missing\")" in result.output
    with app.app_context():
        tables = sa.inspect(db.engine).get_table_names()
    assert "notes_note" in tables and "wobbly_half" not in tables
