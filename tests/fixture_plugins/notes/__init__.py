"""A test-only plugin that keeps data: notes in its own tables, on its own migration branch.

``flask --app portal notes-add TEXT`` writes a note, ``notes-tag ID LABEL`` tags one, and
``/notes/`` lists them. Like a real plugin it imports only ``portal.plugin_api``.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from portal.plugin_api import Blueprint, command, db_session, hookimpl, public, render, write_transaction

from .models import Note, Tag, data

CONTRACT = "1.0"

bp = Blueprint("notes", __name__, url_prefix="/notes")


@bp.get("/")
@public  # reviewed: test-only notes, no personal data
def index():
    notes = db_session().scalars(select(Note).order_by(Note.id)).all()
    tags = db_session().scalars(select(Tag).order_by(Tag.id)).all()
    return render("notes/index.html", notes=notes, tags=tags)


@command("notes-add")
@click.argument("body")
def add(body: str) -> None:
    """Write a note."""
    with write_transaction() as session:
        note = Note(body=body)
        session.add(note)
    click.echo(f"note {note.id} written")


@command("notes-tag")
@click.argument("note_id", type=int)
@click.argument("label")
def tag(note_id: int, label: str) -> None:
    """Tag a note."""
    with write_transaction() as session:
        session.add(Tag(note_id=note_id, label=label))
    click.echo(f"note {note_id} tagged {label}")


@hookimpl
def plugin_data():
    return data


@hookimpl
def register_blueprints():
    return [bp]


@hookimpl
def register_commands():
    return [add, tag]
