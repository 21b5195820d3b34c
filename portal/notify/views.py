from __future__ import annotations

import pyotp
from flask import Blueprint, abort, current_app
from sqlalchemy import select

from portal.access import public
from portal.database import db
from portal.notify.models import OutboxMessage
from portal.rendering import render

bp = Blueprint("notify", __name__, template_folder="templates")


@bp.get("/demo/outbox")
@public  # reviewed: 404 unless DEMO_MODE (refused in production); shows only made-up demo people
def outbox():
    if not current_app.config["DEMO_MODE"]:
        abort(404)
    from portal.demo import demo_totp_secrets

    messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(30)))
    totp = [(label, pyotp.TOTP(secret).now()) for label, secret in demo_totp_secrets()]
    return render("notify/outbox.html", messages=messages, totp=totp)
