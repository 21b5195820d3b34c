"""Extension objects, created once and wired to an app with ``init_app`` in ``create_app``."""

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal.database import db

babel = Babel()
compress = Compress()
csrf = CSRFProtect()
htmx = Htmx()
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

__all__ = ["babel", "compress", "csrf", "db", "htmx", "limiter", "migrate"]
