"""Commands: seed-demo is idempotent; db upgrade works from an empty database."""

from __future__ import annotations

import sqlalchemy as sa

from portal.database import db
from portal.directory.models import Organisation
from portal.record.models import Patient


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Patient)),
        )


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "organisations: 41 added" in first.output and "patients: 20 added" in first.output
    assert "accounts: 11 added" in first.output and "pharmacies: 3 added" in first.output
    assert "appointments: 2 added" in first.output and "paid_services: 200 added" in first.output
    # 41 medical organisations and 3 pharmacies; 20 generated patients, 10 demo people with
    # verified cards and the guardian's 2 children.
    assert counts(app) == (44, 32)
    second = runner.invoke(args=["seed-demo"])
    assert "organisations: 0 added, patients: 0 added, accounts: 0 added" in second.output
    assert "pharmacies: 0 added" in second.output and "appointments: 0 added" in second.output
    assert "paid_services: 0 added" in second.output
    assert counts(app) == (44, 32)


def test_db_upgrade_creates_the_schema_from_nothing(tmp_path):
    from portal import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"organisation", "patient", "alembic_version"} <= tables


def test_bench_generator_loads_n_patients(app):
    from portal.database import write_transaction
    from portal.demodata.synthetic import load

    with app.app_context(), write_transaction() as session:
        added = load(session, n_patients=500)
    assert counts(app) == (41, 500)  # no demo accounts: load() is only the generator
    assert added
