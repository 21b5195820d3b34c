"""Settings: defaults, then a TOML file, then ``PORTAL_*`` environment variables, then the
mapping passed to ``create_app`` (tests).

Every setting is declared once in ``SETTINGS`` with its type and a one-line description; the
README's table of settings is checked against this list by a test.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal import ratelimit_store

ROOT = Path(__file__).resolve().parent.parent

# Values that must never be accepted as a production secret.
KNOWN_WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "development", "test"}
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "ENV",
        "development",
        str,
        "`development` or `production`; production refuses weak secrets and sets Secure cookies",
    ),
    Setting(
        "SECRET_KEY",
        "",
        str,
        "signs sessions and tokens; 32+ characters in production, generated into `instance/` in development",
    ),
    Setting("DATABASE_URL", "", str, "SQLAlchemy URL; empty means SQLite at `instance/medkarta.db`"),
    Setting(
        "PLUGINS",
        ("hotline",),
        tuple,
        "enabled plugins, comma-separated names from the `portal.plugins` entry points",
    ),
    Setting(
        "PLUGIN_CONFIG",
        {},
        dict,
        "per-plugin settings (TOML table `[PLUGIN_CONFIG.<name>]`); unknown keys stop start-up",
    ),
    Setting(
        "REGIONS",
        {},
        dict,
        "regions this deployment serves (TOML tables `[REGIONS.<code>]`: name, hosts, plugins, theme, "
        "PLUGIN_CONFIG); see docs/regions.md",
    ),
    Setting(
        "DEFAULT_REGION",
        "",
        str,
        "the region of a request whose host name and citizen's clinic name none; empty: the deployment's own",
    ),
    Setting(
        "OIDC_PROVIDERS",
        {},
        dict,
        "OpenID Connect sign-in providers (TOML tables `[OIDC_PROVIDERS.<name>]`: `issuer`, `client_id`, "
        "`client_secret_env`, optional `label`, `discovery_url`, `scope`); see docs/sign_in_providers.md",
    ),
    Setting("LANGUAGES", ("ru", "en"), tuple, "interface languages; the first is the default"),
    Setting(
        "TIMEZONE",
        "Europe/Moscow",
        str,
        "the portal's time zone: the day every date rule counts (birthdays, grants, reminders) and every date shown",
    ),
    Setting("DEFAULT_THEME", "default", str, "theme for visitors who have not chosen one"),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "",
        str,
        "Flask-Limiter storage; empty means a SQLite file in `instance/` that every worker shares; "
        "`redis://127.0.0.1:6379/0` when several machines serve the portal",
    ),
    Setting("MAX_UPLOAD_MB", 6, int, "largest request body in megabytes (uploads are limited to 5 MB each)"),
    Setting("PROXY_COUNT", 0, int, "number of trusted reverse proxies in front of the app (X-Forwarded-* headers)"),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level"),
    Setting("SQLITE_BUSY_TIMEOUT_MS", 5000, int, "how long a SQLite writer waits for the lock before failing"),
    Setting(
        "DATA_KEY",
        "",
        str,
        "AES-256 key for data at rest (base64 of 32 bytes); required in production, generated in development",
    ),
    Setting(
        "AUDIT_SIGNING_KEY",
        "",
        str,
        "Ed25519 seed (base64 of 32 bytes) the audit sealer signs tree heads with; required in production, "
        "derived from the secret key in development",
    ),
    Setting(
        "AUDIT_GRACE_SECONDS",
        60,
        int,
        "verify-audit reports an event older than this that is not yet sealed into the audit tree as missing",
    ),
    Setting(
        "DEMO_MODE",
        False,
        bool,
        "one-click demo sign-in and an on-screen outbox; refused in production",
    ),
    Setting("BASE_URL", "http://127.0.0.1:5000", str, "the portal's public address, used in links sent by e-mail"),
    Setting("SMTP_HOST", "", str, "mail server; empty means e-mail is not sent (kept in the outbox)"),
    Setting("SMTP_PORT", 25, int, "mail server port"),
    Setting("SMTP_USERNAME", "", str, "mail server user, if it needs one"),
    Setting("SMTP_PASSWORD", "", str, "mail server password"),
    Setting("SMTP_STARTTLS", False, bool, "upgrade the mail connection with STARTTLS"),
    Setting(
        "SMS_GATEWAY",
        "",
        str,
        "SMS provider: `smsru`, `smsc`, `smsaero` or `generic` (JSON over HTTP); empty means no SMS is sent",
    ),
    Setting("SMS_GATEWAY_URL", "", str, "the gateway's address; empty means the provider's own (needed for `generic`)"),
    Setting("SMS_GATEWAY_LOGIN", "", str, "the gateway account's login (SMSC.ru) or e-mail (SMS Aero)"),
    Setting(
        "SMS_GATEWAY_PASSWORD",
        "",
        str,
        "the gateway's API key or password (SMS.ru `api_id`; a bearer token for `generic`)",
    ),
    Setting("SMS_SENDER", "", str, "the sender name registered with the provider; empty means the provider's default"),
    Setting("SMS_GATEWAY_TIMEOUT", 5, int, "seconds to wait for the gateway; a message not taken is retried later"),
    Setting("MAIL_FROM", "Медкарта <noreply@medkarta.local>", str, "sender of the portal's e-mail"),
    Setting("GUARDIAN_AGE_LIMIT", 15, int, "a guardian's access to a child's card ends on this birthday"),
    Setting("IDLE_MINUTES_CITIZEN", 30, int, "a citizen's session ends after this many idle minutes"),
    Setting("IDLE_MINUTES_STAFF", 15, int, "a staff member's session ends after this many idle minutes"),
    Setting("SESSION_MAX_HOURS", 12, int, "any session ends this many hours after sign-in"),
    Setting(
        "FRESH_AUTH_MINUTES",
        10,
        int,
        "an export of the whole card asks for the password again when it was last entered longer ago",
    ),
    Setting("EMERGENCY_ACCESS_MINUTES", 60, int, "how long break-glass access to a card lasts"),
    Setting("INVITATION_HOURS", 72, int, "how long the link in a staff invitation e-mail works"),
    Setting("SLOT_HORIZON_DAYS", 14, int, "how many days ahead `flask generate-slots` makes slots from the rules"),
    Setting(
        "DIRECTORY_CACHE_SECONDS", 60, int, "how long a worker keeps a rendered page of the directory (0: not at all)"
    ),
    Setting(
        "DIRECT_BOOKING_SPECIALTIES",
        ("72", "43", "34", "62", "2", "86", "40", "39"),
        tuple,
        "specialty codes a citizen books without a referral (терапевт, педиатр, врач общей практики, стоматолог, "
        "акушер-гинеколог, хирург, офтальмолог, оториноларинголог); others need a valid referral",
    ),
    Setting("APPOINTMENTS_PER_SPECIALTY", 1, int, "future appointments one card may hold with one specialty"),
    Setting("CANCEL_CUTOFF_HOURS", 2, int, "a citizen cancels or moves an appointment until this many hours before it"),
    Setting(
        "WAITLIST_OFFER_MINUTES",
        30,
        int,
        "a time offered from the waiting list is held for the citizen this many minutes, then passed on",
    ),
    Setting(
        "APPOINTMENT_ACCESS_DAYS",
        7,
        int,
        "a booked appointment opens the card to its doctor from the day of the visit until this many days after it",
    ),
    Setting("UPLOAD_DIR", "", str, "where encrypted uploads are stored; empty means `instance/uploads`"),
    Setting("UPLOADS_PER_DAY", 60, int, "files one account may upload in 24 hours (documents and error reports)"),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; start-up stops with this message."""


def _coerce(setting: Setting, raw: Any) -> Any:
    if not isinstance(raw, str):
        if setting.kind is tuple and isinstance(raw, list):
            return tuple(raw)
        return raw
    if setting.kind is bool:
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"PORTAL_{setting.name} must be true or false, got {raw!r}")
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"PORTAL_{setting.name} must be a whole number, got {raw!r}") from exc
    if setting.kind is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if setting.kind is dict:
        raise ConfigError(f"PORTAL_{setting.name} can only be set in the TOML config file")
    return raw


def load(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the merged settings as a plain dict of upper-case names."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}

    config_file = environ.get("PORTAL_CONFIG_FILE")
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"PORTAL_CONFIG_FILE points to {path}, which does not exist")
        with path.open("rb") as fh:
            for key, raw in tomllib.load(fh).items():
                name = key.upper()
                if name not in SETTINGS_BY_NAME:
                    raise ConfigError(f"{path}: unknown setting {key!r}")
                values[name] = _coerce(SETTINGS_BY_NAME[name], raw)

    for setting in SETTINGS:
        raw = environ.get(f"PORTAL_{setting.name}")
        if raw is not None:
            values[setting.name] = _coerce(setting, raw)

    extra: dict[str, Any] = {}
    for key, raw in (overrides or {}).items():
        if key in SETTINGS_BY_NAME:
            values[key] = _coerce(SETTINGS_BY_NAME[key], raw)
        else:
            extra[key] = raw  # Flask or extension settings used by tests (TESTING, ...)
    values.update(extra)

    if values["ENV"] not in ("development", "production"):
        raise ConfigError(f"PORTAL_ENV must be 'development' or 'production', got {values['ENV']!r}")
    if values["ENV"] == "production" and values["DEMO_MODE"]:
        raise ConfigError("PORTAL_DEMO_MODE cannot be on in production: it signs anyone in as a demo account")
    from portal import regions

    regions.parse(values["REGIONS"], values["DEFAULT_REGION"])  # a misshapen region stops start-up here
    try:  # every date rule depends on it: a wrong name stops start-up, not the first request
        ZoneInfo(values["TIMEZONE"])
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ConfigError(
            f"PORTAL_TIMEZONE must be an IANA time zone such as Europe/Moscow, got {values['TIMEZONE']!r}"
        ) from exc
    return values


def ensure_secret_key(values: dict[str, Any], instance_path: Path) -> str:
    """Production: refuse a missing or weak key. Development: create one in ``instance/``."""
    key = values.get("SECRET_KEY") or ""
    if values["ENV"] == "production":
        if key.lower() in KNOWN_WEAK_SECRETS or len(key) < MIN_SECRET_LENGTH:
            raise ConfigError(
                "PORTAL_SECRET_KEY is missing or weak: production needs a random value of at least "
                f"{MIN_SECRET_LENGTH} characters, for example the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        return key
    if key:
        return key
    return _instance_secret(instance_path, "secret_key", lambda: secrets.token_urlsafe(48))


def _instance_secret(instance_path: Path, filename: str, make) -> str:
    path = instance_path / filename
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()  # another worker created it first
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def ensure_data_key(values: dict[str, Any], instance_path: Path) -> str:
    import base64
    import binascii

    key = values.get("DATA_KEY") or ""
    if not key:
        if values["ENV"] == "production":
            raise ConfigError(
                "PORTAL_DATA_KEY is missing: production needs a random 32-byte key in base64, for example "
                "`python -c 'import base64, secrets; "
                "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'`."
            )
        key = _instance_secret(
            instance_path, "data_key", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        )
    try:
        if len(base64.urlsafe_b64decode(key)) != 32:
            raise ValueError
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("PORTAL_DATA_KEY must be 32 bytes encoded in base64") from exc
    return key


def ensure_audit_signing_key(values: dict[str, Any], secret_key: str) -> str:
    """The audit signing seed. Production: the setting, required. Development: derived from the
    secret key (HKDF-SHA256), so the same instance signs with the same key on every start."""
    import base64
    import binascii

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = values.get("AUDIT_SIGNING_KEY") or ""
    if not key:
        if values["ENV"] == "production":
            raise ConfigError(
                "PORTAL_AUDIT_SIGNING_KEY is missing: production needs a random 32-byte Ed25519 seed in base64, "
                "for example `python -c 'import base64, secrets; "
                "print(base64.b64encode(secrets.token_bytes(32)).decode())'`; keep it apart from the database."
            )
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"medkarta audit signing key").derive(
            secret_key.encode()
        )
        return base64.b64encode(seed).decode()
    try:
        if len(base64.b64decode(key.replace("-", "+").replace("_", "/"), validate=True)) != 32:
            raise ValueError
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("PORTAL_AUDIT_SIGNING_KEY must be 32 bytes encoded in base64") from exc
    return key


def flask_settings(values: dict[str, Any], instance_path: Path) -> dict[str, Any]:
    """Translate portal settings into the keys Flask and its extensions read."""
    production = values["ENV"] == "production"
    database_url = values["DATABASE_URL"] or f"sqlite:///{instance_path / 'medkarta.db'}"
    secret_key = ensure_secret_key(values, instance_path)
    return {
        "SECRET_KEY": secret_key,
        "DATA_KEY": ensure_data_key(values, instance_path),
        "AUDIT_SIGNING_KEY": ensure_audit_signing_key(values, secret_key),
        "UPLOAD_DIR": values["UPLOAD_DIR"] or str(instance_path / "uploads"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: a failed statement's values (search text, names) stay out of the error log.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "MAX_CONTENT_LENGTH": values["MAX_UPLOAD_MB"] * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": values["LANGUAGES"][0],
        "BABEL_DEFAULT_TIMEZONE": values["TIMEZONE"],
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        "BABEL_DOMAIN": "messages",
        # Session cookie: check 21 of SECURITY.md. __Host- needs Secure, so only in production.
        "SESSION_COOKIE_NAME": "__Host-session" if production else "session",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_PATH": "/",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # The token lives as long as the session, so a page left open does not break htmx posts.
        "WTF_CSRF_TIME_LIMIT": None,
        # Counters shared by all worker processes, also in the default setup (make run's two).
        "RATELIMIT_STORAGE_URI": (
            values["RATELIMIT_STORAGE_URI"] or ratelimit_store.uri_for(instance_path / "ratelimits.db")
        ),
        "RATELIMIT_HEADERS_ENABLED": False,
        # Registered by hand (portal.assets.compress_pages): the assets come compressed already.
        "COMPRESS_REGISTER": False,
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_MIMETYPES": [
            "text/html",
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/json",
            "image/svg+xml",
        ],
        "COMPRESS_MIN_SIZE": 256,
        "COMPRESS_BR_LEVEL": 5,
        # A 64 KB window (the library's default is 4 MB): pages are smaller than that, and a smaller
        # window's tables are quicker to set up when the heap churns. Quality 5: bytes matter more to
        # a phone on a slow line than the 0.1 ms that quality 3 would save here.
        "COMPRESS_BR_WINDOW": 16,
        "SEND_FILE_MAX_AGE_DEFAULT": 0,
    }
