"""Extension objects, created once and wired to an app with ``init_app`` in ``create_app``."""

from importlib.metadata import version
from types import SimpleNamespace

import flask_babel
from flask.globals import _cv_app
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal.database import db


def _babel_context() -> SimpleNamespace | None:
    """Flask-Babel 4.0's ``_get_current_context`` (the per-context namespace holding the locale and
    domain), found through the app context directly instead of three look-ups of the ``g`` proxy.
    Flask-Babel asks for it at every translated text and date, about 125 times for a card page;
    ``tests/test_i18n.py`` checks that it answers as the original does."""
    ctx = _cv_app.get(None)
    if ctx is None:
        return None
    found = ctx.g.__dict__.get("_flask_babel")
    if found is None:
        found = ctx.g._flask_babel = SimpleNamespace()
    return found


if version("flask-babel") == "4.0.0":  # a private function: only the version whose code was read
    flask_babel._get_current_context = _babel_context

babel = Babel()
compress = Compress()
csrf = CSRFProtect()
htmx = Htmx()
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

__all__ = ["babel", "compress", "csrf", "db", "htmx", "limiter", "migrate"]
