"""`blankett status` for a person: one table row per application, coloured by its state, in
Swedish as the reports are (`--json` keeps the codes, for programs)."""

from __future__ import annotations

from typing import Any

from blankett.flows.cli.environment import Environment
from blankett.flows.home.settings import Home
from blankett.flows.mail.reports import format_amount
from blankett.models.messages import DECISIONS, short, status_word


def print_status(env: Environment, rows: list[dict[str, Any]], home: Home) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from blankett.models.spec import load_spec

    # Piped output is not squeezed into 80 columns: a status table is read whole.
    console = Console(file=env.stdout, highlight=False,
                      width=None if env.stdout_is_terminal else 160)
    if not rows:
        console.print(f"Inga ansökningar ännu för {home.year(env.today)}.")
        return
    spec = load_spec(home.optional_path(home.settings.routing.spec_file))
    labels = {f.key: f.label.split(" (")[0] for f in spec.fields}
    # "Det läs- och skrivfrämjande biblioteket" → "läs- och skrivfrämjande": the part that differs.
    areas = {a.key: a.name.removeprefix("Det ").removesuffix(" biblioteket") for a in spec.areas}
    table = Table(box=None, header_style="dim", pad_edge=False)
    # The column of what consultants did only once there is something in it: the rest keep
    # their room.
    acted = any(_handled(row) for row in rows)
    for column in ("id", "kommun", "inriktning", "aktivitet", "v", "status", "brister / varningar",
                   "konsulenter", "rapport skickad"):
        table.add_column(column, overflow="fold")
    if acted:
        # "beviljad 50 000 kr" is read whole or misread: the other columns wrap to make room.
        table.add_column("hanterad, beslut", no_wrap=True, min_width=max(
            Text.from_markup(_handled(row)).cell_len for row in rows))
    style = {"complete": "green", "incomplete": "yellow", "unreadable": "red"}
    for row in rows:
        table.add_row(
            str(row["id"] or "–"), row["municipality"] or "–", areas.get(row["area"], row["area"]) or "–",
            row["activity"] or row["received_as"], str(row["version"] or "–"),
            f"[{style[row['status']]}]{status_word(row['status'])}[/]",
            ", ".join([*(labels.get(k, k) for k in row["missing"]),
                       *(short(c) for c in row["errors"] if c != "unreadable"),
                       # Said as warnings: a complete application with one is still complete.
                       *(f"[yellow]varning:[/] {short(c, labels.get(f or ''), 'warning')}"
                         for c, f in zip(row["warnings"], row["warning_fields"], strict=True))])
            or row.get("reason") or "",
            ", ".join(a.split("@")[0] for a in row["consultants"]),
            _sent(row), *((_handled(row),) if acted else ()))
    console.print(table)


def _sent(row: dict[str, Any]) -> str:
    """When the last report went, and what still waits: a report not yet delivered must not
    hide behind the time of an earlier one."""
    sent = (row["last_report_sent"] or "")[:16].replace("T", " ")
    waiting = row.get("pending_messages", 0)
    if not waiting:
        return sent
    return f"{sent} [yellow]({waiting} väntar)[/]" if sent else f"[yellow]{waiting} väntar[/]"


def _handled(row: dict[str, Any]) -> str:
    """Who marked it handled (`blankett handled`), and the decision once there is one."""
    said = f"[dim]av {row['handled_by']}[/]" if row.get("handled") else ""
    if row.get("decision") == "granted":
        said = " ".join(filter(None, (said, f"[green]{DECISIONS['granted']} "
                                            f"{format_amount(row['granted_sek'])}[/]")))
    elif row.get("decision") == "declined":
        said = " ".join(filter(None, (said, DECISIONS["declined"])))
    return said
