"""``portal.forms.control`` writes a form control exactly as WTForms would, only quicker: every
form in the portal renders its inputs and selects through it (components/forms.html)."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from portal.forms import choices, control


class Sample(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Имя", validators=[DataRequired(), Length(max=40)], render_kw={"spellcheck": "false"})
    born = DateField("Дата", validators=[Optional()])
    count = IntegerField("Сколько", validators=[Optional()])
    email = EmailField("Почта")
    phone = TelField("Телефон", validators=[DataRequired()])
    secret = PasswordField("Пароль")
    note = TextAreaField("Примечание")
    kind = SelectField("Вид", choices=choices([("", "Все"), ("lab", "Анализы <и> «исследования»"), ("x", 'a"b')]))
    number = SelectField("Номер", coerce=int, choices=choices([(1, "один"), (2, "два")]), validators=[Optional()])


ATTRS = [
    {},
    {"class_": "input input-error", "aria_describedby": "x-hint x-error", "aria_invalid": "true", "required": True},
    {"autocomplete": False, "inputmode": "numeric", "type": False, "data_test": 'q"<'},
    {"value": "given <value>"},
]


@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize(
    "data", [{}, {"name": "O'Brien <b>&\"", "kind": "lab", "number": "2", "count": "x", "note": "a<b"}]
)
def test_control_writes_what_wtforms_writes(app, attrs, data):
    from werkzeug.datastructures import MultiDict

    with app.test_request_context("/", method="POST", data=MultiDict(data)):
        form = Sample()
        form.validate()
        for field in form:
            kwargs = {k: v for k, v in attrs.items() if not (k == "type" and field.type.endswith("SelectField"))}
            assert str(control(field, **kwargs)) == str(field(**kwargs)), field.name


@pytest.mark.parametrize(
    "attrs",
    [
        {"b": True, "a": False, "data_x_y": "1", "aria_label": "«метка»", "class_": "c"},
        {"value": '<script>"x"</script>', "title": "a&b"},
    ],
)
def test_attributes_are_written_as_wtforms_writes_them(attrs):
    from markupsafe import Markup
    from wtforms.widgets import html_params as wtforms_params

    from portal.forms import html_params

    assert html_params(**attrs) == str(wtforms_params(**attrs))
    assert html_params(value=Markup('say "hi"')) == str(wtforms_params(value=Markup('say "hi"')))
