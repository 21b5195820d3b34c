from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for
from flask_babel import get_locale

from portal.access import signed_in_without_consent
from portal.consent import service
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("consent", __name__, url_prefix="/consent", template_folder="templates")


@bp.get("/")
@signed_in_without_consent
def show():
    account = g.account
    return render(
        "consent/consent.html",
        text=service.text(str(get_locale())),
        version=service.CURRENT_VERSION,
        given=service.account_has_consent(account),
        history=service.history(account),
        account=account,
        form=ConfirmForm(),
    )


@bp.post("/give")
@signed_in_without_consent
def give():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("consent.show"), code=303)
    service.give(g.account, request.remote_addr)
    return redirect(url_for("consent.show", done="given"), code=303)


@bp.post("/revoke")
@signed_in_without_consent
def revoke():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("consent.show"), code=303)
    service.revoke(g.account, request.remote_addr)
    return redirect(url_for("consent.show", done="revoked"), code=303)
