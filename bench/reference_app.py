"""The reference page for ``make bench``: a plain Flask app that does what any server-rendered page
does at the least, one primary-key query on the same database and a Jinja template of about
17.8 KB, served by gunicorn with the portal's settings. A portal page is reported as a fraction
of its throughput, measured in the same rounds, which cancels much of a shared machine's noise.

    gunicorn -c python:portal.gunicorn_conf --workers 2 bench.reference_app:app

The database is ``PORTAL_DATABASE_URL`` (as for the portal); ``/patient/<id>`` shows one patient.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, abort, render_template

app = Flask(__name__, template_folder=str(Path(__file__).resolve().parent / "templates"))
engine = sa.create_engine(os.environ["PORTAL_DATABASE_URL"], pool_pre_ping=True)
QUERY = sa.text("SELECT id, surname, name, patronymic, birth_date, sex, snils FROM patient WHERE id = :id")
# Fixed rows for the template: the page's size comes from the template, not from the database.
ROWS = [
    {"n": i, "code": f"{1000 + i * 7}-{i % 10}", "title": f"Показатель № {i}", "value": f"{(i * 37) % 200 / 10:.1f}"}
    for i in range(1, 56)
]


@app.get("/patient/<int:patient_id>")
def patient(patient_id: int):
    with engine.connect() as conn:
        row = conn.execute(QUERY, {"id": patient_id}).mappings().first()
    if row is None:
        abort(404)
    return render_template("reference.html", patient=row, rows=ROWS)


@app.get("/healthz")
def healthz():
    return "ok"
