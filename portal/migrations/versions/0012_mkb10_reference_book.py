"""the ICD-10 reference book: mkb10_code, and mkb10_word for search

Revision ID: 0012
Revises: 0016
Create Date: 2026-12-07 14:08:47

The tables only; `flask import-mkb10` fills them (`make db` and seed-demo run it). The search
keys (code, word) sort by code point on both databases: SQLite's BINARY collation, COLLATE "C" on
PostgreSQL, so a prefix is an index range. mkb10_word carries what ranking needs (title_start,
usable, sort_key) and has no rowid on SQLite: its primary key (word, code_id) is the table. The parent link is checked at commit, so a refresh of
the book writes rows in any order.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mkb10_code',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('code', sa.String(length=16).with_variant(sa.String(length=16, collation='C'), 'postgresql'), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('leaf', sa.Boolean(), nullable=False),
    sa.Column('actual', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('chapter', 'block', 'category', 'subcategory')", name=op.f('ck_mkb10_code_kind')),
    sa.ForeignKeyConstraint(['parent_id'], ['mkb10_code.id'], name=op.f('fk_mkb10_code_parent_id_mkb10_code'), initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mkb10_code')),
    sa.UniqueConstraint('code', name=op.f('uq_mkb10_code_code'))
    )
    with op.batch_alter_table('mkb10_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mkb10_code_parent_id'), ['parent_id'], unique=False)

    op.create_table('mkb10_word',
    sa.Column('word', sa.String(length=32).with_variant(sa.String(length=32, collation='C'), 'postgresql'), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('title_start', sa.Boolean(), nullable=False),
    sa.Column('usable', sa.Boolean(), nullable=False),
    sa.Column('sort_key', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['mkb10_code.id'], name=op.f('fk_mkb10_word_code_id_mkb10_code'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('word', 'code_id', name=op.f('pk_mkb10_word')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('mkb10_word', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mkb10_word_code_id'), ['code_id'], unique=False)


def downgrade():
    with op.batch_alter_table('mkb10_word', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mkb10_word_code_id'))

    op.drop_table('mkb10_word')
    with op.batch_alter_table('mkb10_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mkb10_code_parent_id'))

    op.drop_table('mkb10_code')
