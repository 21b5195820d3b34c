"""portal.application.Portal: url_for keeps the paths it built, and gives exactly what Flask would."""

from __future__ import annotations

from flask import Flask, url_for


def flask_url(app, endpoint: str, **values) -> str:
    return Flask.url_for(app, endpoint, **values)


def test_kept_urls_are_the_ones_flask_builds(app):
    cases = [
        ("web.home", {}),
        ("web.home", {"next": "/card/1?x=ё"}),
        ("record.section", {"patient_id": 21, "section": "results"}),
        ("record.section", {"patient_id": 21, "section": "results", "after": "2026-01-01_5"}),
        ("record.entry", {"patient_id": 7, "section": "visits", "entry_id": 3}),
        ("audit.access_log", {"patient_id": 7}),
    ]
    with app.test_request_context("/"):
        for endpoint, values in cases:
            assert url_for(endpoint, **values) == flask_url(app, endpoint, **values)
            assert url_for(endpoint, **values) == flask_url(app, endpoint, **values)  # from the kept ones
        assert url_for("web.home", page=1) == "/?page=1"
        assert url_for("web.home", page=True) == "/?page=True"  # 1 == True, but not the same link
        assert url_for("web.home", tag=["a", "b"]) == "/?tag=a&tag=b"  # a list: built each time
        assert url_for("web.home", _anchor="top") == "/#top"
        assert url_for("web.home", _external=True) == "http://localhost/"


def test_each_script_root_gets_its_own_paths(app):
    with app.test_request_context("/", base_url="http://localhost/portal/"):
        assert url_for("audit.access_log", patient_id=7) == "/portal/card/7/access-log"
    with app.test_request_context("/"):
        assert url_for("audit.access_log", patient_id=7) == "/card/7/access-log"
