"""Pieces every feature's forms share."""

from __future__ import annotations

from wtforms.validators import StopValidation


class ValidChoice:
    """The value must be one of the field's current choices, with our own (translated) message
    instead of WTForms' built-in English one."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if field.data not in {value for value, _label in field.choices or ()}:
            raise StopValidation(self.message)
