"""Scans and photos read by OCR (Tesseract, its Swedish model), for real where it is installed;
`.ci/run` installs it. The full grid of resolutions and skews is measured by
`benchmarks/accuracy.py --scans` (ACCURACY.md)."""

from __future__ import annotations

import io
from difflib import SequenceMatcher
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from accuracy_support import ACCURACY
from PIL import Image
from pipeline_support import intake_pass, make_home

from blankett.extractors import ReadContext, ocr, read
from blankett.extractors.scan import _repair_address, en_dashes
from blankett.fixtures.answers import application, profile
from blankett.fixtures.pdf_scan import page_photo
from blankett.fixtures.scans import Scan, scanned_file
from blankett.fixtures.themes import THEMES
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.mail.reports import searchable_copy
from blankett.flows.pipeline.resources import open_pipeline
from blankett.models.limits import Limits
from blankett.models.messages import message
from blankett.models.records import FoundValue, Report, Source
from blankett.models.spec import load_spec

SPEC = load_spec()
APP = application(profile("Lerum", 17), THEMES[2], 2026, variant=1)
needs_tesseract = pytest.mark.skipif(ocr.tesseract() is None, reason="Tesseract with its Swedish "
                                     f"model is not installed ({ocr.INSTALL_HINT})")




@needs_tesseract
@pytest.mark.parametrize("scan", [
    Scan(dpi=200, mode="grey", skew=2.0),
    Scan(dpi=300, mode="bw", skew=-1.0, jpeg=None),
    Scan(dpi=300, mode="grey", skew=0.0),  # "Telefon:" alone is taller than its line
    Scan(dpi=200, mode="bw", skew=2.0, jpeg=None, container="tiff"),
], ids=lambda s: s.name)
def test_a_scan_is_read_like_its_digital_original(scan: Scan) -> None:
    report = ACCURACY.examiner().examine_bytes(scan.name, scanned_file(APP, scan, scan.name))
    assert isinstance(report, Report)
    assert report.kind == ("pdf-scanned" if scan.container == "pdf" else "image")
    wrong = {k for k, v in APP.expected.items()
             if ACCURACY.comparable(report.fields.get(k)) != ACCURACY.comparable(v)}
    assert len(wrong) <= 1, wrong  # at least 19 of the 20 fields
    assert report.complete is APP.complete
    assert report.needs_review
    assert [p.code for p in report.problems if p.field is None] == ["ocr"]
    assert all(s.method == "ocr" and 0 < s.confidence <= 1 for s in report.sources.values())


@needs_tesseract
@pytest.mark.parametrize("container", ["png", "jpeg"])
def test_a_photo_of_the_first_page_is_read_as_an_image(container: str) -> None:
    data = scanned_file(APP, Scan(dpi=150, skew=1.5, container=container), container)  # type: ignore[arg-type]
    found = read(data, ReadContext(SPEC))
    assert found.kind == "image"
    assert found.values["contact_email"].value == APP.written["contact_email"]
    assert found.values["municipality"].source.method == "ocr"
    assert found.searchable_pdf is not None and found.searchable_pdf.startswith(b"%PDF")


def test_without_ocr_a_scan_goes_to_a_person_saying_how_to_read_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "tesseract", lambda: None)
    data = scanned_file(APP, Scan(dpi=150), "x")
    found = read(data, ReadContext(SPEC))
    assert found.kind == "pdf-scanned" and found.values == {}
    assert [p.code for p in found.problems] == ["scanned"]
    assert ocr.INSTALL_HINT in found.problems[0].message


def test_ocr_turned_off_and_too_many_pages_go_to_a_person() -> None:
    data = scanned_file(APP, Scan(dpi=150), "x")
    off = read(data, ReadContext(SPEC, Limits(ocr=False)))
    assert [p.code for p in off.problems] == ["scanned"] and "avstängt" in off.problems[0].message
    # Said plainly: OCR did not fail, it was not used.
    assert off.problems[0].message == message("scanned") + " OCR är avstängt i inställningarna, så " \
                                                           "skannade sidor läses inte."
    photo = io.BytesIO()
    Image.new("L", (800, 1100), 255).save(photo, "PNG")
    (problem,) = read(photo.getvalue(), ReadContext(SPEC, Limits(ocr=False))).problems
    assert problem.message == off.problems[0].message
    capped = read(data, ReadContext(SPEC, Limits(ocr_max_pages=1)))
    assert [p.code for p in capped.problems] == ["scanned"] and "fler sidor" in capped.problems[0].message


@needs_tesseract
def test_a_page_that_takes_too_long_leaves_a_scan_for_a_person() -> None:
    found = read(scanned_file(APP, Scan(dpi=300), "x"), ReadContext(SPEC, Limits(ocr_page_seconds=0.05)))
    assert found.kind == "pdf-scanned" and [p.code for p in found.problems] == ["scanned"]
    assert "tog längre tid" in found.problems[0].message


def test_a_huge_image_is_refused_unread() -> None:
    buffer = io.BytesIO()
    Image.new("1", (40_000, 40_000)).save(buffer, "PNG")
    from blankett.extractors.errors import Unreadable

    with pytest.raises(Unreadable, match="too large"):
        read(buffer.getvalue(), ReadContext(SPEC))


@pytest.mark.parametrize(("read_as", "repaired"), [
    ("anna.berg(Wale.example.org", "anna.berg@ale.example.org"),
    ("anna.bergQale.example.org", "anna.berg@ale.example.org"),
    ("anna. bergÖale,example.org", "anna.berg@ale.example.org"),
    ("anna.berg@ale.example.org", "anna.berg@ale.example.org"),
    ("annaQbergQale.example.org", "annaQbergQale.example.org"),  # two readings: left as it is
])
def test_an_at_sign_read_as_another_character_is_repaired_only_when_certain(read_as: str,
                                                                          repaired: str) -> None:
    values = {"contact_email": FoundValue(value=read_as, source=Source(method="ocr"))}
    _repair_address(values)
    assert values["contact_email"].value == repaired


@pytest.mark.parametrize(("read_as", "repaired"), [
    ("Planering mars - juni 2027", "Planering mars – juni 2027"),
    ("mars-juni", "mars-juni"),  # as likely the applicant's own hyphen
    ("10 - 12 deltagare", "10 – 12 deltagare"),
    ("2027-03-01 - 2027-06-30", "2027-03-01 – 2027-06-30"),
    ("2027-03-01", "2027-03-01"),  # a date's own hyphens
    ("031-123 45 67", "031-123 45 67"),  # a telephone number's
    ("- en punkt i en lista", "- en punkt i en lista"),
    ("läs-och skrivstöd", "läs-och skrivstöd"),
])
def test_a_range_read_with_a_hyphen_gets_its_dash_back_only_where_certain(read_as: str,
                                                                          repaired: str) -> None:
    assert en_dashes(read_as) == repaired


@needs_tesseract
def test_a_scan_in_the_inbox_is_filed_with_its_searchable_copy_attached_to_the_report(
        tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", ocr=True)
    data = scanned_file(APP, Scan(dpi=200, skew=1.0), "inbox")
    (home.inbox / "ansokan-skannad.pdf").write_bytes(data)
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        taken, _ = intake_pass(pipeline)
    finally:
        pipeline.close()
    assert [t.outcome for t in taken] == ["complete"]
    archived = next((home.archive / "2026").glob("*ansokan-skannad.pdf"))
    assert archived.read_bytes() == data  # the original, as received
    assert searchable_copy(archived).read_bytes().startswith(b"%PDF")
    reports = sorted(home.outbox.rglob("*.eml"))
    assert reports
    for path in reports:
        report = message_from_bytes(path.read_bytes(), policy=policy.default)
        names = [part.get_filename() for part in report.iter_attachments()]
        assert names == ["ansokan-skannad.pdf", "ansokan-skannad (sökbar, OCR).pdf"]
        assert "OCR" in report.get_body(("plain",)).get_content()


def test_how_sure_a_reading_is_comes_from_its_words_or_else_the_whole_page() -> None:
    # "Lerum" read well twice and smudged once (in a running header, say).
    recognised = ocr.Recognised(b"", {"lerum": [0.9, 0.2, 0.8], "bibliotek": [0.7], "dal": [0.0]},
                                1, 0)
    assert recognised.confidence("Lerums bibliotek") == 0.7  # "lerums" never read: left out
    assert recognised.confidence("Lerum bibliotek") == 0.75  # a word by its median reading
    assert recognised.confidence("☒") == 0.52  # no word of its own: all words read
    assert recognised.confidence("dal") == 0.0


@needs_tesseract
def test_a_coarse_photo_of_a_page_is_read_without_its_answers_taken_for_headings() -> None:
    """A phone's photo of a whole page, 500 pixels across: too coarse to tell bold from regular
    or to whiten its greys; read as it is, its answers stay answers."""
    found = read(page_photo(APP, "photo", "PNG"), ReadContext(SPEC))
    assert found.kind == "image"
    # Letters are misread at this size; each answer is there, whole, and no other's.
    for key in ("purpose", "goal", "knowledge", "timeline", "target_group", "expected_results",
                "continuation", "requested_support"):
        read_as = str(found.values[key].value) if key in found.values else ""
        assert SequenceMatcher(None, read_as, str(APP.expected[key])).ratio() >= 0.9, (key, read_as)
    assert all(0 < v.source.confidence <= 1 for v in found.values.values())
