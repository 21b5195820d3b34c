from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp, ValidationError

from portal.auth.forms import NAME, RegistrationForm
from portal.auth.models import STAFF_ROLES
from portal.forms import ValidChoice, choices
from portal.sharing.forms import MultiCheckboxField


def role_choices(labels: dict, keys=STAFF_ROLES) -> list:
    return choices([(role, labels[role]) for role in STAFF_ROLES if role in keys])


class InviteForm(FlaskForm):
    surname = StringField(_l("Surname"), validators=[InputRequired(_l("Enter the person's surname")), NAME])
    name = StringField(_l("First name"), validators=[InputRequired(_l("Enter the person's first name")), NAME])
    patronymic = StringField(_l("Patronymic (if they have one)"), validators=[Optional(), NAME])
    email = EmailField(
        _l("E-mail"),
        validators=[
            InputRequired(_l("Enter the person's e-mail")),
            Email(_l("Enter an e-mail like name@example.ru")),
            Length(max=254, message=_l("Enter at most 254 characters")),
        ],
    )
    roles = MultiCheckboxField(_l("Roles"), validate_choice=False)

    def validate_roles(self, field) -> None:
        wanted = field.data or []
        if not wanted:
            raise ValidationError(_l("Choose at least one role"))
        if any(role not in STAFF_ROLES for role in wanted):
            raise ValidationError(_l("Choose roles from the list"))
        if "auditor" in wanted and len(wanted) > 1:
            raise ValidationError(_l("An auditor holds no other role in the organisation: choose the auditor alone"))


class RoleForm(FlaskForm):
    role = SelectField(
        _l("Role to give"),
        validators=[InputRequired(_l("Choose a role")), ValidChoice(_l("Choose a role"))],
        validate_choice=False,
    )


class StaffAccountForm(RegistrationForm):
    """The invitee's own details for a new account: the name and the e-mail come from the
    invitation (the link proved the e-mail), so they are not asked again."""

    surname = name = patronymic = email = None
    invited_names: tuple[str, ...] = ()
    invited_email = ""

    def policy_names(self) -> tuple[str, ...]:
        return self.invited_names

    def policy_email(self) -> str:
        return self.invited_email


class DirectoryEntryForm(FlaskForm):
    """A clinician's entry in the directory: the specialty (for a doctor, from the nomenclature),
    the position and the number in the federal register of medical workers (ФРМР)."""

    specialty_code = SelectField(
        _l("Specialty"),
        validators=[InputRequired(_l("Choose the specialty")), ValidChoice(_l("Choose the specialty"))],
        validate_choice=False,
    )
    position = StringField(
        _l("Position"),
        validators=[
            InputRequired(_l("Enter the position, for example «врач-терапевт участковый»")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    registration_number = StringField(
        _l("Number in the register of medical workers"),
        validators=[
            InputRequired(_l("Enter the number in the register of medical workers")),
            Regexp(
                r"^[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё\-/ ]{2,31}$",
                message=_l("Enter 3 to 32 letters and digits, for example 77-1234567"),
            ),
        ],
    )
    department = SelectField(
        _l("Department (if any)"),
        default="",
        validators=[ValidChoice(_l("Choose a department from the list"))],
        validate_choice=False,
    )
