"""tags: labels on a note (the plugin's second version)

Revision ID: notes02
Revises: notes01
Create Date: 2026-12-07 21:05:00
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "notes02"
down_revision = "notes01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notes_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["note_id"], ["notes_note.id"], name=op.f("fk_notes_tag_note_id_notes_note")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes_tag")),
    )
    with op.batch_alter_table("notes_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notes_tag_note_id"), ["note_id"], unique=False)


def downgrade():
    op.drop_table("notes_tag")
