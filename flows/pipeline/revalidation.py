"""Re-validating stored applications against the rules and readers in force, and `rerun`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from blankett.extractors import EXTRACTOR_VERSION, ocr
from blankett.flows.mail.messaging import queue_rerun_report, queue_warning_reports
from blankett.flows.pipeline.examine import Failure
from blankett.flows.pipeline.intake import keep_searchable
from blankett.flows.pipeline.resources import Pipeline
from blankett.flows.store.actions import correction_values, corrections_of
from blankett.flows.store.database import Application, Result, Submission, Version
from blankett.flows.store.ledger import (
    add_result,
    batches,
    flag_other_activities,
    latest,
    latest_of,
    reidentify,
    same_outcome,
    year_applications,
)
from blankett.models.corrections import corrected
from blankett.models.records import SCAN_KINDS, Extraction, Report

log = logging.getLogger("blankett.nightly")


@dataclass(frozen=True)
class Revalidated:
    checked: int
    changed: int
    reread: int


def revalidate_all(pipeline: Pipeline, *, reread: bool = False,
                   only: list[int] | None = None, report: bool = False) -> Revalidated:
    """Check every application's latest version again. Versions read by an older reader (or all,
    with `reread`) are read again from the archived original. A new result is stored only where
    something changed, and then, with `report`, the consultants get a new report.

    A result checked under the rules in force, from a reading by the current reader, is what
    checking it again would give: it is counted as checked and left alone, without being loaded.
    The others are gone through a batch at a time, each in a session (and transaction) of its
    own: the queries do not grow with the number of applications, nor does the memory held."""
    changed = reread_count = 0
    with pipeline.store.session() as session:
        # Only the grant year's: last year's forms are not judged by this year's rules.
        ids = session.scalars(year_applications(pipeline.year, only)).all()
        stale = ids if reread else session.scalars(_stale(pipeline, only)).all()
    for batch in batches(stale):
        with pipeline.store.session() as session:
            rows = latest_of(session, batch)
            # A consultant's corrections are applied again at every check: they stand until the
            # applicant sends a new version.
            corrections = corrections_of(session, [version.id for _, version, _ in rows])
            for application, version, result in rows:
                outcome = _revalidate(pipeline, session, application, version, result, reread,
                                      report, correction_values(corrections.get(version.id, {})))
                changed += outcome[0]
                reread_count += outcome[1]
    return Revalidated(len(ids), changed, reread_count)


def _stale(pipeline: Pipeline, only: list[int] | None) -> Select[tuple[int]]:
    """The ids of the year's applications whose latest result may change if checked again:
    checked under other rules (or before results recorded them), read by an older reader, or a
    scan that OCR, available here, may now read."""
    maybe = [Result.rules_fingerprint.is_(None),
             Result.rules_fingerprint != pipeline.examiner.fingerprint,
             Result.extractor_version < EXTRACTOR_VERSION]
    if pipeline.examiner.limits.ocr and ocr.tesseract() is not None:
        maybe.append(Result.kind.in_(SCAN_KINDS))
    query = latest(Application.id).where(Application.year == pipeline.year, or_(*maybe))
    if only is not None:
        query = query.where(Application.id.in_(only))
    return query.order_by(Application.id)


def _unread_scan(pipeline: Pipeline, result: Result) -> bool:
    """A scan left for a person that OCR, installed or turned on since, may now read."""
    return (result.kind in SCAN_KINDS
            and any(p.code == "scanned" and ocr.not_tried(p.message) for p in result.problems)
            and pipeline.examiner.limits.ocr and ocr.tesseract() is not None)


def checked(pipeline: Pipeline, submission: Submission, extraction: Extraction,
            corrections: dict[str, tuple[str, str]]) -> Report:
    """What was read, with the version's corrections ({field: (value, who)}) in place, under the
    rules in force."""
    return pipeline.examiner.report(submission.original_name, submission.sha256,
                                    corrected(extraction, corrections))


def _revalidate(pipeline: Pipeline, session: Session, application: Application, version: Version,
                previous: Result, reread: bool, report: bool,
                corrections: dict[str, tuple[str, str]]) -> tuple[bool, bool]:
    submission = version.submission
    extraction: Extraction | Failure
    first_read = _unread_scan(pipeline, previous)
    again = reread or previous.extractor_version < EXTRACTOR_VERSION or first_read
    if again:
        path = pipeline.home.root / submission.stored_path
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("%s: the archived original %s cannot be read (%s); its last result is "
                        "kept", submission.original_name, submission.stored_path,
                        exc.strerror or exc)
            return False, False
        extraction = pipeline.examiner.read(submission.original_name, data)
        if isinstance(extraction, Failure):
            log.warning("%s: reading it again failed (%s); its last result is kept",
                        submission.original_name, extraction.reason)
            return False, True
        keep_searchable(pipeline, path, extraction)
    else:
        extraction = Extraction.model_validate(previous.raw)
    result_report = checked(pipeline, submission, extraction, corrections)
    if same_outcome(previous, result_report):
        # Nothing a consultant would see: kept, with the rules (and reader) it is now known to
        # stand under, so that it is not checked again until they change.
        previous.rules_fingerprint = pipeline.examiner.fingerprint
        if again:
            previous.extractor_version = EXTRACTOR_VERSION
        return False, again
    result = add_result(session, version, result_report, extraction, pipeline.examiner.fingerprint)
    if first_read and not application.municipality:
        reidentify(session, application, result_report)
    warned = flag_other_activities(session, application, result)
    # A scan read at last is news to its area's consultants whoever reads it (nightly too): its
    # report goes to them whole, with the original.
    if report or first_read:
        queue_rerun_report(pipeline, session, application, previous, result, why=(
            ("Den skannade ansökan har nu lästs med OCR.",) if first_read else
            ("Läst om med nya regler eller ny läsare.",)))
        queue_warning_reports(pipeline, session, application, warned)
    return True, again
