"""sign-in providers: an account's identity at an OpenID Connect provider or ESIA

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07 21:10:00

``identity_link`` ties a provider's subject (its stable identifier of a person) to one account:
that subject signs in to that account (portal/auth/identity.py). A subject belongs to one account
and an account has at most one identity per provider.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0017'  # the head when this was written (0014 → 0018 → 0017); relink at merge
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('identity_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_identity_link_account_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_link')),
    sa.UniqueConstraint('account_id', 'provider', name='uq_identity_link_account_provider'),
    sa.UniqueConstraint('provider', 'subject', name='uq_identity_link_subject'),
    )


def downgrade():
    op.drop_table('identity_link')
