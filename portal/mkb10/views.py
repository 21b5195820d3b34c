"""«Справочник МКБ-10»: the public ICD-10 reference (search, a code's page) and the search endpoint
the combobox fetches its options from. Public: the book is open data, nothing here is personal.
Rate-limited per signed-in account, else per address (a clinic's doctors share one address)."""

from __future__ import annotations

import re

from flask import Blueprint, abort, redirect, request, url_for

from portal.access import public
from portal.auth.sessions import account_if_signed_in
from portal.extensions import limiter
from portal.mkb10 import search as book
from portal.rendering import render, wants_fragment

bp = Blueprint("mkb10", __name__, template_folder="templates")

PAGE_RESULTS = 20  # matches on the search page (the combobox shows OPTIONS)
OPTIONS = 10
# Every keystroke (after a pause) is a request: room for a day's typing, not for a crawler.
SEARCH_LIMIT = "240/minute"
PAGE_LIMIT = "120/minute"
_FIELD = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def rate_key() -> str:
    from flask_limiter.util import get_remote_address

    account = account_if_signed_in()
    return f"account:{account.id}" if account is not None else get_remote_address()


@bp.get("/mkb10")
@public
@limiter.limit(PAGE_LIMIT, key_func=rate_key)
def index():
    """The search page. A code chosen in the form (the combobox's value, or a «Выбрать» button
    without JavaScript) opens that code's page."""
    chosen = request.args.get("pick") or request.args.get("code")
    if chosen and book.find(chosen) is not None:
        return redirect(url_for("mkb10.code", code=chosen), code=303)
    query = book.clean(request.args.get("q"))
    found = book.search(query, limit=PAGE_RESULTS) if query else None
    return render(
        "mkb10/index.html",
        query=query,
        found=found,
        chapters=book.chapters() if found is None else [],
        status=400 if found is not None and found.too_short else 200,
    )


@bp.get("/mkb10/search")
@public
@limiter.limit(SEARCH_LIMIT, key_func=rate_key)
def search():
    """The combobox's options for htmx: ``field`` names the text field (whose value is the query)
    and the ids the options get; ``usable=1`` keeps only codes a diagnosis may have. Anything
    else (a person following the address) gets the search page."""
    field = request.args.get("field", "q")
    if not _FIELD.fullmatch(field):
        abort(400)
    query = request.args.get(field, "")
    if not wants_fragment():
        return redirect(url_for("mkb10.index", q=book.clean(query) or None), code=303)
    usable_only = request.args.get("usable") == "1"
    found = book.search(query, limit=OPTIONS, usable_only=usable_only)
    return render("mkb10/_options.html", found=found, field=field)


@bp.get("/mkb10/<code>")
@public
@limiter.limit(PAGE_LIMIT, key_func=rate_key)
def code(code: str):
    page = book.code_page(code)
    if page is None:
        spelled = book.canonical(code)
        if spelled is None:
            abort(404)
        return redirect(url_for("mkb10.code", code=spelled), code=301)
    return render("mkb10/code.html", view=page, item=page.code)
