"""Pieces every feature's forms share."""

from __future__ import annotations

from collections.abc import Iterable

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
