"""``flask --app portal ...`` commands: seed-demo, seed-clinic-day, plugins, verify-audit, seal-audit,
deliver-outbox, generate-slots, expire-offers, send-appointment-reminders, send-reminders,
assign-role, import-record, import-mkb10, new-plugin (``portal.plugin_skeleton``); ``worker`` is in
``portal.tasks`` (``db`` is Flask-Migrate's)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo organisations and patients; running it again adds nothing."""
    from portal.demodata.seed import seed_demo

    added = seed_demo()
    click.echo(", ".join(f"{name}: {count} added" for name, count in added.items()))


@click.command("seed-clinic-day")
@with_appcontext
def seed_clinic_day_command() -> None:
    """Give the demo doctor today's appointments (the demo's clinicians' day) when today has none:
    ``make run`` in demo mode runs it at each start, so the day is always today's."""
    from datetime import UTC, datetime

    from portal.database import write_transaction
    from portal.demodata.clinic_day import seed_clinic_day
    from portal.demodata.seed import _synthetic_patients

    with write_transaction():
        added = seed_clinic_day(datetime.now(UTC), _synthetic_patients())
    click.echo(f"clinic day: {added} added")


@click.command("plugins")
@click.option("--settings", "with_settings", is_flag=True, help="Also list each plugin's settings.")
@with_appcontext
def plugins_command(with_settings: bool) -> None:
    """List plugins: name, version, status, the regions where each is on, and hooks (and, with
    --settings, their settings)."""
    host = current_app.extensions["portal.plugins"]
    rows = host.describe()
    width = max(len(r.name) for r in rows)
    for row in rows:
        hooks = ", ".join(row.hooks) or "-"
        regions = host.regions.where_on(row.name) if row.status != "installed, not enabled" else "-"
        click.echo(f"{row.name:<{width}}  {row.version:<8}  {row.status:<22}  {regions:<12}  {hooks}")
        if with_settings and row.status != "installed, not enabled":
            for line in host.describe_settings(row.name):
                click.echo(f"    {line}")


@click.command("verify-audit")
@with_appcontext
def verify_audit_command() -> None:
    """Check the audit log against its Merkle tree and signed heads: print OK, or name the first
    problem (an edited, deleted or unsealed event, a reordered tree, a forged head) and exit 1."""
    from portal.audit.verify import verify

    verdict = verify()
    click.echo(verdict.describe())
    if not verdict.ok:
        raise SystemExit(1)


@click.command("seal-audit")
@click.option("--follow", is_flag=True, help="keep sealing new events every 0.2 s until interrupted")
@with_appcontext
def seal_audit_command(follow: bool) -> None:
    """Seal the audit events not yet in the Merkle tree and sign the new tree head (the background
    worker runs the same in a thread)."""
    import threading

    from portal.audit import sealer

    if not follow:
        click.echo(f"{sealer.seal_pending()} events sealed")
        return
    stop = threading.Event()
    try:
        sealer.follow(stop)
    except KeyboardInterrupt:
        stop.set()


@click.command("deliver-outbox")
@click.option("--now", is_flag=True, help="try every waiting message at once, without the back-off")
@with_appcontext
def deliver_outbox_command(now: bool) -> None:
    """Send outbox messages that could not go out at once (the worker's ``outbox.deliver`` job
    does it every minute); a failed message is tried again after 1, 2, 4 and 8 minutes."""
    from portal.notify.service import deliver_pending

    click.echo(f"{deliver_pending(limit=500, due_only=not now)} messages sent")


@click.command("send-reminders")
@with_appcontext
def send_reminders_command() -> None:
    """Repeat due reminders and create the ones the record calls for (vaccinations, check-ups,
    prescriptions about to expire). The worker's ``reminders.daily`` job runs it at 09:00; running
    it twice adds nothing."""
    from portal.notify.reminders import run

    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):  # for url_for
        outcome = run()
    click.echo(f"{outcome.repeated} reminders repeated, {outcome.created} created, {outcome.ended} ended")


@click.command("generate-slots")
@click.option(
    "--days", type=click.IntRange(1, 366), default=None, help="how many days ahead (default: SLOT_HORIZON_DAYS)"
)
@with_appcontext
def generate_slots_command(days: int | None) -> None:
    """Make the doctors' slots from their working rules for the coming days (the worker's
    ``appointments.slots`` job does it every six hours); running it twice, even at the same time,
    adds nothing the first did not."""
    from portal.appointments import waitlist
    from portal.appointments.schedule import generate_slots, horizon_days

    added = generate_slots(days)
    click.echo(f"slots: {added} added for {days or horizon_days()} days")
    done = waitlist.run()
    click.echo(f"waiting list: {done.offered} offered")


@click.command("expire-offers")
@with_appcontext
def expire_offers_command() -> None:
    """Pass on the waiting list's offers nobody answered in time and offer the free times to the
    next in line (the worker's ``appointments.waiting_list`` job does it every minute; safe to run
    twice)."""
    from portal.appointments import waitlist

    done = waitlist.run()
    click.echo(f"waiting list: {done.expired} expired, {done.offered} offered")


@click.command("send-appointment-reminders")
@with_appcontext
def send_appointment_reminders_command() -> None:
    """Remind citizens of appointments the day before and two hours before (the worker's
    ``appointments.reminders`` job does it every minute; a reminder of one kind is never sent
    twice for one appointment)."""
    from portal.appointments import reminders

    sent = reminders.run()
    click.echo(f"appointment reminders: {sent} sent")


@click.command("assign-role")
@click.argument("email")
@click.argument("role")
@click.argument("organisation_oid")
@with_appcontext
def assign_role_command(email: str, role: str, organisation_oid: str) -> None:
    """Give a staff ROLE in an organisation to the account with EMAIL (the operator's way to
    appoint the first org admin; after that, admins do it). Audited."""
    from sqlalchemy import select

    from portal.auth.models import Account
    from portal.clinic.service import RoleRefused, assign_role
    from portal.database import db
    from portal.directory.models import Organisation
    from portal.identifiers import normalise_email

    account = db.session.scalar(select(Account).where(Account.email == normalise_email(email)))
    organisation = db.session.scalar(select(Organisation).where(Organisation.oid == organisation_oid))
    if account is None or organisation is None:
        raise click.ClickException("no such account or organisation")
    try:
        assign_role(None, account.id, organisation.id, role)
    except RoleRefused as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(f"{account.email} is now {role} in {organisation.name}")


@click.command("import-record")
@click.argument("bundle", type=click.File("rb"))
@click.option("--author", required=True, help="E-mail of the doctor who signs the entries (treating the patient).")
@with_appcontext
def import_record_command(bundle, author: str) -> None:
    """Write the results and prescriptions of a FHIR R4 BUNDLE (a Patient with SNILS;
    DiagnosticReports with their Observations in LOINC and UCUM; MedicationRequests) into the
    patient's card; the patient and their guardian are told. Nothing is written when any part of
    the Bundle is wrong."""
    import json

    from sqlalchemy import select

    from portal.access import policy
    from portal.access.policy import AccessDenied
    from portal.auth.models import Account
    from portal.database import db
    from portal.identifiers import normalise_email
    from portal.record.fhir_intake import BundleRefused, take
    from portal.record.intake import AlreadyInCard, NotAPractitioner

    account = db.session.scalar(select(Account).where(Account.email == normalise_email(author)))
    if account is None:
        raise click.ClickException(f"no account {author}")
    try:
        data = json.load(bundle)
    except ValueError as exc:
        raise click.ClickException(f"not JSON: {exc}") from exc
    try:
        with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):  # for url_for
            taken = take(account, data)
    except (BundleRefused, AlreadyInCard) as refused:
        raise click.ClickException(f"{refused}; nothing is written") from refused
    except AccessDenied as denied:
        policy.record_denial(denied)  # a refused write is audited, as on the web
        raise click.ClickException(f"{author} may not write to this card: {denied}") from denied
    except NotAPractitioner as missing:
        raise click.ClickException(f"{author} has no practitioner record") from missing
    reports, prescriptions = len(taken.reports), len(taken.prescriptions)
    click.echo(
        f"written: {reports} report{'' if reports == 1 else 's'}, "
        f"{prescriptions} prescription{'' if prescriptions == 1 else 's'}"
    )


@click.command("import-mkb10")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The НСИ ICD-10 export (CSV, or CSV.gz); by default the copy shipped with the portal.",
)
@with_appcontext
def import_mkb10_command(path: Path | None) -> None:
    """Load the ICD-10 reference book (МКБ-10, 1.2.643.5.1.13.13.11.1005) into the database, or
    bring it up to date: adds, changes and removes what differs, in one transaction; running it
    again with the same file changes nothing. A bad file changes nothing and says why."""
    from time import perf_counter

    from portal.mkb10.importer import BookError, load, load_file

    started = perf_counter()
    try:
        outcome = load() if path is None else load_file(path)
    except BookError as bad:
        raise click.ClickException(f"{path or 'the shipped book'}: {bad}; nothing is changed") from bad
    click.echo(f"{outcome.describe()} ({perf_counter() - started:.1f} s)")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(seed_clinic_day_command)
    app.cli.add_command(plugins_command)
    app.cli.add_command(verify_audit_command)
    app.cli.add_command(seal_audit_command)
    app.cli.add_command(deliver_outbox_command)
    app.cli.add_command(assign_role_command)
    app.cli.add_command(send_reminders_command)
    app.cli.add_command(generate_slots_command)
    app.cli.add_command(expire_offers_command)
    app.cli.add_command(send_appointment_reminders_command)
    app.cli.add_command(import_record_command)
    app.cli.add_command(import_mkb10_command)

    from portal.plugin_skeleton import new_plugin_command

    app.cli.add_command(new_plugin_command)

    from portal import tasks

    tasks.init_app(app)  # flask worker
