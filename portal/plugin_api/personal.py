"""Personal pages for plugins: route guards, the signed-in account, rate limits, telling a person
and writing audit events.

The guards are the core's own (``portal.access``): a plugin's page is refused, redirected and
audited exactly as a core page is. What a plugin gets back is never an ORM object: the account is
a frozen ``AccountView``, and nothing here lets a plugin reach a table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import g, has_request_context
from flask_babel import force_locale

from portal import access
from portal.access import policy

F = TypeVar("F", bound=Callable)

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
VERB = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

signed_in = access.signed_in


def staff_guard(*roles: str) -> Callable[[F], F]:
    """A fully signed-in staff member holding one of ``roles`` (doctor, nurse, registrar,
    org_admin, auditor, accountant); anyone else gets 404, as on the core's staff pages."""
    if not roles:
        raise ValueError("staff_guard needs at least one role")
    return access.staff(*roles)


def card_guard(*, section: str, action: str = "read") -> Callable[[F], F]:
    """A page of one patient's card (``patient_id`` in the URL) that ACTIONs SECTION.

    The signed-in check is the core's ``card`` guard. The policy then decides: a refusal answers
    404, exactly like a card that does not exist, and is audited as a denial. An allowed "read"
    is audited as a read of the section (``card.read``), once per request, and names the card
    for the page (``page.card``); other actions are audited by the write that does them."""
    if section not in policy.SECTIONS or action not in policy.ACTIONS:
        raise ValueError(f"unknown section or action {section}/{action}")

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, patient_id: int, **kwargs: Any):
            from portal.plugin_api.card import open_for_plugin

            if action == "read":
                open_for_plugin(patient_id, section)
            else:
                policy.require(g.account, action, patient_id, section)
            return view(*args, patient_id=patient_id, **kwargs)

        return access.card(guarded)  # type: ignore[return-value]

    return decorator


@dataclass(frozen=True)
class AccountView:
    """The signed-in account as a plugin sees it: read-only, no credentials, no contact details."""

    id: int
    display_name: str  # «Смирнова Елена Викторовна»
    roles: frozenset[str]  # staff roles: doctor, nurse, registrar, org_admin, auditor, accountant
    language: str  # the interface language the person chose ("ru", "en")
    patient_id: int | None  # the person's own card, if they have one

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)


def _reader():
    """The signed-in account (the ORM object, never handed to a plugin): the one a guard let in,
    else a finished sign-in's; None for a visitor or outside a request."""
    from portal.auth.sessions import account_if_signed_in

    if not has_request_context():
        return None
    return g.get("account") or account_if_signed_in()


def current_account() -> AccountView | None:
    """The signed-in account: the one a ``signed_in``, ``card_guard`` or ``staff_guard`` page let
    in, or on any other page (a dashboard card on the home page) a finished sign-in's; None for a
    visitor, a half-finished sign-in, or outside a request."""
    from portal.auth.service import locale_of

    account = _reader()
    if account is None:
        return None
    return AccountView(
        id=account.id,
        display_name=account.full_name,
        roles=frozenset(account.roles),
        language=locale_of(account),
        patient_id=account.patient_id,
    )


def rate_limit(limit: str, *, methods: list[str] | None = None) -> Callable[[F], F]:
    """The core's rate limiter (Flask-Limiter, shared by every worker) on a plugin's route:
    ``@rate_limit("10/hour", methods=["POST"])``. Over the limit the visitor gets the portal's
    429 page. Put it under the access guard, as core routes do."""
    from portal.extensions import limiter

    return limiter.limit(limit, methods=methods)


@contextmanager
def _writing() -> Iterator[None]:
    """Join the write transaction already open (a plugin's view writing several things at once),
    or run in one of its own: a rolled-back action leaves no message and no event."""
    from portal.database import in_write_transaction, write_transaction

    if in_write_transaction():
        yield
        return
    with write_transaction():
        yield


def _check_name(plugin: str) -> None:
    if not PLUGIN_NAME.match(plugin):
        raise ValueError(f"plugin name {plugin!r}: lower-case letters, digits and _ only")


def _texts(text: Any) -> dict[str, str]:
    """``text`` (a plain string, or lazy text from the plugin's ``lazy_gettext``) in every
    interface language, so the inbox shows it in the reader's language whatever they choose later."""
    from flask import current_app

    found = {}
    for language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            found[language] = str(text)
    return found


def notify(
    account_id: int,
    *,
    plugin: str,
    title: Any,
    body: Any = "",
    url: str | None = None,
    patient_id: int | None = None,
) -> None:
    """Tell a person something: a message in their portal inbox, and by e-mail or SMS as they
    chose for «Messages from the portal's services» in their notification settings. E-mail and SMS
    say only that a message is waiting, never its text (it may be medical). ``title`` and ``body``
    are plain text or lazy text (``translations.lazy_gettext``), stored in every language. Runs in
    the open write transaction, or in one of its own."""
    from portal.notify import inbox

    _check_name(plugin)
    params = {"plugin": plugin, "title": _texts(title), "body": _texts(body)}
    with _writing():
        inbox.post(account_id, inbox.SERVICE_MESSAGE, patient_id=patient_id, params=params, url=url)


def notify_card_holders(
    patient_id: int, *, plugin: str, title: Any, body: Any = "", url: str | None = None
) -> list[int]:
    """``notify`` everyone who holds the card as the core tells them of a new entry: the patient
    (from the age the card opens to them) and their verified guardians. Returns their ids."""
    from portal.access.service import card_holders

    _check_name(plugin)
    with _writing():
        holders = card_holders(patient_id)
        for account_id in holders:
            notify(account_id, plugin=plugin, title=title, body=body, url=url, patient_id=patient_id)
    return holders


def audit_event(
    plugin: str,
    verb: str,
    *,
    patient_id: int | None = None,
    object_type: str | None = None,
    object_id: object = None,
    reason: str | None = None,
    outcome: str = "success",
) -> None:
    """Write an event to the portal's tamper-evident audit log as ``plugin.<plugin>.<verb>``, by
    the signed-in account (the actor's role: its basis on the card ``patient_id`` names, as the
    policy decides it, else "self"). The auditors find it under «Plugins». Runs in the open write transaction, or in
    one of its own. Card reads and writes through this facade are audited already."""
    from portal.audit import service as audit

    _check_name(plugin)
    if not VERB.match(verb) or outcome not in ("success", "failure", "denied"):
        raise ValueError(f"audit verb {verb!r} or outcome {outcome!r}")
    account = _reader()
    with _writing():
        role = _actor_role(account, patient_id)
        audit.record(
            f"plugin.{plugin}.{verb}",
            actor_id=account.id if account is not None else None,
            actor_role=role,
            patient_id=patient_id,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            reason=reason,
        )


def _actor_role(account, patient_id: int | None) -> str:
    """The role an audit event names: the basis on which the account holds the card (the one this
    request opened, or the policy's answer for a read), "self" without a card, "system" in a job."""
    if not has_request_context():
        return "system"
    if account is None:
        return "anonymous"
    if patient_id is None:
        return "self"
    card = g.get("card")
    if card is not None and card.patient.id == patient_id:
        return card.basis
    from portal.database import db
    from portal.record.models import Patient

    return policy.decide(account, "read", db.session.get(Patient, patient_id), "summary").basis
