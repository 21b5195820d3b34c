"""Medkarta: an accessibility-first electronic medical record portal for citizens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import assets, config, errors, events, formatting, forms, jobs, listings, logs, paging, plugins, security
from portal.application import Portal
from portal.database import configure_engine
from portal.extensions import babel, compress, csrf, db, htmx, limiter, migrate
from portal.notify import sms
from portal.rendering import (
    StaticFragments,
    bound_gettext,
    current_page,
    path_for,
    render_card,
    select_locale,
    url_maker,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    """Build the portal. Settings: defaults < TOML file < PORTAL_* env < ``config_overrides``."""
    values = config.load(config_overrides)
    instance_path = Path(values.get("INSTANCE_PATH") or config.ROOT / "instance")
    if problem := sms.settings_problem(values):
        raise config.ConfigError(problem)
    app = Portal(__name__, instance_path=str(instance_path), static_folder=None)
    # Before any blueprint: every <int:...> in a route (plugins' too) is an id the database can hold.
    app.url_map.converters["int"] = paging.IdConverter
    app.config.update(values)
    app.config.update(config.flask_settings(values, instance_path))
    app.config.setdefault("PLUGINS_RAISE_ERRORS", app.debug)
    logs.configure(values["LOG_LEVEL"])

    if values["PROXY_COUNT"]:
        n = values["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.teardown_request(logs.leave_logged_path)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    compress.init_app(app)
    app.after_request(assets.compress_pages)  # where Flask-Compress would register itself
    with app.app_context():
        configure_engine(db.engine, values["SQLITE_BUSY_TIMEOUT_MS"])

    from portal.auth import oidc, sessions

    sessions.init_app(app)
    oidc.init_app(app)
    plugins.init_app(app)
    events.init_app(app)  # the plugins' event subscriptions, checked
    jobs.init_app(app)  # the jobs the core and the plugins declare, checked
    assets.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    forms.init_app(app)
    listings.init_app(app)

    from portal import cli, models  # noqa: F401  (models: register the tables)

    cli.init_app(app)

    @app.context_processor
    def _page() -> dict[str, Any]:
        return {"page": current_page()}

    app.context_processor(bound_gettext)
    app.add_template_global(render_card)
    app.jinja_env.add_extension(StaticFragments)
    from portal.record.tables import section_table

    app.add_template_global(section_table)
    app.add_template_global(url_maker)
    app.add_template_global(path_for)
    app.jinja_env.freeze_globals()  # every global is in: templates copy them as a plain dict

    return app
