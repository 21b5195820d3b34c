"""Settings: defaults, a TOML file, PORTAL_* variables, and the production secret rule."""

from __future__ import annotations

import stat

import pytest

from portal import create_app
from portal.config import ConfigError, load


def test_defaults():
    values = load(environ={})
    assert values["ENV"] == "development"
    assert values["PLUGINS"] == ("hotline",)
    assert values["LANGUAGES"] == ("ru", "en")
    assert values["MAX_UPLOAD_MB"] == 6


def test_environment_overrides_with_types():
    values = load(
        environ={
            "PORTAL_PLUGINS": "hotline, telemedicine",
            "PORTAL_MAX_UPLOAD_MB": "10",
            "PORTAL_DEFAULT_THEME": "large-text",
        }
    )
    assert values["PLUGINS"] == ("hotline", "telemedicine")
    assert values["MAX_UPLOAD_MB"] == 10
    assert values["DEFAULT_THEME"] == "large-text"


def test_a_bad_number_is_a_clear_error():
    with pytest.raises(ConfigError, match="PORTAL_MAX_UPLOAD_MB must be a whole number"):
        load(environ={"PORTAL_MAX_UPLOAD_MB": "ten"})


def test_toml_file_then_environment_then_overrides(tmp_path):
    toml = tmp_path / "portal.toml"
    toml.write_text(
        'default_theme = "high-contrast"\nMAX_UPLOAD_MB = 8\nPLUGINS = ["hotline"]\n'
        '[PLUGIN_CONFIG.hotline]\nphone = "8-800-555-35-35"\n'
    )
    values = load(environ={"PORTAL_CONFIG_FILE": str(toml), "PORTAL_MAX_UPLOAD_MB": "9"})
    assert values["DEFAULT_THEME"] == "high-contrast"  # from the file
    assert values["MAX_UPLOAD_MB"] == 9  # the environment wins over the file
    assert values["PLUGIN_CONFIG"] == {"hotline": {"phone": "8-800-555-35-35"}}
    assert load({"MAX_UPLOAD_MB": 3}, environ={"PORTAL_CONFIG_FILE": str(toml)})["MAX_UPLOAD_MB"] == 3


def test_unknown_toml_setting_stops_start_up(tmp_path):
    toml = tmp_path / "portal.toml"
    toml.write_text('DATABSE_URL = "sqlite://"\n')
    with pytest.raises(ConfigError, match="unknown setting 'DATABSE_URL'"):
        load(environ={"PORTAL_CONFIG_FILE": str(toml)})


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(environ={"PORTAL_CONFIG_FILE": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("zone", ["Moscow", "Europe/Moskva", "../etc/passwd"])
def test_an_unknown_time_zone_stops_start_up(zone):
    with pytest.raises(ConfigError, match="PORTAL_TIMEZONE must be an IANA time zone"):
        load(environ={"PORTAL_TIMEZONE": zone})


def test_bad_env_value_is_refused():
    with pytest.raises(ConfigError, match="PORTAL_ENV must be"):
        load(environ={"PORTAL_ENV": "staging"})


@pytest.mark.parametrize("secret", [None, "", "changeme", "short-but-not-empty"])
def test_production_refuses_a_missing_or_weak_secret(tmp_path, secret):
    config = {"ENV": "production", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    if secret is not None:
        config["SECRET_KEY"] = secret
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY is missing or weak"):
        create_app(config)
    assert not (tmp_path / "secret_key").exists()  # production never invents a key


DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
AUDIT_KEY = "c2lnbmluZy1zZWVkLWZvci10aGUtYXVkaXQtbG9nLTA="  # 32 bytes


def test_production_starts_with_a_strong_secret(tmp_path):
    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": "x" * 48,
            "DATA_KEY": DATA_KEY,
            "AUDIT_SIGNING_KEY": AUDIT_KEY,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_development_generates_a_private_secret_and_keeps_it(tmp_path):
    config = {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    first = create_app(config).config["SECRET_KEY"]
    path = tmp_path / "secret_key"
    assert len(first) >= 32 and path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert create_app(config).config["SECRET_KEY"] == first


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'medkarta.db'}"


def test_production_needs_a_data_key(tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_DATA_KEY is missing"):
        create_app({"ENV": "production", "SECRET_KEY": "x" * 48, "INSTANCE_PATH": str(tmp_path)})
    assert not (tmp_path / "data_key").exists()


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ="])
def test_a_malformed_data_key_is_refused(tmp_path, key):
    with pytest.raises(ConfigError, match="32 bytes encoded in base64"):
        create_app({"DATA_KEY": key, "INSTANCE_PATH": str(tmp_path)})


def test_development_generates_a_data_key(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["DATA_KEY"] == (tmp_path / "data_key").read_text().strip()
    assert stat.S_IMODE((tmp_path / "data_key").stat().st_mode) == 0o600


def test_demo_mode_is_refused_in_production():
    with pytest.raises(ConfigError, match="DEMO_MODE cannot be on in production"):
        load(environ={"PORTAL_ENV": "production", "PORTAL_DEMO_MODE": "true"})


@pytest.mark.parametrize("raw,expected", [("true", True), ("1", True), ("off", False), ("", False)])
def test_booleans_from_the_environment(raw, expected):
    assert load(environ={"PORTAL_DEMO_MODE": raw})["DEMO_MODE"] is expected


def test_a_bad_boolean_is_a_clear_error():
    with pytest.raises(ConfigError, match="PORTAL_DEMO_MODE must be true or false"):
        load(environ={"PORTAL_DEMO_MODE": "maybe"})


def test_production_needs_an_audit_signing_key(tmp_path):
    config = {"ENV": "production", "SECRET_KEY": "x" * 48, "DATA_KEY": DATA_KEY, "INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="PORTAL_AUDIT_SIGNING_KEY is missing"):
        create_app(config)
    app = create_app({**config, "AUDIT_SIGNING_KEY": AUDIT_KEY})
    with app.app_context():
        from portal.audit.signing import current_key

        assert current_key().public_b64 == app.test_client().get("/audit/public-key").get_json()["public_key"]


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ="])
def test_a_malformed_audit_signing_key_is_refused(tmp_path, key):
    with pytest.raises(ConfigError, match="PORTAL_AUDIT_SIGNING_KEY must be 32 bytes"):
        create_app({"AUDIT_SIGNING_KEY": key, "INSTANCE_PATH": str(tmp_path)})


def test_development_derives_a_stable_audit_key_from_the_secret(tmp_path):
    """`make run` needs no setting: the key follows the instance's secret key, so heads signed
    yesterday still verify today; another secret gives another key."""

    def public_key(secret: str) -> str:
        app = create_app({"SECRET_KEY": secret, "INSTANCE_PATH": str(tmp_path)})
        return app.test_client().get("/audit/public-key").get_json()["public_key"]

    assert public_key("a" * 48) == public_key("a" * 48) != public_key("b" * 48)


def test_gunicorn_workers_freeze_their_start_up_objects():
    """make run's gunicorn settings: after a worker loads the app, the objects made at start-up
    are out of the garbage collector's way (gc.freeze), so no request pays for walking them."""
    import gc

    from gunicorn.config import Config

    from portal import gunicorn_conf

    config = Config()
    config.set("post_worker_init", gunicorn_conf.post_worker_init)  # a hook gunicorn accepts
    assert gc.get_freeze_count() == 0
    try:
        config.post_worker_init(None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
