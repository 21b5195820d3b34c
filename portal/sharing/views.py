from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, g, redirect, request, session, url_for
from flask_babel import gettext as _

from portal import uploads
from portal.access import signed_in
from portal.auth.forms import CodeForm, parse_date
from portal.extensions import limiter
from portal.record.sections import LABELS
from portal.rendering import render
from portal.sharing import service
from portal.sharing.forms import ChildForm, GrantTermsForm, NewGrantForm
from portal.web.forms import ConfirmForm

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
    children, pending = service.children_of(g.account)
    failing = any(field.errors for field in form)
    return render(
        "sharing/children.html",
        form=form,
        children=children,
        pending=pending,
        account=g.account,
        status=400 if failing else 200,
    )


@bp.get("/sharing")
@signed_in
def sharing():
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
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not service.revoke_grant(g.account, grant_id):
        abort(404)
    return redirect(url_for("sharing.sharing", revoked=1), code=303)


# -- giving and changing access: a form, then a one-time code --------------------------------------

PENDING = "grant_pending"  # the session key of the grant or change waiting for its code


def _terms(form: GrantTermsForm) -> service.Terms:
    return service.Terms(frozenset(form.sections.data), form.level.data, parse_date(form.expires_on.data))


def _grant_form(form: GrantTermsForm, action: str, grantee=None):
    failing = any(field.errors for field in form)
    return render(
        "sharing/grant_form.html",
        form=form,
        action=action,
        grantee=grantee,
        can_share=g.account.patient_id is not None and g.account.verification_status == "verified",
        max_grants=service.MAX_ACTIVE_GRANTS,
        example_date=service.today() + timedelta(days=90),
        latest_date=service.latest_end_date(),
        status=400 if failing else 200,
    )


def _to_confirmation(pending: service.Pending):
    session[PENDING] = pending.to_dict()
    return redirect(url_for("sharing.confirm"), code=303)


@bp.route("/sharing/new", methods=["GET", "POST"])
@signed_in
@limiter.limit("30/hour", methods=["POST"])
def new():
    form = NewGrantForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            grantee = service.find_grantee(g.account, form.person.data, form.surname.data)
            service.check_room(g.account, grantee)
            return _to_confirmation(service.ask_for_code(g.account, grantee, _terms(form)))
        except service.Refused as refused:
            getattr(form, refused.field).errors = [refused.message]
    return _grant_form(form, url_for("sharing.new"))


@bp.route("/sharing/<int:grant_id>/edit", methods=["GET", "POST"])
@signed_in
def edit(grant_id: int):
    found = service.own_grant(g.account, grant_id)
    if found is None:
        abort(404)
    grant, grantee = found
    if request.method == "GET":
        form = GrantTermsForm(
            sections=sorted(grant.section_set),
            level=grant.level,
            expires_on=grant.expires_on.strftime("%d.%m.%Y"),
        )
    else:
        form = GrantTermsForm()
        if form.validate_on_submit():
            try:
                return _to_confirmation(service.ask_for_code(g.account, grantee, _terms(form), grant.id))
            except service.Refused as refused:
                getattr(form, refused.field).errors = [refused.message]
    return _grant_form(form, url_for("sharing.edit", grant_id=grant.id), grantee)


def _pending() -> service.Pending | None:
    pending = service.Pending.from_dict(session.get(PENDING))
    return pending if pending is not None and pending.owner_id == g.account.id else None


def _own_key() -> str:
    """Rate-limit key per signed-in account (set by the access decorator, which runs first)."""
    return f"account:{g.account.id}"


@bp.route("/sharing/confirm", methods=["GET", "POST"])
@signed_in
# Besides the cap of tries per code: a bound on guesses however many codes are asked for.
@limiter.limit("10/10 minutes", methods=["POST"], key_func=_own_key)
def confirm():
    pending = _pending()
    if pending is None:
        return redirect(url_for("sharing.sharing"), code=303)
    form = CodeForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                made = service.confirm(g.account, pending, form.code.data)
            except service.Refused as refused:
                form.code.errors = [refused.message]
            else:
                if made is not None:
                    session.pop(PENDING, None)
                    done = "created" if pending.grant_id is None else "changed"
                    return redirect(url_for("sharing.sharing", done=done), code=303)
                form.code.errors = [_("The code is not right or has expired. Check it, or send a new code.")]
    return render(
        "sharing/confirm.html",
        form=form,
        pending=pending,
        sections=[key for key in service.shareable_sections() if key in pending.terms.sections],
        labels=LABELS,
        status=status,
    )


@bp.post("/sharing/confirm/resend")
@signed_in
@limiter.limit("3/10 minutes")
def resend():
    pending = _pending()
    if not ConfirmForm().validate_on_submit() or pending is None:
        return redirect(url_for("sharing.sharing"), code=303)
    service.resend_code(g.account, pending)
    return redirect(url_for("sharing.confirm", sent=1), code=303)
