from __future__ import annotations

from flask import Blueprint, g

from portal.access import card, signed_in
from portal.access import service as access
from portal.record import service
from portal.record.sections import BASES, LABELS
from portal.rendering import render

bp = Blueprint("record", __name__, template_folder="templates")


@bp.get("/cards")
@signed_in
def cards():
    return render("record/cards.html", links=access.cards_for(g.account), account=g.account, bases=BASES)


@bp.get("/card/<int:patient_id>")
@card
def card_overview(patient_id: int):
    view = service.overview(g.account, patient_id)
    return render("record/card.html", view=view, labels=LABELS, bases=BASES)
