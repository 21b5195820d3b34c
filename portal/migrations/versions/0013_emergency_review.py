"""the auditor's workspace: emergency_review (a decision on each emergency access) and an index
of the audit log by organisation

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-12 09:00:00

An auditor marks each emergency access of their organisation reviewed or escalated (one final
decision, with a note; an escalation always has one). The auditor's search reads the events of one
organisation newest first: audit_event (organisation_id, id).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('emergency_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('emergency_access_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('reviewed', 'escalated')", name=op.f('ck_emergency_review_decision')),
    sa.CheckConstraint("decision = 'reviewed' OR note IS NOT NULL", name=op.f('ck_emergency_review_escalation_note')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['account.id'], name=op.f('fk_emergency_review_decided_by_id_account')),
    sa.ForeignKeyConstraint(['emergency_access_id'], ['emergency_access.id'], name=op.f('fk_emergency_review_emergency_access_id_emergency_access')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_review')),
    sa.UniqueConstraint('emergency_access_id', name=op.f('uq_emergency_review_emergency_access_id'))
    )
    # Not batch mode: SQLite would rebuild audit_event, and with it drop its append-only triggers.
    op.create_index('ix_audit_event_organisation_id_id', 'audit_event', ['organisation_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_audit_event_organisation_id_id', table_name='audit_event')
    op.drop_table('emergency_review')
