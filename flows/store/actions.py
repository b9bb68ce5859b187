"""What consultants do, in the store: corrections, applications marked handled, decisions,
letters. Each is a row with who did it and when, never changed afterwards: the latest row of an
application (or of a field, for corrections) is what stands, the earlier ones its history.

Plain functions over a SQLAlchemy session; flows/pipeline/actions.py acts, the commands and the
reports ask."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from blankett.flows.store.database import (
    Application,
    Correction,
    Decision,
    Handling,
    Letter,
    Result,
    Version,
)
from blankett.flows.store.ledger import as_utc, batches
from blankett.models.corrections import corrected_by
from blankett.models.spec import FormSpec

_Row = TypeVar("_Row", Handling, Decision, Letter)


def _latest(session: Session, model: type[_Row], column: InstrumentedAttribute[Any],
            ids: Sequence[int]) -> dict[int, _Row]:
    """The latest row of `model` for each of `ids` (by `column`): a query for each batch of ids,
    which a database takes whatever the year's size (PostgreSQL takes 65,535 values a query)."""
    found: dict[int, _Row] = {}
    for batch in batches(ids):
        newest = select(func.max(model.id)).where(column.in_(batch)).group_by(column)
        found.update((getattr(row, column.key), row)
                     for row in session.scalars(select(model).where(model.id.in_(newest))))
    return found


def corrections_of(session: Session, version_ids: Sequence[int]) -> dict[int, dict[str, Correction]]:
    """For each version, its standing correction of each field corrected (the latest)."""
    if not version_ids:
        return {}
    newest = (select(func.max(Correction.id)).where(Correction.version_id.in_(version_ids))
              .group_by(Correction.version_id, Correction.field))
    found: dict[int, dict[str, Correction]] = {}
    for row in session.scalars(select(Correction).where(Correction.id.in_(newest))):
        found.setdefault(row.version_id, {})[row.field] = row
    return found


def correction_values(corrections: dict[str, Correction]) -> dict[str, tuple[str, str]]:
    """{field: (value, who)}, as models.corrections.corrected takes them."""
    return {key: (c.value, c.done_by) for key, c in corrections.items()}


def history(session: Session, model: type[_Row], application_id: int) -> list[_Row]:
    return list(session.scalars(select(model).where(model.application_id == application_id)
                                .order_by(model.id)))


def handled_applications(session: Session, ids: Sequence[int]) -> dict[int, Handling]:
    """Those of `ids` that stand handled, with the row that marked them. A version the applicant
    sent after it was marked is new to act on: the mark no longer stands."""
    marked = {k: h for k, h in _latest(session, Handling, Handling.application_id, ids).items()
              if h.handled}
    newest: dict[int, datetime] = {}
    for batch in batches(list(marked)):
        newest.update(dict(session.execute(
            select(Version.application_id, func.max(Version.created_at))
            .where(Version.application_id.in_(batch)).group_by(Version.application_id)).all()))
    return {k: h for k, h in marked.items()
            if k not in newest or as_utc(h.done_at) >= as_utc(newest[k])}


def handled_files(session: Session, ids: Sequence[int]) -> dict[int, Handling]:
    """Those of the unreadable files (submission ids) that stand handled."""
    return {k: h for k, h in _latest(session, Handling, Handling.submission_id, ids).items()
            if h.handled}


def decisions(session: Session, ids: Sequence[int]) -> dict[int, Decision]:
    """The decision standing on each of `ids` that has one."""
    return _latest(session, Decision, Decision.application_id, ids)


def granted_elsewhere(session: Session, application: Application) -> list[Application]:
    """The municipality's other applications of the year that stand granted."""
    if not application.municipality:
        return []
    others = session.scalars(select(Application).where(
        Application.year == application.year, Application.municipality == application.municipality,
        Application.id != application.id)).all()
    standing = decisions(session, [a.id for a in others])
    return [a for a in others if a.id in standing and standing[a.id].outcome == "granted"]


def correction_lines(previous: Result | None, current: Result, spec: FormSpec) -> tuple[str, ...]:
    """For a new version's report: whether each correction of the version before agrees with
    what the new one says. The new version was read as it is; the correction is not carried over."""
    if previous is None:
        return ()
    lines: list[str] = []
    for field in spec.fields:
        who = corrected_by(previous.sources.get(field.key))
        if who is None:
            continue
        label = field.label.split(" (")[0]
        was, now = previous.fields.get(field.key), current.fields.get(field.key)
        which = f"Rättelsen av {label} i förra versionen ({quoted(named(spec, field.key, was))}, {who})"
        if was == now:
            lines.append(f"{which} stämmer med den nya versionen.")
        else:
            new = f"anger ”{said(named(spec, field.key, now))}”" if now is not None else "saknar uppgiften"
            lines.append(f"{which} stämmer inte med den nya versionen, som {new}; den nya "
                         "versionens uppgift gäller.")
    return tuple(lines)


def quoted(value: object) -> str:
    """A field's value quoted as a line says it ("”30 000”"), or "tomt" where there is none: a
    quoted "tomt" would read as what the applicant wrote."""
    return "tomt" if value is None or value == "" else f"”{said(value)}”"


def said(value: object) -> str:
    """A field's value as a line of a report quotes it: "30 000", "tomt"."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u00a0")
    return " ".join(str(value).split()) if value is not None else "tomt"


def named(spec: FormSpec, key: str, value: object) -> object:
    """A field's value, a strategic area by its name in the form ("Det digitala biblioteket")
    rather than its key ("digital"): as a line quotes it (quoted(), said())."""
    if key == "strategic_area" and isinstance(value, str):
        return next((a.name for a in spec.areas if a.key == value), value)
    return value
