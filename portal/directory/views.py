from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _

from portal.access import public
from portal.directory import service
from portal.directory.forms import ClinicSearchForm
from portal.directory.regions import KINDS, REGIONS
from portal.forms import choices
from portal.rendering import render, translated

bp = Blueprint("directory", __name__, template_folder="templates")


@bp.get("/clinics")
@public
def clinics():
    form = ClinicSearchForm(request.args)
    form.region.choices = choices(
        [("", _("All regions"))] + [(code, str(REGIONS.get(code, code))) for code in service.regions_present()]
    )
    if form.validate():
        result = service.search(form.q.data or "", form.region.data or "", form.after.data)
        status = 200
    else:
        result, status = None, 400
    return render(
        "directory/clinics.html",
        fragment="results",
        form=form,
        result=result,
        kinds=translated(KINDS),
        regions=translated(REGIONS),
        status=status,
    )
