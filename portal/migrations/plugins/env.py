"""The Alembic environment of every plugin's branch (``portal/plugin_host_data.py`` runs it).

One plugin at a time: its revisions come from its own ``migrations/versions`` folder, its version
table is ``<name>_alembic_version``, and autogenerate compares only its tables (``<name>_...``)
with the database, so the core's tables and other plugins' are never touched.
"""

from alembic import context
from flask import current_app

data = context.config.attributes["plugin_data"]


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        return name.startswith(data.prefix) and name != data.version_table
    return True


def run_migrations_online():
    def skip_empty_autogenerate(migration_context, revision, directives):
        if context.config.attributes.get("autogenerate") and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=data.metadata,
            version_table=data.version_table,
            include_object=include_object,
            render_as_batch=True,
            process_revision_directives=skip_empty_autogenerate,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("plugin branches migrate online only")
run_migrations_online()
