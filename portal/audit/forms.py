from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from portal.forms import ValidChoice, choices
from portal.paging import IdKeyField
from portal.record.forms import PeriodFilter


class AccessLogFilter(PeriodFilter):
    who = SelectField(
        _l("Who"),
        choices=choices([("all", _l("Everyone, me included")), ("others", _l("Everyone but me"))]),
        default="all",
        validators=[Optional(), ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
    )
    before = IdKeyField()
