"""The demo people in tests: their accounts, their cards, and clients signed in as them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.database import db

# The demo's people by key, as portal/demodata/people.py names them (README: «Демо-доступ»).
ROLES = (
    "patient",
    "guardian",
    "trusted",
    "doctor",
    "nurse",
    "doctor_b",
    "registrar",
    "org_admin",
    "auditor",
    "accountant",
    "applicant",
)


def account_id(key: str) -> int:
    """The id of demo person ``key``'s account (in an app context)."""
    from portal.auth.models import Account
    from portal.demodata.people import PEOPLE, email_of

    people = {p.key: p for p in PEOPLE}
    if key not in people:
        raise KeyError(f"no demo person {key!r}; the demo's are {', '.join(people)}")
    found = db.session.scalar(sa.select(Account.id).where(Account.email == email_of(people[key])))
    if found is None:
        raise LookupError(f"demo person {key!r} has no account: is the demo data seeded?")
    return found


def card_ids() -> dict[str, int]:
    """The demo cards (patient ids) by demo key: the people with a card of their own, and the
    guardian's children ``child_9`` and ``child_16`` (in an app context)."""
    from portal.auth.models import Account
    from portal.demodata.people import CHILDREN, PEOPLE, email_of
    from portal.identifiers import make_snils
    from portal.record.models import Patient

    cards = {}
    for person in PEOPLE:
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of(person)))
        if patient is not None:
            cards[person.key] = patient
    for key, *_rest, snils9 in CHILDREN:
        cards[key] = db.session.scalar(sa.select(Patient.id).where(Patient.snils == make_snils(snils9)))
    return cards


def seed_people(app: Flask) -> dict:
    """Seed the demo data (nothing is added when it is there); return {key: account} plus the
    children's patients."""
    from portal.auth.models import Account
    from portal.demodata.people import CHILDREN, PEOPLE, email_of
    from portal.demodata.seed import seed_demo
    from portal.identifiers import make_snils
    from portal.record.models import Patient

    with app.app_context():
        seed_demo()
        people = {p.key: db.session.scalar(sa.select(Account).where(Account.email == email_of(p))) for p in PEOPLE}
        for key, *_rest, snils9 in CHILDREN:
            people[key] = db.session.scalar(sa.select(Patient).where(Patient.snils == make_snils(snils9)))
        db.session.expunge_all()
    return people


def session_for(app: Flask, client: FlaskClient, account_id: int, stage: str = "complete") -> str:
    """Give ``client`` a server session for the account, as the sign-in flow would at ``stage``."""
    from portal.auth import service
    from portal.auth.models import Account
    from portal.database import write_transaction

    with app.app_context(), write_transaction():
        account = db.session.get(Account, account_id)
        token, _row = service.start_session(account, stage, "127.0.0.1", "pytest")
    with client.session_transaction() as cookie:
        cookie.clear()
        cookie["sid"] = token
    return token


def signed_in_client(app: Flask, key: str, stage: str = "complete") -> FlaskClient:
    """A new test client signed in as demo person ``key`` (two factors done, unless ``stage``)."""
    with app.app_context():
        found = account_id(key)
        db.session.remove()
    client = app.test_client()
    session_for(app, client, found, stage)
    return client
