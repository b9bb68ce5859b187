"""The `blankett` command. Thin: parsing options and printing; the work is in the library."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from blankett.flows.environment import Environment

app = typer.Typer(
    name="blankett",
    help="Reads grant application forms, checks that every required part is there, and tells the "
         "responsible consultant what came in and what is missing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Replaced by tests; the commands read it when they run, not when they are defined.
environment = Environment()



@app.callback()
def _root() -> None:
    """Keep the libraries' own warnings about odd files off the terminal."""
    for name in ("pypdf", "pdfminer", "pdfplumber", "PIL"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(help="Received forms: .docx or PDF (the type is "
                                                     "read from the content, not the name).",
                                                show_default=False)],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per file, one per line.")]
    = False,
    year: Annotated[int | None, typer.Option(help="The grant year the timeline is checked against.",
                                             show_default="this year")] = None,
    spec: Annotated[Path | None, typer.Option(help="A form specification to use instead of the "
                                                   "shipped one (TOML).", show_default=False)] = None,
    routing: Annotated[Path | None, typer.Option(help="A routing table to use instead of the "
                                                      "shipped one (TOML).", show_default=False)] = None,
    max_size_mb: Annotated[int, typer.Option(min=1, help="Refuse files larger than this.")] = 50,
    max_pages: Annotated[int, typer.Option(min=1, help="Refuse PDFs with more pages.")] = 200,
) -> None:
    """Read forms and show every field, what is missing or wrong, and who gets each form.

    Exit status: 0 when every file was read, complete or not; 2 when any could not be read
    (the others are still reported).
    """
    from blankett.flows.extract_command import run_extract

    code = run_extract(environment, files, as_json=json, year=year, spec_path=spec,
                       routing_path=routing, max_size_mb=max_size_mb, max_pages=max_pages)
    raise typer.Exit(code)


def main() -> None:
    app()
