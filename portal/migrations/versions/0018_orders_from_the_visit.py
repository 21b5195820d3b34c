"""orders from the visit: the appointment a prescription, referral or vaccination was written at,
and a prescription's frequency and course

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-07 17:30:00

The doctor writes prescriptions, referrals and the vaccinations given from an appointment of
their day (portal/orders); the nurse writes vaccinations from the appointment too. Each entry keeps
the appointment (``appointment_id``, indexed: the orders page lists what one appointment ordered).
A prescription keeps how often it is taken (``frequency``) and its course (``course_start``,
``course_end``).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0014'
branch_labels = None
depends_on = None

TABLES = ('prescription', 'referral', 'immunization')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('appointment_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f'fk_{table}_appointment_id_appointment'), 'appointment', ['appointment_id'], ['id']
            )
            batch_op.create_index(batch_op.f(f'ix_{table}_appointment_id'), ['appointment_id'], unique=False)
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frequency', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('course_start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('course_end', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_column('course_end')
        batch_op.drop_column('course_start')
        batch_op.drop_column('frequency')
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_appointment_id'))
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_appointment_id_appointment'), type_='foreignkey')
            batch_op.drop_column('appointment_id')
