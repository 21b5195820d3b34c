"""home visits end: who cancelled a call, and why

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 08:00:00

A call for a doctor at home ends done (the clinic marks it) or cancelled: by the citizen (a reason
optional) or by the clinic (a reason required). ``cancelled_by`` says which side, ``cancelled_by_id``
who, ``cancel_reason`` why; the states themselves were already allowed.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('home_visit_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_by', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=300), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_home_visit_request_cancelled_by_id_account'), 'account', ['cancelled_by_id'], ['id']
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_home_visit_request_cancelled_by'), "cancelled_by IS NULL OR cancelled_by IN ('citizen', 'clinic')"
        )


def downgrade():
    with op.batch_alter_table('home_visit_request', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_home_visit_request_cancelled_by'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_home_visit_request_cancelled_by_id_account'), type_='foreignkey')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by_id')
        batch_op.drop_column('cancelled_by')
