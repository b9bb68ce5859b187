"""Recording what was read into the store: applications, versions, results, and what changed.

Plain functions over a SQLAlchemy session; the flows call them, the tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased, defer, joinedload, selectinload

from blankett.extractors import EXTRACTOR_VERSION
from blankett.flows.store.database import (
    Application,
    ProblemRecord,
    Result,
    Submission,
    Version,
    now,
    without_nul,
)
from blankett.models.records import SCAN_KINDS, Extraction, Problem, Report
from blankett.models.spec import FormSpec
from blankett.models.validation import activity_key, second_application


@dataclass(frozen=True)
class Recorded:
    application: Application
    version: Version
    result: Result
    previous: Result | None
    # Other activities of the same municipality that were warned of this one only now.
    warned: tuple[Application, ...] = ()


# Applications a session loads at a time when going through a whole year: a few queries per batch,
# whatever its size, and only one batch's rows held at once.
BATCH = 500


def year_applications(year: int, only: Sequence[int] | None = None) -> Select[tuple[int]]:
    """The ids of the year's applications that have a version (all, or those of `only`), in
    the order they were created."""
    query = select(Application.id).where(Application.year == year, Application.versions.any())
    if only is not None:
        query = query.where(Application.id.in_(only))
    return query.order_by(Application.id)


def batches(ids: Sequence[int], size: int = BATCH) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def latest(*entities: Any) -> Select[Any]:
    """`entities` of each application joined to its latest version and the latest result of it
    (the highest number, the highest id): the version a report shows, the result it shows."""
    later_version = aliased(Version)
    later_result = aliased(Result)
    latest_number = (select(func.max(later_version.number))
                     .where(later_version.application_id == Application.id).scalar_subquery())
    latest_result = (select(func.max(later_result.id))
                     .where(later_result.version_id == Version.id).scalar_subquery())
    return (select(*entities).select_from(Application)
            .join(Version, Version.application_id == Application.id)
            .join(Result, Result.version_id == Version.id)
            .where(Version.number == latest_number, Result.id == latest_result))


def latest_of(session: Session, ids: Sequence[int], *, whole: bool = True
              ) -> list[tuple[Application, Version, Result]]:
    """Each application's latest version and the latest result of it, in id order: two queries
    however many applications (the rows, their file joined; the results' problems). The version's
    file and the result's problems come loaded. Without `whole`, the result's raw reading and
    its sources are left in the database until asked for: a summary shows neither."""
    query = (latest(Application, Version, Result).where(Application.id.in_(ids))
             .options(joinedload(Version.submission), selectinload(Result.problems))
             .order_by(Application.id))
    if not whole:
        query = query.options(defer(Result.raw), defer(Result.sources))
    return [(a, v, r) for a, v, r in session.execute(query).unique()]


def application_for(session: Session, report: Report, year: int) -> Application:
    """The application this form is a version of: same municipality, year and activity.

    A form that names its municipality but not its activity is taken as a version of that
    municipality's one application (one per municipality and year is the rule), and a later form
    with the activity's name completes it. A form whose municipality cannot be read stands
    alone, keyed by its bytes.
    """
    municipality, key = identity(report)
    found = _find(session, year, municipality, key)
    if found is None and municipality:
        same_place = session.scalars(select(Application).where(
            Application.year == year, Application.municipality == municipality)).all()
        if key == "" and len(same_place) == 1:
            found = same_place[0]
        elif key != "":
            found = next((a for a in same_place if a.activity_key == ""), None)
            if found is not None:
                found.activity_key = key  # the corrected form names the activity
    if found is not None:
        return found
    title = report.fields.get("project_title")
    application = Application(year=year, municipality=municipality, activity_key=key,
                              title=str(title) if title else None, created_at=now())
    session.add(application)
    session.flush()
    return application


def _find(session: Session, year: int, municipality: str, key: str) -> Application | None:
    return session.scalar(select(Application).where(
        Application.year == year, Application.municipality == municipality,
        Application.activity_key == key))


def identity(report: Report) -> tuple[str, str]:
    """(municipality, activity key); the activity key is "" when the form names no activity."""
    municipality = report.fields.get("municipality")
    title = report.fields.get("project_title")
    known = isinstance(municipality, str) and not any(
        p.code == "unknown_municipality" for p in report.problems)
    if not known:
        return "", f"file:{report.sha256}"
    return str(municipality), activity_key(str(title)) if title else ""


def record_version(session: Session, submission: Submission, report: Report,
                   extraction: Extraction, year: int, rules: str | None = None) -> Recorded:
    """`rules`: the fingerprint of the rules that checked `report` (Examiner.fingerprint)."""
    application = application_for(session, report, year)
    previous = application.latest.result if application.versions else None
    version = Version(application=application, number=len(application.versions) + 1,
                      submission=submission, created_at=now())
    session.add(version)
    title = report.fields.get("project_title")
    if title:
        application.title = str(title)
    result = add_result(session, version, report, extraction, rules)
    warned = flag_other_activities(session, application, result)
    return Recorded(application, version, result, previous, tuple(warned))


def add_result(session: Session, version: Version, report: Report,
               extraction: Extraction, rules: str | None = None) -> Result:
    result = Result(
        version=version, extractor_version=EXTRACTOR_VERSION, kind=report.kind,
        fields=dict(report.fields), sources={k: s.model_dump() for k, s in report.sources.items()},
        consultants={"to": list(report.consultants)}, complete=report.complete,
        raw=extraction.model_dump(mode="json"), created_at=now(), rules_fingerprint=rules,
        problems=[_problem_record(p) for p in report.problems])
    session.add(result)
    session.flush()
    return result


def _problem_record(problem: Problem) -> ProblemRecord:
    return ProblemRecord(field=problem.field, code=problem.code, severity=problem.severity,
                         message=problem.message)


def flag_other_activities(session: Session, application: Application, result: Result
                          ) -> list[Application]:
    """One application per municipality and year can be granted: a second, different activity
    warns on both. Returns the other applications that got the warning only now: their
    consultants have not been told yet."""
    if not application.municipality:
        return []
    others = session.scalars(select(Application).where(
        Application.year == application.year,
        Application.municipality == application.municipality,
        Application.id != application.id)).all()
    warned: list[Application] = []
    for other in others:
        if not other.versions:
            continue
        _warn_once(result, second_application(application.municipality,
                                              other.title or "", application.year))
        if _warn_once(other.latest.result, second_application(application.municipality,
                                                              application.title or "",
                                                              application.year)):
            warned.append(other)
    return warned


def _warn_once(result: Result, problem: Problem) -> bool:
    # Stored messages lose their NULs (StoredText): so does the one compared with them.
    message = without_nul(problem.message)
    if any(p.code == problem.code and without_nul(p.message) == message for p in result.problems):
        return False
    result.problems.append(_problem_record(problem))
    return True


def same_outcome(a: Result, report: Report) -> bool:
    """Whether checking again changed nothing a consultant would see."""
    ours = {(p.field, p.code, p.severity, without_nul(p.message)) for p in a.problems
            if p.code != "second_application"}
    theirs = {(p.field, p.code, p.severity, without_nul(p.message)) for p in report.problems}
    return (a.fields == dict(report.fields) and ours == theirs
            and a.consultants.get("to") == list(report.consultants))


def changes(previous: Result | None, current: Result, spec: FormSpec) -> tuple[str, ...]:
    """What a new version changed, in Swedish, for the consultant."""
    if previous is None:
        return ()
    return _differences(previous, current, spec) or ("Inga ändringar i svaren.",)


def revision(previous: Result, current: Result, spec: FormSpec) -> tuple[str, ...]:
    """What checking a version again changed (under new rules, by a new reader), in Swedish for
    the consultants who had its report: what changes() says of a new version, the errors and
    warnings that came or went, and who it goes to."""
    lines = list(_differences(previous, current, spec))
    before, after = _said(previous), _said(current)
    lines += [f"{'Nytt fel' if p.severity == 'error' else 'Ny varning'}: {p.message}"
              for p in current.problems if (p.code, p.message) in after - before]
    lines += [f"Gäller inte längre: {p.message}" for p in previous.problems
              if (p.code, p.message) in before - after]
    if previous.consultants.get("to") != current.consultants.get("to"):
        lines.append(goes_to(current))
    return tuple(dict.fromkeys(lines)) or ("Inget som rapporten visar har ändrats.",)


def goes_to(result: Result) -> str:
    """"Går nu till: a@x, b@x.": whom the report of `result` goes to."""
    return "Går nu till: " + ", ".join(result.consultants.get("to", [])) + "."


def _said(result: Result) -> set[tuple[str, str]]:
    # Missing fields are said by their labels (_differences), not again as problems.
    return {(p.code, p.message) for p in result.problems
            if not (p.code == "missing" and p.severity == "error")}


def _differences(previous: Result, current: Result, spec: FormSpec) -> tuple[str, ...]:
    labels = {f.key: f.label for f in spec.fields}
    before, after = missing_fields(previous), missing_fields(current)
    lines: list[str] = []
    if current.complete and not previous.complete:
        lines.append("Nu komplett.")
    elif not current.complete and previous.complete:
        lines.append("Inte längre komplett.")
    if filled := [labels[k] for k in before if k not in after and k in labels]:
        lines.append("Nu ifyllt: " + ", ".join(filled) + ".")
    if still := [labels[k] for k in after if k in before and k in labels]:
        lines.append("Saknas fortfarande: " + ", ".join(still) + ".")
    if new := [labels[k] for k in after if k not in before and k in labels]:
        lines.append("Saknas nu: " + ", ".join(new) + ".")
    # The other answers: given where there was none, changed, or taken away; a field that was
    # empty is no answer changed.
    others = [k for k in labels if k not in before and k not in after
              and previous.fields.get(k) != current.fields.get(k)]
    for words, which in (("Nya svar", lambda was, now: was is None),
                         ("Ändrade svar", lambda was, now: was is not None and now is not None),
                         ("Borttagna svar", lambda was, now: now is None)):
        if named := [labels[k] for k in others if which(previous.fields.get(k), current.fields.get(k))]:
            lines.append(f"{words}: " + ", ".join(named) + ".")
    return tuple(lines)


def missing_fields(result: Result) -> list[str]:
    return [p.field for p in result.problems if p.code == "missing" and p.severity == "error"
            and p.field]


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back times without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def status_of(result: Result) -> Literal["complete", "incomplete", "unreadable"]:
    """A scan is a file nobody can check until someone reads it: it counts as unreadable."""
    if result.kind in SCAN_KINDS and any(p.code == "scanned" for p in result.problems):
        return "unreadable"
    return "complete" if result.complete else "incomplete"


def reidentify(session: Session, found: Application, report: Report) -> None:
    """A municipality or activity name read or corrected now (a consultant's correction, a scan
    that OCR has read at last) is the application's from now on, so that the applicant's next
    version is found as a version of it: unless another application of the year already goes by
    that name (it stays as it was; a person sees both in `status`)."""
    municipality, key = identity(report)
    title = report.fields.get("project_title")
    if title:
        found.title = str(title)
    if not municipality or (municipality, key) == (found.municipality, found.activity_key):
        return
    taken = session.scalar(select(Application.id).where(
        Application.year == found.year, Application.municipality == municipality,
        Application.activity_key == key))
    if taken is None:
        found.municipality, found.activity_key = municipality, key
