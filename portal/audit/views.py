from __future__ import annotations

from flask import Blueprint, g, request

from portal.access import card
from portal.audit import access_log as reader
from portal.audit.forms import AccessLogFilter
from portal.record.sections import LABELS
from portal.rendering import render

bp = Blueprint("audit", __name__, template_folder="templates")


@bp.get("/card/<int:patient_id>/access-log")
@card
def access_log(patient_id: int):
    form = AccessLogFilter(request.args)
    valid = form.validate()
    log = reader.access_log(
        g.account,
        patient_id,
        who=form.who.data if valid else "all",
        since=form.since_date() if valid else None,
        until=form.until_date() if valid else None,
        before=form.before.data if valid else None,
    )
    return render(
        "audit/access_log.html", fragment="entries", log=log, form=form, labels=LABELS, status=200 if valid else 400
    )
