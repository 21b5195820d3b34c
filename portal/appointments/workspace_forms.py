"""The nurse's measurements form: any of the vital signs, each a number in a plausible range."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Optional, ValidationError

# field: (LOINC code, label, lowest, highest, decimals, an example as typed)
MEASURES = {
    "systolic": ("8480-6", _l("Systolic pressure, mmHg"), 50, 260, 0, "120"),
    "diastolic": ("8462-4", _l("Diastolic pressure, mmHg"), 30, 160, 0, "80"),
    "pulse": ("8867-4", _l("Pulse, beats per minute"), 25, 250, 0, "72"),
    "temperature": ("8310-5", _l("Temperature, °C"), 32, 43, 1, "36,6"),
    "spo2": ("59408-5", _l("Oxygen saturation (SpO₂), %"), 50, 100, 0, "98"),
    "weight": ("29463-7", _l("Weight, kg"), 0.5, 350, 1, "72,5"),
    "height": ("8302-2", _l("Height, cm"), 30, 250, 0, "175"),
    "glucose": ("15074-8", _l("Blood glucose, mmol/L"), 1, 40, 1, "5,4"),
}


def _number_in_range(name: str):
    _code, _label, low, high, decimals, example = MEASURES[name]

    def check(form, field) -> None:
        try:
            value = Decimal((field.data or "").strip().replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            raise ValidationError(_l("Enter a number, for example %(example)s", example=example)) from None
        if not value.is_finite() or not Decimal(str(low)) <= value <= Decimal(str(high)):
            raise ValidationError(_l("Enter a value from %(low)s to %(high)s", low=_shown(low), high=_shown(high)))
        field.value = float(round(value, decimals))

    return check


def _shown(number: float) -> str:
    return f"{number:g}"


def _field(name: str) -> StringField:
    return StringField(MEASURES[name][1], validators=[Optional(), _number_in_range(name)])


class MeasurementsForm(FlaskForm):
    systolic = _field("systolic")
    diastolic = _field("diastolic")
    pulse = _field("pulse")
    temperature = _field("temperature")
    spo2 = _field("spo2")
    weight = _field("weight")
    height = _field("height")
    glucose = _field("glucose")

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        systolic, diastolic = self.systolic, self.diastolic
        if bool(systolic.data and systolic.data.strip()) != bool(diastolic.data and diastolic.data.strip()):
            missing = diastolic if systolic.data and systolic.data.strip() else systolic
            missing.errors = [_l("Enter both the systolic and the diastolic pressure")]
            return False
        if systolic.data and systolic.value <= diastolic.value:
            systolic.errors = [_l("The systolic pressure must be higher than the diastolic")]
            return False
        if not self.values():
            self.systolic.errors = [_l("Enter at least one measurement")]
            return False
        return True

    def values(self) -> dict[str, float]:
        """LOINC code: value, of the fields filled in (after ``validate``)."""
        return {
            MEASURES[name][0]: getattr(self, name).value
            for name in MEASURES
            if (getattr(self, name).data or "").strip() and getattr(self, name).value is not None
        }
