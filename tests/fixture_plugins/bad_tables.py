"""Test-only plugins whose tables break the rules: one misnamed, one keyed into a core table."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.plugin_api import PluginData, hookimpl

CONTRACT = "1.0"

misnamed = PluginData("bad_tables", __file__)
keyed = PluginData("bad_tables", __file__)


class Memo(misnamed.Model):
    __tablename__ = "memo"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))


class Booking(keyed.Model):
    __tablename__ = "bad_tables_booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"))


class WrongPrefix:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    def plugin_data():
        return misnamed


class CoreKey:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    def plugin_data():
        return keyed
