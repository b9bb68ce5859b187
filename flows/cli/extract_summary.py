"""The extract command's summary for a person at a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from blankett.models.records import Report
from blankett.models.spec import FormSpec, Routing
from blankett.models.validation import to_review

_MAX_ANSWER = 160
# How a field was found when not by its own label, as the "Hittat" column says it.
_FOUND_BY = {"synonym": "synonym", "words": "ord", "position": "plats", "shape": "svarets form",
        "label": ""}


def render_report(console: Console, report: Report, spec: FormSpec, routing: Routing) -> None:
    status = Text("komplett", style="bold green") if report.complete else Text(
        "ofullständig", style="bold red")
    errors = sum(p.severity == "error" for p in report.problems)
    warnings = len(report.problems) - errors
    head = Text.assemble((report.file, "bold"), f"  ({report.kind})  ", status)
    if report.problems:
        head.append(f"  {errors} fel, {warnings} {'varning' if warnings == 1 else 'varningar'}")
    console.print(head)

    table = Table(show_header=True, header_style="dim", box=None, padding=(0, 1), pad_edge=False)
    table.add_column("Fält", style="cyan", no_wrap=True)
    table.add_column("Svar", overflow="fold")
    table.add_column("Hittat", style="dim", no_wrap=True)
    areas = {a.key: a.name for a in spec.areas}
    for field in spec.fields:
        value = report.fields.get(field.key)
        source = report.sources.get(field.key)
        where = ""
        if source is not None:
            where = source.method + (f" s.{source.page}" if source.page else "")
            if source.matched_by != "label":
                where += f" ({_FOUND_BY[source.matched_by]} {source.confidence:.2f})"
        table.add_row(_short_label(field.label), _shown(field.key, value, areas), where)
    console.print(table)
    guessed = [f"{_short_label(spec.field(key).label)} (rubriken ”{report.sources[key].label}”)"
               for key in to_review(report.problems) if key in report.sources]
    if guessed:
        console.print(Text.assemble(("  Kontrollera: ", "yellow"), "; ".join(guessed)))
    for part in report.unplaced:
        console.print(Text.assemble(("  Övrigt: ", "dim"), (part.heading, "bold"), " – ",
                                    _shown("", part.text, areas)))

    for problem in report.problems:
        mark = Text("  fel     ", style="red") if problem.severity == "error" else Text(
            "  varning ", style="yellow")
        console.print(Text.assemble(mark, problem.message))
    who = ", ".join(_person(routing, address) for address in report.consultants)
    console.print(Text.assemble(("  Till: ", "dim"), who))
    console.print()


def _short_label(label: str) -> str:
    return label.split(" (")[0]


def _shown(key: str, value: str | int | None, areas: dict[str, str]) -> Text:
    if value is None:
        return Text("–", style="dim")
    if key == "strategic_area" and isinstance(value, str):
        return Text(areas.get(value, value))
    if key == "requested_amount_sek" and isinstance(value, int):
        return Text(f"{value:,} kr".replace(",", " "))
    flat = " ".join(str(value).split())
    if len(flat) > _MAX_ANSWER:
        flat = flat[: _MAX_ANSWER - 1] + "…"
    return Text(flat)


def _person(routing: Routing, address: str) -> str:
    name = routing.names.get(address)
    return f"{name} <{address}>" if name else address
