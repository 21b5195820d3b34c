from __future__ import annotations

from flask import Blueprint
from flask_babel import gettext as _

from portal.access import public
from portal.auth.forms import SignInForm
from portal.extensions import limiter
from portal.rendering import render

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit("10/minute", methods=["POST"])
def sign_in():
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        # The same answer for every unknown account or wrong password: no account enumeration.
        form.password.errors = [_("The phone, e-mail, SNILS or password is not right")]
        status = 400
    elif form.errors:
        status = 400
    form.password.data = ""  # never echo a password back into the page
    return render("auth/sign_in.html", fragment="sign_in_form", form=form, status=status)
