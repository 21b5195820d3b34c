"""The card: what a viewer may see of it. Every read goes through the policy and is audited in
the same transaction as the read.

A card page calls ``open_section`` once: it decides (404 when refused), audits, works out the
sections this viewer may open and names the card for the page banner («Карта: Иванова Мария,
9 лет»).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import g
from flask_babel import ngettext

from portal.access import policy
from portal.auth.models import Account
from portal.record.models import Patient


@dataclass(frozen=True)
class CardContext:
    patient: Patient
    decision: policy.Decision
    age: int
    sections: tuple[str, ...]  # the sections this viewer may open

    @property
    def basis(self) -> str:
        return self.decision.basis

    @property
    def short_name(self) -> str:
        return f"{self.patient.surname} {self.patient.name}"

    @property
    def label(self) -> str:
        """«Иванова Мария, 9 лет»: who the card belongs to, as every card page names it."""
        years = ngettext("%(num)s year", "%(num)s years", self.age)
        return f"{self.short_name}, {years}"

    def may(self, section: str) -> bool:
        return section in self.sections


# Kept for callers of the first issue's name.
CardView = CardContext


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def open_section(
    account: Account,
    patient_id: int,
    section: str,
    action: str = "read",
    object_type: str | None = None,
    object_id: object = None,
) -> CardContext:
    """Decide and audit one access to ``section`` of a card, in the caller's write transaction.
    Raises AccessDenied (answered 404) when refused. The result is also kept in ``g.card`` so
    the layout names the card on the page."""
    decision, patient = policy.open_card(account, action, patient_id, section, object_type, object_id)
    context = CardContext(
        patient,
        decision,
        age_on(patient.birth_date, policy.today()),
        policy.visible_sections(account, patient, decision),
    )
    g.card = context
    return context


def overview(account: Account, patient_id: int) -> CardContext:
    from portal.database import write_transaction

    with write_transaction():
        return open_section(account, patient_id, "summary")
