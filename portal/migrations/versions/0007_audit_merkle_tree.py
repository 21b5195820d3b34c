"""the audit log without a global lock: events are only inserted; a sealer appends them to a
Merkle tree (leaves, perfect-subtree nodes) and signs tree heads

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 10:00:00

The hash chain (audit_event.seq, prev_hash, hash and the one-row audit_head every writer
locked) goes. Events already in the log are sealed, in id order, by the sealer's first run.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TREE_TABLES = ("audit_leaf", "audit_node", "audit_tree_head")


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        # SQLite rebuilds the table to drop columns, and its triggers with it: made again below.
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_actor_seq')
        batch_op.drop_index('ix_audit_event_patient_seq')
        batch_op.drop_constraint('uq_audit_event_seq', type_='unique')
        batch_op.drop_column('seq')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('hash')
        batch_op.create_index('ix_audit_event_actor_id_id', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_patient_id_id', ['patient_id', 'id'], unique=False)
    op.drop_table('audit_head')

    op.create_table('audit_leaf',
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_audit_leaf')),
    sa.UniqueConstraint('event_id', name=op.f('uq_audit_leaf_event_id'))
    )
    op.create_table('audit_node',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('position', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'position', name=op.f('pk_audit_node'))
    )
    op.create_table('audit_tree_head',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_audit_tree_head'))
    )
    with op.batch_alter_table('audit_tree_head', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_tree_head_signed_at'), ['signed_at'], unique=False)

    append_only(postgres)


def append_only(postgres: bool) -> None:
    """The database refuses to change or remove events, leaves, nodes and tree heads (SECURITY.md
    check 62); on PostgreSQL audit_event keeps the triggers 0002 gave it."""
    if postgres:
        op.execute("""
            CREATE FUNCTION audit_tree_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$
        """)
        for table in TREE_TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only()
            """)
            op.execute(f"""
                CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only()
            """)
        return
    for table in ("audit_event", *TREE_TABLES):
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
            """)


def downgrade():
    """Back to the hash chain: the events get their seq in id order and the chain is computed
    again (the tree and its signed heads are dropped)."""
    import hashlib
    import json
    from datetime import UTC, datetime

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for table in TREE_TABLES:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.drop_table(table)
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS audit_tree_append_only()")
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_patient_id_id')
        batch_op.drop_index('ix_audit_event_actor_id_id')
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    fields = ("seq", "created_at", "actor_id", "actor_role", "on_behalf_of_id", "organisation_id", "patient_id",
              "action", "section", "object_type", "object_id", "outcome", "ip", "reason")
    event = sa.table("audit_event", sa.column("id"), *(sa.column(f) for f in fields if f != "seq"),
                     sa.column("seq"), sa.column("prev_hash"), sa.column("hash"))
    prev, seq = "0" * 64, 0
    for row in bind.execute(sa.select(event).order_by(event.c.id)).mappings().all():
        seq += 1
        values = {}
        for name in fields:
            value = seq if name == "seq" else row[name]
            if isinstance(value, str) and name == "created_at":
                value = datetime.fromisoformat(value)
            if isinstance(value, datetime):
                value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
                value = value.replace(tzinfo=None).isoformat(timespec="microseconds")
            values[name] = value
        body = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        digest = hashlib.sha256(prev.encode() + b"\x00" + body).hexdigest()
        bind.execute(sa.update(event).where(event.c.id == row["id"]).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('seq', nullable=False)
        batch_op.alter_column('prev_hash', nullable=False)
        batch_op.alter_column('hash', nullable=False)
        batch_op.create_unique_constraint('uq_audit_event_seq', ['seq'])
        batch_op.create_index('ix_audit_event_actor_seq', ['actor_id', 'seq'], unique=False)
        batch_op.create_index('ix_audit_event_patient_seq', ['patient_id', 'seq'], unique=False)
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)").bindparams(seq=seq, hash=prev))
    if postgres:
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER USER")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event
                BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END
            """)
