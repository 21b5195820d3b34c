"""The access policy: "may this account do ACTION on this patient's SECTION, and why?"

Deny by default. The bases that open a card, most specific first:
- self: the account's own card, once its identity is verified;
- guardian: a child below the guardian age limit (15 by default), on a verified basis; the access
  ends by itself on the child's birthday;
- trusted person: a grant naming sections, a level (view or add) and an end date;
- clinician: a doctor or nurse with a care relationship in the same organisation;
- emergency: break-glass access with a reason, time-boxed and flagged;
- registrar: only through a citizen's open request about the card (``decide_request``).
When one account holds several of these bases, the one that grants most for the action asked
decides, and the decision names it (a clinician who also holds a grant reads as the clinician). A
guardianship past the child's birthday decides nothing; from that birthday (the age of medical
consent, 323-ФЗ art. 54) the card opens to its owner, and not before, even with an account.
Without the patient's consent to processing (no consent event at all counts as none) only the
patient (and a guardian, who consents for the child) sees the card. Staff roles without clinical
work (registrar, org_admin, auditor, accountant) never open a card; a registrar reads and
corrects what a citizen's request names.
Plugins may add deny rules only (``access.plugin_rules``), told the basis the core found; an error in
one denies what that rule governs. Every decision carries a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select

from portal import clock
from portal.access import plugin_rules
from portal.access.models import CareRelationship, EmergencyAccess
from portal.auth.models import Account
from portal.consent.service import has_consent
from portal.database import db
from portal.record.models import ClinicAttachment, Patient
from portal.sharing.models import AccessGrant, Guardianship

SECTIONS = (
    "summary",
    "visits",
    "diagnoses",
    "results",
    "vaccinations",
    "prescriptions",
    "checkups",
    "referrals",
    "allergies",
    "insurance",
    "documents",
    "services",
    "appointments",
    "access_log",
)
ACTIONS = ("read", "add", "write", "export")
CLINICAL_ROLES = {"doctor": {"read", "add", "write", "export"}, "nurse": {"read", "add"}}
OWNER_ONLY_SECTIONS = {"access_log"}  # who opened the card: the patient and their guardian only
# Certificates and extracts (приказ 972н): the patient or their legal representative orders,
# follows and downloads them; never a trusted person (whatever the grant's level) nor a clinician.
# Not a section of the card: nobody shares it, and it is not listed among the sections.
CERTIFICATES = "certificates"
OWNER_BASES = ("self", "guardian")
# Documents made from the record (a certificate or an extract) go with the certificates: they carry
# diagnoses, visits and results, which a grant of the Documents section alone never shared.
RECORD_MADE_DOCUMENTS = ("certificate",)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    basis: str = "none"  # self, guardian, trusted, clinician, emergency
    organisation_id: int | None = None
    sections: frozenset[str] | None = None  # for a trusted person: what the grant names
    conflict: bool = False  # a registrar refused because the request is their own or their family's

    @property
    def role(self) -> str:
        return self.basis


def hidden_document_kinds(decision: Decision) -> tuple[str, ...]:
    """The kinds of document a reader of the Documents section is not shown: for anyone but the
    patient and their guardian, the certificates and extracts made from the record."""
    return () if decision.basis in OWNER_BASES else RECORD_MADE_DOCUMENTS


def require_document_kind(account: Account, decision: Decision, patient_id: int, kind: str) -> None:
    """AccessDenied (audited as a denial, answered 404) for a document this reader is not shown."""
    if kind in hidden_document_kinds(decision):
        refused = Decision(
            False,
            "certificates and extracts stay with the patient and guardian",
            decision.basis,
            decision.organisation_id,
        )
        raise AccessDenied(refused, account.id, patient_id, "read", "documents")


class AccessDenied(Exception):
    """Raised by ``require``; the app answers 404 (never 403) so a probe learns nothing."""

    def __init__(self, decision: Decision, account_id: int | None, patient_id: int, action: str, section: str):
        super().__init__(decision.reason)
        self.decision, self.account_id, self.patient_id = decision, account_id, patient_id
        self.action, self.section = action, section


def today() -> date:
    """Today in the portal's time zone: a 15th birthday or a grant's last day ends at midnight
    there (00:00 Moscow time), not at midnight UTC."""
    return clock.today()


def birthday(born: date, years: int) -> date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # born on 29 February
        return date(born.year + years, 3, 1)


def guardian_age_limit() -> int:
    return current_app.config["GUARDIAN_AGE_LIMIT"]


def is_child(patient: Patient, on: date) -> bool:
    return on < birthday(patient.birth_date, guardian_age_limit())


def _plugin_denial(account: Account, action: str, patient: Patient, section: str, basis: str) -> str | None:
    """A plugin's reason to refuse what the core would allow on ``basis`` (``access.plugin_rules``)."""
    return plugin_rules.denial(account.id, frozenset(account.roles), action, patient.id, section, basis)


def _guardianship(account_id: int, patient_id: int, verified: bool = True) -> Guardianship | None:
    """The account's current guardianship over this patient (verified ones only, unless asked)."""
    query = select(Guardianship).where(
        Guardianship.guardian_id == account_id,
        Guardianship.child_id == patient_id,
        Guardianship.ended_at.is_(None),
    )
    if verified:
        query = query.where(Guardianship.verified_at.is_not(None))
    return db.session.scalar(query.limit(1))


def card_sections() -> tuple[str, ...]:
    """The card's sections: the core's, then those plugins add (the ``record_sections`` hook).

    A plugin's section is decided as a core section of the record such as the documents: the
    patient and their guardian read and add, a trusted person only when the grant names it (at the
    grant's level), a clinician treating the patient by role, emergency access reads it; consent,
    a closed card and the deny rules (which can name it) apply as to any section."""
    from portal.record.plugin_sections import section_keys

    return SECTIONS + section_keys()


def decide(account: Account | None, action: str, patient: Patient | None, section: str) -> Decision:
    """The decision and its reason. Pure reads; the caller audits. What the core allows, the
    plugins' deny rules may still refuse: they are told the basis the core found."""
    decision = _decide(account, action, patient, section)
    if decision.allowed:
        denial = _plugin_denial(account, action, patient, section, decision.basis)
        if denial:
            return Decision(False, denial)
    return decision


def _decide(account: Account | None, action: str, patient: Patient | None, section: str) -> Decision:
    known = section in SECTIONS or section == CERTIFICATES or section in card_sections()
    if action not in ACTIONS or not known:
        return Decision(False, f"unknown action or section {action}/{section}")
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    if patient is None:
        return Decision(False, "no such card")
    if patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    on = today()

    if account.patient_id == patient.id:
        if account.verification_status != "verified":
            return Decision(False, "identity not verified")
        if is_child(patient, on):  # the age of medical consent (323-ФЗ art. 54)
            return Decision(False, f"the card opens to its owner on their {guardian_age_limit()}th birthday")
        if action == "write":
            return Decision(False, "citizens add entries; clinicians write the record")
        return Decision(True, "the patient's own card", "self")

    if account.verification_status != "verified":
        return Decision(False, "identity not verified")

    # A guardianship ends on the child's birthday: past it, it decides nothing, and the card opens
    # (or not) on the account's other bases, as for anyone else.
    guardianship = _guardianship(account.id, patient.id)
    former_guardian = guardianship is not None and not is_child(patient, on)
    refused: list[Decision] = []
    if guardianship is not None and not former_guardian:
        if action != "write":
            return Decision(
                True, f"guardian of a child under {guardian_age_limit()} ({guardianship.basis})", "guardian"
            )
        # A parent who also treats the child writes as the clinician, below.
        refused.append(Decision(False, "guardians add entries; clinicians write the record", "guardian"))

    if section == CERTIFICATES:
        return Decision(False, "certificates are ordered by the patient or their legal representative only")

    if not has_consent(patient.id):
        return refused[0] if refused else Decision(False, "the patient has not given consent to processing")
    if section in OWNER_ONLY_SECTIONS:
        return Decision(False, "only the patient and their guardian see who opened the card")

    # The other bases, the one that grants most first: a clinician treating the patient, then
    # emergency access (read-only, every section), then a trusted person's grant (named sections).
    decisions = _as_clinician(account, action, patient) + _as_trusted(account, action, patient, section, on)
    allowed = [d for d in decisions if d.allowed]
    if allowed:
        chosen = allowed[0]
        others = [d.basis for d in allowed[1:]]
        if not others:
            return chosen
        reason = f"{chosen.reason}; the basis that grants most, of {chosen.basis}, {', '.join(others)}"
        return Decision(True, reason, chosen.basis, chosen.organisation_id, chosen.sections)
    refused += sorted(decisions, key=lambda d: d.basis != "trusted")  # the grant's refusal says most
    if refused:
        return refused[0]
    if former_guardian:
        return Decision(False, f"the child is {guardian_age_limit()} or older: the card is theirs now")
    if account.roles:
        return Decision(False, "this staff role does not see medical data")
    return Decision(False, "no relationship with this patient")


def _as_trusted(account: Account, action: str, patient: Patient, section: str, on: date) -> list[Decision]:
    """The decision of the account's current grant to this card, if it holds one."""
    grant = db.session.scalar(
        select(AccessGrant)
        .where(
            AccessGrant.patient_id == patient.id,
            AccessGrant.grantee_id == account.id,
            AccessGrant.revoked_at.is_(None),
            AccessGrant.expires_on >= on,
        )
        .order_by(AccessGrant.id.desc())
    )
    if grant is None:
        return []
    # A trusted person exports what they may see: the shared sections (the export filters).
    allowed = {"view": {"read", "export"}, "add": {"read", "add", "export"}}[grant.level]
    if section != "summary" and section not in grant.section_set:
        return [Decision(False, f"the grant does not include {section}", "trusted", sections=grant.section_set)]
    if action not in allowed:
        return [Decision(False, f"the grant allows {grant.level} only", "trusted", sections=grant.section_set)]
    return [
        Decision(True, f"trusted person until {grant.expires_on.isoformat()}", "trusted", sections=grant.section_set)
    ]


def care_current():
    """An SQL condition: the care relationship is open now. One an appointment made (it names the
    appointment) is open inside its window: from the visit's day until its ``ended_at``, which a
    cancellation brings forward; the others (attachment, referral) until they are ended."""
    moment = clock.now()
    return or_(
        and_(CareRelationship.appointment_id.is_(None), CareRelationship.ended_at.is_(None)),
        and_(
            CareRelationship.appointment_id.is_not(None),
            CareRelationship.started_at <= moment,
            CareRelationship.ended_at > moment,
        ),
    )


def _as_clinician(account: Account, action: str, patient: Patient) -> list[Decision]:
    """The decisions of the account's clinical work: a care relationship in one of its
    organisations, then emergency access; a refusal when it has neither; nothing for a
    non-clinician."""
    memberships = {
        m.organisation_id: m.role for m in account.memberships if m.ended_at is None and m.role in CLINICAL_ROLES
    }
    if not memberships:
        return []
    found: list[Decision] = []
    care = db.session.scalar(
        select(CareRelationship)
        .where(
            CareRelationship.practitioner_id == account.id,
            CareRelationship.patient_id == patient.id,
            care_current(),
            CareRelationship.organisation_id.in_(memberships),
        )
        .order_by(CareRelationship.id)
        .limit(1)
    )
    if care is not None:
        role = memberships[care.organisation_id]
        if action not in CLINICAL_ROLES[role]:
            found.append(Decision(False, f"a {role} may not {action}", "clinician", care.organisation_id))
        else:
            found.append(
                Decision(True, f"{role} treating the patient ({care.basis})", "clinician", care.organisation_id)
            )
    emergency = db.session.scalar(
        select(EmergencyAccess)
        .where(
            EmergencyAccess.practitioner_id == account.id,
            EmergencyAccess.patient_id == patient.id,
            EmergencyAccess.expires_at > clock.now(),
        )
        .order_by(EmergencyAccess.id.desc())
    )
    if emergency is not None and emergency.organisation_id in memberships:
        if action != "read":
            found.append(Decision(False, "emergency access is read-only", "emergency", emergency.organisation_id))
        else:
            found.append(
                Decision(True, f"emergency access: {emergency.reason}", "emergency", emergency.organisation_id)
            )
    return found or [Decision(False, "no care relationship in this clinician's organisation")]


def require_writer_of(
    account: Account | None, action: str, patient_id: int, section: str, organisation_id: int | None
) -> Decision:
    """``require``, and more for changing an entry an organisation wrote (a laboratory amending its
    results): only a clinician of that same organisation, treating the patient there, in a role
    that may ACTION. The decision names that organisation; AccessDenied (404, audited) otherwise."""
    decision, _patient = require(account, action, patient_id, section)
    if decision.basis == "clinician" and organisation_id is not None:
        role = next(
            (
                m.role
                for m in account.memberships
                if m.ended_at is None and m.organisation_id == organisation_id and m.role in CLINICAL_ROLES
            ),
            None,
        )
        care = db.session.scalar(
            select(CareRelationship).where(
                CareRelationship.practitioner_id == account.id,
                CareRelationship.patient_id == patient_id,
                care_current(),
                CareRelationship.organisation_id == organisation_id,
            )
        )
        if role is not None and action in CLINICAL_ROLES[role] and care is not None:
            return Decision(
                True, f"{role} of the organisation that wrote the entry ({care.basis})", "clinician", organisation_id
            )
    refused = Decision(
        False, "only the organisation that wrote the entry changes it", decision.basis, decision.organisation_id
    )
    raise AccessDenied(refused, account.id, patient_id, action, section)


def decide_rejoin(account: Account | None, patient: Patient | None) -> Decision:
    """May this account give consent again to reopen a card closed by an approved opt-out? The
    patient themselves, or the verified guardian of a child still under the age limit: the same
    people who may apply to close it."""
    if account is None or not account.is_active or account.verification_status != "verified":
        return Decision(False, "not signed in with a verified identity")
    if patient is None or patient.closed_at is None:
        return Decision(False, "no closed card")
    refused = f"the card opens to its owner on their {guardian_age_limit()}th birthday"
    return _owner_or_guardian(account, patient, refused)


def _owner_or_guardian(account: Account, patient: Patient, child_owner_refused: str) -> Decision:
    """The patient from the age limit on, or the verified guardian of a child below it: who speaks
    for a card in consent and opt-out. ``child_owner_refused`` says why a child's own account may not."""
    if account.patient_id == patient.id:
        if is_child(patient, today()):
            return Decision(False, child_owner_refused)
        return Decision(True, "the patient's own card", "self")
    guardianship = _guardianship(account.id, patient.id)
    if guardianship is None:
        return Decision(False, "no relationship with this patient")
    if not is_child(patient, today()):
        return Decision(False, f"the child is {guardian_age_limit()} or older: the card is theirs now")
    return Decision(True, f"guardian of a child under {guardian_age_limit()} ({guardianship.basis})", "guardian")


def decide_consent(account: Account | None, patient: Patient | None) -> Decision:
    """May this account give or withdraw the consent to processing for this card? The patient from
    the age of medical consent (their card may be closed: consenting again reopens it); below that
    age, the child's verified guardian, who consents for the child, on an open card (a closed one
    reopens through ``decide_rejoin``)."""
    if account is None or not account.is_active or account.verification_status != "verified":
        return Decision(False, "not signed in with a verified identity")
    if patient is None:
        return Decision(False, "no such card")
    decision = _owner_or_guardian(account, patient, f"the guardian consents for a child under {guardian_age_limit()}")
    if decision.basis == "guardian" and patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    return decision


# Changing a card's clinic («прикрепление», 326-ФЗ art. 16): the patient from the age limit on,
# or the verified guardian of a child below it, applies; the people who speak for a card in
# consent and opt-out. A trusted person's grant shares sections to read, not this choice.


def decide_attachment_change(account: Account | None, patient: Patient | None) -> Decision:
    """May this account apply to attach this card to another clinic?"""
    if account is None or not account.is_active or account.verification_status != "verified":
        return Decision(False, "not signed in with a verified identity")
    if patient is None:
        return Decision(False, "no such card")
    if patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    return _owner_or_guardian(account, patient, f"the guardian applies for a child under {guardian_age_limit()}")


def require_attachment_change(account: Account | None, patient_id: int) -> tuple[Decision, Patient]:
    """``decide_attachment_change``, or AccessDenied (answered 404, audited as a denial)."""
    patient = db.session.get(Patient, patient_id)
    decision = decide_attachment_change(account, patient)
    if not decision.allowed:
        raise AccessDenied(decision, account.id if account else None, patient_id, "add", "summary")
    return decision, patient


# -- registrars: through a citizen's request only -------------------------------------------------
# A registrar handles what citizens ask of their clinic: a correction request («Сообщить об
# ошибке») shows them the one entry it names and lets them correct one field; a certificate or an
# extract is made from the card; an opt-out closes it. That is the one way a staff role without
# clinical work reaches medical data, and it is narrow: through an open request, for patients
# attached to the registrar's clinic (or attached nowhere), never their own card, their own request
# or a child of theirs (separation of duties). Each use is audited with the role "registrar", so the
# patient sees it in «Кто смотрел мою карту».
REGISTRAR_ACTIONS = ("read", "write")


def registrar_organisations(account: Account) -> set[int]:
    return {m.organisation_id for m in account.memberships if m.role == "registrar" and m.ended_at is None}


def attached_now(patient_id, on: date):
    """An SQL condition: a clinic attachment of ``patient_id`` (a value or a column) current on ``on``."""
    return and_(
        ClinicAttachment.patient_id == patient_id,
        ClinicAttachment.since <= on,
        or_(ClinicAttachment.until.is_(None), ClinicAttachment.until >= on),
    )


def registrar_scope(account: Account, patient_id_column):
    """An SQL condition for a queue: the patient is attached to this registrar's clinic, or to none."""
    on = today()
    return or_(
        ~exists().where(attached_now(patient_id_column, on)),
        exists().where(
            attached_now(patient_id_column, on),
            ClinicAttachment.organisation_id.in_(sorted(registrar_organisations(account))),
        ),
    )


def is_party(account: Account, patient_id: int, requested_by_id: int | None) -> bool:
    """Separation of duties: the request is the account's own, about its own card, or about a child
    it is the guardian of (whether or not the guardianship is verified yet)."""
    if requested_by_id == account.id or patient_id == account.patient_id:
        return True
    return _guardianship(account.id, patient_id, verified=False) is not None


def decide_request(
    account: Account | None,
    action: str,
    patient: Patient | None,
    section: str,
    requested_by_id: int | None,
    *,
    request_open: bool = True,
) -> Decision:
    """May this registrar ACTION the SECTION of this card to resolve a request filed by
    ``requested_by_id``? ``request_open`` says whether the request is still open: a decided one
    opens nothing. A refusal with the basis "registrar" means the request is in this registrar's
    scope but the card stays shut now (the request is decided, or the patient withdrew consent):
    the request's own page may be shown, without the card's data."""
    if action not in REGISTRAR_ACTIONS or (section not in SECTIONS and section != CERTIFICATES):
        return Decision(False, f"a registrar may not {action} {section}")
    if section in OWNER_ONLY_SECTIONS:
        return Decision(False, "only the patient and their guardian see who opened the card")
    refused = _as_registrar(account, None, "not a registrar")
    if refused:
        return refused
    organisations = registrar_organisations(account)
    if patient is None:
        return Decision(False, "no such card")
    if patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    if is_party(account, patient.id, requested_by_id):
        return Decision(False, "a registrar never resolves their own or their family's request", conflict=True)
    attached = set(
        db.session.scalars(select(ClinicAttachment.organisation_id).where(attached_now(patient.id, today())))
    )
    if attached and not attached & organisations:
        return Decision(False, "the patient is attached to another clinic")
    denial = _plugin_denial(account, action, patient, section, "registrar")
    if denial:
        return Decision(False, denial)
    organisation = min(attached & organisations) if attached else min(organisations)
    # Consent withdrawn stops every other party (DOMAIN: only the patient and a guardian then);
    # a registrar is no exception.
    if not has_consent(patient.id):
        return Decision(False, "the patient has not given consent to processing", "registrar", organisation)
    if not request_open:
        return Decision(
            False,
            "the request is decided: a registrar reads a card through an open request only",
            "registrar",
            organisation,
        )
    return Decision(True, "registrar resolving the citizen's request", "registrar", organisation)


def _as_registrar(
    account: Account | None,
    organisation_id: int | None,
    refused: str,
    party: tuple[int, int | None, str] | None = None,
) -> Decision | None:
    """The prelude of every registrar's decision: the refusal, or None when ``account`` is an active
    registrar of ``organisation_id`` (None: of any organisation) and (``party``: patient id,
    requester id, what to say) not a party to it. A party's refusal carries ``conflict``: the
    request is in the registrar's clinic, shown without the decision."""
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    organisations = registrar_organisations(account)
    if not organisations or (organisation_id is not None and organisation_id not in organisations):
        return Decision(False, refused)
    if party is not None and is_party(account, party[0], party[1]):
        return Decision(False, party[2], "registrar", organisation_id, conflict=True)
    return None


def decide_attachment_application(
    account: Account | None, to_organisation_id: int, patient_id: int, applicant_id: int
) -> Decision:
    """May this account decide an application to be attached to ``to_organisation_id``? Only a
    registrar of that (the new) clinic, and never about their own or their family's card. A
    refusal with ``conflict`` means the application is in the registrar's clinic but is theirs:
    its page may be shown, without the decision."""
    return _as_registrar(
        account, to_organisation_id, "only a registrar of the clinic applied to decides",
        party=(patient_id, applicant_id, "a registrar never decides their own or their family's application"),
    ) or Decision(True, "registrar of the clinic applied to", "registrar", to_organisation_id)  # fmt: skip


def decide_request_file(account: Account | None, owner_id: int, decided: bool) -> Decision:
    """May this registrar open a file a citizen sent to be checked (the scans of an identity
    check, a guardianship's proof)? Only while the request waits for a decision, and never their
    own: once decided, the files are kept but no longer opened."""
    if account is None or not account.is_active or not registrar_organisations(account):
        return Decision(False, "not a registrar")
    if owner_id == account.id:
        return Decision(False, "a registrar never checks their own request", conflict=True)
    if decided:
        return Decision(False, "the request is decided: its files are no longer opened", "registrar")
    return Decision(True, "registrar checking the citizen's request", "registrar")


REQUEST_KINDS = ("correction", "certificate")


def request_reason(kind: str, number: str) -> str:
    """The audit reason of a registrar's access for a citizen's request; «Кто смотрел мою карту»
    reads the number back (``request_number``)."""
    return f"{kind} request {number}"


def request_number(reason: str | None) -> str | None:
    for kind in REQUEST_KINDS:
        prefix = request_reason(kind, "")
        if reason and reason.startswith(prefix):
            return reason.removeprefix(prefix)
    return None


def open_request(
    account: Account,
    action: str,
    patient_id: int,
    section: str,
    requested_by_id: int | None,
    *,
    request: tuple[str, str],
    object_type: str,
    object_id: object,
) -> tuple[Decision, Patient]:
    """``decide_request``, or AccessDenied; when allowed, the audit event for the access, in the
    caller's write transaction. ``request`` is (kind, number) of the citizen's request it serves."""
    patient = db.session.get(Patient, patient_id)
    decision = decide_request(account, action, patient, section, requested_by_id)
    if not decision.allowed:
        raise AccessDenied(decision, account.id if account else None, patient_id, action, section)
    record_access(account, decision, action, patient_id, section, object_type, object_id, request_reason(*request))
    return decision, patient


def record_access(
    account: Account,
    decision: Decision,
    action: str,
    patient_id: int,
    section: str,
    object_type: str | None = None,
    object_id: object = None,
    reason: str | None = None,
) -> None:
    """The audit event of an allowed access to a card (``card.<action>``), with the decision's basis
    and organisation; ``reason`` defaults to the decision's."""
    from portal.audit import service as audit

    audit.record_many([access_event(account, decision, action, patient_id, section, object_type, object_id, reason)])


def access_event(
    account: Account,
    decision: Decision,
    action: str,
    patient_id: int,
    section: str,
    object_type: str | None = None,
    object_id: object = None,
    reason: str | None = None,
) -> dict:
    """``record_access``'s event, to insert with others (``audit.record_many``)."""
    from portal.audit import service as audit

    return audit.event(
        f"card.{action}",
        actor_id=account.id,
        actor_role=decision.basis,
        patient_id=patient_id,
        section=section,
        organisation_id=decision.organisation_id,
        object_type=object_type,
        object_id=object_id,
        reason=reason or decision.reason,
    )


def visible_sections(account: Account, patient: Patient, decision: Decision, action: str = "read") -> tuple[str, ...]:
    """The sections this viewer may open, derived from the decision that opened the card (no
    further queries): a trusted person sees what the grant names; only the patient and their
    guardian see who opened the card; plugins may still deny a section."""
    if not decision.allowed:
        return ()
    shown = []
    for section in card_sections():
        if section == "summary":
            continue
        if decision.basis == "trusted" and section not in (decision.sections or ()):
            continue
        if section in OWNER_ONLY_SECTIONS and decision.basis not in ("self", "guardian"):
            continue
        if _plugin_denial(account, action, patient, section, decision.basis):
            continue
        shown.append(section)
    return tuple(shown)


# Booking, cancelling and moving appointments: the patient, a guardian of a child, or a trusted
# person whose grant names the appointments section at level «add». A clinician treating the patient
# does not book through the citizen's pages (the registrar books at the desk).
APPOINTMENTS = "appointments"
BOOKING_BASES = ("self", "guardian", "trusted")


def decide_booking(account: Account | None, patient: Patient | None) -> Decision:
    """May this account book, cancel or move appointments for this card?"""
    decision = decide(account, "add", patient, APPOINTMENTS)
    if decision.allowed and decision.basis not in BOOKING_BASES:
        return Decision(
            False, "appointments are booked by the patient, a guardian or a trusted person", decision.basis,
            decision.organisation_id,
        )  # fmt: skip
    return decision


def require_booking(account: Account | None, patient_id: int) -> tuple[Decision, Patient]:
    """``decide_booking``, or AccessDenied (answered 404, audited as a denial)."""
    patient = db.session.get(Patient, patient_id)
    decision = decide_booking(account, patient)
    if not decision.allowed:
        raise AccessDenied(decision, account.id if account else None, patient_id, "add", APPOINTMENTS)
    return decision, patient


def decide_clinic_appointment(account: Account | None, organisation_id: int) -> Decision:
    """May this account mark an appointment of ``organisation_id`` (arrived, completed, no-show)?
    Only a registrar of that clinic: another clinic's appointments stay out of reach (404)."""
    refused = _as_registrar(account, organisation_id, "only a registrar of the appointment's clinic marks it")
    return refused or Decision(True, "registrar of the appointment's clinic", "registrar", organisation_id)


def decide_home_visit(account: Account | None, organisation_id: int, patient_id: int, requested_by_id: int) -> Decision:
    """May this account see and decide a home visit request to ``organisation_id``? Only a
    registrar of that clinic, and never about their own or their family's card (``conflict``:
    the request is in their clinic, shown without the decision)."""
    return _as_registrar(
        account, organisation_id, "only a registrar of the clinic called decides",
        party=(patient_id, requested_by_id, "a registrar never decides their own or their family's request"),
    ) or Decision(True, "registrar of the clinic called", "registrar", organisation_id)  # fmt: skip


def require(account: Account | None, action: str, patient_id: int, section: str) -> tuple[Decision, Patient]:
    """Decide, or raise AccessDenied (answered with 404 and audited as a denial)."""
    patient = db.session.get(Patient, patient_id)
    decision = decide(account, action, patient, section)
    if not decision.allowed:
        raise AccessDenied(decision, account.id if account else None, patient_id, action, section)
    return decision, patient


def open_card(
    account: Account | None,
    action: str,
    patient_id: int,
    section: str,
    object_type: str | None = None,
    object_id: object = None,
) -> tuple[Decision, Patient]:
    """``require`` plus the audit event for the access, in the caller's write transaction."""
    decision, patient = require(account, action, patient_id, section)
    record_access(account, decision, action, patient.id, section, object_type, object_id)
    return decision, patient


def record_denial(denied: AccessDenied) -> None:
    """Audit a refused access in its own transaction (the refused action's was rolled back)."""
    from portal.audit import service as audit
    from portal.database import write_transaction

    with write_transaction():
        exists = db.session.get(Patient, denied.patient_id) is not None
        audit.record(
            f"card.{denied.action}",
            actor_id=denied.account_id,
            actor_role=denied.decision.basis,
            patient_id=denied.patient_id if exists else None,
            section=denied.section,
            object_type=None if exists else "patient",
            object_id=None if exists else denied.patient_id,
            outcome="denied",
            reason=denied.decision.reason,
        )


# -- the registrar's desk and the organisation's admin: appointments on behalf of a patient ------
# At the desk a registrar books, cancels and moves a patient's appointments in the registrar's own
# organisation. The patient must be within that organisation's scope: attached to it, attached
# nowhere, or holding an appointment there. Never their own or their family's card (separation of
# duties), never a closed card or one without consent. The desk sees the patient's appointments in
# that organisation only, nothing else of the card; each look is audited with the role "registrar".
# An org admin edits the working rules and exceptions of their own organisation only.


def desk_scope(account: Account, patient_id_column):
    """An SQL condition: the patient is within the scope of this registrar's organisations."""
    from portal.appointments.models import Appointment

    organisations = sorted(registrar_organisations(account))
    return or_(
        registrar_scope(account, patient_id_column),
        exists().where(Appointment.patient_id == patient_id_column, Appointment.organisation_id.in_(organisations)),
    )


def decide_desk(account: Account | None, patient: Patient | None) -> Decision:
    """May this registrar book, cancel and move appointments for this patient at the desk?"""
    refused = _as_registrar(account, None, "not a registrar")
    if refused:
        return refused
    organisations = registrar_organisations(account)
    if patient is None:
        return Decision(False, "no such card")
    if patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    if is_party(account, patient.id, None):
        return Decision(False, "a registrar never books for their own or their family's card", conflict=True)
    in_scope = db.session.scalar(select(desk_scope(account, patient.id)))
    if not in_scope:
        return Decision(False, "the patient is outside this registrar's organisation")
    denial = _plugin_denial(account, "add", patient, APPOINTMENTS, "registrar")
    if denial:
        return Decision(False, denial)
    if not has_consent(patient.id):
        return Decision(False, "the patient has not given consent to processing")
    return Decision(True, "registrar at the desk", "registrar", min(organisations))


def require_desk(account: Account | None, patient_id: int) -> tuple[Decision, Patient]:
    """``decide_desk``, or AccessDenied (answered 404, audited as a denial)."""
    patient = db.session.get(Patient, patient_id)
    decision = decide_desk(account, patient)
    if not decision.allowed:
        raise AccessDenied(decision, account.id if account else None, patient_id, "add", APPOINTMENTS)
    return decision, patient


def admin_organisations(account: Account) -> set[int]:
    return {m.organisation_id for m in account.memberships if m.role == "org_admin" and m.ended_at is None}


def decide_schedule(account: Account | None, organisation_id: int | None) -> Decision:
    """May this account edit the working rules and exceptions of ``organisation_id``?"""
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    if organisation_id is None or organisation_id not in admin_organisations(account):
        return Decision(False, "only the organisation's admin edits its schedules")
    return Decision(True, "organisation admin", "org_admin", organisation_id)


# -- the auditor: the organisation's audit log, metadata only --------------------------------------
# An auditor reads the audit events of the organisation they audit (portal/auditor), reviews its
# emergency accesses and runs the log's check; never a card (``decide`` refuses every staff role
# without clinical work). Separation of duties: an auditor holds no other role in that organisation
# (clinic.service refuses to give one); an account that somehow holds one is refused here too.


def auditor_organisations(account: Account) -> set[int]:
    return {m.organisation_id for m in account.memberships if m.role == "auditor" and m.ended_at is None}


def decide_audit(account: Account | None, organisation_id: int | None) -> Decision:
    """May this account read the audit log of ``organisation_id`` and review its emergency accesses?
    Only an active auditor of that organisation who holds no other role in it."""
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    if organisation_id is None or organisation_id not in auditor_organisations(account):
        return Decision(False, "only an auditor of the organisation reads its audit log")
    held = {m.role for m in account.memberships if m.organisation_id == organisation_id and m.ended_at is None}
    if held != {"auditor"}:
        return Decision(False, "an auditor holds no other role in the organisation they audit", conflict=True)
    return Decision(True, "auditor of the organisation", "auditor", organisation_id)


# -- the organisation's admin: its staff, invitations, roles and suspension ----------------------
# Only an admin of that organisation (a current membership: a suspended admin is none) manages
# its staff; another organisation's staff list, member or invitation is 404. The pages show names,
# e-mail addresses, roles and states, never anything of a card.


def decide_staff_admin(account: Account | None, organisation_id: int | None) -> Decision:
    """May this account see and manage the staff and invitations of ``organisation_id``?"""
    allowed = account is not None and account.is_active and organisation_id in admin_organisations(account)
    if not allowed:
        return Decision(False, "only an admin of the organisation manages its staff")
    return Decision(True, "organisation admin", "org_admin", organisation_id)


# -- the accountant: what an organisation's paid services brought in ------------------------------
# An accountant reads the paid services (paid by the patient or a voluntary insurer) their own
# organisation rendered: the totals of a period, and the list of services with who received them
# (receipts, insurers' registers, the certificate for a tax deduction need the person). Never a
# card: no diagnosis, visit, result or prescription, nothing of another organisation (404).


def accountant_organisations(account: Account) -> set[int]:
    return {m.organisation_id for m in account.memberships if m.role == "accountant" and m.ended_at is None}


def decide_accounting(account: Account | None, organisation_id: int | None) -> Decision:
    """May this account read the paid services ``organisation_id`` rendered? Only an active
    accountant membership of that organisation."""
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    if organisation_id is None or organisation_id not in accountant_organisations(account):
        return Decision(False, "only the organisation's accountant reads its paid services")
    return Decision(True, "accountant of the organisation", "accountant", organisation_id)


# -- the clinicians' workspace: the doctor's day and the nurse's measurements ----------------------
# A doctor sees and marks (arrived, completed, no-show) the appointments booked with them, in the
# organisations where they work as a doctor; the card opens through the care relationship the
# booking made (``care_current``), or by emergency access. A nurse sees the day's in-person
# appointments of the organisations where they work as a nurse and writes measurements (vital
# signs) into the card of a patient whose appointment there today is marked arrived: the arrival
# at the nurse's clinic is the care relationship, and it lasts that day only. Nothing else of the
# card opens to the nurse by it.


def clinical_organisations(account: Account, role: str) -> set[int]:
    return {m.organisation_id for m in account.memberships if m.role == role and m.ended_at is None}


def decide_own_appointment(account: Account | None, appointment, practitioner_id: int | None) -> Decision:
    """May this doctor (whose practitioner record is ``practitioner_id``) mark ``appointment``?
    Only one booked with them, in an organisation where they work as a doctor."""
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    if appointment is None or practitioner_id is None or appointment.practitioner_id != practitioner_id:
        return Decision(False, "only the doctor the appointment is booked with marks it")
    if appointment.organisation_id not in clinical_organisations(account, "doctor"):
        return Decision(False, "the appointment is in an organisation the doctor does not work in")
    return Decision(True, "the doctor of the appointment", "clinician", appointment.organisation_id)


def decide_measurement(account: Account | None, appointment, patient: Patient | None) -> Decision:
    """May this nurse write measurements into the card of the patient of ``appointment``? A nurse
    of the appointment's organisation, the appointment marked arrived today, the card open with
    consent; a plugin may deny."""
    if account is None or not account.is_active or account.verification_status != "verified":
        return Decision(False, "not signed in with a verified identity")
    if appointment is None or appointment.organisation_id not in clinical_organisations(account, "nurse"):
        return Decision(False, "only a nurse of the appointment's organisation measures")
    if patient is None or patient.id != appointment.patient_id or account.patient_id == patient.id:
        return Decision(False, "no such card, or the nurse's own")
    if patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    if appointment.status != "arrived" or clock.local_date(appointment.starts_at) != today():
        return Decision(False, "measurements are written for a patient who arrived today", "clinician")
    denial = _plugin_denial(account, "write", patient, "results", "clinician")
    if denial:
        return Decision(False, denial)
    if not has_consent(patient.id):
        return Decision(False, "the patient has not given consent to processing")
    return Decision(True, "nurse measuring the patient who arrived", "clinician", appointment.organisation_id)


def care_opened(account: Account, patient_ids: list[int]) -> set[int]:
    """Of ``patient_ids``, the cards a current care relationship opens to this clinician (in an
    organisation where they work as a doctor or nurse; the card open, with consent): where the
    doctor's day links to the card. One statement; the card's page decides again (``decide``)."""
    from portal.consent.models import ConsentEvent

    organisations = sorted(clinical_organisations(account, "doctor") | clinical_organisations(account, "nurse"))
    if not patient_ids or not organisations:
        return set()
    latest = (
        select(ConsentEvent.action)
        .where(ConsentEvent.patient_id == CareRelationship.patient_id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return set(
        db.session.scalars(
            select(CareRelationship.patient_id)
            .join(Patient, Patient.id == CareRelationship.patient_id)
            .where(
                CareRelationship.practitioner_id == account.id,
                CareRelationship.patient_id.in_(patient_ids),
                CareRelationship.organisation_id.in_(organisations),
                care_current(),
                Patient.closed_at.is_(None),
                latest == "given",
            )
            .distinct()
        )
    )


# -- the author of an entry: corrections after signing and the error reports about them -----------
# A doctor corrects the entries they wrote (a visit's report, a diagnosis, a prescription, a
# result's conclusion) after signing: every change is a new version the patient sees in the entry's
# history. The author is the practitioner the entry names, linked to this account, and only while
# the account works as a doctor in the organisation that wrote the entry. The same rule routes a
# citizen's error report («Сообщить об ошибке»): a report about an entry whose author is a current
# doctor of the entry's organisation is the author's to decide; every other report (an entry with
# no author in the portal, the author gone from that organisation, a section authors do not
# correct) stays with the registrars. The rule is read when the report is opened or decided, so a
# report moves back to the registrars the day its author leaves.
AUTHOR_SECTIONS = ("visits", "diagnoses", "prescriptions", "results")


def authored_models() -> dict[str, type]:
    from portal.record import models as m

    return {"visits": m.Visit, "diagnoses": m.Diagnosis, "prescriptions": m.Prescription, "results": m.LabReport}


def author_practitioner_id(account: Account) -> int | None:
    """The practitioner record linked to this account (whose entries it authored), or None."""
    from portal.directory.models import Practitioner

    return db.session.scalar(select(Practitioner.id).where(Practitioner.account_id == account.id))


def _current_author_exists(model, entry_id_column, requested_by_column=None):
    """An SQL condition: the entry ``entry_id_column`` of ``model`` names a practitioner whose
    account works as a doctor, now, in the organisation that wrote the entry, and who is no party
    to the report (not its author's own report, own card or child's card: ``is_party``)."""
    from portal.auth.models import StaffMembership
    from portal.directory.models import Practitioner

    query = (
        select(model.id)
        .join(Practitioner, Practitioner.id == model.practitioner_id)
        .join(
            StaffMembership,
            and_(
                StaffMembership.account_id == Practitioner.account_id,
                StaffMembership.organisation_id == model.organisation_id,
                StaffMembership.role == "doctor",
                StaffMembership.ended_at.is_(None),
            ),
        )
        .join(Account, Account.id == Practitioner.account_id)
        .where(
            model.id == entry_id_column,
            or_(Account.patient_id.is_(None), Account.patient_id != model.patient_id),
            ~exists().where(
                Guardianship.guardian_id == Practitioner.account_id,
                Guardianship.child_id == model.patient_id,
                Guardianship.ended_at.is_(None),
            ),
        )
    )
    if requested_by_column is not None:
        query = query.where(Practitioner.account_id != func.coalesce(requested_by_column, 0))
    return query.exists()


def routed_to_author(section_column, entry_id_column, requested_by_column=None):
    """An SQL condition for a report (its section, entry id and reporter columns, or values): its
    entry has an author who decides it. The registrars' queue keeps the reports where this is
    false: among them the reports the author is a party to (their own, or about their own or
    their child's card), which the author may never decide."""
    return or_(
        *(
            and_(section_column == section, _current_author_exists(model, entry_id_column, requested_by_column))
            for section, model in authored_models().items()
        )
    )


def has_author(section: str, entry_id: int, requested_by_id: int | None = None) -> bool:
    """``routed_to_author`` for one report."""
    return bool(db.session.scalar(select(routed_to_author(section, entry_id, requested_by_id))))


def authored_by(account: Account, section_column, entry_id_column):
    """An SQL condition for a report: its entry was written by this account's practitioner, in an
    organisation where the account works as a doctor now (the doctor's queue)."""
    practitioner_id = author_practitioner_id(account)
    organisations = sorted(clinical_organisations(account, "doctor"))
    if practitioner_id is None or not organisations:
        return and_(False)
    return or_(
        *(
            and_(
                section_column == section,
                entry_id_column.in_(
                    select(model.id).where(
                        model.practitioner_id == practitioner_id, model.organisation_id.in_(organisations)
                    )
                ),
            )
            for section, model in authored_models().items()
        )
    )


def decide_author(account: Account | None, section: str, entry) -> Decision:
    """May this account correct ``entry`` (of ``section``) as its author? Only the doctor the entry
    names, working as a doctor now in the organisation that wrote it, on an open card with the
    patient's consent; a plugin may deny."""
    if account is None or not account.is_active:
        return Decision(False, "not signed in")
    if section not in AUTHOR_SECTIONS or entry is None:
        return Decision(False, f"authors do not correct {section}")
    practitioner_id = author_practitioner_id(account)
    if practitioner_id is None or entry.practitioner_id != practitioner_id:
        return Decision(False, "only the doctor who wrote the entry corrects it")
    if entry.organisation_id not in clinical_organisations(account, "doctor"):
        return Decision(False, "the author no longer works as a doctor in the organisation that wrote the entry")
    patient = db.session.get(Patient, entry.patient_id)
    if patient is None or patient.closed_at is not None:
        return Decision(False, "the card is closed: the patient opted out of the electronic record")
    denial = _plugin_denial(account, "write", patient, section, "clinician")
    if denial:
        return Decision(False, denial)
    if not has_consent(patient.id):
        return Decision(False, "the patient has not given consent to processing")
    return Decision(True, "the doctor who wrote the entry corrects it", "clinician", entry.organisation_id)


def require_author(account: Account | None, section: str, entry, patient_id: int | None = None) -> Decision:
    """``decide_author``, or AccessDenied (answered 404, audited as a denial)."""
    decision = decide_author(account, section, entry)
    if not decision.allowed:
        target = entry.patient_id if entry is not None else (patient_id or 0)
        raise AccessDenied(decision, account.id if account else None, target, "write", section)
    return decision


def decide_author_request(
    account: Account | None, section: str, entry, requested_by_id: int | None, *, request_open: bool = True
) -> Decision:
    """May this doctor see and decide a citizen's error report about ``entry``? Only its author
    (``decide_author``); never a report of their own or about their own or their child's card
    (``conflict``: shown without the decision); a decided report shows its own page only (the
    refusal's basis is then "author")."""
    decision = decide_author(account, section, entry)
    if not decision.allowed:
        return decision
    if is_party(account, entry.patient_id, requested_by_id):
        return Decision(False, "a doctor never decides their own or their family's report", "author", conflict=True)
    if not request_open:
        return Decision(False, "the report is decided: the author reads the entry through an open report", "author")
    return decision


def decide_correction_request(
    account: Account | None,
    action: str,
    patient: Patient | None,
    section: str,
    entry_id: int,
    requested_by_id: int | None,
    *,
    request_open: bool = True,
) -> Decision:
    """``decide_request`` for an error report, and the routing rule above: a report whose entry has
    an author who decides it is not the registrars' (404 to them)."""
    if has_author(section, entry_id, requested_by_id):
        return Decision(False, "the doctor who wrote the entry decides the report about it")
    return decide_request(account, action, patient, section, requested_by_id, request_open=request_open)


def authored_scope(account: Account, model):
    """An SQL condition on ``model``'s entries: written by this account's practitioner in an
    organisation where it works as a doctor now, on an open card whose patient consents (the list
    «Мои записи»; each correction decides again with ``decide_author``)."""
    from portal.consent.models import ConsentEvent

    practitioner_id = author_practitioner_id(account)
    organisations = sorted(clinical_organisations(account, "doctor"))
    if practitioner_id is None or not organisations:
        return and_(False)
    latest = (
        select(ConsentEvent.action)
        .where(ConsentEvent.patient_id == model.patient_id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    open_card = select(Patient.id).where(Patient.id == model.patient_id, Patient.closed_at.is_(None)).exists()
    return and_(
        model.practitioner_id == practitioner_id,
        model.organisation_id.in_(organisations),
        open_card,
        latest == "given",
    )
