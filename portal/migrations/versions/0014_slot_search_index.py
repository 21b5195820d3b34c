"""the free-slot search's index: slot (practitioner_id, status, starts_at)

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07 15:00:00

The booking steps look for a specialty's free slots in a window: the specialty's practitioners
first (ix_practitioner_specialty_code), then each one's free slots in time order. Without this
index both SQLite and PostgreSQL read every free slot of the window (ix_slot_status_start) and
threw away the other specialties' — 75,000 slots of a region of 300 practitioners and four weeks
for every doctor, date or time page. With it a step reads only its own specialty's slots, and
the doctor and date steps' counts read the index alone (bench/slots.py; docs/appointments.md).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('slot', schema=None) as batch_op:
        batch_op.create_index('ix_slot_practitioner_status_start', ['practitioner_id', 'status', 'starts_at'], unique=False)


def downgrade():
    with op.batch_alter_table('slot', schema=None) as batch_op:
        batch_op.drop_index('ix_slot_practitioner_status_start')
