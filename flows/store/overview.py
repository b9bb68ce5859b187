"""What the store says of the applications for people to read whole: one application with its
history (`blankett show`), and the year's applications a row each (`blankett overview`, and the
nightly run's table artifact)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from blankett.flows.store.actions import decisions, handled_applications, history
from blankett.flows.store.database import (
    Application,
    Correction,
    Decision,
    Letter,
    Message,
    Store,
    Version,
)
from blankett.flows.store.ledger import (
    as_utc,
    batches,
    changes,
    latest_of,
    missing_fields,
    status_of,
    year_applications,
)
from blankett.flows.store.queries import UnknownTarget
from blankett.models.corrections import corrected_by
from blankett.models.spec import FormSpec, Routing


def application_record(store: Store, spec: FormSpec, application_id: int,
                       zone: ZoneInfo) -> dict[str, Any]:
    """Everything about one application, as JSON takes it: its latest fields with where each
    was read, its problems, its versions with what each changed, the corrections, whether it is
    handled, the decision, the letters, and every message about it, sent or waiting. Times in
    `zone`, as the reports give them."""

    def local(moment: datetime | None) -> str | None:
        return as_utc(moment).astimezone(zone).isoformat(timespec="seconds") if moment else None

    def who(row: Any) -> dict[str, Any]:
        return {"by": row.done_by, "at": local(row.done_at)}

    labels = {f.key: f.label for f in spec.fields}
    with store.session() as session:
        found = session.get(Application, application_id)
        if found is None or not found.versions:
            raise UnknownTarget(f"{application_id}: ingen ansökan i detta hem har detta id; "
                                "se `blankett status`")
        version = found.latest
        result = version.result
        versions = []
        previous = None
        for each in found.versions:
            versions.append({
                "number": each.number, "received_at": local(each.submission.received_at),
                "received_as": each.submission.original_name, "file": each.submission.stored_path,
                "changes": list(changes(previous, each.result, spec)),
            })
            previous = each.result
        corrections = session.scalars(select(Correction).join(Version).where(
            Version.application_id == found.id).order_by(Correction.id)).all()
        number = {v.id: v.number for v in found.versions}
        handled = handled_applications(session, [found.id]).get(found.id)
        standing = history(session, Decision, found.id)
        letters = history(session, Letter, found.id)
        messages = session.scalars(select(Message).where(Message.application_id == found.id)
                                   .order_by(Message.id)).all()
        letter_states = {m.id: m.state for m in messages}
        return {
            "id": found.id, "year": found.year, "municipality": found.municipality or None,
            "activity": found.title, "status": status_of(result), "version": version.number,
            "area": result.fields.get("strategic_area"),
            "consultants": result.consultants.get("to", []),
            "fields": [{
                "key": f.key, "label": f.label, "value": result.fields.get(f.key),
                "source": result.sources.get(f.key),
                "corrected": corrected_by(result.sources.get(f.key)) is not None,
            } for f in spec.fields],
            "missing": missing_fields(result),
            "problems": [{"field": p.field, "label": labels.get(p.field or ""), "code": p.code,
                          "severity": p.severity, "message": p.message} for p in result.problems],
            "versions": versions,
            "corrections": [{"version": number.get(c.version_id), "field": c.field,
                             "label": labels.get(c.field, c.field), "value": c.value,
                             "before": c.before, **who(c)} for c in corrections],
            "handled": {"note": handled.note, **who(handled)} if handled else None,
            "decision": ({"outcome": standing[-1].outcome, "amount": standing[-1].amount,
                          "note": standing[-1].note, "forced": standing[-1].forced,
                          **who(standing[-1])} if standing else None),
            "letters": [{"to": letter.recipient, "draft": letter.draft_path,
                         "sent": letter_states.get(letter.message_id) == "sent"
                         if letter.message_id else False, **who(letter)} for letter in letters],
            "messages": [{"kind": m.kind, "subject": m.subject, "to": m.recipients.get("to", []),
                          "state": m.state, "created_at": local(m.created_at),
                          "sent_at": local(m.sent_at)} for m in messages],
        }


@dataclass(frozen=True)
class OverviewRow:
    """One application of the year, as Biblioteksgruppen and the learning day look at it."""

    id: int
    municipality: str | None
    library: str | None
    activity: str | None
    area: str | None  # key: open, reading, digital, learning
    area_name: str | None
    sought: int | None
    granted: int | None
    decision: str | None  # granted | declined
    status: str  # complete | incomplete | unreadable
    version: int
    received: date  # the latest version's, in the office's time zone
    consultants: tuple[str, ...]  # names where the routing gives them, else addresses
    handled: bool
    contact_email: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def overview_rows(store: Store, spec: FormSpec, routing: Routing, year: int,
                  zone: ZoneInfo) -> list[OverviewRow]:
    """The year's applications, in the order they came, a batch at a time (ledger.latest_of)."""
    areas = {a.key: a.name for a in spec.areas}
    rows: list[OverviewRow] = []
    with store.session() as session:
        ids = session.scalars(year_applications(year)).all()
    for batch in batches(ids):
        with store.session() as session:
            standing = decisions(session, batch)
            handled = handled_applications(session, batch)
            for application, version, result in latest_of(session, batch, whole=False):
                fields = result.fields
                area = fields.get("strategic_area")
                decision = standing.get(application.id)
                rows.append(OverviewRow(
                    id=application.id, municipality=application.municipality or None,
                    library=_text(fields.get("library")), activity=application.title,
                    area=area if isinstance(area, str) else None,
                    area_name=areas.get(area) if isinstance(area, str) else None,
                    sought=_amount(fields.get("requested_amount_sek")),
                    granted=decision.amount if decision is not None else None,
                    decision=decision.outcome if decision is not None else None,
                    status=status_of(result), version=version.number,
                    received=as_utc(version.submission.received_at).astimezone(zone).date(),
                    consultants=tuple(routing.names.get(a, a)
                                      for a in result.consultants.get("to", [])),
                    handled=application.id in handled,
                    contact_email=_text(fields.get("contact_email"))))
    return rows


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _amount(value: object) -> int | None:
    return value if isinstance(value, int) else None
