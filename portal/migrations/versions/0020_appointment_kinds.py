"""appointment kinds from plugins: a schedule rule's, a slot's and an appointment's kind is any
kind the portal knows, not only the core's three

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 21:10:00

Plugins add kinds of appointment (``appointment_kinds``, an online consultation for example), and
which plugins run is the deployment's choice, so the database can no longer list the kinds: the
check ``kind IN ('in_person', 'home', 'online')`` becomes "a non-empty lower-case key" and the
application checks a rule's kind against the kinds it knows when the rule is written. The partial
unique index on appointment (one active appointment per slot) is dropped and created again around
SQLite's table copy so that its condition survives.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

TABLES = ('schedule_rule', 'slot', 'appointment')
CORE = "kind IN ('in_person', 'home', 'online')"
ANY_KEY = "kind <> '' AND kind = lower(kind)"
ACTIVE = sa.text("status IN ('booked', 'arrived', 'completed', 'no_show')")


def _replace(condition: str) -> None:
    op.drop_index('uq_appointment_active_slot', table_name='appointment')
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'ck_{table}_kind'), type_='check')
            batch_op.create_check_constraint(batch_op.f(f'ck_{table}_kind'), condition)
    op.create_index(
        'uq_appointment_active_slot', 'appointment', ['slot_id'], unique=True,
        sqlite_where=ACTIVE, postgresql_where=ACTIVE,
    )


def upgrade():
    _replace(ANY_KEY)


def downgrade():
    _replace(CORE)
