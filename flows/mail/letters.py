"""Letters to applicants: what their application lacks, under the form's own headings, from the
consultant of its area. Every word the applicant reads is in templates/letter.*.j2; this module
gathers what they show and builds the message, as reports.py does for the consultants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

from blankett.flows.mail.reports import _fix_boundaries, _message
from blankett.models.records import Problem
from blankett.models.spec import FormSpec

# A consultant's own concerns, not the applicant's to mend: a second application, a heading
# that was read as a field, a form read by OCR.
_NOT_FOR_THE_APPLICANT = frozenset({"second_application", "guessed_label", "ocr"})


@dataclass(frozen=True)
class LetterPart:
    """One part of the form to complete, named as the form names it."""

    section: str  # "Sökande"
    heading: str  # "Sökt belopp (kr)"
    kind: str  # the field's kind (models.spec.FieldKind): what is asked for depends on it
    code: str  # "missing", "invalid_email", ...
    message: str  # the problem as the consultants' report words it
    hint: str | None  # the template's own instruction for the part


@dataclass(frozen=True)
class ApplicantLetter:
    key: str  # e.g. "letter:7"
    year: int
    grant: str  # "Stöd till biblioteksutveckling"
    municipality: str | None
    library: str | None
    title: str | None
    received_at: datetime
    contact_name: str | None
    recipient: str | None  # None: the form gives no usable address
    consultant: str  # address
    consultant_name: str | None
    needed: tuple[LetterPart, ...]  # what keeps the application from being complete
    advised: tuple[LetterPart, ...]  # what would make it better (warnings)
    max_amount: int
    area_names: tuple[str, ...]
    written_at: datetime


def letter_parts(problems: Iterable[Problem], spec: FormSpec
                 ) -> tuple[tuple[LetterPart, ...], tuple[LetterPart, ...]]:
    """(needed, advised): each field's problems in the form's order, errors then warnings; a
    field once, by its first problem."""
    by_field: dict[str, list[Problem]] = {}
    for problem in problems:
        if problem.field and problem.code not in _NOT_FOR_THE_APPLICANT:
            by_field.setdefault(problem.field, []).append(problem)
    needed: list[LetterPart] = []
    advised: list[LetterPart] = []
    for field in spec.fields:
        found = sorted(by_field.get(field.key, []), key=lambda p: p.severity != "error")
        if not found:
            continue
        first = found[0]
        part = LetterPart(field.section, field.label, field.kind, first.code, first.message,
                          field.hint)
        (needed if first.severity == "error" else advised).append(part)
    return tuple(needed), tuple(advised)


def render_letter(letter: ApplicantLetter, *, draft: bool,
                  copy_to: Mapping[str, str] | None = None) -> EmailMessage:
    """The letter, from the consultant. A `draft` is marked so that a mail program opens it to
    be edited and sent (X-Unsent); `copy_to` ({address: name}) are sent a copy (Cc)."""
    sender = str(Address(display_name=letter.consultant_name or "", addr_spec=letter.consultant))
    recipients = [Address(display_name=letter.contact_name or "", addr_spec=letter.recipient)] \
        if letter.recipient else []
    message = _message("letter", {"letter": letter}, key=letter.key, sender=sender,
                       recipients=recipients, date=letter.written_at)
    # Written by a person's leave, to a person: an applicant's out-of-office reply is welcome.
    del message["Auto-Submitted"]
    if not recipients:
        del message["To"]  # for the consultant to fill in; an empty To is no address
    if copy_to:
        message["Cc"] = [Address(display_name=n, addr_spec=a) for a, n in copy_to.items()]
    if draft:
        message["X-Unsent"] = "1"
    _fix_boundaries(message, letter.key)
    return message
