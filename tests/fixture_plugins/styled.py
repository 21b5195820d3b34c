"""A test-only plugin whose pages have their own stylesheet and script, under the portal's CSP."""

from portal.plugin_api import Blueprint, hookimpl, public, render

CONTRACT = "1.0"

bp = Blueprint("styled", __name__, url_prefix="/styled", stylesheets=("styled.css",), scripts=("styled.js",))


@bp.get("/")
@public  # reviewed: a test page with no personal data
def index():
    return render("styled/index.html", part="first")


@bp.get("/more")
@public  # reviewed: a test page with no personal data
def more():
    return render("styled/index.html", part="second")


@hookimpl
def register_blueprints():
    return [bp]
