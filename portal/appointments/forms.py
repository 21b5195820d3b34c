from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField


class BookForm(FlaskForm):
    """The confirm step's button: the slot, and the referral or the appointment it moves, if any."""

    slot = HiddenField()
    referral = HiddenField()
    replace = HiddenField()
