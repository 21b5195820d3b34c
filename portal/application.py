"""The portal's Flask class and its Jinja environment, a little faster at what every page does.

``url_for`` remembers the URLs it has built. A page links to the same few dozen addresses on
every request (the card's sections, its entries' lists, the layout's pages), and Werkzeug
builds each anew: about 10 µs a link, a twentieth of a card page. Within one process and script
root the same endpoint and values always give the same path (the URL map is fixed once the app
has started, and the portal registers no URL defaults), so the path is kept, keyed by script
root, endpoint and values. Only what is certainly the same: paths inside a request, absolute
endpoints, no anchor, method, scheme or external URL, hashable values. Immutable derived data,
like ``rendering.path_for``'s: nothing a worker must share."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.globals import _cv_request
from flask.templating import Environment

LIMIT = 4096  # kept paths; emptied when full (a link with a per-request value such as ``next``)


class PortalEnvironment(Environment):
    """Once the app is built (``freeze_globals``), each template gets the environment's globals as
    a plain dict instead of a ChainMap over them: Jinja copies a template's globals into every
    render's context, and copying a ChainMap is a Python call per global (about 35 of them, for
    the page and each dashboard card: 800 calls a card page). Jinja's own rule already says not
    to change globals once templates are loaded; a template loaded earlier keeps the ChainMap."""

    globals_frozen = False

    def freeze_globals(self) -> None:
        self.globals_frozen = True

    def make_globals(self, d: Any) -> Any:
        if not self.globals_frozen:
            return super().make_globals(d)
        return {**self.globals, **(d or {})}


class Portal(Flask):
    jinja_environment = PortalEnvironment

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built_urls: dict[tuple, str] = {}

    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        if (
            _anchor is not None
            or _method is not None
            or _scheme is not None
            or _external
            or endpoint[:1] == "."
            or _cv_request.get(None) is None
            or self.url_default_functions
        ):
            return super().url_for(
                endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
            )
        try:
            # The type too: 1 and True are equal keys but different URLs.
            key = (request.script_root, endpoint, *sorted((k, type(v), v) for k, v in values.items()))
            found = self._built_urls.get(key)
        except TypeError:  # a list of values: not kept
            return super().url_for(endpoint, **values)
        if found is None:
            found = super().url_for(endpoint, **values)
            if len(self._built_urls) >= LIMIT:
                self._built_urls.clear()
            self._built_urls[key] = found
        return found
