"""A document that is not the application form (a board's minutes, a cover letter, an invoice, a
budget, a project plan) is not taken as an application: it is kept like an unreadable file, said
to the fallback contacts in Swedish, and no letter can be written to its "applicant". No form,
however blank, badly filled or worded its own way, is taken for one (models/identity.py;
`benchmarks/accuracy.py` prints both counts)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import shared_sets
from accuracy_support import ACCURACY
from pipeline_support import FALLBACK, by_name, drop, intake_pass, make_home, plain_body, smtp_server
from sqlalchemy import select

from blankett.extractors import ocr
from blankett.extractors.sniff import sniff
from blankett.fixtures.corpus import Case, almost_empty_forms
from blankett.fixtures.other_documents import BUILDERS, OtherDocument, other_documents
from blankett.fixtures.scans import Scan, scanned_print
from blankett.flows.pipeline.actions import write_letter
from blankett.flows.pipeline.examine import Examiner, Failure
from blankett.flows.pipeline.intake import note_of, retake_failed
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.store.database import Application, Submission
from blankett.flows.store.queries import UnknownTarget, status_rows
from blankett.models.limits import Limits
from blankett.models.messages import FAILURES, failure
from blankett.models.records import SCAN_KINDS, Report
from blankett.models.spec import load_routing, load_spec

EXAMINER = ACCURACY.examiner()
OTHERS = shared_sets.other_documents_made()
MINUTES = next(d for d in OTHERS if d.name == "annat_protokoll_0.docx")
needs_tesseract = pytest.mark.skipif(ocr.tesseract() is None,
                                     reason=f"Tesseract is not installed ({ocr.INSTALL_HINT})")


def _refused(result: Report | Failure) -> bool:
    return isinstance(result, Failure) and result.kind == "not_the_form"


def test_the_other_documents_are_made_alike_each_time_as_word_and_pdf() -> None:
    again = other_documents()
    assert [(d.name, hashlib.sha256(d.data).digest()) for d in again] == \
        [(d.name, hashlib.sha256(d.data).digest()) for d in OTHERS]
    assert {(d.what, d.kind) for d in OTHERS} == {(w, k) for w in BUILDERS for k in ("docx", "pdf-text")}
    assert all(sniff(d.data) == ("docx" if d.kind == "docx" else "pdf") for d in OTHERS)
    # Written as libraries write, in the words the form's headings use too.
    text = " ".join(b.text + " " + b.value + " " + " ".join(" ".join(r) for r in b.rows)
                    for build in BUILDERS.values() for b in build(0)).casefold()
    for word in ("bibliotek", "kommun", "syfte", "mål", "målgrupp", "tidsplan", "belopp", "egen insats"):
        assert word in text, word


@pytest.mark.parametrize("document", OTHERS, ids=lambda d: d.name)
def test_every_other_document_is_refused_as_not_the_form(document: OtherDocument) -> None:
    result = EXAMINER.examine_bytes(document.name, document.data)
    assert isinstance(result, Failure) and result.kind == "not_the_form", result
    assert result.values["found"] < result.values["total"] / 2
    assert result.line.startswith(f"error: {document.name} is not the application form: ")
    assert result.said == FAILURES["not_the_form"].format(**result.values)
    assert result.said.startswith("Filen kunde inte läsas som en ansökan: den liknar inte "
                                  "ansökningsblanketten")


def test_blank_and_almost_empty_forms_are_the_form() -> None:
    """Blank, and all but two answers left out, in every way it comes. Every filled form the
    fixtures make is read as a Report by the tests of its set (test_corpus, test_reworded: the
    tune and messy sets, and the held-out half scored), so none of them is refused either."""
    cases = almost_empty_forms()
    refused = [c.name for c in cases if _refused(EXAMINER.examine_bytes(c.name, c.data))]
    assert refused == []
    assert {c.kind for c in cases} == {"docx", "pdf-form", "pdf-text"} and len(cases) >= 10


def test_a_scan_that_ocr_does_not_read_still_goes_to_a_person_as_a_scan(corpus: list[Case]) -> None:
    examiner = Examiner(load_spec(), load_routing(), 2026, Limits(read_seconds=None, ocr=False))
    for case in corpus:
        if case.kind in SCAN_KINDS:
            result = examiner.examine_bytes(case.name, case.data)
            assert isinstance(result, Report), case.name
            assert "scanned" in {p.code for p in result.problems}


@pytest.mark.ocr
@needs_tesseract
def test_a_scanned_letter_read_by_ocr_is_not_the_form() -> None:
    # Scanned forms read by OCR are read as forms: tests/test_ocr.py and test_scan_image.py
    # assert a Report for each.
    letter = next(d for d in OTHERS if d.name == "annat_foljebrev_0.pdf")
    scanned = scanned_print(letter.data, Scan(dpi=200, mode="grey", skew=1.0), letter.name)
    assert _refused(EXAMINER.examine_bytes("foljebrev.pdf", scanned))


def test_minutes_in_the_inbox_end_in_failed_said_in_swedish_with_no_application_nor_letter(
        corpus: list[Case], tmp_path: Path) -> None:
    with smtp_server() as (collector, port):
        home = make_home(tmp_path / "home", smtp_port=port)
        (form,) = by_name(corpus, "docx_mall_goteborg.docx")
        drop(home, [form])
        (home.inbox / "protokoll.docx").write_bytes(MINUTES.data)
        pipeline = open_pipeline(home)
        try:
            taken, delivered = intake_pass(pipeline)
            said = next(t for t in taken if t.name == "protokoll.docx")
            assert said.outcome == "unreadable"
            with pipeline.store.session() as session:
                submission = session.scalars(select(Submission).where(
                    Submission.original_name == "protokoll.docx")).one()
                assert (submission.state, submission.failure_kind) == ("failed", "not_the_form")
                why = failure(submission.failure_kind, submission.failure_values)
                (application,) = session.scalars(select(Application)).all()
                assert application.municipality == "Göteborg"  # the form, and it alone
                assert said.said == why
            rows = status_rows(pipeline.store, 2026, ZoneInfo("Europe/Stockholm"), [])
            assert [r["reason"] for r in rows if r.get("reason")] == [why]
            assert [r["failure"] for r in rows if r.get("reason")] == ["not_the_form"]
            # No application, so nothing to write to an applicant about.
            with pytest.raises(UnknownTarget):
                write_letter(pipeline, application.id + 1, "anna")
            # `rerun --failed` (and the nightly retake) read it again: it stays where it is.
            assert retake_failed(pipeline) == []
            with pipeline.store.session() as session:
                assert session.get(Submission, submission.id).state == "failed"  # type: ignore[union-attr]
        finally:
            pipeline.close()
    assert delivered.sent == 2 and delivered.failed == 0
    (kept,) = [p for p in home.failed.iterdir() if p.name.endswith("-protokoll.docx")]
    assert kept.read_bytes() == MINUTES.data
    assert note_of(kept).read_text(encoding="utf-8") == f"protokoll.docx\n\n{why}\n"
    envelopes = [(to, m) for to, m in collector.messages()
                 if str(m["Subject"]) == "Oläslig fil: protokoll.docx"]
    assert sorted(a for to, _ in envelopes for a in to) == sorted(FALLBACK)
    assert why in " ".join(plain_body(envelopes[0][1]).split())
    (attachment,) = list(envelopes[0][1].iter_attachments())
    assert attachment.get_content() == MINUTES.data
