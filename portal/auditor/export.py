"""A search's events as a file: CSV for a spreadsheet, JSON for a program. The same lines and the
same metadata-only columns as the page, streamed as they are read (``service.every_line`` reads
them a batch at a time), so neither the server's memory nor the time before the first byte grows
with the period.

CSV: UTF-8 with a byte-order mark (Excel then reads Cyrillic right), «;» between cells in Russian
(Excel's list separator there, where the comma is the decimal one) and «,» in English; headers in
the reader's language; a cell that a spreadsheet would run as a formula (= + - @ tab, CR) is
written after an apostrophe (SECURITY.md check 49). JSON: codes rather than words, times in UTC."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

from portal import clock
from portal.auditor.kinds import ACTIONS, BASES, GROUPS, OUTCOMES, ROLES, action_label
from portal.auditor.service import EventLine
from portal.record.sections import LABELS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def filename(oid: str, since: str | None, until: str | None, extension: str) -> str:
    """«audit-<organisation's OID>-<first day>-<last day>.csv», ISO dates; an open end reads
    «start» or today."""
    first = since or "start"
    last = until or clock.today().isoformat()
    return f"audit-{oid}-{first}-{last}.{extension}"


def neutral(value: object) -> str:
    """A cell as text that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _utc(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def streamed(app: Flask, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, made inside an application context of their own (the database session), so the
    response needs nothing of the request, which is over by the time a server sends the file."""
    with app.app_context():
        yield from chunks


def _translated(words: Mapping[str, object]) -> dict[str, str]:
    return {key: str(value) for key, value in words.items()}


def csv_stream(lines: Iterable[EventLine]) -> Iterator[bytes]:
    """The CSV file: its words are taken in the reader's language now; the lines as they are read."""
    zone = clock.zone()
    delimiter = ";" if str(get_locale()) == "ru" else ","
    actions, groups = _translated(ACTIONS), _translated(GROUPS)
    bases, outcomes, roles, sections = map(_translated, (BASES, OUTCOMES, ROLES, LABELS))
    headers = [
        _("Event no."),
        _("When (%(zone)s)", zone=zone.key),
        _("Who"),
        _("Person no."),
        _("Roles in the organisation"),
        _("Basis"),
        _("Action"),
        _("Event code"),
        _("Section"),
        _("Object"),
        _("Object no."),
        _("Outcome"),
        _("Patient"),
        _("Patient's SNILS"),
        _("Patient no."),
    ]

    def cells(line: EventLine) -> tuple:
        return (
            line.id,
            _utc(line.created_at).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            line.actor_name,
            line.actor_id,
            ", ".join(roles.get(role, role) for role in line.actor_roles),
            bases.get(line.basis, line.basis),
            action_label(line.action, actions, groups),
            line.action,
            sections.get(line.section, line.section) if line.section else None,
            line.object_type,
            line.object_id,
            outcomes.get(line.outcome, line.outcome),
            line.patient_name,
            line.patient_snils,
            line.patient_id,
        )

    def chunks() -> Iterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(headers)
        yield "\ufeff".encode() + _drain(out)
        for n, line in enumerate(lines, 1):
            writer.writerow(neutral(cell) for cell in cells(line))
            if n % 200 == 0:
                yield _drain(out)
        yield _drain(out)

    return chunks()


def _drain(out: io.StringIO) -> bytes:
    """What the writer wrote since the last call, emptied from the buffer."""
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text.encode()


def json_stream(head: dict, lines: Iterable[EventLine]) -> Iterator[bytes]:
    """``head`` (the organisation, the filters, when) and the events as one JSON object, written
    one event at a time."""
    opening = json.dumps(head, ensure_ascii=False)[:-1] + ', "events": ['
    yield opening.encode()
    separator = ""
    for line in lines:
        event = {
            "id": line.id,
            "time": _utc(line.created_at).isoformat(),
            "actor_id": line.actor_id,
            "actor": line.actor_name,
            "actor_roles": list(line.actor_roles),
            "basis": line.basis,
            "action": line.action,
            "section": line.section,
            "object_type": line.object_type,
            "object_id": line.object_id,
            "outcome": line.outcome,
            "patient_id": line.patient_id,
            "patient": line.patient_name,
            "patient_snils": line.patient_snils,
        }
        yield (separator + json.dumps(event, ensure_ascii=False)).encode()
        separator = ",\n"
    yield b"]}\n"
