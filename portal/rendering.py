"""One way to render: the ``Page`` object templates get, locale and theme choice, and ``render``,
which returns the whole page or, for an htmx request, one block of the same template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, make_response, render_template, request
from jinja2 import nodes, pass_eval_context
from jinja2.ext import Extension
from jinja2.nodes import EvalContext
from jinja2_fragments.flask import render_block
from markupsafe import Markup

if TYPE_CHECKING:
    from flask import Response

    from portal.plugin_api import DashboardCard, Link, NavItem, Theme
    from portal.regions import Region

LANGUAGE_COOKIE = "lang"
THEME_COOKIE = "theme"
PREFERENCE_MAX_AGE = 365 * 24 * 3600


@dataclass
class Page:
    """What every template (core or plugin) gets as ``page``: one object, no loose variables."""

    locale: str
    languages: tuple[str, ...]
    theme: Theme
    themes: list[Theme]
    path: str
    endpoint: str | None
    user: Any = None
    script_root: str = ""  # the signed-in account; filled in by the identity feature
    region: Region | None = None  # the request's region (portal/regions.py): code and name
    _nav: list[NavItem] | None = field(default=None, repr=False)
    _footer: list[Link] | None = field(default=None, repr=False)
    _unread: int | None = field(default=None, repr=False)

    @property
    def navigation(self) -> list[NavItem]:
        if self._nav is None:
            items = current_app.extensions["portal.plugins"].collect("navigation_items", page=self)
            self._nav = sorted(items, key=lambda i: (i.order, i.label))
        return self._nav

    @property
    def footer_links(self) -> list[Link]:
        if self._footer is None:
            links = current_app.extensions["portal.plugins"].collect("footer_links", page=self)
            self._footer = sorted(links, key=lambda i: (i.order, i.label))
        return self._footer

    @property
    def card(self) -> Any:
        """The card a card page is showing (``portal.record.service.CardContext``), or None. Plugin
        templates use ``label``, ``short_name``, ``age``, ``basis``, ``sections`` and ``may(section)``
        (docs/plugins.md, «The card on the page»)."""
        return g.get("card")

    @property
    def idle_seconds(self) -> int:
        config = current_app.config
        minutes = config["IDLE_MINUTES_STAFF"] if self.user and self.user.is_staff else config["IDLE_MINUTES_CITIZEN"]
        return minutes * 60

    @property
    def unread(self) -> int:
        """The signed-in reader's unread notifications, for the header: counted by the session's
        query, or again when this request changed a notification."""
        if self.user is None:
            return 0
        if self._unread is None:
            from portal.notify.inbox import counted_unread, unread_count

            found = counted_unread(self.user.id)
            self._unread = unread_count(self.user.id) if found is None else found
        return self._unread

    @property
    def static_key(self) -> tuple[str, str, str]:
        """What the layout's fixed parts depend on ({% static %} in layout.html)."""
        return (self.locale, self.theme.name, self.script_root)

    @property
    def other_language(self) -> str:
        return next(lang for lang in self.languages if lang != self.locale)


def _saved_choice(attribute: str) -> str | None:
    """What the signed-in account saved in its profile (so it follows the person to every
    device), or None: anonymous visitors and accounts without a saved choice use the cookie."""
    if not has_request_context():
        return None
    from portal.auth.sessions import account_if_signed_in
    from portal.database import _write_intent

    if "portal_current" not in g and _write_intent.get():
        return None  # loading the session may write; never from inside another write
    account = account_if_signed_in()
    return getattr(account, attribute, None) if account is not None else None


def select_locale() -> str:
    """The signed-in account's saved language, then this device's choice (a cookie), then
    Accept-Language, then Russian."""
    languages = current_app.config["LANGUAGES"]
    for chosen in (_saved_choice("locale"), request.cookies.get(LANGUAGE_COOKIE)):
        if chosen in languages:
            return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def select_theme() -> Theme:
    """The account's or this device's choice, then the region's theme, then DEFAULT_THEME."""
    from portal.regions import current_region

    themes = current_app.extensions["portal.themes"]
    for chosen in (_saved_choice("theme"), request.cookies.get(THEME_COOKIE)):
        if chosen in themes:
            return themes[chosen]
    region = current_region()
    return themes[(region.theme if region is not None else None) or current_app.config["DEFAULT_THEME"]]


def current_page() -> Page:
    if "page" not in g:
        from flask_babel import get_locale

        from portal.auth.sessions import account_if_signed_in
        from portal.regions import current_region

        g.page = Page(
            user=account_if_signed_in(),
            locale=str(get_locale()),
            languages=tuple(current_app.config["LANGUAGES"]),
            theme=select_theme(),
            themes=list(current_app.extensions["portal.themes"].values()),
            path=request.full_path.rstrip("?") if request else "/",
            endpoint=request.endpoint,
            script_root=request.script_root,
            region=current_region(),
        )
    return g.page


def bound_gettext(translations: Any = None) -> dict[str, Any]:
    """``_``, ``gettext`` and ``ngettext`` for one render, bound to ``translations`` or else those of
    the request's locale and current domain (a plugin's pages have their own), resolved once here
    instead of through Flask-Babel's context look-ups at every string. A context processor:
    templates rendered with the page's context use these; a macro imported without context uses
    Flask-Babel's own, which give the same text. Behaves as Jinja's i18n "newstyle" gettext: the
    text is a format string (``%%`` is a percent sign) and values put into it are escaped."""
    if translations is None:
        from flask_babel import get_translations

        translations = get_translations()
    one, many = translations.ugettext, translations.ungettext

    # The evaluation context, not the template's: Jinja derives a copy of the whole context for
    # each call of a ``pass_context`` function inside a loop or a block with variables set.
    @pass_eval_context
    def gettext(context: EvalContext, string: str, /, **variables: Any) -> str:
        text = one(string)  # the catalog's text is trusted markup; the values are escaped into it
        return (Markup(text) if context.autoescape else text) % variables  # noqa: S704

    @pass_eval_context
    def ngettext(context: EvalContext, singular: str, plural: str, num: int, /, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = many(singular, plural, num)
        return (Markup(text) if context.autoescape else text) % variables  # noqa: S704

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


_SENTINEL = "9876543210123"  # an id no route is built with; stands for the ids of a row set


def url_maker(endpoint: str, key: str, **values: Any) -> Any:
    """``id -> url_for(endpoint, **values, key=id)`` for an integer ``key``: the URL is built once
    and each row's id put into it (what Werkzeug's int converter writes), so a list linking every
    row to the same page of another id builds one URL, not one per row."""
    from flask import url_for

    url = url_for(endpoint, **values, **{key: int(_SENTINEL)})
    head, found, tail = url.partition(_SENTINEL)
    if not found or _SENTINEL in tail:  # never with the portal's routes; then one url_for per row
        return lambda each: url_for(endpoint, **values, **{key: each})
    return lambda each: f"{head}{int(each)}{tail}"


def path_for(endpoint: str) -> str:
    """``url_for(endpoint)`` for an endpoint without arguments, built once per process and script
    root (kept with the app: immutable URL data) instead of on every page that links to it: the
    layout, the navigation and the footer link the same pages on every request."""
    from flask import current_app, request, url_for

    paths = current_app.extensions.setdefault("portal.paths", {})
    key = (request.script_root, endpoint)
    path = paths.get(key)
    if path is None:
        path = paths[key] = url_for(endpoint)
    return path


class StaticFragments(Extension):
    """``{% static page.locale, page.theme.name %}…{% endstatic %}``: a part of a template that is
    the same for every request with the same key (its place in the template is part of the key)
    is rendered once per process and key, then reused. For the layout's fixed parts, whose
    translated texts and asset and page addresses cost a third of a small page when rendered each
    time. Only what the key names may vary inside: never a user's data, a token or a count.
    Holds at most ``LIMIT`` fragments (a key naming something unbounded empties it)."""

    tags = {"static"}
    LIMIT = 512

    def __init__(self, environment) -> None:
        super().__init__(environment)
        environment.extend(static_fragments={})

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        key: list = [nodes.Const(f"{parser.name}:{lineno}")]
        while parser.stream.current.type != "block_end":
            if len(key) > 1:
                parser.stream.expect("comma")
            key.append(parser.parse_expression())
        body = parser.parse_statements(("name:endstatic",), drop_needle=True)
        call = self.call_method("_fragment", [nodes.Tuple(key, "load")])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _fragment(self, key: tuple, caller) -> str:
        fragments = self.environment.static_fragments
        found = fragments.get(key)
        if found is None:
            if len(fragments) >= self.LIMIT:
                fragments.clear()
            found = fragments[key] = caller()
        return found


def translated(texts: dict[Any, Any]) -> dict[Any, Any]:
    """``texts`` with its lazy texts (``lazy_gettext``) translated once for this request, as they
    would render (the catalog's text is markup we wrote): a list that names a kind on every row
    then reads each name from the catalog once, not on every row."""
    from flask_babel.speaklater import LazyString

    return {key: Markup(str(text)) if isinstance(text, LazyString) else text for key, text in texts.items()}  # noqa: S704


def wants_fragment() -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render_block_html(template: str, block: str, **context: Any) -> Markup:
    """One block of ``template`` as HTML, with the page's context (to keep or to put into a page)."""
    return Markup(render_block(template, block, **context))  # noqa: S704 (a template's own output, escaped as rendered)


def page_response(html: str, status: int = 200) -> Response:
    """A response of HTML already rendered, varying by HX-Request as ``render``'s do."""
    response = make_response(html, status)
    response.vary.add("HX-Request")
    return response


def render(template: str, *, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render ``template`` in full, or only its block ``fragment`` when htmx asked for it."""
    if fragment and wants_fragment():
        body = render_block(template, fragment, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def render_card(card: DashboardCard) -> Markup:
    """Render a dashboard card's template on its own: with ``page``, ``card`` and the card's
    context, and gettext bound to its plugin's catalog (which holds the core's too), so no
    translation domain is switched for it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    plugin = app.extensions["portal.plugins"].translations_of(card.plugin)
    translations = plugin.domain.get_translations() if plugin is not None else _core_translations()
    template = app.jinja_env.get_template(card.template)
    # The template's own output, escaped as it was rendered: HTML we produced.
    return Markup(template.render(page=current_page(), card=card, **bound_gettext(translations), **card.context))  # noqa: S704


def render_plugin_template(plugin: str, template: str, **context: Any) -> Markup:
    """Render a plugin's template for a slot (a section's content, a profile field) on its own, as
    ``render_card`` does: with ``page`` and ``context``, gettext bound to the plugin's catalog."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions["portal.plugins"].translations_of(plugin)
    translations = found.domain.get_translations() if found is not None else _core_translations()
    loaded = app.jinja_env.get_template(template)
    # The template's own output, escaped as it was rendered: HTML we produced.
    return Markup(loaded.render(page=current_page(), **bound_gettext(translations), **context))  # noqa: S704


def _core_translations() -> Any:
    from flask_babel import get_babel

    return get_babel().instance.domain_instance.get_translations()


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a relative path on this site: never another host, scheme or protocol-relative URL."""
    if not target:
        return default
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target
