"""Fingerprinted static files: ``portal.css`` is served as ``/assets/portal.<digest>.css`` and
cached for a year as immutable, so a later page costs only its HTML."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, url_for

from portal.access import public

STATIC = Path(__file__).resolve().parent / "static"
CORE_FILES = ("portal.css", "portal.js", "htmx.min.js", "favicon.svg")
FINGERPRINT = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[a-z]+)$")
ONE_YEAR = 365 * 24 * 3600

bp = Blueprint("assets", __name__)


class Assets:
    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        self.digests: dict[str, str] = {}

    def add(self, name: str, path: Path) -> None:
        self.files[name] = path
        self.digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def url(self, name: str) -> str:
        stem, dot, ext = name.rpartition(".")
        return url_for("assets.serve", filename=f"{stem}.{self.digests[name]}{dot}{ext}")


def asset_url(name: str) -> str:
    return current_app.extensions["portal.assets"].url(name)


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
    path = assets.files[name]
    # A plain (not streamed) body, so the compressor handles it like a page; the files are small.
    response = Response(path.read_bytes(), mimetype=mimetypes.guess_type(path.name)[0])
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    return response


def init_app(app: Flask) -> None:
    assets = Assets()
    for name in CORE_FILES:
        assets.add(name, STATIC / name)
    for theme in app.extensions["portal.themes"].values():
        assets.add(f"themes/{theme.name}.css", theme.stylesheet)
    app.extensions["portal.assets"] = assets
    app.register_blueprint(bp)
    app.add_template_global(asset_url)
