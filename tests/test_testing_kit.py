"""The author's kit: portal.testing's fixtures, and ``flask --app portal new-plugin``, whose plugin's
own tests pass as written (run here in a pytest of their own, as an integrator runs them)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.config import ROOT
from portal.database import db
from portal.plugin_skeleton import write_skeleton
from portal.testing import ROLES

KIT_PAGES = "tests.fixture_plugins.kit_pages"


def test_the_kit_is_a_pytest_plugin_of_the_portal():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"medkarta": "portal.testing.plugin"}


def test_the_portal_never_imports_its_test_kit():
    """portal.testing seeds demo data and signs people in without a password: no module of the
    product may import it, so it never runs behind a request."""
    from tests.test_imports import PORTAL, imported_modules

    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imported_modules(path) if n.startswith("portal.testing"))
        for path in sorted(PORTAL.rglob("*.py"))
        if "testing" not in path.relative_to(PORTAL).parts
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_portal_app_enables_only_the_plugins_named(portal_app):
    bare = portal_app(plugins=[])
    with_hotline = portal_app(plugins=["hotline"])
    assert bare.testing and with_hotline.testing
    assert bare.test_client().get("/hotline/").status_code == 404
    assert with_hotline.test_client().get("/hotline/").status_code == 200
    statuses = {row.name: row.status for row in with_hotline.extensions["portal.plugins"].describe()}
    assert statuses["hotline"] == "enabled"
    assert "tests.fixture_plugins.sms_gateway" not in statuses  # the repository's own tests add it; the kit does not


def test_portal_app_passes_settings_on_as_docs_plugins_md_shows(portal_app):
    app = portal_app(plugins=["hotline"], PLUGIN_CONFIG={"hotline": {"phone": "8-800-100-00-00"}})
    assert "8-800-100-00-00" in app.test_client().get("/hotline/").get_data(as_text=True)


def test_each_app_has_a_copy_of_the_demo_of_its_own(portal_app, demo_cards):
    from portal.record.models import Patient

    first, second = portal_app(), portal_app()
    with first.app_context():
        patient = db.session.get(Patient, demo_cards["patient"])
        assert (patient.surname, patient.name) == ("Смирнова", "Елена")
        assert db.session.get(Patient, demo_cards["child_9"]).name == "Дарья"
        patient.name = "Changed"
        db.session.commit()
    with second.app_context():
        assert db.session.get(Patient, demo_cards["patient"]).name == "Елена"


def test_an_app_without_the_demo_is_empty(portal_app):
    from portal.auth.models import Account

    app = portal_app(demo=False)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 0


def test_client_as_signs_in_every_demo_person(portal_app, client_as):
    app = portal_app()
    assert app.test_client().get("/auth/sessions").status_code == 303  # nobody signed in: to the sign-in page
    for role in ROLES:
        assert client_as(role).get("/auth/sessions").status_code == 200, role


def test_a_signed_in_client_is_who_the_demo_says(portal_app, client_as, demo_cards):
    portal_app()
    card = f"/card/{demo_cards['patient']}"
    assert client_as("patient").get(card).status_code == 200
    assert client_as("guardian").get(card).status_code == 404  # not his card: no data, as for any card not one's own
    with pytest.raises(KeyError, match="no demo person 'surgeon'"):
        client_as("surgeon")


def test_count_queries_counts_the_statements_of_the_block(portal_app, count_queries):
    client = portal_app().test_client()
    client.get("/clinics")
    with count_queries() as statements:
        assert client.get("/clinics?q=1").status_code == 200
    counted = len(statements)
    assert counted > 0 and all(not s.startswith(("BEGIN", "COMMIT")) for s in statements)
    client.get("/clinics?q=2")
    assert len(statements) == counted  # the block is over: nothing more is counted


@pytest.mark.slow
def test_check_page_passes_a_clean_page_and_names_what_axe_finds(portal_app, check_page):
    portal_app(plugins=["hotline"], testing_plugins=[KIT_PAGES])
    check_page("/kit-pages/clean", lang="en", js=(True, False))
    check_page("/hotline/", lang="ru", js=True)
    with pytest.raises(AssertionError) as failed:
        check_page("/kit-pages/unlabelled", lang="en", js=True)
    assert "/kit-pages/unlabelled (en, every theme, JavaScript on)" in str(failed.value)
    assert "label" in str(failed.value)


def test_check_page_signs_in_as_a_demo_person(portal_app, check_page, demo_cards):
    portal_app()
    assert check_page("/auth/sessions", role="patient", lang="en", js=True) == "Active sessions"
    assert check_page("/auth/sessions", lang="en", js=True).startswith("Sign in")  # to the sign-in page


# -- new-plugin ---------------------------------------------------------------------------------


def installed_as_entry_point(folder: Path, name: str, site: Path) -> None:
    """What ``pip install -e`` leaves for the portal to find: a distribution's metadata with the
    plugin's entry point, in a folder on the path (the package itself is imported from ``folder``)."""
    info = site / f"medkarta_{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {folder.name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[portal.plugins]\n{name} = medkarta_{name}\n")


@pytest.mark.slow
def test_a_new_plugin_passes_its_own_tests_as_written(tmp_path):
    folder = write_skeleton("telemed", tmp_path, "Telemedicine", "Телемедицина")
    installed_as_entry_point(folder, "telemed", tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder), str(tmp_path / "site")])}
    # The kit comes through its pytest11 entry point once the portal is installed from this pyproject.
    kit = (
        []
        if any(ep.value == "portal.testing.plugin" for ep in entry_points(group="pytest11"))
        else ["-p", "portal.testing.plugin"]
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *kit, "-p", "no:cacheprovider", "-q"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout, result.stdout[-2000:]


def test_a_new_plugin_has_its_entry_point_contract_catalogues_and_migrations_folder(tmp_path):
    folder = write_skeleton("child_care", tmp_path)
    assert folder.name == "medkarta-child-care"
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["portal.plugins"] == {"child_care": "medkarta_child_care"}
    package = folder / "medkarta_child_care"
    source = (package / "__init__.py").read_text()
    assert 'CONTRACT = "1.0"' in source and 'url_prefix="/child-care"' in source
    assert "from portal import" not in source and "import portal." not in source.replace("portal.plugin_api", "")
    assert (package / "templates" / "child_care" / "index.html").is_file()
    for lang in ("ru", "en"):
        assert (package / "translations" / lang / "LC_MESSAGES" / "child_care.mo").is_file()
    assert "Модуль «Child care»" in (package / "translations/ru/LC_MESSAGES/child_care.po").read_text()
    assert (package / "migrations" / "README.md").is_file()
    assert (folder / "tests" / "test_child_care.py").is_file()


@pytest.mark.parametrize("name", ["1st", "Telemed", "tele-med", "class", "tele med", "телемед", ""])
def test_new_plugin_refuses_a_name_that_cannot_name_a_package(app, tmp_path, name):
    result = app.test_cli_runner().invoke(args=["new-plugin", name, "--dir", str(tmp_path / "plugins")])
    assert result.exit_code != 0
    assert "cannot name a plugin" in result.output
    assert not (tmp_path / "plugins").exists()


def test_new_plugin_refuses_a_folder_that_exists_and_leaves_it_alone(app, tmp_path):
    (tmp_path / "medkarta-telemed").mkdir()
    (tmp_path / "medkarta-telemed" / "notes.txt").write_text("mine")
    result = app.test_cli_runner().invoke(args=["new-plugin", "telemed", "--dir", str(tmp_path)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert [p.name for p in (tmp_path / "medkarta-telemed").iterdir()] == ["notes.txt"]


def test_new_plugin_says_where_it_wrote_and_what_comes_next(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["new-plugin", "telemed", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'medkarta-telemed'}" in result.output
    assert "add 'telemed' to PLUGINS" in result.output
