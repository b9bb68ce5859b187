"""The year's overview for people: a workbook (a sheet of every application, a sheet per area,
the totals per area with a chart, and the libraries granted support, for the learning day's
invitations), the same rows as CSV, and as the table the nightly run publishes in Prefect."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from blankett.flows.store.overview import OverviewRow
from blankett.models.messages import DECISIONS, status_word
from blankett.models.spec import FormSpec

# (heading, value, width in characters): the columns of every sheet of applications.
_Column = tuple[str, Callable[[OverviewRow], Any], int]
COLUMNS: tuple[_Column, ...] = (
    ("Id", lambda r: r.id, 6),
    ("Kommun", lambda r: r.municipality, 16),
    ("Bibliotek", lambda r: r.library, 30),
    ("Aktivitet", lambda r: r.activity, 40),
    ("Inriktning", lambda r: r.area_name, 30),
    ("Sökt (kr)", lambda r: r.sought, 11),
    ("Beviljat (kr)", lambda r: r.granted, 13),
    ("Beslut", lambda r: DECISIONS.get(r.decision or ""), 10),
    ("Status", lambda r: status_word(r.status), 13),
    ("Version", lambda r: r.version, 8),
    ("Inkommen", lambda r: r.received, 11),
    ("Konsulenter", lambda r: ", ".join(r.consultants), 28),
    ("Hanterad", lambda r: "ja" if r.handled else "", 9),
)
_AMOUNTS = ("Sökt (kr)", "Beviljat (kr)")
# The learning day's invitation list: who was granted support, and how to reach them.
_INVITED: tuple[_Column, ...] = (
    *(c for c in COLUMNS if c[0] in ("Kommun", "Bibliotek", "Aktivitet", "Inriktning",
                                     "Beviljat (kr)")),
    ("Kontakt (e-post)", lambda r: r.contact_email, 30),
)
NO_AREA = "Utan inriktning"


def table(rows: Sequence[OverviewRow]) -> list[dict[str, Any]]:
    """A row each, by the Swedish headings; dates as text (the nightly run's Prefect table)."""
    return [{heading: _plain(value(row)) for heading, value, _ in COLUMNS} for row in rows]


def write_csv(rows: Sequence[OverviewRow], path: Path) -> None:
    """Semicolons and a byte-order mark: a Swedish Excel opens it in columns, å, ä, ö whole."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(heading for heading, _, _ in COLUMNS)
        for row in rows:
            writer.writerow(_plain(value(row)) for _, value, _ in COLUMNS)


def totals(rows: Sequence[OverviewRow], spec: FormSpec) -> list[tuple[str, int, int, int]]:
    """(area, applications, sought, granted) for each area, in the form's order, those without
    an area last when there are any."""
    named = [(a.key, a.name) for a in spec.areas]
    if any(r.area is None for r in rows):
        named.append((None, NO_AREA))  # type: ignore[arg-type]
    out = []
    for key, name in named:
        mine = [r for r in rows if r.area == key]
        out.append((name, len(mine), sum(r.sought or 0 for r in mine),
                    sum(r.granted or 0 for r in mine if r.decision == "granted")))
    return out


def write_workbook(rows: Sequence[OverviewRow], spec: FormSpec, year: int, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    everything = book.active
    everything.title = "Ansökningar"
    _sheet(everything, COLUMNS, rows)
    for area in spec.areas:
        _sheet(book.create_sheet(_sheet_title(area.names, area.name)), COLUMNS,
               [r for r in rows if r.area == area.key])
    if any(r.area is None for r in rows):
        _sheet(book.create_sheet(NO_AREA), COLUMNS, [r for r in rows if r.area is None])

    summed = book.create_sheet("Summor")
    summed.append(["Inriktning", "Ansökningar", *_AMOUNTS])
    per_area = totals(rows, spec)
    for line in per_area:
        summed.append(list(line))
    summed.append(["Totalt", *(sum(line[i] for line in per_area) for i in (1, 2, 3))])
    _dress(summed, (30, 12, 13, 13), amounts=(3, 4))
    chart = BarChart()
    chart.title = f"Sökt och beviljat per inriktning {year}"
    chart.y_axis.title = "kr"
    chart.add_data(Reference(summed, min_col=3, max_col=4, min_row=1, max_row=len(per_area) + 1),
                   titles_from_data=True)
    chart.set_categories(Reference(summed, min_col=1, min_row=2, max_row=len(per_area) + 1))
    chart.width, chart.height = 22, 11
    summed.add_chart(chart, f"A{len(per_area) + 4}")

    granted = [r for r in rows if r.decision == "granted"]
    _sheet(book.create_sheet("Lärdag"), _INVITED,
           sorted(granted, key=lambda r: (r.municipality or "", r.library or "")))
    book.save(path)


def _sheet(sheet: Any, columns: Sequence[_Column], rows: Sequence[OverviewRow]) -> None:
    sheet.append([heading for heading, _, _ in columns])
    for row in rows:
        sheet.append([value(row) for _, value, _ in columns])
    amounts = [n for n, (heading, _, _) in enumerate(columns, 1) if heading in _AMOUNTS]
    _dress(sheet, [width for _, _, width in columns], amounts)
    for n, (heading, _, _) in enumerate(columns, 1):
        if heading == "Inkommen":
            for cell in sheet.iter_rows(min_row=2, min_col=n, max_col=n):
                cell[0].number_format = "yyyy-mm-dd"


def _dress(sheet: Any, widths: Sequence[int], amounts: Sequence[int]) -> None:
    """Headings bold and kept in view, columns wide enough, amounts with thousands apart."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    if sheet.max_row > 1:
        sheet.auto_filter.ref = sheet.dimensions
    for n, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    for n in amounts:
        for cell in sheet.iter_rows(min_row=2, min_col=n, max_col=n):
            cell[0].number_format = "#,##0"


def _sheet_title(names: Sequence[str], name: str) -> str:
    """A sheet's name may hold 31 characters: the area's name, or the longest of its other
    names that fits ("Läs- och skrivfrämjande")."""
    fitting = [n for n in (name, *sorted(names, key=len, reverse=True)) if len(n) <= 31]
    return (fitting[0] if fitting else name[:31]).translate(str.maketrans("[]:*?/\\", "()-----"))


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
