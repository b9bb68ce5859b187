"""The questions the commands ask of the store: what `status` lists, which applications a
`rerun` names. Plain functions over a Store; the command line only prints what they return."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from blankett.flows.store.actions import decisions, handled_applications, handled_files
from blankett.flows.store.database import (
    REPORT_KINDS,
    Application,
    Message,
    Store,
    Submission,
    Version,
)
from blankett.flows.store.ledger import as_utc, missing_fields, status_of
from blankett.models.errors import BlankettError
from blankett.models.messages import failure


class UnknownTarget(BlankettError):
    """A `rerun` target that names no application of the home, or several."""


def status_rows(store: Store, year: int, zone: ZoneInfo, fallback: list[str]) -> list[dict[str, Any]]:
    """One row per application of the year (its latest version) and per unreadable file; times in
    `zone`, as the reports give them. `fallback` are the consultants an unreadable file goes to."""
    rows: list[dict[str, Any]] = []

    def local(sent: Any) -> str | None:
        return as_utc(sent).astimezone(zone).isoformat(timespec="seconds") if sent else None

    with store.session() as session:
        last_sent = dict(session.execute(
            select(Message.application_id, func.max(Message.sent_at))
            .where(Message.kind.in_(REPORT_KINDS), Message.state == "sent")
            .group_by(Message.application_id)).all())
        waiting = dict(session.execute(
            select(Message.application_id, func.count())
            .where(Message.state != "sent", Message.application_id.is_not(None))
            .group_by(Message.application_id)).all())
        failed_waiting = dict(session.execute(
            select(Message.submission_id, func.count())
            .where(Message.state != "sent", Message.application_id.is_(None),
                   Message.submission_id.is_not(None))
            .group_by(Message.submission_id)).all())
        failed_sent = dict(session.execute(
            select(Message.submission_id, func.max(Message.sent_at))
            .where(Message.kind.in_(REPORT_KINDS), Message.state == "sent",
                   Message.application_id.is_(None))
            .group_by(Message.submission_id)).all())
        applications = [a for a in session.scalars(select(Application).where(
            Application.year == year).order_by(Application.id)) if a.versions]
        handled = handled_applications(session, [a.id for a in applications])
        decided = decisions(session, [a.id for a in applications])
        for app in applications:
            result = app.latest.result
            decision = decided.get(app.id)
            rows.append({
                "id": app.id, "municipality": app.municipality or None,
                "area": result.fields.get("strategic_area"), "activity": app.title,
                "version": app.latest.number,
                "status": status_of(result),
                "missing": missing_fields(result),
                "errors": [p.code for p in result.problems
                           if p.severity == "error" and p.code != "missing"],
                "warnings": [p.code for p in result.problems if p.severity == "warning"],
                # What each warning is about, so that it can be named: a field's key, or None for
                # the whole file (read by OCR, one of two from the municipality).
                "warning_fields": [p.field for p in result.problems if p.severity == "warning"],
                "consultants": result.consultants.get("to", []),
                "last_report_sent": local(last_sent.get(app.id)),
                "pending_messages": waiting.get(app.id, 0),
                "file": app.latest.submission.stored_path,
                "received_as": app.latest.submission.original_name,
                "handled": app.id in handled,
                "handled_by": handled[app.id].done_by if app.id in handled else None,
                "decision": decision.outcome if decision is not None else None,
                "granted_sek": decision.amount if decision is not None else None,
            })
        unreadable = session.scalars(select(Submission).where(
            Submission.year == year, Submission.state == "failed")).all()
        handled_unreadable = handled_files(session, [s.id for s in unreadable])
        for sub in unreadable:
            rows.append({"id": None, "municipality": None, "area": None,
                         "activity": None, "version": None, "status": "unreadable",
                         "missing": [], "errors": ["unreadable"], "warnings": [], "warning_fields": [],
                         "consultants": fallback,
                         "last_report_sent": local(failed_sent.get(sub.id)),
                         "pending_messages": failed_waiting.get(sub.id, 0),
                         "file": sub.stored_path, "received_as": sub.original_name,
                         # What kind of failure ("empty", "not_the_form", ...), for scripts.
                         "failure": sub.failure_kind,
                         # Why, in Swedish; the English reason is in the logs.
                         "reason": failure(sub.failure_kind, sub.failure_values,
                                           sub.failure_reason),
                         "handled": sub.id in handled_unreadable,
                         "handled_by": handled_unreadable[sub.id].done_by
                         if sub.id in handled_unreadable else None,
                         "decision": None, "granted_sek": None})
    return rows


def application_ids(store: Store, root: Path, targets: list[str]) -> list[int]:
    """The application each target names: an id as it is, or a file by its place in the archive
    (absolute, or relative to the current folder or to `root`) or by the name it was received as."""
    ids: list[int] = []
    with store.session() as session:
        for target in targets:
            if target.isdigit():
                if session.get(Application, int(target)) is None:
                    raise UnknownTarget(f"{target}: no application of this home has this id; "
                                        "see `blankett status`")
                ids.append(int(target))
                continue
            path, stored = _stored(root, target)
            versions = session.scalars(select(Version).join(Submission).where(
                Submission.stored_path == stored)).all() or session.scalars(
                select(Version).join(Submission).where(
                    Submission.original_name == path.name)).all()
            found = sorted({v.application_id for v in versions})
            if not found:
                raise UnknownTarget(f"{target}: no application has this file")
            if len(found) > 1:
                raise UnknownTarget(f"{target}: several applications have a file of this name "
                                    f"(ids {', '.join(map(str, found))}); name the id or the "
                                    "archived file")
            ids.append(found[0])
    return ids


def _stored(root: Path, target: str) -> tuple[Path, str]:
    """A file named on the command line, and where the store would have it: relative to `root`
    when it is a path there (absolute, or relative to the current folder), else as given."""
    path = Path(target)
    try:
        stored = str(path.resolve().relative_to(root)) if path.is_absolute() or path.exists() \
            else target
    except ValueError:
        raise UnknownTarget(f"{target}: not inside {root}") from None
    return path, stored


Target = tuple[Literal["application", "file"], int]


def handled_target(store: Store, root: Path, target: str) -> Target:
    """An application by its id or one of its files, as `rerun` takes them, or else an unreadable
    file (it has no application) by its place in failed/ or the name it was received as."""
    try:
        return "application", application_ids(store, root, [target])[0]
    except UnknownTarget:
        if target.isdigit():
            raise
    path, stored = _stored(root, target)
    with store.session() as session:
        found = session.scalars(select(Submission.id).where(
            Submission.state == "failed", Submission.stored_path == stored)).all() or \
            session.scalars(select(Submission.id).where(
                Submission.state == "failed", Submission.original_name == path.name)).all()
    if len(found) != 1:
        raise UnknownTarget(f"{target}: ingen ansökan och ingen oläslig fil har detta namn"
                            if not found else
                            f"{target}: flera olästa filer har detta namn; ange den i failed/")
    return "file", found[0]
