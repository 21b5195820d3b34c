"""Pieces every feature's forms share."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from flask import Flask, request
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation


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


def init_app(app: Flask) -> None:
    @app.before_request
    def _wtforms_messages() -> None:
        request.wtforms_translations = _MESSAGES  # where Flask-WTF looks before loading the catalog
