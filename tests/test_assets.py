"""Vendored htmx and our own static files."""

from __future__ import annotations

import re

from portal.assets import CORE_FILES, STATIC
from portal.config import ROOT


def test_htmx_is_the_recorded_2x_version():
    source = (STATIC / "htmx.min.js").read_text()
    version = re.search(r'version:"(\d+\.\d+\.\d+)"', source).group(1)
    assert version == "2.0.11"
    assert "2.0.11" in (STATIC / "VENDORED.md").read_text()


def test_our_script_is_small_and_has_no_eval():
    source = (STATIC / "portal.js").read_text()
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
