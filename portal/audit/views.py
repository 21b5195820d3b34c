from __future__ import annotations

import json

from flask import Blueprint, abort, g, jsonify, request

from portal import uploads
from portal.access import card, public
from portal.audit import access_log as reader
from portal.audit import log_table, signing
from portal.audit import proof as proofs
from portal.audit.forms import AccessLogFilter
from portal.record.sections import LABELS
from portal.rendering import render, translated

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
        "audit/access_log.html",
        fragment="entries",
        log=log,
        form=form,
        labels=translated(LABELS),
        access_rows=log_table.rows,
        status=200 if valid else 400,
    )


@bp.get("/card/<int:patient_id>/access-log/<int:event_id>/proof")
@card
def proof(patient_id: int, event_id: int):
    event = reader.logged_event(g.account, patient_id, event_id)
    if event is None:
        abort(404)
    return render("audit/proof.html", event=event, proof=proofs.proof_for(event.id), labels=LABELS)


@bp.get("/card/<int:patient_id>/access-log/<int:event_id>/proof.json")
@card
def proof_json(patient_id: int, event_id: int):
    event = reader.logged_event(g.account, patient_id, event_id)
    found = proofs.proof_for(event.id) if event is not None else None
    if found is None:  # not in this card's log, or not sealed yet (the page says so)
        abort(404)
    body = json.dumps(found.as_json(), ensure_ascii=False, indent=2).encode()
    return uploads.download(body, f"medkarta-audit-proof-{event.id}.json", "application/json")


@bp.get("/audit/public-key")
@public
def public_key():
    """The key every signed tree head of the audit log verifies with."""
    key = signing.current_key()
    response = jsonify(
        algorithm="Ed25519",
        public_key=key.public_b64,
        key_id=key.key_id,
        signed_message="b'medkarta-audit-tree-head-v1\\x00' || tree_size (8 bytes big-endian) || "
        "signed_at_ms (8 bytes big-endian) || root_hash (32 bytes)",
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
