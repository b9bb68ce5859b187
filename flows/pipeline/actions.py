"""What consultants do with an application: correct a field, mark it handled, decide it, write
to the applicant. Each is recorded with who did it and when (flows/store/actions.py).

Each holds the home's lock while it works, as the runs do: a nightly run checking the same
application meanwhile would otherwise store a result from before the correction as the latest."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from blankett.flows.home.locking import home_lock
from blankett.flows.mail.delivery import _eml_bytes, _write_atomically
from blankett.flows.mail.letters import ApplicantLetter, LetterPart, letter_parts, render_letter
from blankett.flows.mail.messaging import deliver_pending, queue_rerun_report, queue_warning_reports
from blankett.flows.mail.reports import format_amount
from blankett.flows.pipeline.intake import _stamp
from blankett.flows.pipeline.resources import Pipeline, relative
from blankett.flows.pipeline.revalidation import checked
from blankett.flows.store.actions import (
    correction_values,
    corrections_of,
    decisions,
    granted_elsewhere,
    handled_applications,
    handled_files,
    named,
    quoted,
)
from blankett.flows.store.database import (
    Application,
    Correction,
    Decision,
    Handling,
    Letter,
    Message,
    Result,
    Submission,
    now,
)
from blankett.flows.store.ledger import (
    add_result,
    as_utc,
    flag_other_activities,
    missing_fields,
    reidentify,
    status_of,
)
from blankett.flows.store.queries import UnknownTarget, handled_target
from blankett.models.errors import BlankettError
from blankett.models.messages import TO_FALLBACK, status_word
from blankett.models.records import Extraction, Problem
from blankett.models.spec import FieldSpec, FormSpec
from blankett.models.text import fold_label

log = logging.getLogger("blankett.actions")

# File names of drafts: the municipality, without what a file system may not take.
_UNSAFE = re.compile(r"[^\w-]+")

# How long an action waits for a run (intake, nightly) to let go of the home.
WAIT_SECONDS = 120.0


class Refused(BlankettError):
    """An action the grant's rules or the application's state do not allow; nothing changed."""


def application(session: Session, application_id: int) -> Application:
    found = session.get(Application, application_id)
    if found is None or not found.versions:
        raise UnknownTarget(f"{application_id}: ingen ansökan i detta hem har detta id; se "
                            "`blankett status`")
    return found


def name_of(found: Application) -> str:
    """"Vara – Kompetenslyft" as the reports name an application."""
    return f"{found.municipality or 'okänd kommun'} – {found.title or found.latest.submission.original_name}"


def field_of(spec: FormSpec, name: str) -> FieldSpec:
    """A field by its key (requested_amount_sek) or its heading in the form, whole or without
    the words in brackets ("Sökt belopp"), or a wording the form specification lists for it."""
    if name in spec.keys:
        return spec.field(name)
    folded = fold_label(name)
    for field in spec.fields:
        if folded and folded in {fold_label(label) for label in field.labels}:
            return field
    known = ", ".join(f"{f.key} ({f.label.split(' (')[0]})" for f in spec.fields)
    raise UnknownTarget(f"{name}: inget fält i blanketten har denna nyckel eller rubrik; fälten "
                        f"är {known}")


# --- correct ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldCorrected:
    key: str
    label: str
    value: object  # as checked: "Vara", 30000, None for an emptied field
    changed: bool  # False: the field said so already, and nothing was recorded


@dataclass(frozen=True)
class Corrected:
    application_id: int
    name: str
    fields: tuple[FieldCorrected, ...]  # in the order given
    status: Literal["complete", "incomplete", "unreadable"]
    lacks: tuple[str, ...]  # the labels of what keeps it from being complete

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.fields)

    # One field corrected, as most are.
    @property
    def label(self) -> str:
        return self.fields[0].label

    @property
    def value(self) -> object:
        return self.fields[0].value


def correct(pipeline: Pipeline, application_id: int, field_name: str, value: str,
            by: str) -> Corrected:
    """One field corrected: see correct_fields."""
    return correct_fields(pipeline, application_id, [(field_name, value)], by)


def correct_fields(pipeline: Pipeline, application_id: int, values: Sequence[tuple[str, str]],
                   by: str) -> Corrected:
    """The fields of the application's latest version are `values` ((field, value) pairs) from
    now on: checked at once, together, and told in one update to whoever has its report. A value
    the rules find wrong refuses them all. A value the field already has (as read or as
    corrected) changes nothing and is not recorded; if none changes, nobody is told."""
    spec = pipeline.spec
    given = [(field_of(spec, name), value.strip()) for name, value in values]
    keys = [field.key for field, _ in given]
    if twice := next((f for f, _ in given if keys.count(f.key) > 1), None):
        raise Refused(f"{twice.label.split(' (')[0]} ({twice.key}) anges två gånger; ange "
                      "varje fält en gång. Inget ändrades.")
    with home_lock(pipeline.home.root, WAIT_SECONDS), pipeline.store.session() as session:
        found = application(session, application_id)
        version = found.latest
        previous = version.result
        standing = correction_values(corrections_of(session, [version.id]).get(version.id, {}))
        # Checked from what the reader read, never from an earlier check's outcome: each
        # correction is applied once, however often the application is checked again.
        extraction = Extraction.model_validate(previous.raw)
        new = {field.key: (value, by) for field, value in given}
        report = checked(pipeline, version.submission, extraction, {**standing, **new})
        wrong = [p for p in report.problems if p.field in new and p.severity == "error"]
        if wrong:  # the session's transaction is rolled back: nothing is recorded
            raise Refused(f"{wrong[0].message.replace(TO_FALLBACK, '')} Inget ändrades.")
        changed = [f for f, _ in given if report.fields.get(f.key) != previous.fields.get(f.key)]
        if len(changed) < len(given) and changed:
            # Checked again without what changes nothing: its answer stays as read (or as
            # corrected before), not marked as corrected now.
            report = checked(pipeline, version.submission, extraction,
                             {**standing, **{f.key: new[f.key] for f in changed}})
        done = tuple(FieldCorrected(f.key, f.label.split(" (")[0], report.fields.get(f.key),
                                    f in changed) for f, _ in given)
        if not changed:
            return Corrected(found.id, name_of(found), done, status_of(previous),
                             _lacks(spec, previous))
        for field in changed:
            session.add(Correction(version_id=version.id, field=field.key, value=new[field.key][0],
                                   before=_text(previous.fields.get(field.key)), done_by=by,
                                   done_at=now()))
        result = add_result(session, version, report, extraction, pipeline.examiner.fingerprint)
        reidentify(session, found, report)
        warned = flag_other_activities(session, found, result)
        queue_rerun_report(pipeline, session, found, previous, result, why=tuple(
            f"Rättat av {by}: {f.label} är nu {quoted(named(spec, f.key, f.value))} "
            f"(var {quoted(named(spec, f.key, previous.fields.get(f.key)))})."
            for f in done if f.changed), by=by)
        queue_warning_reports(pipeline, session, found, warned)
        log.info("application %d: %s corrected by %s", found.id,
                 ", ".join(f.key for f in changed), by)
        return Corrected(found.id, name_of(found), done, status_of(result), _lacks(spec, result))


def _lacks(spec: FormSpec, result: Result) -> tuple[str, ...]:
    labels = {f.key: f.label.split(" (")[0] for f in spec.fields}
    lacks = [labels.get(k, k) for k in missing_fields(result)]
    lacks += [labels.get(p.field or "", p.code) for p in result.problems
              if p.severity == "error" and p.code != "missing"]
    return tuple(dict.fromkeys(lacks))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# --- handled ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Handled:
    name: str  # the application, or the unreadable file's name
    handled: bool  # as it stands now
    changed: bool  # False: it stood so already (an --undo of what was not handled, a mark again)
    # The mark that stood before this one, when it was handled already: who, when, the note.
    earlier: Mark | None = None


@dataclass(frozen=True)
class Mark:
    by: str
    at: datetime
    note: str | None


def mark_handled(pipeline: Pipeline, target: str, by: str, note: str | None = None,
                 undo: bool = False) -> Handled:
    """An application (by id or file), or an unreadable file in failed/, marked handled: it
    leaves what the consultants' summaries list to act on. `undo` puts it back."""
    kind, ident = handled_target(pipeline.store, pipeline.home.root, target)
    with home_lock(pipeline.home.root, WAIT_SECONDS), pipeline.store.session() as session:
        if kind == "application":
            found = application(session, ident)
            name = name_of(found)
            standing = handled_applications(session, [ident])
        else:
            submission = session.get(Submission, ident)
            assert submission is not None
            name = submission.original_name
            standing = handled_files(session, [ident])
        if undo and ident not in standing:
            return Handled(name, False, False)
        earlier = standing.get(ident)
        mark = None if earlier is None or undo else \
            Mark(earlier.done_by, as_utc(earlier.done_at), earlier.note)
        # Marked again: only a new note changes anything, and only the note: who marked it
        # handled, and when, stand.
        if mark is not None and (not note or note == mark.note):
            return Handled(name, True, False, mark)
        if mark is not None and earlier is not None:
            earlier.note = note
            return Handled(name, True, True, mark)
        session.add(Handling(application_id=ident if kind == "application" else None,
                             submission_id=ident if kind == "file" else None,
                             handled=not undo, note=note or None, done_by=by, done_at=now()))
        return Handled(name, not undo, True, mark)


# --- decide -------------------------------------------------------------------------------------

Outcome = Literal["granted", "declined"]


@dataclass(frozen=True)
class Decided:
    name: str
    outcome: Outcome
    amount: int | None
    replaced: Outcome | None  # the decision it replaces


def decide(pipeline: Pipeline, application_id: int, outcome: Outcome, by: str,
           amount: int | None = None, note: str | None = None, force: bool = False) -> Decided:
    """The decision on an application. A grant is refused above the grant's highest amount or
    the amount sought, for an application that is not complete, and for a municipality with a
    granted application this year already; `force` sets the last two aside."""
    limit = pipeline.spec.grant.max_amount_sek
    with home_lock(pipeline.home.root, WAIT_SECONDS), pipeline.store.session() as session:
        found = application(session, application_id)
        result = found.latest.result
        sought = result.fields.get("requested_amount_sek")
        if outcome == "declined":
            if amount is not None:
                raise Refused("en avslagen ansökan beviljas inget belopp; utelämna --amount")
        else:
            amount = _granted_amount(found.id, amount, sought if isinstance(sought, int) else None,
                                     limit)
            status = status_of(result)
            if status != "complete" and not force:
                raise Refused(f"ansökan {found.id} ({name_of(found)}) är {status_word(status)}: "
                              "komplettera den först (`blankett correct`, eller sökandens nya "
                              "version), eller besluta med --force")
            if (others := granted_elsewhere(session, found)) and not force:
                raise Refused(f"{found.municipality} har redan en beviljad ansökan i år "
                              f"(id {others[0].id}, {others[0].title or '–'}); en per kommun och "
                              "år kan beviljas; --force för att bevilja även denna")
        before = decisions(session, [found.id]).get(found.id)
        session.add(Decision(application_id=found.id, outcome=outcome, amount=amount,
                             note=note or None, forced=force, done_by=by, done_at=now()))
        return Decided(name_of(found), outcome, amount,
                       before.outcome if before is not None else None)  # type: ignore[arg-type]


def _granted_amount(ident: int, amount: int | None, sought: int | None, limit: int) -> int:
    if amount is None:
        if sought is None:
            raise Refused(f"ansökan {ident} anger inget sökt belopp: ange --amount, eller rätta "
                          f"det först (`blankett correct {ident} \"Sökt belopp\" N`)")
        amount = sought
    shown = format_amount(amount)
    if amount <= 0:
        raise Refused(f"ett beviljat belopp måste vara mer än 0 kr (angivet: {shown})")
    if amount > limit:
        raise Refused(f"{shown} är mer än bidragets högsta belopp, {format_amount(limit)}")
    if sought is not None and amount > sought:
        raise Refused(f"{shown} är mer än de {format_amount(sought)} ansökan söker")
    return amount


# --- letter -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Written:
    name: str
    complete: bool  # nothing to ask of the applicant: no letter
    draft: str | None = None  # relative to the home
    recipient: str | None = None  # None: the form gives no usable address
    sent: bool = False  # delivered now
    waiting: bool = False  # to be sent, by the next run (the mail server did not take it now)


def write_letter(pipeline: Pipeline, application_id: int, by: str) -> Written:
    """A letter to the applicant listing what the latest version lacks, from the consultant of
    its area, written as a draft into outbox/drafts/; sent too when `letters.send` is set. A
    complete application gets none."""
    send = pipeline.home.settings.letters.send
    with home_lock(pipeline.home.root, WAIT_SECONDS):
        with pipeline.store.session() as session:
            found = application(session, application_id)
            version = found.latest
            result = version.result
            if status_of(result) == "unreadable":
                raise Refused(f"ansökan {found.id} kunde inte läsas, så det går inte att säga vad "
                              "den sökande ska komplettera; läs filen och rätta dess fält "
                              "(`blankett correct`), eller be om blanketten som Word eller PDF")
            problems = [Problem(field=p.field, code=p.code, severity=p.severity,  # type: ignore[arg-type]
                                message=p.message) for p in result.problems]
            needed, advised = letter_parts(problems, pipeline.spec)
            if not needed:
                return Written(name_of(found), complete=True)
            row = Letter(application_id=found.id, version_id=version.id,
                         recipient=_address(result.fields.get("contact_email"), problems),
                         draft_path="", done_by=by, done_at=now())
            session.add(row)
            session.flush()
            letter = _letter(pipeline, found, result.fields, row, needed, advised,
                             consultant=(result.consultants.get("to") or
                                         pipeline.routing.consultants(None))[0])
            draft = pipeline.home.outbox / DRAFTS / (
                f"{_stamp(pipeline, row.done_at)}-ansokan-{found.id}-"
                f"{_UNSAFE.sub('_', found.municipality or 'okand')}.eml")
            try:
                _write_atomically(draft.parent, draft.name,
                                  _eml_bytes(render_letter(letter, draft=True)))
            except OSError as exc:
                raise BlankettError(f"{draft}: the draft cannot be written "
                                    f"({exc.strerror or exc})") from None
            row.draft_path = relative(pipeline.home, draft)
            message_id = None
            if send and row.recipient:
                message_id = _queue_letter(pipeline, session, letter, row, version.submission_id)
            written = Written(name_of(found), False, row.draft_path, row.recipient)
        if message_id is None:
            return written
        deliver_pending(pipeline)
        with pipeline.store.session() as session:
            message = session.get(Message, message_id)
            sent = message is not None and message.state == "sent"
        return replace(written, sent=sent, waiting=not sent)


DRAFTS = "drafts"


def _address(value: object, problems: list[Problem]) -> str | None:
    if not isinstance(value, str) or any(p.field == "contact_email" and p.severity == "error"
                                         for p in problems):
        return None
    return value


def _letter(pipeline: Pipeline, found: Application, fields: dict[str, object], row: Letter,
            needed: tuple[LetterPart, ...], advised: tuple[LetterPart, ...],
            consultant: str) -> ApplicantLetter:
    spec = pipeline.spec

    def text(key: str) -> str | None:
        value = fields.get(key)
        return value if isinstance(value, str) else None

    return ApplicantLetter(
        key=f"letter:{row.id}@{pipeline.instance}", year=found.year, grant=spec.grant.name,
        municipality=found.municipality or text("municipality"), library=text("library"),
        title=text("project_title"), received_at=as_utc(found.latest.submission.received_at),
        contact_name=text("contact_name"), recipient=row.recipient, consultant=consultant,
        consultant_name=pipeline.routing.names.get(consultant), needed=needed, advised=advised,
        max_amount=spec.grant.max_amount_sek, area_names=tuple(a.name for a in spec.areas),
        written_at=as_utc(row.done_at))


def _queue_letter(pipeline: Pipeline, session: Session, letter: ApplicantLetter, row: Letter,
                  submission_id: int) -> int:
    """Recorded as a message before it is sent, as every report is: sent once, by the delivery
    of the reports, with a copy to the consultant."""
    message = render_letter(letter, draft=False,
                            copy_to={letter.consultant: letter.consultant_name or ""})
    assert row.recipient is not None
    record = Message(key=f"letter:{row.id}", kind="letter",
                     recipients={"to": list(dict.fromkeys([row.recipient, letter.consultant]))},
                     subject=str(message["Subject"]), raw=message.as_bytes(), created_at=now(),
                     state="pending", application_id=row.application_id,
                     submission_id=submission_id)
    session.add(record)
    session.flush()
    row.message_id = record.id
    return record.id
