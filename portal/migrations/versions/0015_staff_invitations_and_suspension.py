"""staff invitations; suspension of a membership; one current row per role

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-14 09:00:00

The organisation admin invites staff by e-mail (``staff_invitation``: a hash of the single-use
link's token, the roles, an expiry, pending / accepted / revoked / replaced). A role removed and
given again is a new ``staff_membership`` row, so the unique constraint on (account,
organisation, role) becomes a unique index over the current rows (``ended_at IS NULL``).
``suspended_at`` marks the rows a suspension ended, which reactivation reopens.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None

CURRENT = sa.text("ended_at IS NULL")
PENDING = sa.text("status = 'pending'")


def _name(length):
    return sa.String(length=length).with_variant(sa.String(length=length, collation='ru-x-icu'), 'postgresql')


def upgrade():
    op.create_table('staff_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('surname', _name(100), nullable=False),
    sa.Column('name', _name(100), nullable=False),
    sa.Column('patronymic', _name(100), nullable=True),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'revoked', 'replaced')", name=op.f('ck_staff_invitation_status')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_staff_invitation_account_id_account')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['account.id'], name=op.f('fk_staff_invitation_closed_by_id_account')),
    sa.ForeignKeyConstraint(['invited_by_id'], ['account.id'], name=op.f('fk_staff_invitation_invited_by_id_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_staff_invitation_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_invitation_token_hash'))
    )
    with op.batch_alter_table('staff_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_staff_invitation_organisation', ['organisation_id', 'status'], unique=False)
        batch_op.create_index('uq_staff_invitation_pending', ['organisation_id', 'email'], unique=True, sqlite_where=PENDING, postgresql_where=PENDING)

    with op.batch_alter_table('staff_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint('uq_staff_membership_role', type_='unique')
        batch_op.create_index('uq_staff_membership_current_role', ['account_id', 'organisation_id', 'role'], unique=True, sqlite_where=CURRENT, postgresql_where=CURRENT)


def downgrade():
    with op.batch_alter_table('staff_membership', schema=None) as batch_op:
        batch_op.drop_index('uq_staff_membership_current_role', sqlite_where=CURRENT, postgresql_where=CURRENT)
        batch_op.create_unique_constraint('uq_staff_membership_role', ['account_id', 'organisation_id', 'role'])
        batch_op.drop_column('suspended_at')

    with op.batch_alter_table('staff_invitation', schema=None) as batch_op:
        batch_op.drop_index('uq_staff_invitation_pending', sqlite_where=PENDING, postgresql_where=PENDING)
        batch_op.drop_index('ix_staff_invitation_organisation')

    op.drop_table('staff_invitation')
