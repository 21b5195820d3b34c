"""``flask --app portal new-plugin NAME``: write a plugin's distribution folder whose tests pass
before a line of it is written by hand.

``<dir>/medkarta-<name>/`` gets ``pyproject.toml`` (the ``portal.plugins`` entry point), the package
``medkarta_<name>/`` (hooks, a public page, a navigation item, a dashboard card, templates under
``templates/<name>/``, ``babel.cfg``, Russian and English catalogues, compiled), a ``migrations/``
folder for the plugin's tables, and ``tests/test_<name>.py`` on portal.testing's fixtures. The
files are the templates in ``files/``, with ``@NAME@``-style placeholders filled in."""

from __future__ import annotations

import json
import keyword
import re
from pathlib import Path

import click
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

FILES = Path(__file__).parent / "files"
NAME = re.compile(r"[a-z][a-z0-9_]*")
# The skeleton's texts besides its title, with their Russian translations.
MESSAGES = (
    ("This page is where the plugin starts.", "С этой страницы начинается модуль."),
    ("A card of the plugin on the home page.", "Карточка модуля на главной странице."),
    ("Open the plugin page", "Открыть страницу модуля"),
)


class SkeletonError(click.ClickException):
    """The plugin cannot be written: a bad name, or its folder exists."""


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise SkeletonError(
            f"{name!r} cannot name a plugin: use lower-case letters, digits and underscores, starting with a"
            " letter (it names the entry point, the package, the blueprint and the translation domain)"
        )


def write_skeleton(name: str, directory: Path, title: str | None = None, title_ru: str | None = None) -> Path:
    """Write the distribution folder of plugin ``name`` in ``directory``; return its path."""
    check_name(name)
    title = title or name.replace("_", " ").capitalize()
    title_ru = title_ru or f"Модуль «{title}»"
    package = f"medkarta_{name}"
    target = directory / f"medkarta-{name.replace('_', '-')}"
    if target.exists():
        raise SkeletonError(f"{target} already exists: choose another name or --dir")
    values = {
        "@NAME@": name,
        "@PACKAGE@": package,
        "@DIST@": target.name,
        "@URL@": name.replace("_", "-"),
        "@TITLE@": title,
        # A JSON string is a string literal in Python, Jinja and TOML alike.
        "@TITLE_PY@": json.dumps(title, ensure_ascii=False),
        "@TITLE_RU_PY@": json.dumps(title_ru, ensure_ascii=False),
    }
    for source in sorted(FILES.rglob("*.tmpl")):
        relative = str(source.relative_to(FILES).with_suffix(""))
        relative = relative.replace("package", package, 1).replace("NAME", name)
        text = source.read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
    write_catalogues(target / package / "translations", name, ((title, title_ru), *MESSAGES))
    return target


def write_catalogues(directory: Path, domain: str, messages) -> None:
    """The template (.pot) and the Russian and English catalogues, each also compiled (.mo)."""
    directory.mkdir(parents=True, exist_ok=True)
    template = Catalog(domain=domain)
    for english, _russian in messages:
        template.add(english)
    with (directory / f"{domain}.pot").open("wb") as out:
        write_po(out, template, omit_header=False, sort_output=True)
    for locale in ("ru", "en"):
        catalog = Catalog(locale=locale, domain=domain, fuzzy=False)
        for english, russian in messages:
            catalog.add(english, russian if locale == "ru" else "")
        folder = directory / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / f"{domain}.po").open("wb") as out:
            write_po(out, catalog, sort_output=True)
        with (folder / f"{domain}.mo").open("wb") as out:
            write_mo(out, catalog)


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="where to write the plugin's folder, medkarta-NAME",
)
@click.option("--title", help="the plugin's title in English (default: from NAME)")
@click.option("--title-ru", help="the plugin's title in Russian (default: «Модуль» and the English title)")
def new_plugin_command(name: str, directory: Path, title: str | None, title_ru: str | None) -> None:
    """Write a new plugin's distribution folder (package, entry point, templates, catalogues,
    tests) whose tests pass as written."""
    target = write_skeleton(name, directory, title, title_ru)
    click.echo(f"wrote {target}")
    click.echo(f"next: pip install -e {target}, add {name!r} to PLUGINS, then run pytest in {target}")
