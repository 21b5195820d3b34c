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
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import clock, uploads
from portal.access import card, policy
from portal.access.service import card_holders
from portal.auth.forms import parse_date
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.documents import service as documents
from portal.forms import ValidChoice, choices
from portal.notify import inbox
from portal.record import calendar
from portal.record.models import Immunization, Patient, Practitioner
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
    with write_transaction():
        documents.require_citizen_add(account, patient_id, SECTION)
        documents.lock_uploads(account)
        documents.check_quota(account)
        # The certificate's file is written after its row is flushed and removed on a rollback.
        document = documents.store_document(
            account, patient_id, new.vaccine, new.given_on, "vaccination_certificate", certificate
        )
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
    """The card's current holders (the patient, a child's guardian), and the person who added the
    entry while they may still read the card's vaccinations (a trusted person whose grant has
    ended is not told). The notice names the vaccination: it answers no numbered request."""
    recipients = set(card_holders(entry.patient_id))
    adder = db.session.get(Account, entry.added_by_id) if entry.added_by_id else None
    if adder is not None and policy.decide(adder, "read", db.session.get(Patient, entry.patient_id), SECTION).allowed:
        recipients.add(adder.id)
    params = {
        "kind": "vaccination",
        "status": "accepted",
        "vaccine": entry.vaccine,
        "given_on": entry.given_on.isoformat(),
    }
    url = url_for("record.entry", patient_id=entry.patient_id, section=SECTION, entry_id=entry.id)
    for account_id in sorted(recipients):
        inbox.post(account_id, "request_status", patient_id=entry.patient_id, params=params, url=url)


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
            documents.check_quota(g.account)  # before the file is decoded
            checked = uploads.check(form.certificate.data)
        except uploads.UploadError as error:
            form.certificate.errors = [str(error)]
        if valid and checked is not None:
            try:
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
            except documents.QuotaExceeded as error:  # another upload got in first
                form.certificate.errors = [str(error)]
            else:
                return redirect(
                    url_for("record.entry", patient_id=patient_id, section=SECTION, entry_id=entry.id, added=1),
                    code=303,
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
