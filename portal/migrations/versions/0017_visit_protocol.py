"""the doctor's visit protocol: the draft, and what a signed one adds to the visit and diagnosis

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 17:30:00

``visit_protocol`` keeps one appointment's protocol while the doctor writes it (a draft with a
version counter: a save from a stale tab is refused) and, once signed, the visit it became. The
visit gains the history of the present illness (the appointment names its visit already); a diagnosis gains its verification (preliminary or final).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0018'  # relinked at merge: the chain is 0014 → 0018 → 0017
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('visit_protocol',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('complaints', sa.Text(), nullable=False),
    sa.Column('history', sa.Text(), nullable=False),
    sa.Column('examination', sa.Text(), nullable=False),
    sa.Column('diagnoses', sa.Text(), nullable=False),
    sa.Column('conclusion', sa.Text(), nullable=False),
    sa.Column('recommendations', sa.Text(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_visit_protocol_appointment_id_appointment')),
    sa.ForeignKeyConstraint(['author_id'], ['account.id'], name=op.f('fk_visit_protocol_author_id_account')),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], name=op.f('fk_visit_protocol_patient_id_patient')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_protocol_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_protocol')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_visit_protocol_appointment_id'))
    )
    with op.batch_alter_table('visit_protocol', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_protocol_patient_id'), ['patient_id'], unique=False)

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('history', sa.Text(), nullable=True))

    with op.batch_alter_table('diagnosis', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('diagnosis', schema=None) as batch_op:
        batch_op.drop_column('verification')

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_column('history')

    with op.batch_alter_table('visit_protocol', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_protocol_patient_id'))

    op.drop_table('visit_protocol')
