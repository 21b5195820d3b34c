from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup

from portal.access import (
    enrolling,
    public,
    second_factor_pending,
    signed_in_without_consent,
)
from portal.auth import identity, service, sessions
from portal.auth.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ChangePhoneForm,
    CodeForm,
    FactorForm,
    ForgotForm,
    PasswordConfirmForm,
    RecoveryCodeForm,
    RegistrationForm,
    ResetForm,
    SignInForm,
    parse_date,
)
from portal.extensions import limiter
from portal.forms import choices
from portal.notify.service import available_channels, code_channel, sms_reachable
from portal.rendering import render, safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

WRONG_LOGIN = _l("The phone, e-mail, SNILS or password is not right")
FACTOR_LABELS = {
    "totp": _l("An authenticator app (for example Yandex Key or Google Authenticator)"),
    "sms": _l("A code by SMS to my phone"),
    "email": _l("A code by e-mail"),
}


def login_key() -> str:
    """Rate-limit key per account: whatever was typed as the login, normalised."""
    return "login:" + (request.form.get("login") or "").strip().lower()


def from_trusted_device() -> bool:
    """The browser signed in to the typed login's account before: the per-login limit, which
    anyone can exhaust, does not apply to it (the device has its own counter)."""
    account = service.find_account(request.form.get("login") or "")
    return account is not None and service.trusted_device(account, sessions.device_tokens()) is not None


def sign_in_paused(until: datetime | None) -> str:
    """The same words for known and unknown logins: nothing here says whether the account exists."""
    return ngettext(
        "Too many wrong attempts with this login. Sign-in from new devices is paused for %(num)d minute. "
        "Try again then, sign in from a device you have signed in from before, or restore your password.",
        "Too many wrong attempts with this login. Sign-in from new devices is paused for %(num)d minutes. "
        "Try again then, sign in from a device you have signed in from before, or restore your password.",
        service.minutes_until(until),
    )


def wrong_password(found: service.Current) -> tuple[str, int]:
    return service.password_error(found.account.id)


def current() -> service.Current:
    found = sessions.current()
    assert found is not None  # the access decorator let us in
    return found


# -- registration --------------------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit("10/hour", methods=["POST"])
def register():
    form = RegistrationForm()
    if form.validate_on_submit():
        service.register(
            service.NewAccount(
                surname=form.surname.data,
                name=form.name.data,
                patronymic=form.patronymic.data,
                birth_date=parse_date(form.birth_date.data),
                sex=form.sex.data,
                snils=form.snils.data,
                phone=form.phone.data,
                email=form.email.data,
                password=form.password.data,
            ),
            locale=request.cookies.get("lang") or current_app.config["LANGUAGES"][0],
        )
        return redirect(url_for("auth.registered"), code=303)
    form.password.data = form.password_again.data = ""
    return render("auth/register.html", form=form, status=400 if form.errors else 200)


@bp.get("/register/sent")
@public
def registered():
    return render("auth/registered.html")


@bp.get("/confirm/<token>")
@public
def confirm_link(token: str):
    # Keep the token out of the address bar, history and Referer: into the session, then a clean URL.
    session["confirm_token"] = token
    return redirect(url_for("auth.confirm_email"), code=303)


@bp.route("/confirm", methods=["GET", "POST"])
@public
def confirm_email():
    token = session.get("confirm_token")
    if request.method == "POST" and token:
        outcome = service.confirm_email(token)
        session.pop("confirm_token", None)
        return render("auth/confirmed.html", outcome=outcome, status=200 if outcome != "invalid" else 400)
    return render("auth/confirm.html", has_token=bool(token), form=PasswordConfirmForm())


# -- sign-in -------------------------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit("20/minute", methods=["POST"])
@limiter.limit("10/15 minutes", methods=["POST"], key_func=login_key, exempt_when=from_trusted_device)
def sign_in():
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        result = service.begin_sign_in(
            form.login.data,
            form.password.data,
            request.remote_addr,
            request.headers.get("User-Agent"),
            sessions.device_tokens(),
        )
        if result.outcome == "ok":
            sessions.begin(result.token)
            if result.stage == "enrol":
                return redirect(url_for("auth.enrol"), code=303)
            session["after_sign_in"] = safe_next(request.args.get("next"), url_for("web.home"))
            return redirect(url_for("auth.second_factor"), code=303)
        if result.outcome == "locked":
            form.login.errors = [sign_in_paused(result.retry_at)]
            status = 429
        elif result.outcome == "unconfirmed":
            form.login.errors = [_("Confirm your e-mail first: we have sent the link again.")]
            status = 400
        else:
            form.password.errors = [WRONG_LOGIN]
            status = 400
    elif form.errors:
        status = 400
    form.password.data = ""  # never echo a password back into the page
    demo = demo_accounts() if current_app.config["DEMO_MODE"] else []
    providers = identity.providers().values()
    page = render(
        "auth/sign_in.html", fragment="sign_in_form", form=form, demo=demo, providers=providers, status=status
    )
    return identity.allow_forms_to(page, providers)


@bp.route("/second-factor", methods=["GET", "POST"])
@second_factor_pending
@limiter.limit("10/minute", methods=["POST"])
def second_factor():
    found = current()
    form, recovery = CodeForm(prefix="f"), RecoveryCodeForm(prefix="r")
    method = "recovery" if request.form.get("use") == "recovery" else "code"
    status = 200
    chosen = recovery if method == "recovery" else form
    if request.method == "POST" and chosen.validate_on_submit():
        value = recovery.recovery_code.data if method == "recovery" else form.code.data
        finished = service.finish_sign_in(found, value, method, sessions.device_tokens())
        if finished.outcome == "ok":
            target = session.pop("after_sign_in", url_for("web.home"))
            sessions.begin(finished.token)  # a new session id, cookie and CSRF token once signed in
            if finished.stage == "enrol":  # a staff member with a code factor: now an authenticator app
                target = url_for("auth.enrol_factor")
            return sessions.remember_device(redirect(target, code=303), finished.device)
        if finished.outcome == "locked":
            sessions.forget()
            form = SignInForm()
            form.login.errors = [sign_in_paused(finished.retry_at)]
            return render("auth/sign_in.html", fragment="sign_in_form", form=form, demo=[], status=429)
        field = recovery.recovery_code if method == "recovery" else form.code
        field.errors = [_("The code is not right. Check it and try again.")]
        status = 400
    elif request.method == "POST":
        status = 400
    return render(
        "auth/second_factor.html",
        form=form,
        recovery=recovery,
        account=found.account,
        code_by=code_channel(found.account.second_factor or ""),
        status=status,
    )


@bp.post("/second-factor/resend")
@second_factor_pending
@limiter.limit("3/10 minutes")
def resend_code():
    service.resend_sign_in_code(current())
    return redirect(url_for("auth.second_factor", sent=1), code=303)


@bp.post("/sign-out")
@public  # reviewed: it only ends the caller's own session and shows nothing
def sign_out():
    found = sessions.current()
    if found is not None:
        service.sign_out(found)
    sessions.forget()
    response = redirect(url_for("web.home", signed_out=1), code=303)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


# -- enrolment: phone and second factor ----------------------------------------------------------


@bp.get("/enrol")
@enrolling
def enrol():
    found = current()
    return render(
        "auth/enrol.html",
        account=found.account,
        code_form=CodeForm(),
        sent=request.args.get("sent"),
        sms=sms_reachable(),
    )


@bp.post("/enrol/phone/send")
@enrolling
@limiter.limit("3/10 minutes")
def enrol_phone_send():
    if not sms_reachable():
        abort(404)
    service.send_phone_confirmation(current())
    return redirect(url_for("auth.enrol", sent=1), code=303)


@bp.post("/enrol/phone")
@enrolling
def enrol_phone():
    found = current()
    form = CodeForm()
    if form.validate_on_submit():
        if service.confirm_phone(found, form.code.data):
            return redirect(url_for("auth.enrol_factor"), code=303)
        form.code.errors = [_("The code is not right or has expired. Ask for a new one.")]
    return render("auth/enrol.html", account=found.account, code_form=form, sent=None, status=400)


def factor_choices(account) -> list[tuple[str, str]]:
    methods = ["totp"] if account.is_staff else ["totp", "sms", "email"]
    reachable = available_channels() | ({"sms", "email"} if current_app.config["DEMO_MODE"] else set())
    return [(m, str(FACTOR_LABELS[m])) for m in methods if m == "totp" or m in reachable]


@bp.route("/enrol/factor", methods=["GET", "POST"])
@enrolling
def enrol_factor():
    found = current()
    # Without any way to send an SMS the phone cannot be confirmed: the account goes on without it.
    if found.account.phone_confirmed_at is None and sms_reachable():
        return redirect(url_for("auth.enrol"), code=303)
    changing = service.changing_factor(found)
    form = FactorForm()
    form.method.choices = choices(factor_choices(found.account))
    status = 200
    if form.validate_on_submit():
        password, recovery_code = form.current_password.data, form.recovery_code.data
        if changing and not (password or recovery_code):
            form.current_password.errors = [_("Enter your current password or a recovery code")]
        elif service.choose_factor(found, form.method.data, password, recovery_code):
            if form.method.data == "totp":
                return redirect(url_for("auth.enrol_totp"), code=303)
            return redirect(url_for("auth.enrol_code", method=form.method.data), code=303)
        elif password:
            message, status = wrong_password(found)
            form.current_password.errors = [message]
        else:
            form.recovery_code.errors = [_("The code is not right. Check it and try again.")]
    if form.errors and status == 200:
        status = 400
    form.current_password.data = form.recovery_code.data = ""  # secrets are never echoed
    return render("auth/enrol_factor.html", form=form, changing=changing, status=status)


@bp.route("/enrol/totp", methods=["GET", "POST"])
@enrolling
def enrol_totp():
    import segno

    found = current()
    secret = service.pending_totp_secret(found)
    if secret is None:
        return redirect(url_for("auth.enrol_factor"), code=303)
    form = CodeForm()
    if form.validate_on_submit():
        enrolled = service.confirm_second_factor(found, "totp", form.code.data, sessions.device_tokens())
        if enrolled is not None:
            return after_enrolment(enrolled)
        form.code.errors = [_("The code is not right. Check the time on your phone and try again.")]
    # segno escapes the title; the SVG is ours, made from our own URI.
    svg = segno.make(service.provisioning_uri(found.account, secret), error="m").svg_inline(
        scale=4, title=_("QR code for your authenticator app"), dark="#000", light="#fff"
    )
    qr = Markup(svg)  # noqa: S704
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render("auth/enrol_totp.html", form=form, qr=qr, secret=grouped, status=400 if form.errors else 200)


@bp.route("/enrol/code", methods=["GET", "POST"])
@enrolling
def enrol_code():
    found = current()
    method = request.args.get("method")
    if method not in {m for m, _label in factor_choices(found.account)} - {"totp"}:
        abort(404)
    form = CodeForm()
    if form.validate_on_submit():
        enrolled = service.confirm_second_factor(found, method, form.code.data, sessions.device_tokens())
        if enrolled is not None:
            return after_enrolment(enrolled)
        form.code.errors = [_("The code is not right or has expired. Ask for a new one.")]
    return render("auth/enrol_code.html", form=form, method=method, status=400 if form.errors else 200)


def after_enrolment(enrolled: service.Enrolled):
    """The session goes on under a new id; the recovery codes are shown once."""
    sessions.begin(enrolled.token)
    session["recovery_codes"] = enrolled.codes
    return sessions.remember_device(redirect(url_for("auth.recovery_codes"), code=303), enrolled.device)


@bp.get("/recovery-codes")
@signed_in_without_consent
def recovery_codes():
    codes = session.pop("recovery_codes", None)
    if not codes:
        return redirect(url_for("auth.security"), code=303)
    return render("auth/recovery_codes.html", codes=codes)


# -- sessions ------------------------------------------------------------------------------------


@bp.get("/sessions")
@signed_in_without_consent
def sessions_list():
    found = current()
    return render(
        "auth/sessions.html",
        rows=service.active_sessions(found.account.id),
        this=found.session.id,
        form=PasswordConfirmForm(),
    )


@bp.post("/sessions/<session_id>/end")
@signed_in_without_consent
def end_session(session_id: str):
    found = current()
    if not service.end_session(session_id, "ended by the owner", found.account.id):
        abort(404)
    if session_id == found.session.id:
        sessions.forget()
        return redirect(url_for("auth.sign_in"), code=303)
    return redirect(url_for("auth.sessions_list", ended=1), code=303)


@bp.post("/sessions/end-all")
@signed_in_without_consent
def end_all_sessions():
    found = current()
    form = PasswordConfirmForm()
    status = 400
    if form.validate_on_submit() and not service.check_password(
        found.account.id, form.current_password.data, "auth.signed_out_everywhere"
    ):
        message, status = wrong_password(found)
        form.current_password.errors = [message]
    if form.errors:
        return render(
            "auth/sessions.html",
            rows=service.active_sessions(found.account.id),
            this=found.session.id,
            form=form,
            status=status,
        )
    service.sign_out_everywhere(found)
    sessions.forget()
    return redirect(url_for("auth.sign_in", everywhere=1), code=303)


@bp.post("/keep-alive")
@signed_in_without_consent
def keep_alive():
    found = current()
    service.touch(found, force=True)
    if request.htmx:
        return "", 204
    return redirect(safe_next(request.form.get("next"), url_for("web.home")), code=303)


# -- recovery ------------------------------------------------------------------------------------


@bp.route("/forgot", methods=["GET", "POST"])
@public
@limiter.limit("5/15 minutes", methods=["POST"])
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        return render("auth/forgot_sent.html")
    return render("auth/forgot.html", form=form, status=400 if form.errors else 200)


@bp.get("/reset/<token>")
@public
def reset_link(token: str):
    session["reset_token"] = token
    return redirect(url_for("auth.reset"), code=303)


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset():
    token = session.get("reset_token")
    account = service.reset_target(token) if token else None
    if account is None:
        return render("auth/reset_invalid.html", status=400)
    form = ResetForm()
    form.policy_names = lambda: (account.surname, account.name, account.patronymic or "")
    form.policy_email = lambda: account.email
    if form.validate_on_submit() and service.reset_password(token, form.password.data):
        session.pop("reset_token", None)
        sessions.forget()
        return redirect(url_for("auth.sign_in", reset=1), code=303)
    form.password.data = form.password_again.data = ""
    return render("auth/reset.html", form=form, status=400 if form.errors else 200)


# -- step-up: the password again before a sensitive operation (SECURITY.md check 20) -------------


@bp.route("/confirm-password", methods=["GET", "POST"])
@signed_in_without_consent
@limiter.limit("10/15 minutes", methods=["POST"])
def reauthenticate():
    found = current()
    back = safe_next(request.args.get("next"), url_for("web.home"))
    cancel = safe_next(request.args.get("cancel"), url_for("web.home"))
    form = PasswordConfirmForm()
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.validate_on_submit():
        token = service.reauthenticate(found, form.current_password.data)
        if token is not None:
            sessions.renew(token)  # a rise in privilege: a new session id
            return redirect(back, code=303)
        message, status = wrong_password(found)
        form.current_password.errors = [message]
    return render("auth/reauthenticate.html", form=form, back=back, cancel=cancel, status=status)


# -- security: password, e-mail, phone -----------------------------------------------------------


def security_page(status: int = 200, **forms):
    found = current()
    defaults = {
        "password_form": ChangePasswordForm(prefix="pw"),
        "email_form": ChangeEmailForm(prefix="em"),
        "phone_form": ChangePhoneForm(prefix="ph"),
    }
    defaults.update(forms)
    return render("auth/security.html", account=found.account, status=status, **defaults)


@bp.get("/security")
@signed_in_without_consent
def security():
    return security_page()


@bp.post("/security/password")
@signed_in_without_consent
def change_password():
    found = current()
    form = ChangePasswordForm(prefix="pw")
    form.policy_names = lambda: (found.account.surname, found.account.name, found.account.patronymic or "")
    form.policy_email = lambda: found.account.email
    if form.validate_on_submit():
        if service.change_password(found, form.current_password.data, form.password.data):
            return redirect(url_for("auth.security", done="password"), code=303)
        message, status = wrong_password(found)
        form.current_password.errors = [message]
        return security_page(status, password_form=form)
    return security_page(400, password_form=form)


@bp.post("/security/email")
@signed_in_without_consent
def change_email():
    found = current()
    form = ChangeEmailForm(prefix="em")
    if form.validate_on_submit():
        if service.change_email(found, form.current_password.data, form.email.data):
            return redirect(url_for("auth.security", done="email"), code=303)
        message, status = wrong_password(found)
        form.current_password.errors = [message]
        return security_page(status, email_form=form)
    return security_page(400, email_form=form)


@bp.post("/security/phone")
@signed_in_without_consent
def change_phone():
    found = current()
    form = ChangePhoneForm(prefix="ph")
    if form.validate_on_submit():
        if service.change_phone(found, form.current_password.data, form.phone.data):
            if not sms_reachable():  # changed at once, unconfirmed: there is no SMS to confirm it with
                return redirect(url_for("auth.security", done="phone_unconfirmed"), code=303)
            session["new_phone"] = form.phone.data
            return redirect(url_for("auth.confirm_phone"), code=303)
        message, status = wrong_password(found)
        form.current_password.errors = [message]
        return security_page(status, phone_form=form)
    return security_page(400, phone_form=form)


@bp.route("/security/phone/confirm", methods=["GET", "POST"])
@signed_in_without_consent
def confirm_phone():
    found = current()
    phone = session.get("new_phone")
    if not phone:
        return redirect(url_for("auth.security"), code=303)
    form = CodeForm()
    if form.validate_on_submit():
        if service.confirm_new_phone(found, phone, form.code.data):
            session.pop("new_phone", None)
            return redirect(url_for("auth.security", done="phone"), code=303)
        form.code.errors = [_("The code is not right or has expired. Ask for a new one.")]
    return render("auth/confirm_phone.html", form=form, phone=phone, status=400 if form.errors else 200)


# -- demo mode -----------------------------------------------------------------------------------


def demo_accounts():
    from portal.demodata.demo_mode import demo_sign_in_list

    return demo_sign_in_list()


@bp.post("/demo-sign-in")
@public  # reviewed: 404 unless DEMO_MODE, which production refuses to start with
def demo_sign_in():
    if not current_app.config["DEMO_MODE"]:
        abort(404)
    from portal.demodata.demo_mode import demo_session

    token = demo_session(request.form.get("account", type=int), request.remote_addr, request.headers.get("User-Agent"))
    if token is None:
        abort(404)
    sessions.begin(token)
    session["after_sign_in"] = url_for("web.home")
    return redirect(url_for("auth.second_factor"), code=303)


# -- identity verification -----------------------------------------------------------------------


@bp.route("/verification", methods=["GET", "POST"])
@signed_in_without_consent
def verification():
    from portal import uploads
    from portal.auth import verification as verifying
    from portal.auth.forms import VerificationForm

    found = current()
    account = found.account
    form = VerificationForm()
    latest = verifying.latest_request(account.id)
    can_submit = account.verification_status in ("unverified", "rejected")
    if request.method == "POST" and can_submit and form.validate_on_submit():
        files, problems = {}, False
        for kind in verifying.DOCUMENT_KINDS:
            field = getattr(form, f"{kind}_file")
            try:
                files[kind] = uploads.check(field.data)
            except uploads.UploadError as error:
                field.errors = [str(error)]
                problems = True
        if not problems:
            series, number = form.passport()
            verifying.submit(
                account.id,
                verifying.Submission(
                    passport_series=series,
                    passport_number=number,
                    issued_on=parse_date(form.issued_on.data),
                    issued_by=form.issued_by.data,
                    division_code=form.division_code.data.replace("-", ""),
                    oms_number=form.oms_number.data.replace(" ", ""),
                    files=files,
                ),
            )
            return redirect(url_for("auth.verification", sent=1), code=303)
    elif request.method == "POST" and can_submit:
        for kind in verifying.DOCUMENT_KINDS:  # say what is wrong with the files too, in one go
            field = getattr(form, f"{kind}_file")
            if not (field.data and field.data.filename):
                field.errors = [_("Choose a file")]
    status = 400 if form.errors or any(getattr(form, f"{k}_file").errors for k in verifying.DOCUMENT_KINDS) else 200
    return render(
        "auth/verification.html",
        form=form,
        account=account,
        latest=latest,
        can_submit=can_submit,
        status=status if request.method == "POST" else 200,
    )
