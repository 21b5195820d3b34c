"""The organisation admin's workspace (``/org``): the staff list, inviting, an invitation sent
again or withdrawn, a person's roles and suspension; and the invitee's side (``/invitation``),
where the link from the e-mail is accepted. ``policy.decide_staff_admin`` decides every admin
page: another organisation's staff, member or invitation is 404."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.access import policy, public, signed_in_without_consent, staff
from portal.auth import sessions
from portal.auth.forms import parse_date
from portal.auth.service import needs_enrolment
from portal.database import db
from portal.directory.specialties import load_specialties
from portal.extensions import limiter
from portal.formatting import format_datetime
from portal.forms import choices
from portal.orgadmin import service
from portal.orgadmin.forms import DirectoryEntryForm, InviteForm, RoleForm, StaffAccountForm, role_choices
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("orgadmin", __name__, url_prefix="/org", template_folder="templates")
invitation_bp = Blueprint("invitation", __name__, url_prefix="/invitation", template_folder="templates")

REFUSALS = {
    "pending": _l("An invitation to this e-mail is already waiting. Send it again or withdraw it from the staff list."),
    "self": _l("You cannot give a role to yourself."),
    "not_admin": _l("Only an admin of the organisation gives roles in it."),
    "suspended": _l("This person's work here is suspended: reactivate it first."),
    "held": _l("This person already holds that role here."),
    "auditor": _l("An auditor holds no other role in the organisation they audit."),
    "unknown": _l("Choose roles from the list"),
    "not_held": _l("This person no longer holds that role."),
    "last_admin": _l("You are the organisation's only admin: give the role to someone else first."),
    "suspend_self": _l("You cannot suspend yourself."),
    "already_suspended": _l("This person's work here is already suspended."),
    "not_suspended": _l("This person's work here is not suspended."),
    "closed": _l("This invitation is no longer waiting: it was accepted, withdrawn or sent again."),
    "not_clinical": _l("Only a doctor or a nurse is listed in the directory: give the role first."),
    "listed": _l("This person is already listed in the directory."),
    "specialty": _l(
        "A nurse is listed as a nurse, a doctor with a specialty from the list: choose the one that matches the "
        "person's role."
    ),
}
DONE = {
    "invited": _l("The invitation is sent. The link in it works for %(hours)s hours."),
    "resent": _l("A new invitation is sent; the link in the earlier one no longer works."),
    "revoked": _l("The invitation is withdrawn; its link no longer works."),
    "role_given": _l("The role is given; the person is told by e-mail."),
    "role_removed": _l("The role is removed; the person is told by e-mail."),
    "suspended": _l("The person's work here is suspended and their sessions are ended; they are told by e-mail."),
    "reactivated": _l("The person's work here is resumed; they are told by e-mail."),
    "listed": _l("The person is listed in the directory: their schedule can be set and the record names them."),
}


def _done() -> str | None:
    key = request.args.get("done")
    return str(DONE[key]) % {"hours": current_app.config["INVITATION_HOURS"]} if key in DONE else None


def _organisation_or_404(organisation_id: int):
    try:
        return service.organisation_for(g.account, organisation_id)
    except LookupError:
        abort(404)


def _or_404(call, *args):
    try:
        return call(g.account, *args)
    except LookupError:
        abort(404)


# -- the staff list --------------------------------------------------------------------------------


@bp.get("")
@staff("org_admin")
def index():
    """The admin's organisation's staff; a choice first when they are the admin of several."""
    organisations = service.organisations_of(g.account)
    if len(organisations) == 1:
        return _staff_page(organisations[0].id)
    return render("orgadmin/choose.html", organisations=organisations)


@bp.get("/<int:organisation_id>")
@staff("org_admin")
def staff_list(organisation_id: int):
    return _staff_page(organisation_id)


def _staff_page(organisation_id: int):
    organisation = _organisation_or_404(organisation_id)
    return render(
        "orgadmin/staff.html",
        organisation=organisation,
        member_rows=_member_rows(organisation_id),
        invitation_rows=_invitation_rows(organisation_id),
        several=len(service.organisations_of(g.account)) > 1,
        done=_done(),
    )


def _name_lang() -> str | None:
    """People's and organisations' names are Russian: marked so in the English pages."""
    return None if str(get_locale()) == "ru" else "ru"


def _member_rows(organisation_id: int) -> list[list]:
    lang = _name_lang()
    rows = []
    for m in service.members(organisation_id):
        url = url_for("orgadmin.member", organisation_id=organisation_id, account_id=m.account.id)
        state = _("Suspended") if m.suspended else _("Working")
        rows.append([(m.account.full_name, url, lang), m.account.email, service.role_names(m.roles), state])
    return rows


def _invitation_rows(organisation_id: int) -> list[list]:
    lang = _name_lang()
    rows = []
    for i in service.pending_invitations(organisation_id):
        until = format_datetime(i.expires_at, "short")
        state = (
            _("Expired on %(date)s", date=until)
            if service.is_expired(i)
            else _("Invited; the link works until %(date)s", date=until)
        )
        url = url_for("orgadmin.invitation", organisation_id=organisation_id, invitation_id=i.id)
        rows.append([(i.full_name, url, lang), i.email, service.role_names(i.role_list), state])
    return rows


# -- invitations -----------------------------------------------------------------------------------


def _invite_form() -> InviteForm:
    form = InviteForm()
    form.roles.choices = role_choices(service.ROLE_LABELS)
    return form


@bp.route("/<int:organisation_id>/invitations/new", methods=["GET", "POST"])
@staff("org_admin")
def invite(organisation_id: int):
    organisation = _organisation_or_404(organisation_id)
    form = _invite_form()
    if form.validate_on_submit():
        data = service.NewInvitation(
            form.surname.data, form.name.data, form.patronymic.data, form.email.data, form.roles.data
        )
        try:
            service.invite(g.account, organisation_id, data)
        except LookupError:
            abort(404)
        except service.Refused as refused:
            getattr(form, refused.field or "roles").errors = [REFUSALS[refused.reason]]
        else:
            return redirect(url_for("orgadmin.staff_list", organisation_id=organisation_id, done="invited"), code=303)
    status = 400 if request.method == "POST" else 200
    return render("orgadmin/invite.html", form=form, organisation=organisation, status=status)


def _invitation_page(organisation_id: int, invitation_id: int, refusal: str | None = None, status: int = 200):
    invitation = _or_404(service.invitation_of, organisation_id, invitation_id)
    return render(
        "orgadmin/invitation.html",
        organisation=service.organisation_for(g.account, organisation_id),
        invitation=invitation,
        expired=service.is_expired(invitation),
        role_names=service.role_names,
        refusal=REFUSALS.get(refusal) if refusal else None,
        status=status,
    )


@bp.get("/<int:organisation_id>/invitations/<int:invitation_id>")
@staff("org_admin")
def invitation(organisation_id: int, invitation_id: int):
    return _invitation_page(organisation_id, invitation_id)


@bp.post("/<int:organisation_id>/invitations/<int:invitation_id>/<any(resend, revoke):action>")
@staff("org_admin")
def close_invitation(organisation_id: int, invitation_id: int, action: str):
    if not ConfirmForm().validate_on_submit():
        return _invitation_page(organisation_id, invitation_id, status=400)
    try:
        _or_404(getattr(service, action), organisation_id, invitation_id)
    except service.Refused as refused:
        return _invitation_page(organisation_id, invitation_id, refused.reason, status=409)
    done = "resent" if action == "resend" else "revoked"
    return redirect(url_for("orgadmin.staff_list", organisation_id=organisation_id, done=done), code=303)


# -- a member: roles and suspension ----------------------------------------------------------------


def _directory_form(organisation_id: int, member: service.Member, form: DirectoryEntryForm | None = None):
    """The form that lists a doctor or nurse in the directory: a doctor's specialties from the
    nomenclature, «медицинская сестра» for a nurse, the organisation's departments."""
    form = form or DirectoryEntryForm(formdata=None)
    locale = str(get_locale())
    specialties = []
    if "doctor" in member.roles:
        specialties += sorted(((s.code, s.label(locale)) for s in load_specialties()), key=lambda pair: pair[1])
    if "nurse" in member.roles:
        specialties.append(("nurse", _("nurse")))
    form.specialty_code.choices = choices([("", _("Choose…")), *specialties])
    departments = [(str(d.id), d.name) for d in service.departments_of(organisation_id)]
    form.department.choices = choices([("", _("No department")), *departments])
    return form


def _member_page(
    organisation_id: int,
    account_id: int,
    form: RoleForm | None = None,
    refusal: str | None = None,
    status: int = 200,
    directory_form: DirectoryEntryForm | None = None,
):
    member = _or_404(service.member_of, organisation_id, account_id)
    form = form or RoleForm()
    form.role.choices = role_choices(service.ROLE_LABELS, [r for r in service.ROLE_LABELS if r not in member.roles])
    entry = service.directory_entry(account_id)
    clinical = not member.suspended and any(role in service.CLINICAL_ROLES for role in member.roles)
    return render(
        "orgadmin/member.html",
        organisation=service.organisation_for(g.account, organisation_id),
        member=member,
        form=form,
        entry=entry,
        directory_form=_directory_form(organisation_id, member, directory_form) if clinical and entry is None else None,
        labels=service.ROLE_LABELS,
        own=account_id == g.account.id,
        refusal=REFUSALS.get(refusal) if refusal else None,
        done=_done(),
        status=status,
    )


@bp.get("/<int:organisation_id>/members/<int:account_id>")
@staff("org_admin")
def member(organisation_id: int, account_id: int):
    return _member_page(organisation_id, account_id)


def _after_change(organisation_id: int, account_id: int, done: str):
    """Back to the person's page; to the list when they no longer work here; home when the admin
    gave up their own admin role here."""
    if not policy.decide_staff_admin(g.account, organisation_id).allowed:
        return redirect(url_for("web.home"), code=303)
    try:
        service.member_of(g.account, organisation_id, account_id)
    except LookupError:
        return redirect(url_for("orgadmin.staff_list", organisation_id=organisation_id, done=done), code=303)
    target = url_for("orgadmin.member", organisation_id=organisation_id, account_id=account_id, done=done)
    return redirect(target, code=303)


def _apply(organisation_id: int, account_id: int, change, done: str, *args):
    """Run a change of the person's work; a refusal comes back on their page, in words."""
    try:
        _or_404(change, organisation_id, account_id, *args)
    except service.Refused as refused:
        return _member_page(organisation_id, account_id, refusal=refused.reason, status=409)
    return _after_change(organisation_id, account_id, done)


@bp.post("/<int:organisation_id>/members/<int:account_id>/roles")
@staff("org_admin")
def give_role(organisation_id: int, account_id: int):
    form = RoleForm()
    form.role.choices = role_choices(service.ROLE_LABELS)
    if not form.validate_on_submit():
        return _member_page(organisation_id, account_id, form, status=400)
    return _apply(organisation_id, account_id, service.give_role, "role_given", form.role.data)


@bp.post("/<int:organisation_id>/members/<int:account_id>/roles/<role>/remove")
@staff("org_admin")
def remove_role(organisation_id: int, account_id: int, role: str):
    if role not in service.ROLE_LABELS:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        return _member_page(organisation_id, account_id, status=400)
    return _apply(organisation_id, account_id, service.remove_role, "role_removed", role)


@bp.post("/<int:organisation_id>/members/<int:account_id>/<any(suspend, reactivate):action>")
@staff("org_admin")
def suspension(organisation_id: int, account_id: int, action: str):
    if not ConfirmForm().validate_on_submit():
        return _member_page(organisation_id, account_id, status=400)
    done = "suspended" if action == "suspend" else "reactivated"
    return _apply(organisation_id, account_id, getattr(service, action), done)


@bp.post("/<int:organisation_id>/members/<int:account_id>/directory")
@staff("org_admin")
def directory_entry(organisation_id: int, account_id: int):
    member = _or_404(service.member_of, organisation_id, account_id)
    form = _directory_form(organisation_id, member, DirectoryEntryForm())
    if not form.validate_on_submit():
        return _member_page(organisation_id, account_id, status=400, directory_form=form)
    entry = service.DirectoryEntry(
        specialty_code=form.specialty_code.data,
        position=form.position.data.strip(),
        registration_number=form.registration_number.data.strip(),
        department_id=int(form.department.data) if form.department.data else None,
    )
    try:
        _or_404(service.add_to_directory, organisation_id, account_id, entry)
    except service.Refused as refused:
        return _member_page(organisation_id, account_id, refusal=refused.reason, status=409, directory_form=form)
    return _after_change(organisation_id, account_id, "listed")


# -- the invitee: the link from the e-mail ---------------------------------------------------------

TOKEN = "invitation_token"  # noqa: S105 - the session key, not a secret
MAX_TOKEN = 128  # a link's token is 43 characters; nothing longer is kept in the cookie


@invitation_bp.get("/<token>")
@public
def open_link(token: str):
    # Keep the token out of the address bar, history and Referer: into the session, then a clean URL.
    session[TOKEN] = token[:MAX_TOKEN]
    return redirect(url_for("invitation.show"), code=303)


def _closed(state: str):
    """A link that cannot be used: why, in words, and what to do."""
    return render("orgadmin/invitation_closed.html", state=state, status=400 if state == "invalid" else 410)


def _staff_account_form(opened: service.Opened) -> StaffAccountForm:
    form = StaffAccountForm()
    invitation = opened.invitation
    form.invited_names = (invitation.surname, invitation.name, invitation.patronymic or "")
    form.invited_email = invitation.email
    return form


def _invitation_view(opened: service.Opened, form: StaffAccountForm | None = None, status: int = 200):
    signed_in = sessions.account_if_signed_in()
    if form is not None:
        form.password.data = form.password_again.data = ""  # never echo a password back
    return render(
        "orgadmin/invitation_open.html",
        opened=opened,
        invitation=opened.invitation,
        role_names=service.role_names(opened.invitation.role_list),
        signed_in=signed_in,
        form=form or _staff_account_form(opened),
        status=status,
    )


@invitation_bp.route("", methods=["GET", "POST"])
@public  # reviewed: shows the invitation (a name, an organisation, roles) only to the link's holder
@limiter.limit("10/hour", methods=["POST"])
def show():
    """The invitation behind the link: a new account's form, or signing in to the account that
    has the e-mail, or (signed in with it) the button that accepts."""
    token = session.get(TOKEN)
    opened = service.open_invitation(token)
    if opened.state != "pending":
        return _closed(opened.state)
    form = _staff_account_form(opened)
    if request.method == "GET" or opened.has_account or sessions.account_if_signed_in() is not None:
        # Signed in, the page offers to accept with that account, never a second account.
        return _invitation_view(opened, status=200 if request.method == "GET" else 400)
    if not form.validate_on_submit():
        return _invitation_view(opened, form, status=400)
    return _create_account(token, opened, form)


def _create_account(token: str, opened: service.Opened, form: StaffAccountForm):
    data = service.NewStaffAccount(
        parse_date(form.birth_date.data), form.sex.data, form.snils.data, form.phone.data, form.password.data
    )
    try:
        session_token = service.accept_with_new_account(
            token,
            data,
            request.cookies.get("lang") or current_app.config["LANGUAGES"][0],
            request.remote_addr,
            request.headers.get("User-Agent"),
        )
    except service.Refused as refused:
        if refused.field:
            getattr(form, refused.field).errors = [ACCEPT_REFUSALS[refused.reason]]
            return _invitation_view(opened, form, status=400)
        return _refused_on_accept(refused.reason)
    session.pop(TOKEN, None)
    sessions.begin(session_token)  # signed in, with an authenticator app to set up before anything else
    return redirect(url_for("auth.enrol"), code=303)


ACCEPT_REFUSALS = {
    "snils": _l(
        "This SNILS belongs to another Medkarta account. Sign in with that account, and ask your "
        "administrator to send the invitation to its e-mail."
    ),
}


def _refused_on_accept(reason: str):
    """The invitation changed under the invitee, or a rule of roles stops it: nothing was written."""
    if reason in ("invalid", "accepted", "expired", "revoked", "replaced"):
        return _closed(reason)
    if reason == "has_account":
        return redirect(url_for("invitation.show"), code=303)
    return render("orgadmin/invitation_closed.html", state="refused", why=REFUSALS.get(reason), status=409)


@invitation_bp.post("/accept")
@signed_in_without_consent
def accept():
    """The signed-in invitee accepts with their account; a staff member then sets up an
    authenticator app before any staff page, if they have none."""
    token = session.get(TOKEN)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.accept_as(token or "", g.account.id)
    except service.Refused as refused:
        if refused.reason == "other_account":
            return redirect(url_for("invitation.show"), code=303)
        return _refused_on_accept(refused.reason)
    session.pop(TOKEN, None)
    opened = service.open_invitation(token)
    db.session.expire(g.account)  # its new roles
    if needs_enrolment(g.account):
        return redirect(url_for("auth.enrol"), code=303)
    return render(
        "orgadmin/invitation_accepted.html",
        organisation=opened.organisation,
        role_names=service.role_names(opened.invitation.role_list),
    )
