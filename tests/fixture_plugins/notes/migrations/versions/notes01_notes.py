"""notes: one row per note, by its author if an account wrote it

Revision ID: notes01
Revises:
Create Date: 2026-12-07 21:00:53
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "notes01"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notes_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["account.id"], name=op.f("fk_notes_note_author_id_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes_note")),
    )
    with op.batch_alter_table("notes_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notes_note_author_id"), ["author_id"], unique=False)


def downgrade():
    op.drop_table("notes_note")
