"""care relationships follow appointments: care_relationship.appointment_id

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07 08:00:00

A booked appointment opens the card to its doctor from the day of the visit until
APPOINTMENT_ACCESS_DAYS after it (``started_at`` .. ``ended_at``); cancelling the appointment ends
the relationship. The column names the appointment so that a cancel finds it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('care_relationship', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appointment_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_care_relationship_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_care_relationship_appointment_id_appointment'), 'appointment', ['appointment_id'], ['id']
        )


def downgrade():
    with op.batch_alter_table('care_relationship', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_care_relationship_appointment_id_appointment'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_care_relationship_appointment_id'))
        batch_op.drop_column('appointment_id')
