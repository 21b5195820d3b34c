"""the accountant's report: a service's department and voluntary insurer, and an index by
organisation, payer and day

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 08:00:00

A service rendered is counted in the department that rendered it on that day (the doctor may move
later), so the department is kept on the service; services recorded before take their doctor's
department now. ``insurer`` names the voluntary insurer (ВМИ, «ДМС») who pays a service with
paid_by 'vmi'. The report reads an organisation's paid services of a period: the index
(organisation_id, paid_by, provided_on) finds them without reading its OMS services.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('insurer', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_service_record_department_id_department'), 'department', ['department_id'], ['id']
        )
        batch_op.create_index('ix_service_organisation_payer_date', ['organisation_id', 'paid_by', 'provided_on'], unique=False)
    op.execute(
        "UPDATE service_record SET department_id = "
        "(SELECT practitioner.department_id FROM practitioner WHERE practitioner.id = service_record.practitioner_id) "
        "WHERE practitioner_id IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('service_record', schema=None) as batch_op:
        batch_op.drop_index('ix_service_organisation_payer_date')
        batch_op.drop_constraint(batch_op.f('fk_service_record_department_id_department'), type_='foreignkey')
        batch_op.drop_column('insurer')
        batch_op.drop_column('department_id')
