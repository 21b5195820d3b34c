"""Two pages for the author's kit's browser check (tests/test_testing_kit.py): one clean, one with a
text field nobody labelled, which axe must report."""

from __future__ import annotations

from portal.plugin_api import Blueprint, hookimpl, public, render

CONTRACT = "1.0"

bp = Blueprint("kit_pages", __name__, url_prefix="/kit-pages")


@bp.get("/clean")
@public  # reviewed: a test page without data
def clean():
    return render("kit_pages/clean.html")


@bp.get("/unlabelled")
@public  # reviewed: a test page without data
def unlabelled():
    return render("kit_pages/unlabelled.html")


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
