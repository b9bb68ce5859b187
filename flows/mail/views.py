"""What the reports show: plain records built from the store, handed to the templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["complete", "incomplete", "unreadable"]
# received: a version of the form came in, its report goes to the area's consultants;
# update: its report changed without a new version (a warning came, it was checked again), said
#   to those who had the report before, with only what changed;
# forwarded: the same change, to consultants who had no report of it before (the routing or its
#   area changed): the whole report;
# moved: to those who had its report and are no longer its recipients (it was read at last, its
#   area changed): that it went elsewhere, why, and to whom.
ReportKind = Literal["received", "update", "forwarded", "moved"]


@dataclass(frozen=True)
class ProblemView:
    label: str | None  # the field's Swedish label, None for the whole file
    code: str
    severity: Literal["error", "warning"]
    message: str  # Swedish, for the consultant


@dataclass(frozen=True)
class HandledView:
    """Marked handled by a consultant (`blankett handled`): out of what is to act on."""

    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class ApplicationView:
    """One application as its latest version stands; an unreadable file has no id."""

    id: int | None
    municipality: str | None
    library: str | None
    title: str | None
    area: str | None  # area key: open, reading, digital, learning
    area_name: str | None  # "Det digitala biblioteket"
    amount: int | None
    version: int
    status: Status
    problems: tuple[ProblemView, ...]
    answers: tuple[tuple[str, str], ...]  # (Swedish label, answer) in the form's order; empty ones left out
    missing: tuple[str, ...]  # Swedish labels of required fields still missing
    file_name: str  # as received
    archived_path: str  # where the original is kept
    received_at: datetime
    # In Swedish ("Nu komplett."): against the previous version, or for an update what changed.
    changes: tuple[str, ...] = ()
    # Fields placed without their label, to check: "Målgrupp (rubriken ”Vilka vill ni nå?”)".
    review: tuple[str, ...] = ()
    # Parts of the application under headings no field claims: (heading, text).
    other: tuple[tuple[str, str], ...] = ()
    handled: HandledView | None = None


@dataclass(frozen=True)
class CompletenessReport:
    """Sent for every received version to the consultants of its area, and again, as an update,
    when what it says changes."""

    key: str  # idempotency key of the message, e.g. "report:v42"
    application: ApplicationView
    recipients: tuple[str, ...]
    # The original goes with a new version only: an update refers to the report that carried it.
    attach_original: bool = True
    kind: ReportKind = "received"
    # Forwarded to those who had the report before and were told it went elsewhere: it is back.
    returned: bool = False
    # When the report was written, if later than the form arrived (a rerun, a new warning):
    # its Date, so that mail programs sort it where it belongs.
    written_at: datetime | None = None


@dataclass(frozen=True)
class TriageSummary:
    """A consultant's view of their area's applications this year."""

    key: str  # e.g. "summary:2026-11-25:eva.fred@vgregion.se"
    consultant: str  # address
    consultant_name: str | None
    year: int
    applications: tuple[ApplicationView, ...]  # unreadable and incomplete first
    new_since_last: tuple[str, ...]  # Swedish lines: what came in or changed since the last summary
    generated_at: datetime
    # The consultant's first summary: there is no last one for what is new to be measured from.
    first: bool = False
