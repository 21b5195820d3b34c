"""The authorization matrix (tests/authz_matrix.toml) over every protected GET route, each actor,
with and without HX-Request; plus the guard that keeps the matrix complete."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.access import PUBLIC, requirement
from portal.database import db, write_transaction
from tests.conftest import demo_database, make_app, seed_people, session_for

MATRIX = tomllib.loads((Path(__file__).parent / "authz_matrix.toml").read_text())
ACTORS = MATRIX["actors"]
CASES = MATRIX["case"]
SAME_AS = MATRIX.get("same_as", {})  # an actor a case leaves out expects what this other actor does
OWNER_MARKERS = {"patient": "Смирнова", "child_9": "Дарья", "child_16": "Максим"}


def expected(case: dict, actor: str) -> int:
    return case["expect"][actor] if actor in case["expect"] else case["expect"][SAME_AS[actor]]


def case_id(case: dict) -> str:
    return f"{case['endpoint']}[{case.get('owner', '-')}]"


@pytest.fixture
def world(app, demo):
    return build_world(app, demo)


@pytest.fixture(scope="module")
def shared(request, database_template, tmp_path_factory):
    """One demo portal, its world and a signed-in session per actor for every case of the matrix
    in this test process. The cases only read (GET): what a read writes (audit events, a session's
    last activity) changes no other case's answer, so they need not each copy the demo (on
    PostgreSQL, a clone of a 34 MB database per case: most of the suite's time there)."""
    base = tmp_path_factory.mktemp("matrix")
    databases = demo_database(request, database_template, base)
    app = make_app(next(databases), base)
    demo = seed_people(app)
    found = build_world(app, demo)
    tokens = {actor: _token_for(app, demo, actor) for actor in ACTORS}
    yield app, demo, found, tokens
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    databases.close()


def _token_for(app, demo, actor: str) -> str | None:
    if actor == "anonymous":
        return None
    stages = {"half": ("patient", "password"), "enrolling": ("patient", "enrol")}
    account, stage = stages.get(actor, (actor, "complete"))
    return session_for(app, app.test_client(), demo[account].id, stage=stage)


def build_world(app, demo):
    """Ids the paths need: owners' patient ids, a verification request and one of its documents."""
    from portal.audit import service as audit
    from portal.audit.sealer import seal_pending
    from portal.auth.models import IdentityDocument, VerificationRequest
    from portal.certificates.models import CertificateRequest
    from portal.record.models import Document, LabReport, Patient, Prescription, Visit
    from portal.sharing.models import GuardianshipRequest

    with app.app_context():
        taken = {demo["patient"].patient_id, demo["child_9"].id, demo["child_16"].id}
        other = db.session.scalar(sa.select(Patient.id).where(Patient.id.not_in(taken)).order_by(Patient.id))
        request = db.session.scalar(
            sa.select(VerificationRequest.id).where(VerificationRequest.account_id == demo["applicant"].id)
        )
        grequest = db.session.scalar(sa.select(GuardianshipRequest.id))
        document = db.session.scalar(
            sa.select(IdentityDocument.id).where(IdentityDocument.account_id == demo["applicant"].id)
        )
        mine = demo["patient"].patient_id

        def first(model, *where):
            return db.session.scalar(sa.select(model.id).where(model.patient_id == mine, *where).limit(1))

        entries = {
            "document_of_patient": first(Document, Document.uploaded_by_id.is_(None)),
            "visit": first(Visit),
            "report": first(LabReport),
            "prescription": first(
                Prescription, Prescription.cancelled_at.is_(None), Prescription.valid_until >= sa.func.current_date()
            ),
        }
        # A ready certificate of Smirnova's, issued by her clinic (the demo seeds none).
        with write_transaction():
            row = CertificateRequest(
                patient_id=mine,
                requested_by_id=demo["patient"].id,
                form="086u",
                purpose="Для колледжа",
                status="ready",
                document_id=entries["document_of_patient"],
                issued_at=datetime.now(UTC),
                verification_code="authz-matrix",
            )
            db.session.add(row)
            db.session.flush()
            row.number = f"С-2026-{row.id:06d}"
            certificate = row.id
            # A line of Smirnova's access log and one of Дарья's, sealed: their proofs exist.
            events = {
                name: audit.record(
                    "card.read", actor_id=demo["doctor"].id, actor_role="clinician", patient_id=owner, section="summary"
                ).id
                for name, owner in (("event", mine), ("child_event", demo["child_9"].id))
            }
            # Attachment applications: Павлова to clinic A, Кузнецов to clinic B.
            from portal.demodata.synthetic import demo_organisations
            from portal.directory.models import AttachmentApplication

            orgs = demo_organisations()
            made = {f"org_{key.lower()}": org.id for key, org in orgs.items()}
            for key, who, org in (("attachment_a", "trusted", "A"), ("attachment_b", "guardian", "B")):
                row = AttachmentApplication(
                    patient_id=demo[who].patient_id,
                    applicant_id=demo[who].id,
                    to_organisation_id=orgs[org].id,
                    reason="Ближе к дому",
                    moved=False,
                    status="pending",
                )
                db.session.add(row)
                db.session.flush()
                made[key] = row.id
            # The demo appointments of Smirnova and Дарья, and a free dentist's slot to book.
            from portal.appointments.models import Appointment, Slot
            from portal.directory.models import Practitioner

            booked = {
                name: db.session.scalar(sa.select(Appointment.id).where(Appointment.patient_id == owner).limit(1))
                for name, owner in (("appointment", mine), ("child_appointment", demo["child_9"].id))
            }
            # Home visit calls: Smirnova's to clinic A (the registrar's), the guardian's to clinic B.
            from portal.appointments.models import HomeVisitRequest

            for key, who, org in (("home_visit_a", "patient", "A"), ("home_visit_b", "guardian", "B")):
                row = HomeVisitRequest(
                    patient_id=demo[who].patient_id,
                    organisation_id=orgs[org].id,
                    requested_by_id=demo[who].id,
                    address="ул. Ленина, д. 5, кв. 12",
                    symptoms="Кашель",
                    phone="+79123456789",
                    status="new",
                )
                db.session.add(row)
                db.session.flush()
                made[key] = row.id
            slot = db.session.scalar(
                sa.select(Slot.id)
                .join(Practitioner, Practitioner.id == Slot.practitioner_id)
                .where(Practitioner.specialty_code == "62", Slot.status == "free", Slot.starts_at > sa.func.now())
                .order_by(Slot.starts_at)
                .limit(1)
            )
            appointment_owners = _appointment_owners(demo)
            arrived = _arrived_today(demo, orgs)
            # The staff pages: a working rule of clinic A and one of B; a card attached to B only.
            from portal.appointments.models import ScheduleRule
            from portal.record.models import ClinicAttachment

            rules = {
                key: db.session.scalar(
                    sa.select(ScheduleRule.id).where(ScheduleRule.organisation_id == orgs[key].id).limit(1)
                )
                for key in ("A", "B")
            }
            # a card attached to clinic B, with consent, and no appointment at A
            from portal.consent.models import ConsentEvent
            from portal.identifiers import make_snils
            from portal.record.models import Patient

            attached_b = Patient(
                surname="Тестова", name="Б", sex="F", birth_date=date(1985, 5, 5), snils=make_snils("002000199")
            )
            db.session.add(attached_b)
            db.session.flush()
            db.session.add_all(
                [
                    ClinicAttachment(patient_id=attached_b.id, organisation_id=orgs["B"].id, since=date(2020, 1, 1)),
                    ConsentEvent(
                        patient_id=attached_b.id,
                        account_id=demo["registrar"].id,
                        action="given",
                        text_version="v1",
                        created_at=datetime.now(UTC),
                    ),
                ]
            )
            appointment_owners["attached_b"] = attached_b.id
            # The auditor's pages: the demo's emergency access in clinic A, and one in clinic B.
            audited = _emergency_accesses(demo, orgs)
            staff_admin = _staff_admin_world(demo, orgs)
            author = _author_world(demo)
        seal_pending()
    return {
        **audited,
        "staff_admin": staff_admin,
        "author": author,
        **arrived,
        "rule_a": rules["A"],
        "rule_b": rules["B"],
        **made,
        **booked,
        "slot": slot,
        "owners": {
            "patient": demo["patient"].patient_id,
            "child_9": demo["child_9"].id,
            "child_16": demo["child_16"].id,
            "other": other,
            **appointment_owners,
        },
        "request": request,
        "certificate": certificate,
        "grequest": grequest,
        "document": document,
        **events,
        **entries,
    }


def _staff_admin_world(demo, orgs) -> dict[str, int]:
    """The org admin's pages: clinic A (the demo admin's, with its pending invitation) and clinic B,
    given a pending invitation of its own; a member of each."""
    from portal.orgadmin.models import StaffInvitation

    moment = datetime.now(UTC)
    invitation_b = StaffInvitation(
        organisation_id=orgs["B"].id, email="invited-b@example.ru", surname="Орлова", name="Вера", roles="nurse",
        token_hash="0" * 64, invited_by_id=demo["doctor_b"].id, created_at=moment,
        expires_at=moment + timedelta(days=3), status="pending",
    )  # fmt: skip
    db.session.add(invitation_b)
    db.session.flush()
    invitation_a = db.session.scalar(
        sa.select(StaffInvitation.id).where(StaffInvitation.organisation_id == orgs["A"].id).limit(1)
    )
    from portal.directory.models import Practitioner

    practitioners = {
        key: db.session.scalar(
            sa.select(Practitioner.id).where(Practitioner.organisation_id == orgs[key].id).order_by(Practitioner.id)
        )
        for key in ("A", "B")
    }
    return {
        "org_a": orgs["A"].id,
        "org_b": orgs["B"].id,
        "practitioner_a": practitioners["A"],
        "practitioner_b": practitioners["B"],
        "invitation_a": invitation_a,
        "invitation_b": invitation_b.id,
        "member_a": demo["registrar"].id,
        "member_b": demo["doctor_b"].id,
    }


# Access follows the booking: four cards (not the demo people's) each with one appointment with the
# demo doctor, who has no other relationship with them. The matrix names them as owners.
APPOINTMENT_OWNERS = {  # owner: (days from now of the appointment, cancelled)
    "visit_today": (timedelta(hours=1), False),
    "visit_tomorrow": (timedelta(days=1, hours=1), False),
    "visit_3_days_ago": (-timedelta(days=3), False),
    "visit_10_days_ago": (-timedelta(days=10), False),
    "visit_cancelled": (timedelta(hours=1), True),
}


def later_today() -> datetime:
    from portal import clock

    return min(datetime.now(UTC) + timedelta(hours=1), clock.day_end(clock.today()) - timedelta(seconds=1))


def _appointment_owners(demo) -> dict[str, int]:
    """Book (through the care service) one appointment per owner; cancel one (through the states
    service). A visit «today» is later today: the card opens in the morning, before the visit."""
    from portal.appointments import care, states
    from portal.appointments.models import Appointment
    from portal.consent.models import ConsentEvent
    from portal.directory.models import Practitioner
    from portal.identifiers import make_snils
    from portal.record.models import Patient

    doctor = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor"].id))
    patients = []
    for n, owner in enumerate(APPOINTMENT_OWNERS):
        patient = Patient(
            surname="Тестова", name=owner, sex="F", birth_date=date(1980, 1, 1), snils=make_snils(f"0020001{n:02d}")
        )
        db.session.add(patient)
        db.session.flush()
        # consent given on paper at the desk: other parties need it
        db.session.add(
            ConsentEvent(
                patient_id=patient.id,
                account_id=demo["registrar"].id,
                action="given",
                text_version="v1",
                created_at=datetime.now(UTC),
            )
        )
        patients.append(patient.id)
    found = {}
    for (owner, (offset, cancelled)), patient_id in zip(APPOINTMENT_OWNERS.items(), patients, strict=True):
        appointment = Appointment(
            patient_id=patient_id,
            organisation_id=doctor.organisation_id,
            practitioner_id=doctor.id,
            specialty_code=doctor.specialty_code,
            starts_at=later_today() if owner in ("visit_today", "visit_cancelled") else datetime.now(UTC) + offset,
            status="booked",
            booked_by_id=demo["registrar"].id,
        )
        db.session.add(appointment)
        db.session.flush()
        care.open_for(appointment, demo["registrar"].id, "registrar")
        if cancelled:
            states.transition(
                appointment, "cancelled_by_clinic", actor_id=demo["registrar"].id, actor_role="registrar",
                reason="Врач заболел",
            )  # fmt: skip
        found[owner] = patient_id
    return found


def _arrived_today(demo, orgs) -> dict[str, int]:
    """The clinicians' workspace: an appointment of the demo doctor's day (clinic A) marked
    arrived, and one at clinic B with its doctor, the patient arrived ten minutes ago."""
    from portal import clock
    from portal.appointments.models import Appointment
    from portal.directory.models import Practitioner

    doctor_b = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor_b"].id))
    in_b = Appointment(
        patient_id=demo["guardian"].patient_id, organisation_id=orgs["B"].id, practitioner_id=doctor_b.id,
        specialty_code=doctor_b.specialty_code, starts_at=clock.now() - timedelta(minutes=10), status="arrived",
    )  # fmt: skip
    db.session.add(in_b)
    db.session.flush()
    in_a = db.session.scalar(
        sa.select(Appointment.id)
        .where(
            Appointment.organisation_id == orgs["A"].id,
            Appointment.status == "arrived",
            Appointment.starts_at >= clock.day_start(clock.today()),
        )
        .order_by(Appointment.id)
        .limit(1)
    )
    return {"arrived_a": in_a, "arrived_b": in_b.id}


def _emergency_accesses(demo, orgs) -> dict[str, int]:
    """Clinic A's demo emergency access, and one clinic B's doctor opened an hour ago."""
    from portal.access.models import EmergencyAccess

    started = datetime.now(UTC) - timedelta(hours=2)
    foreign = EmergencyAccess(
        practitioner_id=demo["doctor_b"].id, patient_id=demo["guardian"].patient_id, organisation_id=orgs["B"].id,
        reason="Без сознания в приёмном отделении", started_at=started, expires_at=started + timedelta(hours=1),
    )  # fmt: skip
    db.session.add(foreign)
    db.session.flush()
    ours = db.session.scalar(
        sa.select(EmergencyAccess.id).where(EmergencyAccess.organisation_id == orgs["A"].id).limit(1)
    )
    return {"org_a": orgs["A"].id, "org_b": orgs["B"].id, "emergency_a": ours, "emergency_b": foreign.id}


def _author_world(demo) -> dict[str, int]:
    """Corrections by the author: a visit the demo doctor (clinic A) wrote in Smirnova's card and
    one clinic B's doctor wrote there, each with an error report from Smirnova and a file."""
    from portal import uploads
    from portal.corrections.models import CorrectionFile, CorrectionRequest
    from portal.directory.models import Practitioner
    from portal.record.models import Visit

    made = {}
    mine = demo["patient"].patient_id
    for key, who in (("author", "doctor"), ("foreign", "doctor_b")):
        practitioner = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.account_id == demo[who].id))
        visit = db.session.scalar(
            sa.select(Visit.id)
            .where(Visit.patient_id == mine, Visit.practitioner_id == practitioner)
            .order_by(Visit.id)
            .limit(1)
        )
        row = CorrectionRequest(
            patient_id=mine,
            requested_by_id=demo["patient"].id,
            section="visits",
            entry_id=visit,
            description="Заключение записано неверно",
            status="registered",
            created_at=datetime.now(UTC),
        )
        db.session.add(row)
        db.session.flush()
        row.number = f"И-2026-{row.id:06d}"
        attached = CorrectionFile(
            correction_id=row.id,
            storage_key=uploads.store(b"%PDF-1.4 test", f"correction:{mine}"),
            filename="scan.pdf",
            content_type="application/pdf",
            size=13,
        )
        db.session.add(attached)
        db.session.flush()
        made.update({f"{key}_visit": visit, f"{key}_report": row.id, f"{key}_file": attached.id})
    return made


def client_for(app, demo, actor: str):
    client = app.test_client()
    if actor == "anonymous":
        return client
    if actor == "half":
        session_for(app, client, demo["patient"].id, stage="password")
    elif actor == "enrolling":
        session_for(app, client, demo["patient"].id, stage="enrol")
    else:
        session_for(app, client, demo[actor].id)
    return client


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matrix(shared, case, htmx):
    app, _demo, world, tokens = shared
    path = case["path"].format(
        owner=world["owners"].get(case.get("owner"), 0),
        request=world["request"],
        document=world["document"],
        grequest=world["grequest"],
        visit=world["visit"],
        certificate=world["certificate"],
        document_of_patient=world["document_of_patient"],
        report=world["report"],
        prescription=world["prescription"],
        event=world["event"],
        child_event=world["child_event"],
        attachment_a=world["attachment_a"],
        attachment_b=world["attachment_b"],
        appointment=world["appointment"],
        child_appointment=world["child_appointment"],
        slot=world["slot"],
        home_visit_a=world["home_visit_a"],
        home_visit_b=world["home_visit_b"],
        rule_a=world["rule_a"],
        rule_b=world["rule_b"],
        emergency_a=world["emergency_a"],
        emergency_b=world["emergency_b"],
        **world["staff_admin"],
        **world["author"],
        arrived_a=world["arrived_a"],
        arrived_b=world["arrived_b"],
    )
    headers = {"HX-Request": "true"} if htmx else {}
    failures = []
    for actor in ACTORS:
        expect = expected(case, actor)
        client = app.test_client()
        if tokens[actor]:
            with client.session_transaction() as cookie:
                cookie["sid"] = tokens[actor]
        response = client.get(path, headers=headers)
        if htmx and expect == 303:
            # htmx never follows a redirect into a fragment: it gets HX-Redirect and loads the page.
            if response.status_code not in (200, 401) or "HX-Redirect" not in response.headers:
                failures.append(f"{actor}: expected HX-Redirect, got {response.status_code}")
            continue
        if response.status_code != expect:
            failures.append(f"{actor}: expected {expect}, got {response.status_code}")
            continue
        marker = OWNER_MARKERS.get(case.get("owner"))
        if expect == 404 and marker and actor != case.get("owner"):  # (her own name is in the header)
            assert marker not in response.get_data(as_text=True), f"{actor} sees patient data in a 404"
    assert failures == []


def test_every_protected_get_route_is_in_the_matrix(app):
    in_matrix = {case["endpoint"] for case in CASES}
    protected = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and requirement(app.view_functions[rule.endpoint]) != PUBLIC
    }
    assert protected - in_matrix == set()


def test_every_case_names_every_actor():
    """Each case names every actor, or leaves out only an actor that takes another's expectation."""
    assert set(SAME_AS) <= set(ACTORS) and set(SAME_AS.values()) <= set(ACTORS)
    for case in CASES:
        named = set(case["expect"])
        assert named <= set(ACTORS) and set(ACTORS) - named <= set(SAME_AS), case_id(case)


def test_a_denied_read_is_audited_as_denied(app, demo, world):
    from portal.audit.models import AuditEvent

    client = client_for(app, demo, "doctor_b")
    assert client.get(f"/card/{world['owners']['patient']}").status_code == 404
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.outcome, event.actor_id) == ("card.read", "denied", demo["doctor_b"].id)
    assert event.patient_id == world["owners"]["patient"]
    assert "no care relationship" in event.reason


def test_an_allowed_read_is_audited_with_the_basis(app, demo, world):
    from portal.audit.models import AuditEvent

    client = client_for(app, demo, "trusted")
    assert client.get(f"/card/{world['owners']['patient']}").status_code == 200
    with app.app_context():
        events = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(4)))[::-1]
    assert [(e.action, e.outcome, e.actor_role, e.section) for e in events] == [
        ("card.read", "success", "trusted", "summary"),
        # the dashboard's cards of the shared sections, each audited as what it shows
        ("card.read", "success", "trusted", "results"),
        ("card.read", "success", "trusted", "prescriptions"),
        ("card.read", "success", "trusted", "vaccinations"),
    ]
