"""A vaccination the citizen had elsewhere: added with a scanned certificate, shown «не
подтверждено» until a clinician treating the patient confirms it.

Who adds: the patient, a guardian, a trusted person with the "add" level on vaccinations. Who
confirms: a doctor with a care relationship (the policy's "write" on vaccinations), as the
practitioner linked to their account. Both are audited; the citizen is told of the confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import clock, uploads
from portal.access import card
from portal.auth.forms import parse_date
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.documents import service as documents
from portal.forms import ValidChoice, choices
from portal.notify import inbox
from portal.record import calendar
from portal.record.models import Immunization, Practitioner
from portal.record.service import open_section
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("vaccinations", __name__, template_folder="templates")

OTHER = "other"
SECTION = "vaccinations"


def target_choices() -> list:
    locale = str(get_locale() or "ru")
    return choices(
        [("", _("Choose the disease"))]
        + [(code, calendar.target_name(code, locale)) for code in calendar.TARGETS]
        + [(OTHER, _("Another disease"))]
    )


class VaccinationForm(FlaskForm):
    vaccine = StringField(
        _l("Vaccine"),
        validators=[
            InputRequired(_l("Enter the vaccine's name")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    target = SelectField(
        _l("Against which disease"),
        validators=[InputRequired(_l("Choose the disease")), ValidChoice(_l("Choose the disease"))],
        validate_choice=False,
    )
    given_on = StringField(_l("Date of the vaccination"), validators=[InputRequired(_l("Enter the date"))])
    dose_number = StringField(_l("Dose number"), validators=[InputRequired(_l("Enter the dose number"))])
    series = StringField(
        _l("Series (lot) of the vaccine (optional)"),
        validators=[Optional(), Length(max=64, message=_l("Enter at most 64 characters"))],
    )
    place = StringField(
        _l("Where it was done"),
        validators=[
            InputRequired(_l("Enter where the vaccination was done")),
            Length(max=300, message=_l("Enter at most 300 characters")),
        ],
    )
    reactions = TextAreaField(
        _l("Reactions (optional)"),
        validators=[Optional(), Length(max=2000, message=_l("Enter at most 2000 characters"))],
    )
    certificate = FileField(_l("Scan or photo of the certificate"))

    def __init__(self, *args, birth_date: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.birth_date = birth_date
        self.target.choices = target_choices()

    def validate_dose_number(self, field) -> None:
        text = field.data.strip()
        if not text.isdigit() or not 1 <= int(text) <= 20:
            raise ValidationError(_l("Enter the dose number as a whole number from 1 to 20, for example 2"))

    def validate_given_on(self, field) -> None:
        given = parse_date(field.data)
        if given is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 15.03.2025"))
        if given > clock.today():
            raise ValidationError(_l("The date must not be in the future"))
        if given < self.birth_date:
            raise ValidationError(_l("The date must not be before the date of birth"))


@dataclass(frozen=True)
class NewVaccination:
    vaccine: str
    target: str
    given_on: date
    dose_number: int
    series: str | None
    place: str
    reactions: str | None


def add(account: Account, patient_id: int, new: NewVaccination, certificate: uploads.CheckedFile) -> Immunization:
    """Add an unconfirmed vaccination with its certificate (a Document of the card)."""
    with documents.files_kept_on_commit() as stored, write_transaction():
        documents.require_citizen_add(account, patient_id, SECTION)
        document = documents.store_document(
            account, patient_id, new.vaccine, new.given_on, "vaccination_certificate", certificate
        )
        stored.append(document.storage_key)
        entry = Immunization(
            patient_id=patient_id,
            vaccine=new.vaccine,
            target=new.target,
            given_on=new.given_on,
            dose_number=new.dose_number,
            series=new.series or None,
            place=new.place,
            reactions=new.reactions or None,
            confirmed=False,
            added_by_id=account.id,
            document_id=document.id,
        )
        db.session.add(entry)
        db.session.flush()
        open_section(account, patient_id, SECTION, "add", "immunization", entry.id)
        return entry


def confirm(account: Account, patient_id: int, entry_id: int) -> Immunization:
    """A clinician confirms a citizen's entry; LookupError when there is no such unconfirmed
    entry or the clinician has no practitioner record. Confirming twice changes nothing."""
    with write_transaction():
        open_section(account, patient_id, SECTION, "write", "immunization", entry_id)
        entry = db.session.scalar(
            select(Immunization).where(Immunization.id == entry_id, Immunization.patient_id == patient_id)
        )
        practitioner = db.session.scalar(select(Practitioner).where(Practitioner.account_id == account.id))
        if entry is None or practitioner is None:
            raise LookupError(entry_id)
        if entry.confirmed:
            return entry
        moment = datetime.now(UTC)
        entry.confirmed, entry.confirmed_at, entry.confirmed_by_id = True, moment, practitioner.id
        entry.updated_at = moment
        _tell(entry)
        return entry


def _tell(entry: Immunization) -> None:
    """The person who added the entry, and the patient when they have an account of their own."""
    recipients = {entry.added_by_id} if entry.added_by_id else set()
    recipients |= set(db.session.scalars(select(Account.id).where(Account.patient_id == entry.patient_id)))
    notes = {}
    for locale in ("ru", "en"):
        with force_locale(locale):
            notes[locale] = _(
                "The vaccination «%(vaccine)s» of %(date)s is confirmed by a clinician.",
                vaccine=entry.vaccine,
                date=entry.given_on.strftime("%d.%m.%Y"),
            )
    url = url_for("record.entry", patient_id=entry.patient_id, section=SECTION, entry_id=entry.id)
    for account_id in sorted(recipients):
        inbox.post(
            account_id,
            "request_status",
            patient_id=entry.patient_id,
            params={"number": entry.id, "status": "accepted", "note": notes["ru"], "note_en": notes["en"]},
            url=url,
        )


# -- views ----------------------------------------------------------------------------------------


@bp.route("/card/<int:patient_id>/vaccinations/add", methods=["GET", "POST"])
@card
def add_vaccination(patient_id: int):
    view = documents.open_form(g.account, patient_id, SECTION)
    form = VaccinationForm(birth_date=view.patient.birth_date)
    if request.method == "POST":
        valid = form.validate_on_submit()
        checked = None
        try:
            checked = uploads.check(form.certificate.data)
        except uploads.UploadError as error:
            form.certificate.errors = [str(error)]
        if valid and checked is not None:
            entry = add(
                g.account,
                patient_id,
                NewVaccination(
                    vaccine=form.vaccine.data.strip(),
                    target=form.target.data,
                    given_on=parse_date(form.given_on.data),
                    dose_number=int(form.dose_number.data.strip()),
                    series=(form.series.data or "").strip(),
                    place=form.place.data.strip(),
                    reactions=(form.reactions.data or "").strip(),
                ),
                checked,
            )
            return redirect(
                url_for("record.entry", patient_id=patient_id, section=SECTION, entry_id=entry.id, added=1), code=303
            )
    failing = any(field.errors for field in form)
    return render("vaccinations/add.html", form=form, view=view, status=400 if failing else 200)


@bp.post("/card/<int:patient_id>/vaccinations/<int:entry_id>/confirm")
@card
def confirm_vaccination(patient_id: int, entry_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        confirm(g.account, patient_id, entry_id)
    except LookupError:
        abort(404)
    return redirect(
        url_for("record.entry", patient_id=patient_id, section=SECTION, entry_id=entry_id, confirmed=1), code=303
    )
