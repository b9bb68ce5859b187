"""E-mail messages for the consultants: a completeness report per received version (and an update
of it when what it says changes), and a triage summary.

Every word a consultant reads is in the templates under `templates/`; this module only builds the
context and the envelope. Messages are deterministic (same record → same bytes): the Date comes from
the record, the Message-ID and the MIME boundaries from its key, so a re-sent message is recognisable
and the outbox stays idempotent.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path, PurePath
from typing import Literal
from zoneinfo import ZoneInfo

import jinja2

from blankett.flows.mail.views import ApplicationView, CompletenessReport, Status, TriageSummary
from blankett.models.messages import short, status_word

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

# The consultant deals first with what cannot be read, then with what lacks parts.
_TRIAGE_RANK: dict[Status, int] = {"unreadable": 0, "incomplete": 1, "complete": 2}

NotAttached = Literal["not_requested", "not_found", "too_large"]


# --- public API -------------------------------------------------------------------------------------

def render_report(report: CompletenessReport, *, sender: str,
                  archive_root: Path | None = None) -> EmailMessage:
    app = report.application
    if not report.recipients:
        raise ValueError(f"report {report.key} has no recipients")
    problems = sorted(app.problems, key=lambda p: p.severity != "error")  # stable: errors, then warnings
    context = {
        "app": app,
        "kind": report.kind,
        "returned": report.returned,
        "errors": [p for p in problems if p.severity == "error"],
        "warnings": [p for p in problems if p.severity == "warning"],
    }
    attachment, not_attached = _original(report, archive_root)
    context["not_attached"] = not_attached
    message = _message(
        report.kind if report.kind in ("update", "moved") else "report", context, key=report.key,
        sender=sender, recipients=[Address(addr_spec=r) for r in report.recipients],
        date=report.written_at or app.received_at,
    )
    if attachment is not None:
        data, (maintype, subtype) = attachment
        message.add_attachment(data, maintype, subtype, filename=_attachment_name(app.file_name))
        copy = _searchable(report, archive_root)
        if copy is not None:
            stem = app.file_name.rsplit(".", 1)[0] if "." in app.file_name else app.file_name
            message.add_attachment(copy, "application", "pdf",
                                   filename=_attachment_name(f"{stem} (sökbar, OCR).pdf"))
    _fix_boundaries(message, report.key)
    return message


def searchable_copy(archived: Path) -> Path:
    """Where a scan's searchable copy, made by OCR, is kept: beside the original."""
    return archived.with_name(archived.name + ".ocr.pdf")


def _searchable(report: CompletenessReport, archive_root: Path | None) -> bytes | None:
    path = Path(report.application.archived_path)
    if not path.is_absolute():
        if archive_root is None:
            return None
        path = archive_root / path
    copy = searchable_copy(path)
    try:
        if copy.stat().st_size > MAX_ATTACHMENT_BYTES:
            return None
        return copy.read_bytes()
    except OSError:
        return None


def render_summary(summary: TriageSummary, *, sender: str) -> EmailMessage:
    ordered = triage_order(summary.applications)
    # What a consultant marked handled leaves what is to act on (and its counts), listed apart.
    apps = [a for a in ordered if a.handled is None]
    counts = Counter(a.status for a in apps)
    context = {
        "summary": summary,
        "apps": apps,
        "handled": [a for a in ordered if a.handled is not None],
        # Incomplete first: it is what the consultant acts on; zero counts are left out.
        "counts": [(s, counts[s]) for s in ("incomplete", "unreadable", "complete") if counts[s]],
        # TriageSummary has no area of its own: name it when all its applications share one.
        "area_name": _common(a.area_name for a in ordered),
    }
    recipient = Address(display_name=summary.consultant_name or "", addr_spec=summary.consultant)
    message = _message("summary", context, key=summary.key, sender=sender, recipients=[recipient],
                       date=summary.generated_at)
    _fix_boundaries(message, summary.key)
    return message


def triage_order(apps: Iterable[ApplicationView]) -> list[ApplicationView]:
    """Unreadable, incomplete, complete; within each, by municipality (unknown last), then title."""
    return sorted(apps, key=lambda a: (
        _TRIAGE_RANK[a.status], a.municipality is None, _swedish_key(a.municipality or ""),
        _swedish_key(a.title or ""), a.file_name,
    ))


def message_id(key: str, sender: str) -> str:
    """On the sender's own domain, as mail systems expect of the domain a message comes from."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "blankett.invalid"
    return f"<{_key_hash(key)[:32]}@{domain}>"


# --- the message ------------------------------------------------------------------------------------

def _message(name: str, context: dict[str, object], *, key: str, sender: str,
             recipients: list[Address], date: datetime) -> EmailMessage:
    env = environment()
    subject = env.get_template(f"{name}.subject.j2").render(context)
    # Applicant text (a title with a line break) must not break the header: fold it to one line.
    subject = " ".join(subject.split())
    context = {**context, "subject": subject}
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = recipients
    message["Date"] = format_datetime(_aware(date).astimezone(STOCKHOLM))
    message["Message-ID"] = message_id(key, sender)
    # Written by a program: auto-repliers (out of office) must not answer it (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message["X-Blankett-Key"] = key
    # Quoted-printable keeps the message 7-bit: it then passes any SMTP server, 8BITMIME or not.
    message.set_content(env.get_template(f"{name}.txt.j2").render(context), cte="quoted-printable")
    message.add_alternative(env.get_template(f"{name}.html.j2").render(context), subtype="html",
                            cte="quoted-printable")
    return message


def _fix_boundaries(message: EmailMessage, key: str) -> None:
    """Replace the random MIME boundaries with ones derived from the key.

    "=_" cannot occur in quoted-printable or base64 text, so the boundary never collides with a body.
    """
    digest = _key_hash(key)[:24]
    for depth, part in enumerate(p for p in message.walk() if p.is_multipart()):
        part.set_boundary(f"=_blankett_{depth}_{digest}")


def _original(report: CompletenessReport, archive_root: Path | None
              ) -> tuple[tuple[bytes, tuple[str, str]] | None, NotAttached | None]:
    """The archived original and its content type, or why it is only referenced by its path."""
    if not report.attach_original or report.kind in ("update", "moved"):
        return None, "not_requested"
    path = Path(report.application.archived_path)
    if not path.is_absolute():
        if archive_root is None:
            return None, "not_found"
        path = archive_root / path
    try:
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            return None, "too_large"
        data = path.read_bytes()
    except OSError:
        return None, "not_found"
    return (data, _content_type(data)), None


def _content_type(data: bytes) -> tuple[str, str]:
    # By content, never by name: the pipeline reads the same way (extractors/sniff.py).
    if b"%PDF-" in data[:1024]:
        return "application", "pdf"
    if data.startswith(b"PK"):
        return "application", "vnd.openxmlformats-officedocument.wordprocessingml.document"
    return "application", "octet-stream"


def _attachment_name(file_name: str) -> str:
    # The name as received, without any folder a sender's client may have left in it, and
    # without line breaks or other control characters, which no mail header may hold.
    name = PurePath(file_name.replace("\\", "/")).name
    return " ".join("".join(c if c.isprintable() else " " for c in name).split()) or "ansokan"


# --- templates and their filters --------------------------------------------------------------------

@cache
def environment() -> jinja2.Environment:
    """The one jinja environment: HTML templates (*.html.j2) autoescaped, all filters registered here."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("blankett.flows.mail", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        amount=format_amount,
        local_time=lambda d: _aware(d).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M"),
        local_date=lambda d: _aware(d).astimezone(STOCKHOLM).strftime("%Y-%m-%d"),
        status_word=status_word,
        version=version,
        status_text=status_text,
        lacks=lacks,
        warnings=warnings,
        cell=cell,
        activity=lambda app: app.title or app.file_name,  # an unreadable file has no title
    )
    return env


def format_amount(value: int | None) -> str:
    return "–" if value is None else f"{value:,} kr".replace(",", " ")


def version(app: ApplicationView) -> str:
    """The version as a list shows it: an unreadable file is no version of anything yet, and
    says "–", as `blankett status` does."""
    return "–" if app.status == "unreadable" else str(app.version)


def status_text(app: ApplicationView) -> str:
    """The status as a list shows it: "komplett, med varning" where a warning stands beside a
    complete application (one of two from a municipality, say), which "komplett" alone hides."""
    word = status_word(app.status)
    if app.status == "complete" and warnings(app):
        return f"{word}, med varning"
    return word


def lacks(app: ApplicationView) -> list[str]:
    """What keeps an application from being complete: the fields missing, by their labels, then
    the other errors in the short words of models.messages ("för högt belopp", "flera
    inriktningar valda"), which are not missing fields and must not read as such.

    For an unreadable file, and for an error about the whole file, the problem's message itself.
    """
    if app.status == "unreadable":
        return [p.message for p in app.problems if p.severity == "error"]
    items = [_short_label(label) for label in app.missing]
    for problem in app.problems:
        if problem.severity != "error":
            continue
        if problem.label is None:
            item = problem.message
        else:
            item = _short_label(problem.label) if problem.code == "missing" else short(problem.code)
        if item not in items:
            items.append(item)
    return items


def warnings(app: ApplicationView) -> list[str]:
    """The warnings' messages, in Swedish."""
    return [p.message for p in app.problems if p.severity == "warning"]


def cell(value: object, width: int) -> str:
    """Pad or cut a value to a fixed-width column of the plain-text table."""
    text = "–" if value is None else " ".join(str(value).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width)


# --- small helpers ----------------------------------------------------------------------------------

def _aware(moment: datetime) -> datetime:
    # A naive time is taken as UTC, as stores (SQLite) commonly keep it; views should carry aware times.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _short_label(label: str) -> str:
    # "Sökt belopp (kr)" → "Sökt belopp": the explanation in brackets does not fit a table cell.
    return label.split(" (")[0]


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _common(values: Iterable[str | None]) -> str | None:
    distinct = {v for v in values if v}
    return distinct.pop() if len(distinct) == 1 else None


# Swedish alphabetical order puts å, ä, ö after z (Åmål, Öckerö last), unlike code point order.
_SWEDISH = str.maketrans({"å": "z\x01", "ä": "z\x02", "ö": "z\x03", "æ": "z\x02", "ø": "z\x03"})


def _swedish_key(text: str) -> str:
    return text.casefold().translate(_SWEDISH)
