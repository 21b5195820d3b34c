"""The card: what a viewer may see of it. Every read goes through the policy and is audited in
the same transaction. (The sections themselves arrive with the record issue.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal.access import policy
from portal.auth.models import Account
from portal.database import write_transaction
from portal.record.models import Patient


@dataclass(frozen=True)
class CardView:
    patient: Patient
    decision: policy.Decision
    age: int
    sections: tuple[str, ...]  # the sections this viewer may open


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def overview(account: Account, patient_id: int) -> CardView:
    with write_transaction():
        decision, patient = policy.open_card(account, "read", patient_id, "summary")
        visible = tuple(
            s for s in policy.SECTIONS if s != "summary" and policy.decide(account, "read", patient, s).allowed
        )
        return CardView(patient, decision, age_on(patient.birth_date, policy.today()), visible)
