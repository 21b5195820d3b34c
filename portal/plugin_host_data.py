"""Plugins' own tables: checked at start-up, migrated after the core, each on its own branch.

Every enabled plugin that implements ``plugin_data`` gets its tables checked when the app is built
(named ``<name>_...``, foreign keys only to its own tables, ``patient.id`` and ``account.id``) and
its Alembic branch run by ``flask --app portal db upgrade`` after the core's. Each branch has a
version table of its own, ``<name>_alembic_version``, beside the core's ``alembic_version``: the
core's history never mentions a plugin's revision, so disabling a plugin leaves nothing the
core's upgrade cannot find, the plugin's tables and rows stay as they are, and enabling it again
continues its branch from where it stopped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal.database import db
from portal.plugin_api.data import PluginData
from portal.plugins import PluginError

ENVIRONMENT = Path(__file__).resolve().parent / "migrations" / "plugins"
EXTENSION = "portal.plugin_data"


@dataclass(frozen=True)
class BranchStatus:
    plugin: str
    name: str
    current: str | None
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def expected_name(plugin: str) -> str:
    """The table prefix a plugin must declare: its name, or the last part of a test plugin's
    import path (``tests.fixture_plugins.notes`` → ``notes``)."""
    return plugin.partition(":")[0].rsplit(".", 1)[-1]


def check_plugins(app: Flask, declared: list[tuple[str, object]]) -> dict[str, PluginData]:
    """Check what each plugin's ``plugin_data`` returned; keep it in ``app.extensions``."""
    from portal import models  # noqa: F401  (the core's tables, to refuse a prefix that owns one)

    found: dict[str, PluginData] = {}
    for plugin, data in declared:
        if not isinstance(data, PluginData):
            raise PluginError(f"plugin {plugin!r}: plugin_data must return a plugin_api.PluginData")
        if data.name in {other.name for other in found.values()}:
            raise PluginError(f"plugin {plugin!r}: another enabled plugin already keeps tables as {data.name!r}")
        if data.name != expected_name(plugin):
            raise PluginError(f"plugin {plugin!r} names its data {data.name!r}, not {expected_name(plugin)!r}")
        if taken := [name for name in db.metadata.tables if name.startswith(data.prefix)]:
            raise PluginError(f"plugin {plugin!r}: the core's table {taken[0]!r} already uses {data.prefix}")
        for table in data.metadata.tables.values():  # not sorted_tables: it resolves every key
            check_table(plugin, data, table)
        found[plugin] = data
    app.extensions[EXTENSION] = found
    return found


def check_table(plugin: str, data: PluginData, table: sa.Table) -> None:
    if not table.name.startswith(data.prefix) or table.name == data.version_table:
        raise PluginError(f"plugin {plugin!r} declares table {table.name!r}: its tables must be named {data.prefix}...")
    from portal.auth.models import Account
    from portal.record.models import Patient

    stable = (Patient.__table__.c.id, Account.__table__.c.id)
    for key in table.foreign_keys:
        try:
            target = key.column
        except sa.exc.NoReferencedTableError:
            target = None
        own = target is not None and target.table.metadata is data.metadata
        if not own and not any(target is column for column in stable):
            raise PluginError(
                f"plugin {plugin!r}: table {table.name!r} refers to {key.target_fullname}; a plugin's tables "
                "may refer only to its own tables and, with patient_key() and account_key(), to patient.id "
                "and account.id"
            )


def plugin_data(app: Flask) -> dict[str, PluginData]:
    """The enabled plugins that keep tables, by plugin name."""
    return app.extensions.get(EXTENSION, {})


def alembic_config(data: PluginData) -> Config:
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("version_locations", str(data.versions))
    config.attributes["plugin_data"] = data
    return config


def branch_status(plugin: str, data: PluginData) -> BranchStatus:
    head = ScriptDirectory.from_config(alembic_config(data)).get_current_head()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": data.version_table})
        current = context.get_current_revision()
    return BranchStatus(plugin, data.name, current, head)


def migrate_plugins(app: Flask, targets: dict[str, str] | None = None) -> list[tuple[BranchStatus, BranchStatus]]:
    """Upgrade every enabled plugin's branch to its head (or to ``targets[plugin]``), in the order
    they were enabled, after the core is migrated; return each branch's status before and after."""
    with app.app_context():
        return [
            migrate_branch(plugin, data, (targets or {}).get(plugin, "heads"))
            for plugin, data in plugin_data(app).items()
        ]


def migrate_branch(plugin: str, data: PluginData, target: str = "heads") -> tuple[BranchStatus, BranchStatus]:
    """Upgrade one plugin's branch, in a transaction of its own: a failing revision is rolled back
    and raised with the plugin named (the branches migrated before it stay migrated)."""
    before = branch_status(plugin, data)
    try:
        command.upgrade(alembic_config(data), target)
    except Exception as exc:
        raise PluginError(f"plugin {plugin!r}: its migration failed: {exc!r}") from exc
    return before, branch_status(plugin, data)


def kept_branches() -> list[str]:
    """Names of branches whose version table is in the database but whose plugin is not enabled."""
    enabled = {data.version_table for data in plugin_data(current_app).values()}
    tables = sa.inspect(db.engine).get_table_names()
    return sorted(
        t.removesuffix("_alembic_version") for t in tables if t.endswith("_alembic_version") and t not in enabled
    )


def core_objects(connection: sa.Connection):
    """The core's autogenerate filter: a table of a plugin branch (one whose version table
    ``<name>_alembic_version`` is in the database, enabled or not) is not the core's to drop.
    The database is read at the first call, inside Alembic's transaction: read before it, the
    connection would be in a transaction Alembic then leaves uncommitted."""
    prefixes: list[tuple[str, ...]] = []

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if not (type_ == "table" and reflected and compare_to is None):
            return True
        if not prefixes:
            tables = sa.inspect(connection).get_table_names()
            prefixes.append(tuple(t.removesuffix("alembic_version") for t in tables if t.endswith("_alembic_version")))
        return not name.startswith(prefixes[0])

    return include_object


def describe(status: BranchStatus) -> str:
    state = "up to date" if status.up_to_date else f"behind (head {status.head})"
    return f"{status.plugin}: {status.current or 'no tables yet'}, {state}"


# -- commands: `flask --app portal db upgrade` runs the plugins' branches after the core's ------


def init_cli(app: Flask) -> None:
    """Replace Flask-Migrate's ``db`` group in this app by a copy whose ``upgrade`` migrates the
    enabled plugins after the core, with ``plugin-status`` and ``plugin-revision`` beside it."""
    core = app.cli.commands["db"]
    group = copy.copy(core)
    group.commands = dict(core.commands)
    group.add_command(upgrade_command(core.commands["upgrade"]))
    group.add_command(plugin_status_command)
    group.add_command(plugin_revision_command)
    app.cli.add_command(group)


def upgrade_command(core_upgrade: click.Command) -> click.Command:
    @click.pass_context
    def upgrade(ctx: click.Context, **options) -> None:
        ctx.invoke(core_upgrade, **options)
        if options["sql"] or options["revision"] not in ("head", "heads"):
            # On stderr: with --sql, stdout is the script.
            click.echo("plugins: not migrated (only a full online upgrade of the core migrates them)", err=True)
            return
        for plugin, data in plugin_data(current_app).items():
            try:
                before, after = migrate_branch(plugin, data)
            except PluginError as exc:
                raise click.ClickException(str(exc)) from exc
            if before.current == after.current:
                click.echo(describe(after))
            else:
                click.echo(f"{plugin}: upgraded from {before.current or 'nothing'} to {after.current}")

    return click.Command(
        "upgrade",
        callback=with_appcontext(upgrade),
        params=core_upgrade.params,
        help="Upgrade the core to a later version, then every enabled plugin's branch to its head.",
    )


@click.command("plugin-status")
@with_appcontext
def plugin_status_command() -> None:
    """Show each enabled plugin's migration branch, and the kept tables of plugins not enabled."""
    enabled = plugin_data(current_app)
    for plugin, data in enabled.items():
        click.echo(describe(branch_status(plugin, data)))
    kept = kept_branches()
    for name in kept:
        click.echo(f"{name}: not enabled, its tables are kept")
    if not enabled and not kept:
        click.echo("no plugin keeps tables in this database")


@click.command("plugin-revision")
@click.argument("plugin")  # its name as enabled, or the name of its PluginData
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--autogenerate", is_flag=True, help="Compare the plugin's models with the database.")
@click.option("--rev-id", default=None, help="The revision id (default: a random one).")
@with_appcontext
def plugin_revision_command(plugin: str, message: str, autogenerate: bool, rev_id: str | None) -> None:
    """Write a new revision on an enabled plugin's branch, in its migrations/versions folder."""
    found = plugin_data(current_app)
    data = found.get(plugin) or next((d for d in found.values() if d.name == plugin), None)
    if data is None:
        raise click.UsageError(f"{plugin!r} is not an enabled plugin with tables (plugin_data)")
    data.versions.mkdir(parents=True, exist_ok=True)
    config = alembic_config(data)
    config.attributes["autogenerate"] = autogenerate
    if not command.revision(config, message, autogenerate=autogenerate, rev_id=rev_id):
        click.echo(f"{plugin}: its tables match the database, no revision written")
