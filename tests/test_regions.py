"""Regions: one deployment, several regions, each with its own plugins, theme and settings.

The region comes from the host name, else the signed-in citizen's clinic, else DEFAULT_REGION;
a plugin off in the region serves no page and fills no slot there."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.config import ConfigError
from portal.plugins import PluginError
from tests.conftest import session_for

EVERYTHING = "tests.fixture_plugins.everything"
SMS = "tests.fixture_plugins.sms_gateway"
MOSCOW = "http://moscow.example"
KAZAN = "http://kazan.example"


def regions(**changes) -> dict:
    """Moscow with the hotline (its own phone) and the test plugin; Tatarstan with neither."""
    found = {
        "77": {
            "name": "Москва",
            "hosts": ["moscow.example", "msk.example"],
            "plugins": ["hotline", EVERYTHING],
            "PLUGIN_CONFIG": {"hotline": {"phone": "8-495-000-00-77"}},
        },
        "16": {"name": "Республика Татарстан", "hosts": ["kazan.example"], "plugins": [], "theme": "large-text"},
    }
    found.update(changes)
    return found


@pytest.fixture
def regional(app_factory):
    return app_factory(TESTING_PLUGINS=[EVERYTHING], REGIONS=regions())


def nav_of(html: str) -> str:
    start = html.index('id="menu"')
    return html[start : html.index("</nav>", start)]


def footer_of(html: str) -> str:
    return html[html.index("<footer") :]


def test_the_host_name_chooses_the_region_and_its_plugins(regional):
    client = regional.test_client()
    moscow = client.get("/", base_url=f"{MOSCOW}:8080").get_data(as_text=True)  # the port is ignored
    assert "Everything nav" in nav_of(moscow)
    assert "Everything card" in moscow and 'id="card-hotline"' in moscow
    assert "Everything footer" in footer_of(moscow) and "8-495-000-00-77" in footer_of(moscow)
    assert "<p>Регион: <span>Москва</span></p>" in footer_of(moscow)
    assert client.get("/hotline/", base_url=MOSCOW).status_code == 200
    assert client.get("/everything/", base_url="http://MSK.example").status_code == 200  # any case

    kazan = client.get("/", base_url=KAZAN).get_data(as_text=True)
    assert "Everything" not in kazan and 'id="card-hotline"' not in kazan and "8-495" not in kazan
    assert 'id="card-clinics"' in kazan and 'href="/clinics"' in nav_of(kazan)  # core is always on
    assert "<p>Регион: <span>Республика Татарстан</span></p>" in footer_of(kazan)
    reader = regional.test_client()
    reader.set_cookie("lang", "en", domain=KAZAN.split("//")[1])
    english = reader.get("/", base_url=KAZAN).get_data(as_text=True)
    assert '<p>Region: <span lang="ru">Республика Татарстан</span></p>' in footer_of(english)
    for path in ("/hotline/", "/everything/", "/everything/forbidden"):
        assert client.get(path, base_url=KAZAN).status_code == 404, path


def test_a_plugin_off_in_the_region_answers_404_before_its_own_checks(regional):
    """Its view never runs there: a page that would answer 403 (or raise) answers 404."""
    client = regional.test_client()
    assert client.get("/everything/forbidden", base_url=MOSCOW).status_code == 403
    assert client.get("/everything/boom", base_url=KAZAN).status_code == 404


def test_an_unnamed_host_without_a_citizen_is_in_the_deployment_itself(regional):
    """No DEFAULT_REGION: every enabled plugin, with the deployment's settings and theme."""
    client = regional.test_client()
    html = client.get("/").get_data(as_text=True)
    assert "Everything card" in html and re.search(r">[^<]* 122</a>", footer_of(html))
    assert 'href="/assets/themes/default.' in html
    assert "Регион" not in footer_of(html)


def test_default_region_names_the_region_of_an_unnamed_host(app_factory):
    app = app_factory(TESTING_PLUGINS=[EVERYTHING], REGIONS=regions(), DEFAULT_REGION="16")
    client = app.test_client()
    assert client.get("/hotline/").status_code == 404
    assert client.get("/hotline/", base_url=MOSCOW).status_code == 200


def test_the_citizens_clinic_chooses_the_region_when_the_host_does_not(app_factory, demo_factory):
    from portal.database import db
    from portal.directory.models import Organisation
    from portal.record.models import ClinicAttachment

    app = app_factory(TESTING_PLUGINS=[EVERYTHING], REGIONS=regions(), DEFAULT_REGION="16")
    people = demo_factory(app)
    client = app.test_client()
    assert "Everything card" not in client.get("/").get_data(as_text=True)  # anonymous: the default, 16
    session_for(app, client, people["patient"].id)
    html = client.get("/").get_data(as_text=True)  # her clinic is in Moscow: region 77
    assert "Everything card" in html and "8-495-000-00-77" in footer_of(html)
    assert client.get("/hotline/").status_code == 200
    assert client.get("/hotline/", base_url=KAZAN).status_code == 404  # the host name comes first

    with app.app_context():  # her clinic moves to Tatarstan (its organisation's region code)
        clinic = db.session.scalar(
            sa.select(ClinicAttachment.organisation_id).where(
                ClinicAttachment.patient_id == people["patient"].patient_id
            )
        )
        db.session.execute(sa.update(Organisation).where(Organisation.id == clinic).values(region_code="16"))
        db.session.commit()
    assert client.get("/hotline/").status_code == 404
    assert "Everything card" not in client.get("/").get_data(as_text=True)


def test_each_region_has_its_own_plugin_settings(regional):
    from portal.plugin_api import current_region, plugin_config

    with regional.test_request_context("/", base_url=MOSCOW):
        assert (current_region().code, current_region().name) == ("77", "Москва")
        assert plugin_config("hotline") == {"phone": "8-495-000-00-77", "hours": "8:00–20:00", "emergency_phone": "103"}
    with regional.test_request_context("/"):
        assert plugin_config("hotline")["phone"] == "122"
    with regional.app_context():  # a command or the worker: the deployment's settings
        assert plugin_config("hotline")["phone"] == "122"
    result = regional.test_cli_runner().invoke(args=["hotline-info"])
    assert "hotline 122 " in result.output


def test_region_settings_overlay_the_deployments(app_factory):
    app = app_factory(
        PLUGIN_CONFIG={"hotline": {"phone": "8-800-100-00-00", "hours": "9:00–18:00"}},
        REGIONS=regions(
            **{"77": {"name": "Москва", "hosts": ["moscow.example"], "PLUGIN_CONFIG": {"hotline": {"phone": "77"}}}}
        ),
    )
    client = app.test_client()
    moscow = client.get("/hotline/", base_url=MOSCOW).get_data(as_text=True)
    assert "77" in moscow and "9:00–18:00" in moscow and "8-800-100-00-00" not in moscow
    assert "8-800-100-00-00" in client.get("/hotline/").get_data(as_text=True)


def test_each_regions_hook_callers_are_built_once(regional):
    """The same caller object on every request of a region: nothing is built per request."""
    host = regional.extensions["portal.plugins"]
    seen = []
    for _ in range(2):
        with regional.test_request_context("/", base_url=KAZAN):
            seen.append(host.hook("footer_links"))
    assert seen[0] is seen[1] is host.regions.callers["16"]["footer_links"]
    assert {impl.plugin_name for impl in seen[0].get_hookimpls()}.isdisjoint({"hotline", EVERYTHING})
    with regional.test_request_context("/", base_url=MOSCOW):  # nothing of Moscow's is off there
        assert host.hook("footer_links") is host.pm.hook.footer_links
    with regional.test_request_context("/"):
        assert host.hook("footer_links") is host.pm.hook.footer_links


def test_message_channels_serve_every_region(app_factory):
    """An SMS queued in a region without the gateway plugin still goes out: channels are the
    deployment's, as the worker delivering it later outside any request sees them."""
    app = app_factory(TESTING_PLUGINS=[SMS], REGIONS=regions(**{"77": {"name": "Москва", "plugins": []}}))
    host = app.extensions["portal.plugins"]
    with app.test_request_context("/", base_url=KAZAN):
        assert not host.regions.is_on(host.regions.regions["16"], SMS)
        assert [channel.name for channel in host.collect("notification_channels")] == ["sms"]


def test_the_regions_theme_is_its_default_and_a_chosen_theme_still_wins(regional):
    client = regional.test_client()
    assert 'href="/assets/themes/large-text.' in client.get("/", base_url=KAZAN).get_data(as_text=True)
    assert 'href="/assets/themes/default.' in client.get("/", base_url=MOSCOW).get_data(as_text=True)
    client.set_cookie("theme", "high-contrast", domain="kazan.example")
    assert 'href="/assets/themes/high-contrast.' in client.get("/", base_url=KAZAN).get_data(as_text=True)


def test_flask_plugins_lists_the_regions_where_each_plugin_is_on(regional):
    listing = regional.test_cli_runner().invoke(args=["plugins"]).output
    assert re.search(r"^hotline\s+\S+\s+enabled\s+77\s+dashboard_cards", listing, flags=re.M)
    assert re.search(r"^portal\.web\.hooks\s+core\s+core\s+all\s", listing, flags=re.M)


def test_the_demo_config_serves_moscow_and_tatarstan(app_factory, monkeypatch):
    """What `make run` serves: 127.0.0.1 is Moscow with the hotline, localhost Tatarstan without."""
    from portal.config import ROOT

    monkeypatch.setenv("PORTAL_CONFIG_FILE", str(ROOT / "config" / "demo.toml"))
    app = app_factory()
    client = app.test_client()
    moscow = client.get("/hotline/", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    assert "0:00–24:00" in moscow and 'href="/assets/themes/default.' in moscow
    assert client.get("/hotline/", base_url="http://localhost:5000").status_code == 404
    kazan = client.get("/", base_url="http://localhost:5000").get_data(as_text=True)
    assert 'href="/assets/themes/large-text.' in kazan and 'id="card-hotline"' not in kazan


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"16": {"name": "Татарстан", "hosts": ["moscow.example"]}}, ConfigError, "'moscow.example' is in two regions"),
        ({"16": {"name": "Татарстан", "phone": "122"}}, ConfigError, r"REGIONS.16: unknown keys \['phone'\]"),
        ({"16": {"hosts": ["kazan.example"]}}, ConfigError, "REGIONS.16: a region needs a name"),
        ({"16": {"name": "Татарстан", "hosts": "kazan.example"}}, ConfigError, "REGIONS.16.hosts must be a list"),
        ({"16": {"name": "Татарстан", "plugins": ["telepathy"]}}, PluginError, r"REGIONS.16 enables \['telepathy'\]"),
        ({"16": {"name": "Татарстан", "theme": "sepia2"}}, PluginError, "theme 'sepia2' is not a registered"),
        (
            {"16": {"name": "Татарстан", "PLUGIN_CONFIG": {"hotline": {"phone_number": "1"}}}},
            PluginError,
            r"REGIONS.16: plugin 'hotline' has no settings named \['phone_number'\]",
        ),
        (
            {"16": {"name": "Татарстан", "PLUGIN_CONFIG": {"hotline": {"phone": 122}}}},
            PluginError,
            r"REGIONS.16: plugin 'hotline': setting 'phone' must be",
        ),
        (
            {"16": {"name": "Татарстан", "plugins": [], "PLUGIN_CONFIG": {"hotline": {"phone": "1"}}}},
            PluginError,
            "REGIONS.16.PLUGIN_CONFIG has settings for 'hotline', which is not on in the region",
        ),
    ],
)
def test_a_mistake_in_the_regions_stops_start_up(app_factory, changes, error, message):
    with pytest.raises(error, match=message):
        app_factory(TESTING_PLUGINS=[EVERYTHING], REGIONS=regions(**changes))


def test_a_region_cannot_enable_a_plugin_the_deployment_does_not(app_factory):
    with pytest.raises(PluginError, match=r"REGIONS.77 enables \['hotline'\], which the deployment does not"):
        app_factory(PLUGINS=[], TESTING_PLUGINS=[EVERYTHING], REGIONS=regions())


def test_an_unknown_default_region_stops_start_up(app_factory):
    with pytest.raises(ConfigError, match="DEFAULT_REGION '50' is not one of the REGIONS"):
        app_factory(REGIONS=regions(), DEFAULT_REGION="50")


def test_regions_come_from_the_toml_file(tmp_path):
    from portal.config import load

    toml = tmp_path / "portal.toml"
    toml.write_text(
        'default_region = "16"\n[regions.16]\nname = "Республика Татарстан"\nhosts = ["Kazan.example"]\n'
        '[regions.16.plugin_config.hotline]\nphone = "8-843-000-00-00"\n'
    )
    values = load(environ={"PORTAL_CONFIG_FILE": str(toml)})
    assert values["DEFAULT_REGION"] == "16"
    assert values["REGIONS"]["16"]["plugin_config"] == {"hotline": {"phone": "8-843-000-00-00"}}
    with pytest.raises(ConfigError, match="only be set in the TOML"):
        load(environ={"PORTAL_REGIONS": "77"})
