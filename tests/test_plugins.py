"""The plugin host and the contract: every hook documented and tested, failures isolated."""

from __future__ import annotations

import ast
import inspect
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal import hookspecs
from portal.config import ROOT
from portal.plugins import PluginError

EVERYTHING = "tests.fixture_plugins.everything"
HOOK_NAMES = sorted(
    name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "portal_spec")
)


def test_every_hook_is_documented():
    docs = (ROOT / "docs" / "plugin_hooks.md").read_text()
    headings = set(re.findall(r"^## `?(\w+)\(", docs, flags=re.M))
    assert HOOK_NAMES, "no hooks found in hookspecs"
    assert set(HOOK_NAMES) - headings == set(), "hooks without a section in docs/plugin_hooks.md"
    assert headings - set(HOOK_NAMES) == set(), "docs describe hooks that do not exist"


def test_every_hook_has_a_test():
    """Each hook has a ``test_hook_<name>`` in some file under tests/ (a topic's file may hold it)."""
    tested = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tested |= set(re.findall(r"^def test_hook_(\w+)\(", path.read_text(), flags=re.M))
    assert set(HOOK_NAMES) - tested == set(), "hooks without a test_hook_<name>"


def test_every_hook_has_a_docstring():
    for name in HOOK_NAMES:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


@pytest.fixture
def everything_app(app_factory):
    return app_factory(TESTING_PLUGINS=[EVERYTHING])


def test_hook_plugin_settings(app_factory):
    app = app_factory(TESTING_PLUGINS=[EVERYTHING], PLUGIN_CONFIG={EVERYTHING: {"greeting": "hi"}})
    with app.app_context():
        from portal.plugin_api import plugin_config

        assert plugin_config(EVERYTHING) == {"greeting": "hi"}
        assert plugin_config("hotline")["phone"] == "122"


def test_unknown_plugin_setting_stops_start_up(app_factory):
    with pytest.raises(PluginError, match="no settings named"):
        app_factory(TESTING_PLUGINS=[EVERYTHING], PLUGIN_CONFIG={EVERYTHING: {"greting": "typo"}})


def test_hook_register_blueprints(everything_app):
    client = everything_app.test_client()
    response = client.get("/everything/")
    assert response.status_code == 200
    assert "<h1>Everything page</h1>" in response.get_data(as_text=True)


def test_hook_register_commands(everything_app):
    result = everything_app.test_cli_runner().invoke(args=["everything-hello"])
    assert result.exit_code == 0
    assert "hello from a plugin command" in result.output


def test_hook_register_themes(everything_app):
    client = everything_app.test_client()
    client.set_cookie("theme", "sepia")
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'href="(/assets/themes/sepia\.[0-9a-f]{12}\.css)"', html)
    assert match, "the plugin's theme stylesheet is not linked"
    css = client.get(match.group(1))
    assert css.status_code == 200 and b"#fbf3e4" in css.data
    assert "Sepia" in client.get("/settings/display").get_data(as_text=True)


def test_hook_navigation_items(everything_app):
    html = everything_app.test_client().get("/everything/").get_data(as_text=True)
    nav = html[html.index('<nav class="site-menu main-nav" id="menu"') : html.index("</nav>", html.index('id="menu"'))]
    assert '<a href="/everything/" aria-current="page">Everything nav</a>' in nav
    # Ordered by the items' order: core "Home" (10) before the plugin's (50) before "Sign in" (90).
    assert nav.index('href="/"') < nav.index("Everything nav") < nav.index("/auth/sign-in")


def test_hook_dashboard_cards(everything_app):
    html = everything_app.test_client().get("/").get_data(as_text=True)
    assert "Everything card" in html and "The word is Marker-42." in html
    assert html.index("Everything card") < html.index('id="card-clinics"')  # order 5 before 20


def test_hook_footer_links(everything_app):
    html = everything_app.test_client().get("/").get_data(as_text=True)
    footer = html[html.index("<footer") :]
    assert '<a href="/everything/">Everything footer</a>' in footer


def test_a_raising_dashboard_card_leaves_the_page_with_the_other_cards(app_factory, caplog):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.broken_card", EVERYTHING], PLUGINS_RAISE_ERRORS=False)
    response = app.test_client().get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Everything card" in html and 'id="card-hotline"' in html and 'id="card-clinics"' in html
    assert "this plugin is broken" in caplog.text  # logged for the operators, not shown
    assert "this plugin is broken" not in html


def test_a_raising_card_is_raised_in_development(app_factory):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.broken_card"], PLUGINS_RAISE_ERRORS=True)
    with app.test_request_context("/"):
        from portal.rendering import current_page

        with pytest.raises(RuntimeError, match="this plugin is broken"):
            app.extensions["portal.plugins"].collect("dashboard_cards", page=current_page())


def test_a_misspelt_hook_stops_start_up(app_factory):
    with pytest.raises(PluginError, match="unknown hook"):
        app_factory(TESTING_PLUGINS=["tests.fixture_plugins.misspelt"])


def test_an_enabled_plugin_that_is_not_installed_stops_start_up(app_factory):
    with pytest.raises(PluginError, match="'telepathy' is enabled in PLUGINS but not installed"):
        app_factory(PLUGINS=["hotline", "telepathy"])


def test_an_enabled_plugin_that_fails_to_import_stops_start_up(app_factory, monkeypatch):
    import portal.plugins as host

    broken = EntryPoint("broken", "tests.fixture_plugins.no_such_module", host.ENTRY_POINT_GROUP)
    real = host.entry_points
    monkeypatch.setattr(host, "entry_points", lambda group: [*real(group=group), broken])
    with pytest.raises(PluginError, match="'broken' failed to load"):
        app_factory(PLUGINS=["broken"])


def test_testing_plugins_are_refused_outside_testing(app_factory):
    with pytest.raises(PluginError, match="only allowed when TESTING"):
        app_factory(TESTING=False, TESTING_PLUGINS=[EVERYTHING])


def test_a_disabled_plugin_serves_nothing(app_factory):
    app = app_factory(PLUGINS=[])
    client = app.test_client()
    assert client.get("/hotline/").status_code == 404
    assert "122" not in client.get("/").get_data(as_text=True)
    listing = app.test_cli_runner().invoke(args=["plugins"]).output
    assert re.search(r"^hotline\s+\S+\s+installed, not enabled", listing, flags=re.M)


def test_plugins_command_lists_name_version_hooks_and_status(app):
    result = app.test_cli_runner().invoke(args=["plugins"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if line.startswith("hotline"))
    assert "0.1.0" in line and "enabled" in line
    for hook in ("dashboard_cards", "footer_links", "plugin_settings", "register_blueprints", "register_commands"):
        assert hook in line


def test_plugin_pages_and_cards_use_the_plugins_own_catalog(client):
    client.set_cookie("lang", "ru")
    page = client.get("/hotline/").get_data(as_text=True)
    assert "Единая справочная служба" in page and "Скорая помощь" in page
    assert "Перейти к основному содержанию" in page  # the core layout is still translated
    home = client.get("/").get_data(as_text=True)
    card = home[home.index('id="card-hotline"') :]
    card = card[: card.index("</li>")]
    assert "Единая справочная служба" in card and "Call " not in card and "позвоните" in card
    assert "Медицинские организации" in home  # core strings after the card are still Russian
    client.set_cookie("lang", "en")
    assert "Ambulance" in client.get("/hotline/").get_data(as_text=True)


def test_a_region_overrides_plugin_settings(app_factory):
    app = app_factory(PLUGIN_CONFIG={"hotline": {"phone": "8-800-100-00-00"}})
    html = app.test_client().get("/hotline/").get_data(as_text=True)
    assert "8-800-100-00-00" in html


def _portal_imports(path: Path, root: Path = ROOT) -> set[str]:
    """What a file takes from ``portal``, as module names: ``import portal.x``, ``from portal import
    x`` (``portal.x``), a name ``portal.plugin_api`` does not export (``portal.plugin_api.<name>``:
    the modules it imports are not the contract), a relative import resolved from the file's place
    (one that climbs out of its package counts too), and a module named as a string constant
    (``importlib.import_module("portal.database")``, ``__import__``)."""
    from portal import plugin_api

    package = path.resolve().relative_to(root.resolve()).parent.parts if path.is_relative_to(root) else ()
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "portal"}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                if node.level > len(package):
                    found.add(f"{'.' * node.level}{module} (relative, outside the package)")
                    continue
                base = package[: len(package) - node.level + 1]
                module = ".".join((*base, module) if module else base)
            if module.split(".")[0] != "portal":
                continue
            for alias in node.names:
                if module == "portal":
                    found.add(f"portal.{alias.name}")
                elif module == "portal.plugin_api" and alias.name not in plugin_api.__all__:
                    found.add(f"portal.plugin_api.{alias.name}")
                else:
                    found.add(module)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"portal(\.\w+)*", node.value)
        ):
            found.add(node.value)
    return found


def test_plugins_import_nothing_from_portal_but_plugin_api():
    files = list((ROOT / "plugins").rglob("*.py"))
    assert files
    offenders = {str(f.relative_to(ROOT)): _portal_imports(f) - {"portal.plugin_api"} for f in files}
    assert {f: i for f, i in offenders.items() if i} == {}


def test_the_import_check_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from portal.database import db\nimport portal.rendering\n")
    assert _portal_imports(bad) == {"portal.database", "portal.rendering"}


def test_the_import_check_catches_the_indirect_forms(tmp_path):
    """``from portal import x``, a core module reached through the facade's own imports, a facade
    submodule, a relative import and a module named by string are all caught; the facade is not."""
    folder = tmp_path / "plugins" / "probe"
    folder.mkdir(parents=True)
    probe = folder / "probe.py"
    cases = {
        "from portal import database\n": {"portal.database"},
        "from portal import plugin_api\n": {"portal.plugin_api"},
        "from portal.plugin_api import rendering, render\n": {"portal.plugin_api.rendering", "portal.plugin_api"},
        "from portal.plugin_api.card import open_for_plugin\n": {"portal.plugin_api.card"},
        "import importlib\n\ndb = importlib.import_module('portal.database')\n": {"portal.database"},
        "auth = __import__('portal.auth.models')\n": {"portal.auth.models"},
        "from .... import portal\n": {".... (relative, outside the package)"},
        "from . import views\n": set(),
    }
    for source, expected in cases.items():
        probe.write_text(source)
        assert _portal_imports(probe, tmp_path) == expected, source


def test_an_error_in_a_start_up_hook_stops_start_up_naming_the_plugin(app_factory):
    with pytest.raises(PluginError, match="'tests.fixture_plugins.broken_startup' failed in register_blueprints"):
        app_factory(TESTING_PLUGINS=["tests.fixture_plugins.broken_startup"])


def test_hook_notification_channels(app_factory, demo_factory):
    from tests.fixture_plugins import sms_gateway

    sms_gateway.SENT.clear()
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.sms_gateway"])
    people = demo_factory(app)
    from tests.conftest import csrf_token, session_for

    client = app.test_client()
    session_for(app, client, people["patient"].id, stage="enrol")
    token = csrf_token(client, "/auth/enrol")
    assert client.post("/auth/enrol/phone/send", data={"csrf_token": token}).status_code == 303
    assert len(sms_gateway.SENT) == 1
    message = sms_gateway.SENT[0]
    assert message.recipient == people["patient"].phone
    assert re.search(r"\b\d{6}\b", message.body)
    from tests.conftest import outbox

    assert outbox(app, people["patient"].phone)[-1].sent_at is not None


def test_hook_access_denials(app_factory, demo_factory):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.deny_rules:NoAccessLog"])
    people = demo_factory(app)
    from tests.conftest import session_for

    client = app.test_client()
    session_for(app, client, people["patient"].id)
    patient_id = people["patient"].patient_id
    assert client.get(f"/card/{patient_id}").status_code == 200
    assert client.get(f"/card/{patient_id}/access-log").status_code == 404
    from portal.audit.models import AuditEvent
    from portal.database import db

    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.outcome == "denied" and "the region hides the access log" in event.reason


def test_a_failing_access_rule_denies(app_factory, demo_factory):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.deny_rules:Broken"])
    people = demo_factory(app)
    from tests.conftest import session_for

    client = app.test_client()
    session_for(app, client, people["patient"].id)
    assert client.get(f"/card/{people['patient'].patient_id}").status_code == 404
