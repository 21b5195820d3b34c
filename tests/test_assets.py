"""Vendored htmx and our own static files."""

from __future__ import annotations

import re

import pytest

from portal.assets import CORE_FILES, STATIC
from portal.config import ROOT


def test_htmx_is_the_recorded_2x_version():
    source = (STATIC / "htmx.min.js").read_text()
    version = re.search(r'version:"(\d+\.\d+\.\d+)"', source).group(1)
    assert version == "2.0.11"
    assert "2.0.11" in (STATIC / "VENDORED.md").read_text()


@pytest.mark.parametrize("name", ["portal.js", "combobox.js"])  # combobox.js: only on pages with a combobox
def test_our_script_is_small_and_has_no_eval(name):
    source = (STATIC / name).read_text()
    assert len(source.encode()) < 6_000
    assert "eval(" not in source and "innerHTML" not in source and "new Function" not in source


def test_layout_configures_htmx_for_a_strict_csp():
    layout = (ROOT / "portal" / "templates" / "layout.html").read_text()
    config = re.search(r'name="htmx-config" content=\'([^\']+)\'', layout).group(1)
    for setting in (
        '"includeIndicatorStyles":false',
        '"allowEval":false',
        '"allowScriptTags":false',
        '"selfRequestsOnly":true',
        '"historyCacheSize":0',
    ):
        assert setting in config


def test_every_core_asset_is_served_by_its_fingerprint(client, app):
    assets = app.extensions["portal.assets"]
    for name in CORE_FILES:
        with app.test_request_context():
            url = assets.url(name)
        response = client.get(url)
        assert response.status_code == 200, name
        assert response.data == (STATIC / name).read_bytes()


def test_a_changed_file_gets_a_new_fingerprint(tmp_path):
    from portal.assets import Assets

    path = tmp_path / "x.css"
    path.write_text("a{}")
    assets = Assets()
    assets.add("x.css", path)
    first = assets.digests["x.css"]
    path.write_text("b{}")
    assets.add("x.css", path)
    assert assets.digests["x.css"] != first


# -- compressed once: the same bytes and ETags from every worker ----------------------------------

BROWSER = "gzip, deflate, br, zstd"


def _served(app, name: str, accept_encoding: str):
    with app.test_request_context():
        url = app.extensions["portal.assets"].url(name)
    return app.test_client().get(url, headers={"Accept-Encoding": accept_encoding})


def _decoded(response) -> bytes:
    import gzip

    import brotli

    encoding = response.headers.get("Content-Encoding", "identity")
    return {"br": brotli.decompress, "gzip": gzip.decompress, "identity": bytes}[encoding](response.data)


def test_each_encoding_decodes_to_the_file_with_its_own_strong_etag(app):
    for name in ("htmx.min.js", "portal.css", "portal.js"):
        etags = set()
        for accept, encoding in (("br", "br"), ("gzip", "gzip"), ("", None), ("identity", None), (BROWSER, "br")):
            response = _served(app, name, accept)
            assert response.status_code == 200
            assert response.headers.get("Content-Encoding") == encoding, (name, accept)
            assert _decoded(response) == (STATIC / name).read_bytes(), (name, accept)
            assert "Accept-Encoding" in response.headers["Vary"]
            assert "immutable" in response.headers["Cache-Control"]
            etag, weak = response.get_etag()
            assert etag and not weak
            etags.add(etag)
        assert len(etags) == 3, f"{name}: one ETag per encoding, got {etags}"
    assert _served(app, "htmx.min.js", "br").content_length < 16_000  # brotli at its best level


def test_q_values_choose_the_encoding():
    from portal.assets import negotiate

    both = {"identity", "br", "gzip"}
    assert negotiate("gzip;q=1.0, br;q=0.5", both) == "gzip"
    assert negotiate("br;q=0, gzip;q=0", both) == "identity"
    assert negotiate("*", both) == "br"
    assert negotiate("*;q=0.1, br;q=0", both) == "gzip"
    assert negotiate("deflate", both) == "identity"
    assert negotiate("br", {"identity"}) == "identity"  # a file too small to gain from it


def test_a_matching_if_none_match_answers_304_and_keeps_the_cache_headers(app):
    first = _served(app, "htmx.min.js", "br")
    with app.test_request_context():
        url = app.extensions["portal.assets"].url("htmx.min.js")
    again = app.test_client().get(url, headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "immutable" in again.headers["Cache-Control"]
    # The brotli ETag does not validate the gzip body.
    other = app.test_client().get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"


def test_two_app_instances_serve_identical_bytes_and_etags(app_factory):
    from portal.assets import encode

    first = app_factory()
    seen = {(n, a): _served(first, n, a) for n in CORE_FILES for a in ("br", "gzip", "")}
    encode.cache_clear()  # the second app compresses everything again, as another worker does
    second = app_factory()
    for (name, accept), response in seen.items():
        again = _served(second, name, accept)
        assert again.data == response.data, (name, accept)
        assert again.headers["ETag"] == response.headers["ETag"], (name, accept)


def test_another_process_computes_the_same_bytes_and_etags(app):
    """gunicorn's workers are separate processes: the compression must not depend on the time or
    on anything else that differs between them."""
    import hashlib
    import json
    import subprocess
    import sys

    script = (
        "import hashlib, json; from portal.assets import CORE_FILES, STATIC, encode; "
        "print(json.dumps({f'{n} {e}': [v.etag, hashlib.sha256(v.body).hexdigest()] "
        "for n in CORE_FILES for e, v in encode((STATIC / n).read_bytes()).items()}))"
    )
    other = json.loads(
        subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, text=True, cwd=ROOT).stdout
    )
    for name in CORE_FILES:
        for accept, encoding in (("br", "br"), ("gzip", "gzip"), ("", "identity")):
            response = _served(app, name, accept)
            key = f"{name} {response.headers.get('Content-Encoding', 'identity')}"
            if encoding != "identity" and key.endswith("identity"):
                continue  # the file is too small to compress (the favicon)
            assert other[key] == [response.get_etag()[0], hashlib.sha256(response.data).hexdigest()]


def test_pages_are_still_compressed_and_assets_are_not_compressed_twice(app, client):
    import brotli

    page = client.get("/", headers={"Accept-Encoding": "br"})
    assert page.headers["Content-Encoding"] == "br"
    assert b"<html" in brotli.decompress(page.data)
    asset = _served(app, "portal.css", "br")
    assert brotli.decompress(asset.data) == (STATIC / "portal.css").read_bytes()  # once, not twice


def test_an_asset_does_not_depend_on_the_cookie_nor_open_the_session(app, demo, login):
    """A shared cache may keep one copy of an asset for everyone: the answer neither varies with
    the cookie nor sets one, signed in or not (nothing looks into the session for it)."""
    with app.test_request_context():
        url = app.extensions["portal.assets"].url("portal.css")
    for client in (app.test_client(), login(demo["patient"])):
        response = client.get(url, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200
        assert "Cookie" not in response.headers.get("Vary", "")
        assert "Set-Cookie" not in response.headers
    # A page still depends on who asks.
    assert "Cookie" in login(demo["patient"]).get("/").headers["Vary"]
