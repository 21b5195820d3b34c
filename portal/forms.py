"""Pieces every feature's forms share."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from flask import Flask, request
from markupsafe import Markup, escape
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation
from wtforms.widgets import Input, Select
from wtforms.widgets.core import clean_key


def choices(pairs: Iterable[tuple[str, object]]) -> list[SelectChoice]:
    """Options for a select or radio field from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class ValidChoice:
    """The value must be one of the field's current choices, with our own (translated) message
    instead of WTForms' built-in English one."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if field.data not in {choice.value for choice in field.choices or ()}:
            raise StopValidation(self.message)


@cache
def _wtforms_catalog(locale: str):
    """WTForms' own messages in ``locale``, read from its catalog once per process."""
    from babel import support
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsMessages:
    """WTForms' messages in the request's language. Flask-WTF otherwise reads WTForms' catalog
    from disk again in every request that renders or validates a form."""

    @staticmethod
    def _catalog():
        from flask_babel import get_locale

        return _wtforms_catalog(str(get_locale()))

    def ugettext(self, string: str) -> str:
        return self._catalog().ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog().ungettext(singular, plural, n)


_MESSAGES = _WTFormsMessages()


def html_params(**kwargs) -> str:
    """WTForms' ``html_params`` (sorted attributes, ``data_``/``aria_`` names, True bare, False
    left out), with plain string formatting: its ``Markup.format`` per attribute was most of the
    time a form took to render."""
    params = []
    for key, value in sorted(kwargs.items()):
        if value is False:
            continue
        name = escape(clean_key(key))
        params.append(name if value is True else f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return " ".join(params)


def _validation_attrs(widget, field, kwargs: dict, call: bool) -> None:
    for name, value in vars(field.flags).items():
        if name in widget.validation_attrs and name not in kwargs:
            kwargs[name] = value() if call and callable(value) else value


def control(field, **kwargs) -> Markup:
    """The HTML of ``field``'s input or select, as ``field(**kwargs)`` writes it, for the widgets
    every form uses: WTForms' own path re-reads the widget's signature and the flags' ``dir()``
    for every control, which made a list page's filter form cost more than its table. Any other
    widget (or a grouped or multiple select) is rendered by WTForms itself."""
    widget = field.widget
    if field.render_kw:
        kwargs = {**field.render_kw, **kwargs}
    if type(widget).__call__ is Input.__call__ and getattr(field, "_datalist", None) is None:
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("type", widget.input_type)
        if "value" not in kwargs:
            kwargs["value"] = field._value()
        _validation_attrs(widget, field, kwargs, call=True)
        return Markup(f"<input {html_params(name=field.name, **kwargs)}>")  # noqa: S704 (html_params escapes)
    if type(widget).__call__ is Select.__call__ and not widget.multiple and not field.has_groups():
        kwargs.setdefault("id", field.id)
        _validation_attrs(widget, field, kwargs, call=False)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        for choice in field._iter_choices_normalized():
            value = str(choice.value) if isinstance(choice.value, bool) else choice.value
            options = {"value": value, **(choice.render_kw or {})}
            if choice.selected:
                options["selected"] = True
            html.append(f"<option {html_params(**options)}>{escape(choice.label or choice.value)}</option>")
        html.append("</select>")
        return Markup("".join(html))  # noqa: S704 (html_params and escape escape)
    return field(**kwargs)


def init_app(app: Flask) -> None:
    app.add_template_global(control)

    @app.before_request
    def _wtforms_messages() -> None:
        request.wtforms_translations = _MESSAGES  # where Flask-WTF looks before loading the catalog
