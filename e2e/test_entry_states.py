"""The states of pages that only time, a correction or a backlog brings: an OMS policy whose number
fails its check digit beside a corrected one with its history, a document whose title was
corrected, a certificate whose year in «Мои документы» is over, a dashboard naming unread news,
and a registrar's queue longer than the hundred it shows. Axe, console and CSP clean in both
languages, every theme, JavaScript on and off."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES
from e2e.test_certificates import ordered
from e2e.test_signed_in_pages import JS, email_of_key, page_is_clean, signed_in
from portal import clock
from portal.auth.models import Account
from portal.consent.models import OptOutRequest
from portal.database import db, write_transaction
from portal.notify.models import Notification
from portal.record.models import Document, EntryRevision, InsurancePolicy

# (who, path)
PAGES = [
    ("patient", "/card/{patient}/insurance"),
    ("patient", "/card/{patient}/documents/{document}"),
    ("patient", "/card/{patient}/certificates/{expired}"),
    ("patient", "/card/{patient}"),
    ("registrar", "/clinic/opt-outs"),
]
BACKLOG = 105


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        registrar = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("registrar")))
        card, moment = patient.patient_id, datetime.now(UTC)
        with write_transaction():
            wrong = InsurancePolicy(
                patient_id=card,
                number="7755000000000018",  # the check digit should be 0
                insurer="СОГАЗ-Мед",
                region_code="77",
                status="closed",
                valid_from=date(2015, 1, 1),
                valid_until=date(2019, 12, 31),
            )
            document = db.session.scalar(
                sa.select(Document).where(Document.patient_id == card, Document.uploaded_by_id.is_(None)).limit(1)
            )
            db.session.add(wrong)
            db.session.flush()
            for section, entry, field, old, new in (
                ("insurance", wrong.id, "insurer", "СОГАЗ", "СОГАЗ-Мед"),
                ("documents", document.id, "title", "Выписка", document.title),
            ):
                db.session.add(
                    EntryRevision(
                        patient_id=card,
                        section=section,
                        entry_id=entry,
                        field=field,
                        old_value=old,
                        new_value=new,
                        reason="Исправлено по обращению",
                        changed_by_id=registrar,
                        changed_at=moment,
                    )
                )
            expired = ordered(patient, "063u", "Для школы", status="ready")
            old = Document(
                patient_id=card,
                kind="certificate",
                title=f"Справка о прививках (форма 063/у) № {expired.number}",
                document_date=clock.today() - timedelta(days=400),
                storage_key="e2e-not-stored",
                filename="certificate.pdf",
                content_type="application/pdf",
                size=1,
                keep_until=clock.today() - timedelta(days=35),
                search_text="",
            )
            db.session.add(old)
            db.session.flush()
            expired.document_id, expired.issued_at = old.id, moment - timedelta(days=400)
            news = Notification(
                account_id=patient.id,
                patient_id=card,
                event="result_new",
                params=json.dumps({"title": "Общий анализ крови", "out_of_range": 2}, ensure_ascii=False),
                created_at=moment,
                reminded_times=0,
            )
            db.session.add(news)
            # A backlog of opt-outs on the trusted person's card, for the queue's «how many in all».
            trusted = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("trusted")))
            backlog = [
                OptOutRequest(
                    patient_id=trusted.patient_id,
                    requested_by_id=trusted.id,
                    reason="Проверка очереди",
                    status="registered",
                    number=f"О-E2E-{n:04d}",
                    created_at=moment,
                )
                for n in range(BACKLOG)
            ]
            db.session.add_all(backlog)
            db.session.flush()
            found = {"patient": card, "document": document.id, "expired": expired.id}
        db.session.remove()
    return found  # this module's own copy of the demo: nothing to undo for the others


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path", PAGES, ids=[p[1] for p in PAGES])
def test_page_is_accessible(browser, base_url, live_app, ids, who, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


def test_the_states_are_on_the_pages(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        page = context.new_page()
        page.goto(f"/card/{ids['patient']}/insurance")
        assert page.get_by_text("The number 7755000000000018 does not pass the check digit").count() == 1
        assert page.get_by_role("heading", name="Change history of the policy 7755000000000018").count() == 1
        page.goto(f"/card/{ids['patient']}/documents/{ids['document']}")
        assert page.locator("section.entry-history del").inner_text() == "Выписка"
        page.goto(f"/card/{ids['patient']}/certificates/{ids['expired']}")
        assert page.get_by_text("no longer in «My documents»").count() == 1
        page.goto(f"/card/{ids['patient']}")
        assert page.locator("#card-notifications li", has_text="New result: Общий анализ крови").count() == 1
    finally:
        context.close()
    registrar = signed_in(browser, base_url, live_app, "registrar", "complete", lang="ru")
    try:
        page = registrar.new_page()
        page.goto("/clinic/opt-outs")
        assert page.locator("tbody tr").count() == 100
        assert page.get_by_text(f"Показаны 100 самых давних. Всего открыто: {BACKLOG + 1};").count() == 1
    finally:
        registrar.close()
