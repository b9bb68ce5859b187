"""Reports and summaries: built from the store, recorded as messages before they are sent, sent
once. A message's key makes it idempotent: the same report is never queued twice."""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from blankett.flows.mail.delivery import DeliveryError, ServerUnavailable, SmtpSettingWrong
from blankett.flows.mail.reports import (
    render_report,
    render_summary,
    status_word,
    triage_order,
    warnings,
)
from blankett.flows.mail.views import (
    ApplicationView,
    CompletenessReport,
    HandledView,
    ProblemView,
    Status,
    TriageSummary,
)
from blankett.flows.pipeline.resources import Pipeline
from blankett.flows.store.actions import correction_lines, handled_applications, handled_files
from blankett.flows.store.database import (
    MOVED,
    REPORT_KINDS,
    UPDATE,
    Application,
    Handling,
    Message,
    Result,
    Submission,
    Version,
    now,
    store_problem,
)
from blankett.flows.store.ledger import (
    Recorded,
    as_utc,
    batches,
    changes,
    goes_to,
    latest_of,
    missing_fields,
    revision,
    status_of,
    year_applications,
)
from blankett.models.corrections import corrected_by
from blankett.models.messages import unread_file
from blankett.models.validation import second_application, to_review

log = logging.getLogger("blankett.delivery")


def application_view(pipeline: Pipeline, application: Application, version: Version | None = None,
                     result: Result | None = None, change_lines: tuple[str, ...] = (), *,
                     whole: bool = True) -> ApplicationView:
    """What a report shows of an application. Without `whole`, what a summary shows: not the
    answers, nor the fields to review, nor the text under other headings (a summary of a year's
    applications would hold them all at once)."""
    version = version or application.latest
    result = result or version.result
    spec = pipeline.spec
    labels = {f.key: f.label for f in spec.fields}
    areas = {a.key: a.name for a in spec.areas}
    area = result.fields.get("strategic_area")
    amount = result.fields.get("requested_amount_sek")
    answers = tuple((labels[k], _marked(_shown(v, areas if k == "strategic_area" else None),
                                        result.sources.get(k)))
                    for k, v in result.fields.items() if v is not None and k in labels) \
        if whole else ()
    status: Status = status_of(result)
    return ApplicationView(
        id=application.id,
        municipality=application.municipality or _text(result.fields.get("municipality")),
        library=_text(result.fields.get("library")),
        title=_text(result.fields.get("project_title")),
        area=area if isinstance(area, str) else None,
        area_name=areas.get(area) if isinstance(area, str) else None,
        amount=amount if isinstance(amount, int) else None,
        version=version.number,
        status=status,
        problems=tuple(ProblemView(labels.get(p.field or ""), p.code, p.severity,  # type: ignore[arg-type]
                                   p.message) for p in result.problems),
        answers=answers,
        missing=tuple(labels[k] for k in missing_fields(result) if k in labels),
        file_name=version.submission.original_name,
        archived_path=version.submission.stored_path,
        received_at=as_utc(version.submission.received_at),
        changes=change_lines,
        review=tuple(_review(labels[key], result.sources.get(key) or {})
                     for key in to_review(result.problems) if key in labels) if whole else (),
        other=tuple((str(u.get("heading", "")), str(u.get("text", "")))
                    for u in (result.raw or {}).get("unplaced", [])) if whole else (),
    )


def _marked(answer: str, source: dict[str, object] | None) -> str:
    """A consultant's correction says so beside the answer: "30 000 (rättat av anna)"."""
    who = corrected_by(source)
    return f"{answer} ({who})" if who else answer


def _review(label: str, source: dict[str, object]) -> str:
    """"Målgrupp (rubriken ”Vilka vill ni nå?”)": a field placed without its label."""
    return f"{label.split(' (')[0]} (rubriken ”{source.get('label') or '–'}”)"


def failed_view(submission: Submission) -> ApplicationView:
    why = unread_file(submission.failure_kind, submission.failure_values, submission.failure_reason)
    return ApplicationView(
        id=None, municipality=None, library=None, title=None, area=None, area_name=None,
        amount=None, version=1, status="unreadable",
        problems=(ProblemView(None, "unreadable", "error", why),),
        answers=(), missing=(), file_name=submission.original_name,
        archived_path=submission.stored_path, received_at=as_utc(submission.received_at))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _shown(value: object, areas: dict[str, str] | None) -> str:
    if areas is not None and isinstance(value, str):
        return areas.get(value, value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u00a0")
    return str(value)


def queue_version_report(pipeline: Pipeline, session: Session, recorded: Recorded) -> None:
    application, result = recorded.application, recorded.result
    view = application_view(pipeline, application, recorded.version, result,
                            (*changes(recorded.previous, result, pipeline.spec),
                             *correction_lines(recorded.previous, result, pipeline.spec)))
    key = f"report:submission:{recorded.version.submission_id}"
    # A file read only now (`rerun --failed`, the nightly retake) had its "cannot be read" report
    # under the submission's key: this one, to its area's consultants, is a report of its own.
    read_now = session.scalar(select(Message.id).where(Message.key == key)) is not None
    if read_now:
        key += ":read"
    holding, _ = _holding(session, application)
    report = CompletenessReport(key=key, application=view, recipients=tuple(result.consultants["to"]))
    _queue_report(pipeline, session, report, application.id, recorded.version.submission_id)
    why = (f"Filen {recorded.version.submission.original_name} kunde inte läsas när den kom in, "
           "men har nu lästs." if read_now else
           f"Version {recorded.version.number} har kommit in"
           + (f" med inriktningen {view.area_name}." if view.area_name else "."))
    _queue_moved(pipeline, session, application, result, f"{key}:moved",
                 [a for a in holding if a not in report.recipients], (why, goes_to(result)))


def queue_rerun_report(pipeline: Pipeline, session: Session, application: Application,
                       previous: Result, result: Result,
                       why: tuple[str, ...] = ("Läst om med nya regler eller ny läsare.",),
                       by: str | None = None) -> None:
    """The report of an application whose latest version was checked again, or corrected by a
    consultant (`why` says which; `by` who corrected it), and came out otherwise: an update,
    saying what changed."""
    _queue_update(pipeline, session, application, result, f"report:result:{result.id}",
                  (*why, *revision(previous, result, pipeline.spec)), why, by)


def queue_warning_reports(pipeline: Pipeline, session: Session, cause: Application,
                          warned: Iterable[Application]) -> None:
    """Tell the consultants of each other activity of the same municipality about `cause`: an
    update with the warning that came."""
    for other in warned:
        result = other.latest.result
        came = second_application(other.municipality, cause.title or "", other.year).message
        _queue_update(pipeline, session, other, result, f"report:second:{result.id}:{cause.id}",
                      tuple(f"Ny varning: {p.message}" for p in result.problems
                            if p.code == "second_application" and p.message == came))


def _queue_update(pipeline: Pipeline, session: Session, application: Application, result: Result,
                  key: str, lines: tuple[str, ...], why: tuple[str, ...] = (),
                  by: str | None = None) -> None:
    """What changed in the report of an application's latest version, without a new version.

    While the version's own report waits unsent, it is written again as it now stands: nobody
    has read the old one. Otherwise those who had a report of the application get an update that
    says only what changed, without the original; those who had none (the routing or the area
    changed) the whole report, with it; those who had one and are no longer its recipients a
    short word that it went elsewhere (`why`, and to whom). The consultant who made the change
    (`by`) is not sent an update of it while others are told."""
    version = application.latest
    waiting = session.scalar(select(Message).where(
        Message.key == f"report:submission:{version.submission_id}", Message.state == "pending"))
    if waiting is not None and not waiting.recipients.get("sent"):
        previous = application.versions[-2].result if len(application.versions) > 1 else None
        view = application_view(pipeline, application, version, result,
                                changes(previous, result, pipeline.spec))
        report = CompletenessReport(key=waiting.key, application=view,
                                    recipients=tuple(result.consultants["to"]))
        message = render_report(_worldwide(report, pipeline), sender=pipeline.sender,
                                archive_root=pipeline.home.root)
        waiting.recipients = {"to": list(report.recipients)}
        waiting.subject = str(message["Subject"])
        waiting.raw = message.as_bytes()
        return
    holding, left = _holding(session, application)
    view = application_view(pipeline, application, version, result, lines)
    recipients = tuple(result.consultants["to"])
    updated = tuple(r for r in recipients if r in holding)
    forwarded = tuple(r for r in recipients if r not in holding and r not in left)
    returned = tuple(r for r in recipients if r in left)
    moved = [a for a in holding if a not in recipients]
    own = _own(pipeline, by)
    if {*updated, *forwarded, *returned, *moved} - own:
        # They know: they made the change. They still have the report, so the next change of
        # it is an update to them again.
        updated = tuple(r for r in updated if r not in own)
    for kind, to, suffix in (("update", updated, ""), ("forwarded", forwarded, ":forwarded"),
                             ("forwarded", returned, ":returned")):
        if to:
            report = CompletenessReport(key=key + suffix, application=view, recipients=to,
                                        kind=kind, attach_original=kind != "update",
                                        returned=suffix == ":returned", written_at=now())
            _queue_report(pipeline, session, report, application.id, version.submission_id)
    _queue_moved(pipeline, session, application, result, f"{key}:moved", moved,
                 (*why, goes_to(result)), own)


def _queue_moved(pipeline: Pipeline, session: Session, application: Application, result: Result,
                 key: str, to: list[str], lines: tuple[str, ...], own: Collection[str] = ()
                 ) -> None:
    """To those who had the application's report and are no longer its recipients, of the
    routing's consultants: that it went elsewhere (`lines`: why, and to whom), without the
    original; told once, after which they no longer have it (_holding). Whoever of them made the
    change (`own`) is not told while others are, and is recorded as knowing."""
    # One the routing no longer names is no longer a consultant (gone elsewhere, say): not told.
    to = [a for a in to if a in _consultants(pipeline)]
    if not to:
        return
    told = [a for a in to if a not in own] or to
    version = application.latest
    view = application_view(pipeline, application, version, result,
                            tuple(dict.fromkeys(lines)), whole=False)
    report = CompletenessReport(key=key, application=view, recipients=tuple(told), kind="moved",
                                attach_original=False, written_at=now())
    _queue_report(pipeline, session, report, application.id, version.submission_id,
                  knowing=[a for a in to if a not in told])


def _holding(session: Session, application: Application) -> tuple[list[str], set[str]]:
    """Who has the application's report (received, or on its way), in the order they were
    first sent it: those sent a report of it, or of one of its files when it could not be read,
    and not told since that it went elsewhere. And who was told so, and has not had it since."""
    files = [v.submission_id for v in application.versions]
    holding: dict[str, None] = {}
    left: set[str] = set()
    for kind, recipients in session.execute(select(Message.kind, Message.recipients).where(
            or_(Message.application_id == application.id,
                and_(Message.application_id.is_(None), Message.submission_id.in_(files))),
            Message.kind.in_((*REPORT_KINDS, MOVED))).order_by(Message.id)):
        for address in (*recipients.get("to", []), *recipients.get("knowing", [])):
            if kind == MOVED:
                holding.pop(address, None)
                left.add(address)
            else:
                holding[address] = None
                left.discard(address)
    return list(holding), left


def _own(pipeline: Pipeline, by: str | None) -> set[str]:
    """The consultants' addresses that `by` (--by, or the login name) names: the address, the
    part before its @, or the name the routing gives it."""
    if not by or not by.strip():
        return set()
    wanted = by.strip().casefold()
    names = pipeline.routing.names
    return {a for a in _consultants(pipeline)
            if wanted in (a.casefold(), a.partition("@")[0].casefold(),
                          (names.get(a) or "").strip().casefold())}


def queue_failure_report(pipeline: Pipeline, session: Session, submission: Submission) -> None:
    report = CompletenessReport(key=f"report:submission:{submission.id}",
                                application=failed_view(submission),
                                recipients=tuple(pipeline.routing.consultants(None)),
                                attach_original=True)
    _queue_report(pipeline, session, report, None, submission.id)


def _queue_report(pipeline: Pipeline, session: Session, report: CompletenessReport,
                  application_id: int | None, submission_id: int | None,
                  knowing: list[str] | None = None) -> None:
    """`knowing`: who is not sent the message but knows what it says (they made the change)."""
    if session.scalar(select(Message.id).where(Message.key == report.key)) is not None:
        return
    message = render_report(_worldwide(report, pipeline), sender=pipeline.sender,
                            archive_root=pipeline.home.root)
    recipients: dict[str, list[str]] = {"to": list(report.recipients)}
    if knowing:
        recipients["knowing"] = knowing
    kind = report.kind if report.kind in (UPDATE, MOVED) else "report"
    session.add(Message(key=report.key, kind=kind, recipients=recipients,
                        subject=str(message["Subject"]), raw=message.as_bytes(), created_at=now(),
                        state="pending", application_id=application_id,
                        submission_id=submission_id))


_Keyed = TypeVar("_Keyed", CompletenessReport, TriageSummary)


def _worldwide(record: _Keyed, pipeline: Pipeline) -> _Keyed:
    """The record with a key unique beyond this store, for its Message-ID and outbox name."""
    return replace(record, key=f"{record.key}@{pipeline.instance}")


@dataclass(frozen=True)
class SummaryOutcome:
    queued: int
    consultants: int


def queue_summaries(pipeline: Pipeline, day: str, generated_at: datetime) -> SummaryOutcome:
    """One triage summary per consultant and day, of their area's applications this year.

    The year's applications are gone through once, a batch at a time (a few queries each, see
    ledger.latest_of), each made into the view a summary shows and handed to each of its
    consultants whose summary of the day is still to be queued."""
    addresses = _consultants(pipeline)
    with pipeline.store.session() as session:
        done = set(session.scalars(select(Message.key).where(
            Message.key.in_([f"summary:{day}:{a}" for a in addresses]))))
        ids = session.scalars(year_applications(pipeline.year)).all()
    mine: dict[str, list[ApplicationView]] = {
        a: [] for a in addresses if f"summary:{day}:{a}" not in done}
    if not mine:
        return SummaryOutcome(0, len(addresses))
    for batch in batches(ids):
        with pipeline.store.session() as session:
            handled = handled_applications(session, batch)
            for application, version, result in latest_of(session, batch, whole=False):
                to = [a for a in dict.fromkeys(result.consultants.get("to", [])) if a in mine]
                if to:
                    view = replace(application_view(pipeline, application, version, result,
                                                    whole=False),
                                   handled=_handled(handled.get(application.id)))
                    for address in to:
                        mine[address].append(view)
    queued = 0
    with pipeline.store.session() as session:
        unreadable = session.scalars(select(Submission).where(
            Submission.year == pipeline.year, Submission.state == "failed")
            .order_by(Submission.id)).all()
        handled_unreadable = handled_files(session, [s.id for s in unreadable])
        failed = [replace(failed_view(s), handled=_handled(handled_unreadable.get(s.id)))
                  for s in unreadable]
        fallback = set(pipeline.routing.consultants(None))
        for address, views in mine.items():
            key = f"summary:{day}:{address}"
            if address in fallback:
                views += failed
            if not views and not pipeline.home.settings.summary.send_empty:
                continue  # "inga ansökningar" every day, unless asked for
            snapshot = {_snapshot_key(v): [v.version, v.status, _warning_marks(v)] for v in views}
            since, first = _since_last(session, address, views, snapshot)
            summary = TriageSummary(
                key=key, consultant=address, consultant_name=pipeline.routing.names.get(address),
                year=pipeline.year, applications=tuple(triage_order(views)),
                new_since_last=since, generated_at=generated_at, first=first)
            message = render_summary(_worldwide(summary, pipeline), sender=pipeline.sender)
            session.add(Message(key=key, kind="summary", recipients={"to": [address]},
                                subject=str(message["Subject"]), raw=message.as_bytes(),
                                created_at=now(), state="pending", snapshot=snapshot))
            queued += 1
    return SummaryOutcome(queued, len(addresses))


def _handled(handling: Handling | None) -> HandledView | None:
    if handling is None:
        return None
    return HandledView(handling.done_by, as_utc(handling.done_at), handling.note)


def _consultants(pipeline: Pipeline) -> list[str]:
    routing = pipeline.routing
    found = [a for addresses in routing.areas.values() for a in addresses]
    return list(dict.fromkeys([*found, *routing.fallback]))


def _snapshot_key(view: ApplicationView) -> str:
    return f"application:{view.id}" if view.id is not None else f"failed:{view.archived_path}"


def _warning_marks(view: ApplicationView) -> list[str]:
    """Each warning's message as a short hash: what the next summary needs to tell a new
    warning from one it showed, at a few bytes a warning."""
    return [_mark(message) for message in warnings(view)]


def _mark(message: str) -> str:
    return hashlib.sha256(message.encode("utf-8")).hexdigest()[:12]


def _since_last(session: Session, address: str, views: list[ApplicationView],
                snapshot: dict[str, list[object]]) -> tuple[tuple[str, ...], bool]:
    """What is new since the consultant's last summary, in Swedish, and whether they had none
    (all is new)."""
    # Escaped: "_" and "%" in an address are wildcards to LIKE, and would find another
    # consultant's summary (eva_fred@ and evaxfred@).
    last = session.execute(select(Message.snapshot).where(
        Message.kind == "summary", Message.key.startswith("summary:", autoescape=True),
        Message.key.endswith(f":{address}", autoescape=True))
        .order_by(Message.id.desc()).limit(1)).first()
    before: dict[str, list[object]] = (last.snapshot or {}) if last is not None else {}
    lines: list[str] = []
    for view in views:
        key = _snapshot_key(view)
        name = _name(view)
        status = status_word(view.status)
        if key not in before:
            lines.append(f"Ny: {name} ({status}).")
            continue
        if before[key][0] != view.version:
            lines.append(f"Ny version {view.version}: {name} ({status}).")
            continue
        if before[key][1] != view.status:
            lines.append(f"Ändrad status: {name} är nu {status}.")
        # A summary written before summaries kept their warnings has none to compare with.
        if len(before[key]) > 2:
            shown = set(before[key][2])  # type: ignore[arg-type]
            lines += [f"Ny varning: {name}: {message}" for message in warnings(view)
                      if _mark(message) not in shown]
    return tuple(lines), last is None


def _name(view: ApplicationView) -> str:
    if view.status == "unreadable":
        return view.file_name
    return f"{view.municipality or 'okänd kommun'} – {view.title or view.file_name}"


@dataclass(frozen=True)
class DeliveryOutcome:
    sent: int
    failed: int
    pending: int
    # A setting that keeps every message from leaving (no STARTTLS, a refused login): said once
    # by the command, as one line; the messages wait until it is mended.
    setting_wrong: str = ""


def pending_count(pipeline: Pipeline) -> int:
    with pipeline.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Message)
                                  .where(Message.state == "pending")) or 0)


def deliver_pending(pipeline: Pipeline) -> DeliveryOutcome:
    """Send what is recorded and not yet sent, one recipient at a time, so that a recipient
    refused or a connection lost half-way never makes the others get a message twice. A message
    is marked sent once every recipient has it; until then it stays pending for the next run."""
    with pipeline.store.session() as session:
        ids = session.scalars(select(Message.id).where(Message.state == "pending")
                              .order_by(Message.id)).all()
    sent = failed = 0
    for message_id in ids:
        try:
            outcome = _deliver_one(pipeline, message_id)
        except SQLAlchemyError as exc:
            # The store cannot record a delivery (its disk full, say): nothing more is sent,
            # since what is sent and not recorded would be sent again at the next run.
            log.error("the store cannot record deliveries (%s); the rest waits for the next run",
                      store_problem(exc))
            failed += 1
            break
        sent += outcome == "sent"
        failed += outcome in ("failed", "unavailable")
        if outcome == "unavailable":
            log.warning("the mail server is unavailable; the rest waits for the next run")
            break
    return DeliveryOutcome(sent, failed, pending_count(pipeline))


def _deliver_one(pipeline: Pipeline, message_id: int) -> str:
    """"sent" once every recipient has the message, "failed" when some recipient could not get
    it, "unavailable" when the server could not be reached, "" when there was nothing to do.
    Who has it is recorded as soon as they have it, each in a transaction of its own."""
    # The attempt is recorded before anything is sent: a store that cannot record (full,
    # read-only) fails here, with nothing sent, rather than after a send it cannot note, which
    # would send the message again at every run for as long as the store stays full.
    with pipeline.store.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.state != "pending":
            return ""
        message.attempts += 1
        kind, raw = message.kind, message.raw
        to, done = list(message.recipients["to"]), list(message.recipients.get("sent", []))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    outcome, error = "sent", None
    for address in to:
        if address in done:
            continue
        try:
            pipeline.delivery.send(parsed, to=[address])  # type: ignore[arg-type]
        except SmtpSettingWrong as exc:
            _note_delivery(pipeline, message_id, done, error=str(exc))
            raise  # every message would fail alike: the run stops and says which setting
        except DeliveryError as exc:
            error = str(exc)
            log.warning("%s to %s not delivered: %s; will retry on the next run",
                        kind, address, exc)
            if isinstance(exc, ServerUnavailable):
                outcome = "unavailable"
                break
            outcome = "failed"
            continue
        done.append(address)
        # At once: should the run end here, or the store refuse a later write, this recipient
        # is not sent the message again.
        try:
            _note_delivery(pipeline, message_id, done)
        except SQLAlchemyError as exc:
            # The one way left to send a message twice: the attempt was recorded, the store
            # then refused to record the delivery. Said, so that a second copy is explained.
            log.error("%s to %s was sent, but the store cannot record it (%s); it is sent again "
                      "once it can", kind, address, store_problem(exc))
            raise
    _note_delivery(pipeline, message_id, done, outcome == "sent", error)
    if outcome == "sent":
        log.info("sent %s %s to %s", kind, parsed.get("Message-ID", f"#{message_id}"),
                 ", ".join(done))
    return outcome


def _note_delivery(pipeline: Pipeline, message_id: int, done: list[str], complete: bool = False,
                   error: str | None = None) -> None:
    with pipeline.store.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return
        message.recipients = {**message.recipients, "sent": list(done)}
        if complete:
            message.state = "sent"
            message.sent_at = now()
            message.last_error = None
        elif error is not None:
            message.last_error = error
