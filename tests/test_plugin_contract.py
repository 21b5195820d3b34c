"""Issue 12, points 10 and 11: the contract's version, typed settings, deny rules that say what
they govern (and fail only there), and what docs/plugin_hooks.md says about them."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from portal.config import ROOT
from portal.plugins import PluginError

CONTRACTS = "tests.fixture_plugins.contracts"
TYPED = "tests.fixture_plugins.typed_settings"
RULES = "tests.fixture_plugins.scoped_rules"
EVERYTHING = "tests.fixture_plugins.everything"


# -- the contract's version ------------------------------------------------------------------


def test_the_contract_version_is_public_and_hotline_is_built_for_it():
    import plugins.hotline
    from portal import plugin_api

    assert re.fullmatch(r"\d+\.\d+", plugin_api.CONTRACT_VERSION)
    assert plugins.hotline.CONTRACT == plugin_api.CONTRACT_VERSION


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("NextMajor", r"'tests.fixture_plugins.contracts:NextMajor' was built for plugin contract 2.0, and this "
         r"portal has contract 1.0: a different major version breaks plugins"),
        ("NewerMinor", r"'tests.fixture_plugins.contracts:NewerMinor' was built for plugin contract 1.99, newer "
         r"than this portal's 1.0"),
        ("Undeclared", r"'tests.fixture_plugins.contracts:Undeclared' does not say which plugin contract it was "
         r"built for: add CONTRACT = \"1.0\" to its module"),
        ("Garbled", r"'tests.fixture_plugins.contracts:Garbled' declares CONTRACT = 'one', which is not a version"),
    ],
)  # fmt: skip
def test_a_plugin_built_for_another_contract_is_refused_naming_both_versions(app_factory, plugin, message):
    with pytest.raises(PluginError, match=message):
        app_factory(TESTING_PLUGINS=[f"{CONTRACTS}:{plugin}"])


def test_a_misspelt_hook_is_caught_at_start_up_naming_plugin_and_hook(app_factory):
    with pytest.raises(PluginError) as refused:
        app_factory(TESTING_PLUGINS=["tests.fixture_plugins.misspelt"])
    assert "'tests.fixture_plugins.misspelt' implements an unknown hook" in str(refused.value)
    assert "dashbord_cards" in str(refused.value)


# -- typed settings --------------------------------------------------------------------------


def _settings(app, name=TYPED):
    with app.app_context():
        from portal.plugin_api import plugin_config

        return plugin_config(name)


def test_typed_settings_have_their_defaults_and_convert_the_config(app_factory):
    assert _settings(app_factory(TESTING_PLUGINS=[TYPED])) == {
        "url": "https://sms.example.org/send",
        "retries": 3,
        "timeout": 2.5,
        "enabled": True,
        "language": "ru",  # a default the hook read from the app: it runs in the app context
        "token": "",
        "signing_key": "",
    }
    configured = {"retries": "5", "timeout": 4, "enabled": "no", "url": "https://gw.region.ru/"}
    settings = _settings(app_factory(TESTING_PLUGINS=[TYPED], PLUGIN_CONFIG={TYPED: configured}))
    assert settings["retries"] == 5 and settings["timeout"] == 4.0 and settings["enabled"] is False
    assert settings["url"] == "https://gw.region.ru/"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("retries", "three", "a whole number"), ("timeout", True, "a number"), ("enabled", "perhaps", "true or false"),
     ("url", 8080, "text"), ("retries", 2.5, "a whole number")],
)  # fmt: skip
def test_a_value_of_the_wrong_type_stops_start_up_naming_plugin_and_key(app_factory, key, value, expected):
    with pytest.raises(PluginError, match=rf"plugin '{TYPED}': setting '{key}' must be {expected}, got {value!r}"):
        app_factory(TESTING_PLUGINS=[TYPED], PLUGIN_CONFIG={TYPED: {key: value}})


def test_an_unknown_key_stops_start_up_naming_the_valid_keys(app_factory):
    with pytest.raises(PluginError) as refused:
        app_factory(TESTING_PLUGINS=[TYPED], PLUGIN_CONFIG={TYPED: {"retires": 5}})
    assert str(refused.value) == (
        f"plugin '{TYPED}' has no settings named ['retires']; its settings are: "
        "enabled, language, retries, signing_key, timeout, token, url"
    )


def test_a_secret_comes_from_the_environment_and_never_from_the_config_file(app_factory, monkeypatch):
    monkeypatch.setenv("PORTAL_PLUGIN_TESTS_FIXTURE_PLUGINS_TYPED_SETTINGS_TOKEN", "t0ken-from-env")
    monkeypatch.setenv("REGION_SMS_SIGNING_KEY", "k3y")
    settings = _settings(app_factory(TESTING_PLUGINS=[TYPED]))
    assert settings["token"] == "t0ken-from-env" and settings["signing_key"] == "k3y"
    with pytest.raises(PluginError) as refused:
        app_factory(TESTING_PLUGINS=[TYPED], PLUGIN_CONFIG={TYPED: {"token": "pasted-into-toml"}})
    assert str(refused.value) == (
        f"plugin '{TYPED}': setting 'token' is a secret and is never read from PLUGIN_CONFIG; "
        "set the environment variable PORTAL_PLUGIN_TESTS_FIXTURE_PLUGINS_TYPED_SETTINGS_TOKEN instead"
    )
    assert "pasted-into-toml" not in str(refused.value)


def test_a_malformed_secret_is_refused_without_showing_it(app_factory, monkeypatch):
    from portal.plugin_api import Setting
    from portal.plugin_host_settings import SettingsError, resolve

    pin = Setting("pin", int, 0, "the gateway's PIN", secret=True)
    with pytest.raises(SettingsError) as refused:
        resolve("region_sms", [pin], {}, {"PORTAL_PLUGIN_REGION_SMS_PIN": "12ab-secret"})
    assert "'pin' must be a whole number, got (hidden: a secret)" in str(refused.value)
    assert "12ab-secret" not in str(refused.value)


def test_the_dict_form_still_declares_untyped_settings(app_factory):
    untyped = f"{TYPED}:Untyped"
    app = app_factory(TESTING_PLUGINS=[untyped], PLUGIN_CONFIG={untyped: {"hours": 24}})
    assert _settings(app, untyped) == {"phone": "122", "hours": 24}
    with pytest.raises(PluginError, match="has no settings named \\['phon'\\]; its settings are: hours, phone"):
        app_factory(TESTING_PLUGINS=[untyped], PLUGIN_CONFIG={untyped: {"phon": "1"}})


def test_a_setting_of_an_unsupported_type_stops_start_up_naming_the_plugin(app_factory):
    with pytest.raises(PluginError, match=r"'tests.fixture_plugins.typed_settings:BadType' failed in plugin_settings"):
        app_factory(TESTING_PLUGINS=[f"{TYPED}:BadType"])


def test_settings_for_a_plugin_that_is_not_enabled_are_a_warning(app_factory, caplog):
    caplog.set_level(logging.WARNING, logger="portal.plugin_host_settings")
    app = app_factory(PLUGIN_CONFIG={"telemedicine": {"url": "https://tm.region.ru"}})
    assert app.test_client().get("/hotline/").status_code == 200
    assert "PLUGIN_CONFIG has settings for 'telemedicine', which is not enabled" in caplog.text


# -- deny rules ------------------------------------------------------------------------------


def test_a_deny_rule_is_told_the_basis(app_factory, demo_factory):
    from portal.access import policy
    from portal.auth.models import Account
    from portal.database import db
    from portal.record.models import Patient
    from tests.fixture_plugins import scoped_rules

    app = app_factory(TESTING_PLUGINS=[f"{RULES}:Recorder"])
    people = demo_factory(app)
    scoped_rules.TOLD.clear()
    with app.app_context():
        patient = db.session.get(Patient, people["patient"].patient_id)
        for key in ("patient", "trusted", "doctor"):
            account = db.session.get(Account, people[key].id)
            assert policy.decide(account, "read", patient, "summary").allowed, key
        guardian = db.session.get(Account, people["guardian"].id)
        assert policy.decide(guardian, "read", people["child_9"], "vaccinations").allowed
    assert [told["basis"] for told in scoped_rules.TOLD] == ["self", "trusted", "clinician", "guardian"]
    assert scoped_rules.TOLD[2]["roles"] == frozenset({"doctor"})
    assert [(told["action"], told["section"]) for told in scoped_rules.TOLD][-1] == ("read", "vaccinations")


def test_a_rule_refuses_on_the_basis(app_factory, demo_factory):
    from portal.access import policy
    from portal.auth.models import Account
    from portal.database import db
    from portal.record.models import Patient

    app = app_factory(TESTING_PLUGINS=[f"{RULES}:NoExportForTrusted"])
    people = demo_factory(app)
    with app.app_context():
        patient = db.session.get(Patient, people["patient"].patient_id)
        trusted = db.session.get(Account, people["trusted"].id)
        owner = db.session.get(Account, people["patient"].id)
        refused = policy.decide(trusted, "export", patient, "summary")
        assert not refused.allowed
        assert refused.reason == f"plugin {RULES}:NoExportForTrusted: trusted persons of this region do not export"
        assert policy.decide(trusted, "read", patient, "summary").allowed
        assert policy.decide(owner, "export", patient, "summary").allowed


def test_a_crashing_rule_denies_only_what_it_governs_and_healthz_names_it(app_factory, demo_factory, caplog):
    crashing = f"{RULES}:CrashesOnResults"
    app = app_factory(TESTING_PLUGINS=[crashing])
    people = demo_factory(app)
    from tests.conftest import session_for

    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    session_for(app, client, people["patient"].id)
    card = f"/card/{people['patient'].patient_id}"
    page = client.get(card)
    assert page.status_code == 200  # the card opens: the rule does not govern its summary
    assert f'href="{card}/results"' not in page.get_data(as_text=True)
    assert client.get(f"{card}/visits").status_code == 200
    assert client.get(f"{card}/results").status_code == 404
    assert f"access rule of plugin '{crashing}' failed on read results" in caplog.text
    assert "the regional register is unreachable" in caplog.text

    from portal.audit.models import AuditEvent
    from portal.database import db

    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.outcome == "denied" and event.reason == f"plugin {crashing} failed, so access is denied"

    health = client.get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["status"] == "degraded"
    assert {"plugin": crashing, "hook": "access_denials"} == {k: body["plugins"][0][k] for k in ("plugin", "hook")}
    assert body["plugins"][0]["failures"] >= 2  # the card page's section list and the section itself
    assert "unreachable" not in health.get_data(as_text=True)

    # Another worker (another app on the same instance folder, so the same counter store) sees it.
    other = app_factory(TESTING_PLUGINS=[crashing])
    assert other.test_client().get("/healthz").get_json()["status"] == "degraded"


def test_a_rule_that_does_not_say_what_it_governs_is_refused(app_factory):
    expected = r"'tests.fixture_plugins.scoped_rules:Undeclared': its access_denials rule does not say what it governs"
    with pytest.raises(PluginError, match=expected + r"; decorate it with @governs\(sections=..., actions=...\)"):
        app_factory(TESTING_PLUGINS=[f"{RULES}:Undeclared"])


def test_governs_names_the_valid_sections_and_actions():
    from portal.plugin_api import ACTIONS, SECTIONS, governs

    with pytest.raises(ValueError, match=r"unknown sections \['Growth chart'\]; the sections are: summary, visits"):
        governs(sections=["Growth chart"])
    # A name the core does not know is taken for a plugin's section of the card (record_sections).
    assert governs(sections=["growth"])(lambda: None).portal_governs.covers("growth", "read")
    with pytest.raises(ValueError, match=rf"unknown actions \['delete'\]; the actions are: {', '.join(ACTIONS)}"):
        governs(actions=["delete"])
    everything = governs()(lambda: None).portal_governs
    assert everything.sections is None and everything.actions == frozenset(ACTIONS)
    assert all(everything.covers(section, "read") for section in (*SECTIONS, "growth"))


def test_a_failing_card_is_counted_for_healthz(app_factory):
    broken = "tests.fixture_plugins.broken_card"
    app = app_factory(TESTING_PLUGINS=[broken], PLUGINS_RAISE_ERRORS=False)
    client = app.test_client()
    assert client.get("/").status_code == 200
    body = client.get("/healthz").get_json()
    assert body == {"status": "degraded", "plugins": [{"plugin": broken, "hook": "dashboard_cards", "failures": 1}]}


def test_plugin_hooks_md_lists_the_names_the_policy_decides_with():
    """The lists in docs/plugin_hooks.md are the policy's own constants (plugin_api re-exports them)."""
    from portal.access import policy
    from portal.auth.models import STAFF_ROLES
    from portal.plugin_api import ACTIONS, BASES, ROLES, SECTIONS

    assert (*policy.SECTIONS, policy.CERTIFICATES) == SECTIONS and ACTIONS == policy.ACTIONS
    assert ROLES == STAFF_ROLES
    docs = (ROOT / "docs" / "plugin_hooks.md").read_text()
    for label, names in (("Sections", SECTIONS), ("Actions", ACTIONS), ("Roles", ROLES), ("Bases", BASES)):
        line = re.search(rf"^- {label}: (.+)$", docs, flags=re.M)
        assert line, f"docs/plugin_hooks.md has no '- {label}:' line"
        assert tuple(re.findall(r"`(\w+)`", line.group(1))) == names, label


# -- a plugin's stylesheets and scripts ------------------------------------------------------

STYLED = "tests.fixture_plugins.styled"


def test_a_plugins_css_and_js_are_linked_on_its_pages_fingerprinted_and_cached(app_factory):
    client = app_factory(TESTING_PLUGINS=[STYLED]).test_client()
    response = client.get("/styled/")
    html = response.get_data(as_text=True)
    css = re.search(r'<link rel="stylesheet" href="(/assets/plugins/styled/styled\.[0-9a-f]{12}\.css)">', html)
    js = re.search(r'<script src="(/assets/plugins/styled/styled\.[0-9a-f]{12}\.js)" defer></script>', html)
    assert css and js, "the plugin's stylesheet and script are not linked"
    assert html.index("/themes/default.") < css.start() < html.index("</head>")  # after the theme it uses
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]  # the same strict policy
    for url, body in ((css[1], b"var(--link)"), (js[1], b"styled-script-status")):
        served = client.get(url, headers={"Accept-Encoding": "identity"})
        assert served.status_code == 200 and body in served.data
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(css[1].replace(css[1][-16:-4], "0" * 12)).status_code == 404  # a stale fingerprint
    assert "/assets/plugins/styled/" not in client.get("/").get_data(as_text=True)  # its pages only


def test_a_missing_plugin_file_stops_start_up(app_factory, monkeypatch):
    from tests.fixture_plugins import styled

    monkeypatch.setattr(styled.bp, "scripts", ("gone.js",))
    with pytest.raises(
        PluginError, match=rf"plugin '{STYLED}': blueprint 'styled' names .*gone\.js, which does not exist"
    ):
        app_factory(TESTING_PLUGINS=[STYLED])


def test_a_blueprint_takes_only_css_and_js():
    from portal.plugin_api import Blueprint

    with pytest.raises(ValueError, match=r"'logo.svg' is not a .css stylesheet or a .js script"):
        Blueprint("logo", __name__, stylesheets=("logo.svg",))


def test_the_plugins_command_lists_each_setting_without_secret_values(app_factory, monkeypatch):
    monkeypatch.setenv("PORTAL_PLUGIN_TESTS_FIXTURE_PLUGINS_TYPED_SETTINGS_TOKEN", "t0ken-from-env")
    app = app_factory(TESTING_PLUGINS=[TYPED], PLUGIN_CONFIG={TYPED: {"retries": 7}})
    output = app.test_cli_runner().invoke(args=["plugins", "--settings"]).output
    assert "    retries (int) = 7: attempts before a message waits for the next run" in output
    assert "    phone (str) = '122': the hotline's number, in the footer and on the dashboard card" in output
    assert (
        "    token (str, secret from PORTAL_PLUGIN_TESTS_FIXTURE_PLUGINS_TYPED_SETTINGS_TOKEN: set): "
        "the gateway's API token" in output
    )
    assert "signing_key (str, secret from REGION_SMS_SIGNING_KEY: not set)" in output
    assert "t0ken-from-env" not in output


def test_healthz_says_when_the_failure_counters_cannot_be_read(app_factory, tmp_path, caplog):
    folder = tmp_path / "a-folder-not-a-database"
    folder.mkdir()
    app = app_factory(RATELIMIT_STORAGE_URI=f"portal+sqlite://{folder}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "degraded",
        "plugins": "unknown: the plugin failure counters cannot be read",
    }
    assert "could not read the plugin failure counters" in caplog.text


def test_a_default_of_the_wrong_type_is_the_authors_error(app_factory):
    from portal.plugin_api import Setting
    from portal.plugin_host_settings import SettingsError, resolve

    with pytest.raises(SettingsError, match=r"plugin 'x': the default of setting 'retries' is '3', not int"):
        resolve("x", [Setting("retries", int, "3", "attempts")], {}, {})
    with pytest.raises(SettingsError, match=r"the default of setting 'on' is 1, not bool"):
        resolve("x", [Setting("on", bool, 1, "switch")], {}, {})
    assert resolve("x", [Setting("limit", int, None, "no limit unless set")], {"limit": 5}, {}) == {"limit": 5}
