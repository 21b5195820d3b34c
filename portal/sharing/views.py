from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for
from flask_babel import gettext as _

from portal import uploads
from portal.access import signed_in
from portal.auth.forms import parse_date
from portal.rendering import render
from portal.sharing import service
from portal.sharing.forms import ChildForm

bp = Blueprint("sharing", __name__, template_folder="templates")


@bp.route("/children", methods=["GET", "POST"])
@signed_in
def children():
    form = ChildForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            document = uploads.check(form.document.data)
            service.request(
                g.account,
                service.ChildDetails(
                    surname=form.surname.data,
                    name=form.name.data,
                    patronymic=form.patronymic.data,
                    birth_date=parse_date(form.birth_date.data),
                    sex=form.sex.data,
                    snils=form.snils.data,
                    basis=form.basis.data,
                ),
                document,
            )
        except uploads.UploadError as error:
            form.document.errors = [str(error)]
        except service.Refused as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            return redirect(url_for("sharing.children", sent=1), code=303)
    elif request.method == "POST" and not (form.document.data and form.document.data.filename):
        form.document.errors = [_("Choose a file")]
    links, pending = service.children_of(g.account.id)
    failing = any(field.errors for field in form)
    return render(
        "sharing/children.html",
        form=form,
        links=links,
        pending=pending,
        account=g.account,
        status=400 if failing else 200,
    )


@bp.get("/sharing")
@signed_in
def sharing():
    from portal.record.sections import LABELS
    from portal.web.forms import ConfirmForm

    return render(
        "sharing/sharing.html",
        grants=service.grants_of(g.account),
        labels=LABELS,
        form=ConfirmForm(),
        account=g.account,
    )


@bp.post("/sharing/<int:grant_id>/revoke")
@signed_in
def revoke(grant_id: int):
    from flask import abort

    from portal.web.forms import ConfirmForm

    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not service.revoke_grant(g.account, grant_id):
        abort(404)
    return redirect(url_for("sharing.sharing", revoked=1), code=303)
