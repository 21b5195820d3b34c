"""A test-only plugin that fills every slot of the card, the profile and the appointments: a
section of the card with an export, an action on the card, a profile field and a kind of
appointment with a link on its ticket. It imports only ``portal.plugin_api``."""

from datetime import date

from portal.plugin_api import (
    AppointmentKind,
    Blueprint,
    CardAction,
    Link,
    Page,
    ProfileField,
    RecordSection,
    SectionRow,
    governs,
    hookimpl,
    public,
    render,
    url_for,
)

CONTRACT = "1.0"

bp = Blueprint("slots_fixture", __name__, url_prefix="/slots-fixture")
SEEN: list = []  # the CardView each call of the section's function got


@bp.get("/diary")
@public
def diary():
    return render("slots_fixture/diary.html")


def growth(view):
    SEEN.append(view)
    return [
        SectionRow("Height", "128 cm", date(2026, 3, 2)),
        SectionRow("Weight", f"26 kg (card {view.patient_id})", date(2026, 3, 2)),
    ]


def growth_export(view):
    return [SectionRow("Height at the last measurement", "128 cm", date(2026, 3, 2))]


@hookimpl
def register_blueprints():
    return [bp]


@hookimpl
def record_sections(page: Page | None):
    return [RecordSection("growth", "Growth chart", growth, order=50, intro="Height and weight.", export=growth_export)]


@hookimpl
def card_actions(page: Page):
    return [CardAction("Keep a growth diary", url_for("slots_fixture.diary"), order=30)]


@hookimpl
def profile_fields(page: Page):
    return [ProfileField("school", "School", "No. 7", hint="Shown to the school nurse.")]


def join_link(ticket):
    return Link("Join the video call", f"https://video.example.org/room/{ticket.appointment_id}")


@hookimpl
def appointment_kinds():
    return [AppointmentKind("video", "Video call", "From home, by video.", ticket=join_link)]


class Broken:
    """Every slot hook raises: the page renders with everyone else's contributions."""

    @staticmethod
    @hookimpl
    def record_sections(page):
        raise RuntimeError("section hook broke")

    @staticmethod
    @hookimpl
    def card_actions(page):
        raise RuntimeError("action hook broke")

    @staticmethod
    @hookimpl
    def profile_fields(page):
        raise RuntimeError("field hook broke")

    @staticmethod
    @hookimpl
    def appointment_kinds():
        raise RuntimeError("kind hook broke")


class NoGrowth:
    """A region's deny rule that names the plugin's section."""

    @staticmethod
    @hookimpl
    @governs(sections=["growth"])
    def access_denials(section: str):
        return "the region keeps growth charts elsewhere" if section == "growth" else None


def broken_rows(view):
    raise RuntimeError("the module's service is down")


class Flaky:
    """A section whose rows cannot be had: its page says so, the export leaves it out."""

    @staticmethod
    @hookimpl
    def record_sections(page):
        return [RecordSection("flaky", "Flaky section", broken_rows, export=broken_rows)]


class Templated:
    """A section and a profile field drawn by the plugin's own templates inside the core's frame."""

    @staticmethod
    @hookimpl
    def record_sections(page):
        return [RecordSection("diary", "Growth diary", growth, template="slots_fixture/section.html")]

    @staticmethod
    @hookimpl
    def profile_fields(page):
        url = url_for("slots_fixture.diary")
        return [ProfileField("school_form", "School", template="slots_fixture/field.html", context={"url": url})]
