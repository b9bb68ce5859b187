"""Reading again what could not be read: files in failed/ once the reason is gone (`rerun
--failed`, and nightly), scans once OCR is turned on or installed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import shared_sets
from pipeline_support import AREAS, FALLBACK, expected_recipients, intake_pass, make_home
from pypdf import PdfReader
from sqlalchemy import select

from blankett.extractors import convert, ocr
from blankett.fixtures.answers import application, profile
from blankett.fixtures.libreoffice import soffice
from blankett.fixtures.messy import old_formats
from blankett.fixtures.scans import Scan, scanned_file
from blankett.fixtures.themes import THEMES
from blankett.flows.home.settings import Home, load_home
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.mail.reports import searchable_copy
from blankett.flows.pipeline.examine import Examiner
from blankett.flows.pipeline.intake import note_of, recover, retake_failed
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.pipeline.revalidation import revalidate_all
from blankett.flows.store.database import Application, Message, Submission
from blankett.flows.store.ledger import status_of

FORM = next(c for c in shared_sets.corpus() if c.name == "pdf_utskrift_tabell_dalsed.pdf")


def _set(home: Home, line: str, section: str) -> Home:
    settings = home.root / "blankett.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + f"\n[{section}]\n{line}\n",
                        encoding="utf-8")
    return load_home(home.root)


def _pass(home: Home) -> list:
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        return intake_pass(pipeline)[0]
    finally:
        pipeline.close()


def test_a_file_refused_then_readable_is_taken_in_with_its_received_time(tmp_path: Path) -> None:
    home = _set(make_home(tmp_path / "home"), "max_pages = 1", "limits")
    (home.inbox / "ansokan.pdf").write_bytes(FORM.data)
    [refused] = _pass(home)
    assert refused.outcome == "unreadable"
    failed = next(p for p in home.failed.iterdir() if p.suffix == ".pdf")
    assert note_of(failed).exists()
    home, pipeline = _page_cap_lifted(home)
    try:
        with pipeline.store.session() as session:
            received = session.scalars(select(Submission)).one().received_at
        [taken] = retake_failed(pipeline)
        assert taken.outcome == "complete" and taken.version == 1
        assert retake_failed(pipeline) == []  # nothing left to take
        with pipeline.store.session() as session:
            submission = session.scalars(select(Submission)).one()
            assert (submission.state, submission.received_at) == ("archived", received)
            assert submission.stored_path.startswith("archive/2026/")
            assert (home.root / submission.stored_path).read_bytes() == FORM.data
            assert session.scalars(select(Application)).one().municipality == "Dals-Ed"
    finally:
        pipeline.close()
    assert not [p for p in home.failed.iterdir() if p.is_file()]  # the file and its note


def test_a_retake_stopped_before_its_move_leaves_the_failure_as_it_was(tmp_path: Path) -> None:
    home = _set(make_home(tmp_path / "home"), "max_pages = 1", "limits")
    (home.inbox / "ansokan.pdf").write_bytes(FORM.data)
    _pass(home)
    failed = next(p for p in home.failed.iterdir() if p.suffix == ".pdf")
    pipeline = open_pipeline(home)
    try:
        with pipeline.store.session() as session:  # as a retake writes ahead, then dies
            submission = session.scalars(select(Submission)).one()
            submission.state = "moving"
            submission.stored_path = f"archive/2026/{failed.name}"
        assert recover(pipeline) == []
        with pipeline.store.session() as session:
            submission = session.scalars(select(Submission)).one()
            assert (submission.state, submission.stored_path) == ("failed", f"failed/{failed.name}")
    finally:
        pipeline.close()
    assert failed.exists()


needs_tesseract = pytest.mark.skipif(ocr.tesseract() is None,
                                     reason=f"Tesseract is not installed ({ocr.INSTALL_HINT})")
SCANNED = application(profile("Tanum", 5), THEMES[1], 2026, variant=0)


def _scan_left_then_ocr_on(tmp_path: Path) -> tuple[Home, Pipeline]:
    """A scan taken while OCR was off (left for a person), then OCR turned on."""
    home = make_home(tmp_path / "home", ocr=False)
    (home.inbox / "skannad.pdf").write_bytes(scanned_file(SCANNED, Scan(dpi=200, skew=1.0), "s"))
    [taken] = _pass(home)
    assert taken.outcome == "unreadable"
    settings = home.root / "blankett.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("enabled = false", "enabled = true"),
                        encoding="utf-8")
    home = load_home(home.root)
    return home, open_pipeline(home, delivery=OutboxDelivery(home.outbox))


@needs_tesseract
def test_a_scan_left_for_a_person_is_read_once_ocr_is_turned_on(tmp_path: Path) -> None:
    home, pipeline = _scan_left_then_ocr_on(tmp_path)
    try:
        revalidated = revalidate_all(pipeline, report=True)
        assert (revalidated.reread, revalidated.changed) == (1, 1)
        with pipeline.store.session() as session:
            application_ = session.scalars(select(Application)).one()
            # Read now: its answers checked like any other form's (OCR may misread a letter).
            assert status_of(application_.latest.result) in ("complete", "incomplete")
            assert application_.latest.result.fields["municipality"] == "Tanum"
            stored = application_.latest.submission.stored_path
    finally:
        pipeline.close()
    assert searchable_copy(home.root / stored).exists()


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed (.ci/run installs it)")
def test_the_nightly_retake_tries_only_files_waiting_for_a_program(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _set(make_home(tmp_path / "home"), "max_pages = 1", "limits")
    doc = next(c for c in old_formats() if c.name.endswith(".doc"))
    (home.inbox / "ansokan.pdf").write_bytes(FORM.data)
    (home.inbox / doc.name).write_bytes(doc.data)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    # Read in this process, where LibreOffice can be taken away and given back.
    examiner = pipeline.examiner
    pipeline.examiner = Examiner(examiner.spec, examiner.routing, examiner.year,
                                 examiner.limits.model_copy(update={"read_seconds": None}))
    try:
        with monkeypatch.context() as without:
            without.setattr(convert, "soffice", lambda: None)
            taken = intake_pass(pipeline)[0]
            assert {t.outcome for t in taken} == {"unreadable"}
            assert retake_failed(pipeline, only_awaiting_setup=True) == []
        [retaken] = retake_failed(pipeline, only_awaiting_setup=True)
        assert retaken.name == doc.name and retaken.outcome != "unreadable"
        with pipeline.store.session() as session:
            pdf = session.scalars(select(Submission).where(Submission.state == "failed")).one()
            assert pdf.original_name == "ansokan.pdf"  # too many pages: not a missing program
    finally:
        pipeline.close()


def test_a_file_failing_for_another_reason_now_says_so(tmp_path: Path) -> None:
    home = _set(make_home(tmp_path / "home"), "max_pages = 1", "limits")
    (home.inbox / "ansokan.pdf").write_bytes(FORM.data)
    _pass(home)
    pipeline = open_pipeline(home)
    limits = pipeline.examiner.limits
    try:
        with pipeline.store.session() as session:  # as an older version, say, worded it
            session.scalars(select(Submission)).one().failure_reason = "could not be read"
        pipeline.examiner = Examiner(pipeline.examiner.spec, pipeline.examiner.routing, 2026,
                                     limits.model_copy(update={"max_file_bytes": 1000}))
        assert retake_failed(pipeline) == []  # too large now: not even read
        with pipeline.store.session() as session:
            assert session.scalars(select(Submission)).one().failure_reason == "could not be read"
        pipeline.examiner = Examiner(pipeline.examiner.spec, pipeline.examiner.routing, 2026, limits)
        assert retake_failed(pipeline) == []
        with pipeline.store.session() as session:
            failed = session.scalars(select(Submission)).one()
    finally:
        pipeline.close()
    assert failed.failure_reason.startswith("has too many pages")
    pages = len(PdfReader(io.BytesIO(FORM.data)).pages)
    assert (failed.failure_kind, failed.failure_values) == ("too_many_pages", {"count": pages, "limit": 1})
    note = next(p for p in home.failed.iterdir() if p.suffix == ".txt")
    # In Swedish, for the person who opens failed/; the English reason is the log's.
    assert note.read_text(encoding="utf-8") == \
        f"ansokan.pdf\n\nFilen kunde inte läsas. PDF-filen har för många sidor ({pages}; gränsen är 1).\n"


def test_a_retake_stopped_after_its_move_is_finished_without_its_old_note(tmp_path: Path) -> None:
    home = _set(make_home(tmp_path / "home"), "max_pages = 1", "limits")
    (home.inbox / "ansokan.pdf").write_bytes(FORM.data)
    _pass(home)
    failed = next(p for p in home.failed.iterdir() if p.suffix == ".pdf")
    home, pipeline = _page_cap_lifted(home)
    try:
        target = home.archive / "2026" / failed.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with pipeline.store.session() as session:  # as a retake writes ahead, moves, then dies
            submission = session.scalars(select(Submission)).one()
            submission.state = "moving"
            submission.stored_path = f"archive/2026/{failed.name}"
        failed.rename(target)
        [finished] = recover(pipeline)
        assert finished.outcome == "complete"
    finally:
        pipeline.close()
    assert not list(home.failed.iterdir())


def _page_cap_lifted(home: Home) -> tuple[Home, Pipeline]:
    """The home after its user lifts the page cap that sent the scan to failed/."""
    settings = home.root / "blankett.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("max_pages = 1", ""),
                        encoding="utf-8")
    home = load_home(home.root)
    return home, open_pipeline(home, delivery=OutboxDelivery(home.outbox))


def test_a_failure_recorded_by_an_older_blankett_is_worded_anew_when_read_again(
        tmp_path: Path) -> None:
    """An older blankett recorded only an English reason and noted it in "….txt": it is said
    as such until the file is read again, which records its kind and leaves one note, in
    Swedish, under the note's own name."""
    from zoneinfo import ZoneInfo

    from blankett.flows.mail.messaging import failed_view
    from blankett.flows.store.queries import status_rows

    home = make_home(tmp_path / "home")
    (home.inbox / "noll.docx").write_bytes(b"")
    [taken] = _pass(home)
    assert taken.outcome == "unreadable"
    (failed,) = [p for p in home.failed.iterdir() if p.name.endswith("-noll.docx")]
    old_note = failed.with_name(failed.name + ".txt")
    note_of(failed).rename(old_note)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        with pipeline.store.session() as session:
            submission = session.scalars(select(Submission)).one()
            submission.failure_kind = submission.failure_values = None
            reason = submission.failure_reason
        assert reason == "is empty (0 bytes)"
        said = f"Filen kunde inte läsas (orsak på engelska: {reason})."
        (row,) = status_rows(pipeline.store, 2026, ZoneInfo("Europe/Stockholm"), [])
        assert row["reason"] == said
        with pipeline.store.session() as session:
            assert failed_view(session.scalars(select(Submission)).one()).problems[0].message == said

        assert retake_failed(pipeline) == []  # still empty
        with pipeline.store.session() as session:
            submission = session.scalars(select(Submission)).one()
            assert (submission.failure_kind, submission.failure_reason) == ("empty", reason)
            assert failed_view(submission).problems[0].message == \
                "Filen kunde inte läsas. Filen är tom (0 byte)."
    finally:
        pipeline.close()
    assert not old_note.exists()
    assert sorted(p.name for p in home.failed.iterdir()) == [failed.name, note_of(failed).name]
    assert note_of(failed).read_text(encoding="utf-8") == \
        "noll.docx\n\nFilen kunde inte läsas. Filen är tom (0 byte).\n"


def test_a_file_read_only_when_taken_from_failed_is_reported_to_its_areas_consultants(
        tmp_path: Path) -> None:
    """Its "cannot be read" report went to the fallback contacts; once read, its own report goes
    to its area's consultants, the original attached, as any new form's does, and the fallback
    contacts are told whom it goes to now."""
    home = _set(make_home(tmp_path / "home"), "max_pages = 1", "limits")
    (home.inbox / "ansokan.pdf").write_bytes(FORM.data)
    _pass(home)
    home, pipeline = _page_cap_lifted(home)
    try:
        [taken] = retake_failed(pipeline)
        with pipeline.store.session() as session:
            reports = session.scalars(select(Message).where(
                Message.application_id == taken.application_id)).all()
            # The fallback contacts, who had it as unreadable, are told it went to them.
            assert [(m.kind, sorted(m.recipients["to"])) for m in reports] == \
                [("report", sorted(expected_recipients(FORM))), ("moved", sorted(FALLBACK))]
            assert "Dals-Ed" in reports[0].subject
    finally:
        pipeline.close()


@needs_tesseract
def test_a_scan_read_at_last_by_the_nightly_run_takes_its_name_and_is_reported(tmp_path: Path) -> None:
    """Left for a person while OCR was off, read by the nightly run once it is on: it goes by its
    municipality and activity from then on, and its area's consultants get its report, though
    nightly sends no reports of results merely checked again."""
    _, pipeline = _scan_left_then_ocr_on(tmp_path)
    try:
        revalidated = revalidate_all(pipeline, report=False)
        assert revalidated.changed == 1
        with pipeline.store.session() as session:
            found = session.scalars(select(Application)).one()
            assert found.municipality == "Tanum" and found.title == SCANNED.expected["project_title"]
            area = found.latest.result.fields["strategic_area"]
            sent_to = {address for m in session.scalars(select(Message).where(
                Message.application_id == found.id)) for address in m.recipients["to"]}
        assert set(AREAS[str(area)]) <= sent_to
    finally:
        pipeline.close()


@needs_tesseract
def test_a_scan_read_at_last_tells_the_fallback_contacts_whom_it_goes_to(tmp_path: Path) -> None:
    """Left for a person, its report went to the fallback contacts; read by OCR at last, they
    are told so, once, and whom it goes to now; their summary no longer lists it."""
    from datetime import UTC, datetime

    from pipeline_support import parse, plain_body

    from blankett.flows.mail.messaging import queue_summaries

    _, pipeline = _scan_left_then_ocr_on(tmp_path)
    try:
        with pipeline.store.session() as session:
            (first,) = session.scalars(select(Message)).all()
            assert sorted(first.recipients["to"]) == sorted(FALLBACK)
        assert revalidate_all(pipeline).changed == 1  # the nightly run
        assert revalidate_all(pipeline, report=True).changed == 0  # a rerun after: nothing new
        queue_summaries(pipeline, "2026-11-26", datetime.now(UTC))
        with pipeline.store.session() as session:
            found = session.scalars(select(Application)).one()
            consultants = AREAS[str(found.latest.result.fields["strategic_area"])]
            moved = session.scalars(select(Message).where(Message.kind == "moved")).all()
            assert [sorted(m.recipients["to"]) for m in moved] == [sorted(FALLBACK)]
            body = plain_body(parse(moved[0].raw))
            summaries = [plain_body(parse(m.raw)) for m in session.scalars(select(Message).where(
                Message.kind == "summary")) if set(m.recipients["to"]) <= set(FALLBACK)]
    finally:
        pipeline.close()
    assert "Varför:\n  - Den skannade ansökan har nu lästs med OCR.\n" \
           f"  - Går nu till: {', '.join(consultants)}.\n" in body
    assert all("skannad.pdf" not in summary for summary in summaries)
