"""Fingerprinted static files: ``portal.css`` is served as ``/assets/portal.<digest>.css`` and
cached for a year as immutable, so a later page costs only its HTML.

Each file is compressed once, when the app is built, with brotli and gzip at their best levels;
a request is answered with the precomputed bytes its ``Accept-Encoding`` allows. The compression
is deterministic (gzip without a timestamp, brotli at fixed settings) and each encoding's strong
ETag is the hash of its bytes, so every worker process answers with the same bytes and ETags.
Flask-Compress leaves these responses alone (``compress_pages``)."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import brotli
from flask import Blueprint, Flask, Response, abort, current_app, request, url_for

from portal.access import public
from portal.extensions import compress

STATIC = Path(__file__).resolve().parent / "static"
CORE_FILES = ("portal.css", "portal.js", "htmx.min.js", "favicon.svg", "combobox.js")
FINGERPRINT = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[a-z]+)$")
ONE_YEAR = 365 * 24 * 3600
ENCODINGS = ("br", "gzip")  # the server's preference when the client likes both equally

bp = Blueprint("assets", __name__)


@dataclass(frozen=True)
class Variant:
    body: bytes
    etag: str  # without quotes; strong


@lru_cache(maxsize=64)
def encode(data: bytes) -> dict[str, Variant]:
    """The identity, brotli and gzip bodies of ``data`` (an encoding is kept only when it is
    smaller). Cached per process by content, so building the app again (tests) costs nothing."""
    bodies = {
        "identity": data,
        "br": brotli.compress(data, mode=brotli.MODE_GENERIC, quality=11, lgwin=22),
        "gzip": gzip.compress(data, compresslevel=9, mtime=0),
    }
    return {
        encoding: Variant(body, f"{hashlib.sha256(body).hexdigest()[:32]}-{encoding}")
        for encoding, body in bodies.items()
        if encoding == "identity" or len(body) < len(data)
    }


def negotiate(accept_encoding: str, available) -> str:
    """The encoding to send: the highest q-value the client gives one we have (``*`` counts for
    any), ties broken by ``ENCODINGS``' order; identity when nothing else is acceptable."""
    qualities: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip()
        if not name:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[name] = quality
    best, best_q = "identity", 0.0
    for encoding in ENCODINGS:
        if encoding not in available:
            continue
        q = qualities.get(encoding, qualities.get("*", 0.0))
        if q > best_q:
            best, best_q = encoding, q
    return best


class Assets:
    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self.digests: dict[str, str] = {}
        self.variants: dict[str, dict[str, Variant]] = {}
        self.urls: dict[tuple[str, str], str] = {}

    def add(self, name: str, path: Path) -> None:
        data = path.read_bytes()
        self.files[name] = path
        self.digests[name] = hashlib.sha256(data).hexdigest()[:12]
        self.variants[name] = encode(data)
        self.urls = {key: url for key, url in self.urls.items() if key[1] != name}

    def url(self, name: str) -> str:
        """The fingerprinted address, built once per file and script root (the digests do not
        change while the process runs)."""
        key = (request.script_root, name)
        found = self.urls.get(key)
        if found is None:
            stem, dot, ext = name.rpartition(".")
            found = self.urls[key] = url_for("assets.serve", filename=f"{stem}.{self.digests[name]}{dot}{ext}")
        return found


def asset_url(name: str) -> str:
    return current_app.extensions["portal.assets"].url(name)


@dataclass(frozen=True)
class PageAssets:
    stylesheets: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()


def blueprint_assets() -> PageAssets:
    """The fingerprinted addresses of the stylesheets and scripts of the blueprint serving this
    page (``plugin_api.Blueprint(stylesheets=..., scripts=...)``); none for most pages."""
    blueprint = current_app.blueprints.get(request.blueprint or "")
    names = blueprint.static_files() if hasattr(blueprint, "static_files") else {}
    if not names:
        return PageAssets()
    urls = {name: asset_url(name) for name in names}
    return PageAssets(
        tuple(url for name, url in urls.items() if name.endswith(".css")),
        tuple(url for name, url in urls.items() if name.endswith(".js")),
    )


@bp.get("/assets/<path:filename>")
@public
def serve(filename: str):
    match = FINGERPRINT.match(filename)
    if not match:
        abort(404)
    assets: Assets = current_app.extensions["portal.assets"]
    name = match["stem"] + match["ext"]
    if assets.digests.get(name) != match["digest"]:
        abort(404)  # an old fingerprint: the page that asked for it is stale
    variants = assets.variants[name]
    encoding = negotiate(request.headers.get("Accept-Encoding", ""), variants)
    variant = variants[encoding]
    response = Response(variant.body, mimetype=mimetypes.guess_type(name)[0])
    if encoding != "identity":
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(variant.etag)
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    return response.make_conditional(request)


def compress_pages(response: Response) -> Response:
    """Flask-Compress's after-request step (registered by hand: ``COMPRESS_REGISTER`` is off) for
    everything but the assets, which already carry their encoding and ETag."""
    if request.endpoint == "assets.serve":
        return response
    return compress.after_request(response)


def init_app(app: Flask) -> None:
    assets = Assets()
    for name in CORE_FILES:
        assets.add(name, STATIC / name)
    for theme in app.extensions["portal.themes"].values():
        assets.add(f"themes/{theme.name}.css", theme.stylesheet)
    for blueprint in app.blueprints.values():
        for name, path in getattr(blueprint, "static_files", dict)().items():
            assets.add(name, path)
    app.extensions["portal.assets"] = assets
    app.register_blueprint(bp)
    app.add_template_global(asset_url)
    app.add_template_global(blueprint_assets)
