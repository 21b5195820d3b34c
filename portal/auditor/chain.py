"""The check of the audit log from the auditor's page: the very check ``flask verify-audit`` runs
(``portal.audit.verify``), its verdict recorded as an audit event of the organisation
(``audit.chain_checked``, the verdict's fields as JSON in the reason), which is also where the
page reads when it was last run. The check reads every sealed event once (O(n) time, O(log n)
memory): 100,000 events take seconds, so it runs as a background job on the task queue (one per
organisation at a time), never in the request; the page polls until it is done."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select

from portal import tasks
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.audit.verify import verify
from portal.auth.models import Account
from portal.database import db, write_transaction

ACTION = "audit.chain_checked"
CHECK_TASK = "audit.chain_check"


@dataclass(frozen=True)
class CheckRun:
    """A run of the check: when, by whom, and its verdict's fields (``Verdict``'s, and seconds)."""

    at: datetime
    by: str | None
    result: dict

    @property
    def ok(self) -> bool:
        return bool(self.result.get("ok"))


def run(account: Account, organisation_id: int) -> CheckRun:
    """Check the whole log now, then record who ran it and what it found."""
    started = time.perf_counter()
    verdict = verify()
    result = {**asdict(verdict), "seconds": round(time.perf_counter() - started, 3)}
    with write_transaction():
        event = audit.record(
            ACTION,
            actor_id=account.id,
            actor_role="auditor",
            organisation_id=organisation_id,
            outcome="success" if verdict.ok else "failure",
            reason=json.dumps(result, sort_keys=True),
        )
    return CheckRun(event.created_at, account.full_name, result)


def last_run(organisation_id: int) -> CheckRun | None:
    """The organisation's latest run of the check, or None."""
    row = db.session.execute(
        select(AuditEvent.created_at, AuditEvent.reason, Account.surname, Account.name, Account.patronymic)
        .outerjoin(Account, Account.id == AuditEvent.actor_id)
        .where(AuditEvent.organisation_id == organisation_id, AuditEvent.action == ACTION)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    try:
        result = json.loads(row.reason or "{}")
    except ValueError:
        result = {}
    by = " ".join(p for p in (row.surname, row.name, row.patronymic) if p) or None
    return CheckRun(row.created_at, by, result)


def check_key(organisation_id: int) -> str:
    return f"audit-check:{organisation_id}"


def request_check(account: Account, organisation_id: int) -> bool:
    """Queue a run of the check for the organisation, unless one is waiting or running: True if
    this asked for a new one."""
    return tasks.queue().enqueue_once(check_key(organisation_id), CHECK_TASK, account.id, organisation_id)


def running(organisation_id: int) -> bool:
    """A run asked for and not finished yet."""
    return tasks.queue().waiting(check_key(organisation_id))


@tasks.task(CHECK_TASK)
def check_job(account_id: int, organisation_id: int) -> None:
    try:
        run(db.session.get(Account, account_id), organisation_id)
    finally:
        tasks.queue().done(check_key(organisation_id))
