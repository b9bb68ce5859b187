"""The fixture generator: deterministic, varied enough, and its expectations consistent.

The expected values and problems of each case are checked here against the form's rules,
restated independently of the extractor, so that a wrong expectation fails here rather than
in an extractor test.
"""

from __future__ import annotations

import io
import json
import re
import tomllib
import zipfile
from collections import Counter
from pathlib import Path

import docx
import pytest
import shared_sets
from lxml import etree
from pypdf import PdfReader

from blankett.fixtures.corpus import SAMPLES, Case, build_corpus, write_corpus
from blankett.fixtures.form import (
    AREAS,
    DESCRIPTION_KEYS,
    FIELD_KEYS,
    HINTS,
    LABELS,
    MUNICIPALITIES,
    REQUIRED,
)
from blankett.fixtures.template import build_template_docx, build_template_pdf

YEAR = 2026
FORM_TOML = Path(__file__).resolve().parents[1] / "models" / "form.toml"

CODES = {
    "missing", "invalid_email", "invalid_phone", "unknown_municipality", "amount_too_high",
    "amount_not_positive", "amount_unreadable", "area_ambiguous", "area_unknown",
    "timeline_no_date", "support_unspecified", "too_short", "scanned",
}
WARNINGS = {"invalid_phone", "timeline_no_date", "support_unspecified", "too_short"}
SUPPORT_WORDS = ("kompetens", "konsulent", "handledning", "stöd i", "metodstöd",
                 "samfinansiering", "kronor", "kr", "sek", "medel", "budget", "finansiering",
                 "bidrag")
MONTHS = ("januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|"
          "december|jan|feb|apr|jun|jul|aug|sept|sep|okt|nov|dec")
TERMS = r"vårterminen|höstterminen|våren|hösten|sommaren|vt\s?\d{2,4}|ht\s?\d{2,4}|kvartal \d|q[1-4]"


@pytest.fixture(scope="module")
def built() -> list[Case]:
    return shared_sets.corpus()  # built by another process, likely: built again here below


@pytest.fixture(scope="module")
def good(built: list[Case]) -> list[Case]:
    return [c for c in built if c.kind is not None]


def test_build_is_deterministic(built: list[Case]) -> None:
    again = build_corpus(YEAR, fresh=True)
    assert [c.name for c in again] == [c.name for c in built]
    changed = [a.name for a, b in zip(built, again, strict=True) if a.sha256 != b.sha256]
    assert changed == []
    assert build_template_docx() == build_template_docx()
    assert build_template_pdf() == build_template_pdf()


def test_names_are_unique(built: list[Case]) -> None:
    assert len({c.name for c in built}) == len(built)


def test_sizes_of_corpus_and_kinds(built: list[Case]) -> None:
    kinds = Counter(c.kind for c in built)
    assert sum(n for kind, n in kinds.items() if kind is not None) >= 45
    assert kinds[None] >= 12
    for kind in ("docx", "pdf-form", "pdf-text"):
        assert kinds[kind] >= 5, kind
    assert kinds["pdf-scanned"] >= 2 and kinds["image"] >= 2


def test_every_problem_code_is_exercised(built: list[Case]) -> None:
    seen = {code for c in built for _, code in c.problems}
    assert seen == CODES
    assert ("own_contribution", "missing") in {p for c in built for p in c.problems}


def test_case_shapes(built: list[Case]) -> None:
    for case in built:
        if case.kind is None:
            assert case.fields == {} and case.problems == frozenset(), case.name
            assert case.complete is None and case.error, case.name
            assert case.error == case.error.lower(), case.name
        elif case.kind in ("pdf-scanned", "image"):
            assert case.fields == {} and case.problems == {(None, "scanned")}, case.name
            assert case.complete is False and case.error is None
        else:
            assert set(case.fields) == set(FIELD_KEYS), case.name
            assert case.error is None
            errors = [p for p in case.problems if p[1] not in WARNINGS
                      and p != ("own_contribution", "missing")]
            assert case.complete is (not errors), case.name


def test_most_complete_forms_have_no_problems(good: list[Case]) -> None:
    clean = [c for c in good if not c.problems]
    assert len(clean) >= len(good) // 2


# --- the expectations agree with the form's rules -----------------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def _names_time(text: str, year: int) -> bool:
    low = text.casefold()
    years = {int(y) for y in re.findall(r"(?<!\d)(20\d\d)(?!\d)", low)}
    years |= {2000 + int(y) for y in re.findall(r"\b(?:vt|ht)\s?(\d\d)\b", low)}
    if years and year not in years:
        return False
    return bool(
        re.search(rf"\b({MONTHS})\b", low)
        or re.search(r"\d{4}-\d{1,2}-\d{1,2}|\b\d{1,2}/\d{1,2}\b", low)
        or re.search(r"\b(vecka\s?\d{1,2}|v\.?\s?\d{1,2})\b", low)
        or re.search(rf"\b({TERMS})\b", low)
    )


def _reference_problems(case: Case) -> set[tuple[str | None, str]]:
    """The problems the form's rules imply for the expected values; a required field that is None
    takes the one problem the case declares for it (missing, unreadable, ambiguous...)."""
    f = case.fields
    out: set[tuple[str | None, str]] = set()
    for key in FIELD_KEYS:
        if f[key] is None:
            declared = {p for p in case.problems if p[0] == key}
            if key in REQUIRED:
                assert len(declared) == 1, (case.name, key, declared)
                assert next(iter(declared))[1] in {
                    "missing", "amount_unreadable", "area_ambiguous", "area_unknown"}
                out |= declared
            elif key == "own_contribution":
                out.add((key, "missing"))
    if f["municipality"] is not None and f["municipality"] not in MUNICIPALITIES:
        out.add(("municipality", "unknown_municipality"))
    email = f["contact_email"]
    if email is not None and not re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.[a-z]{2,}", email):
        out.add(("contact_email", "invalid_email"))
    phone = f["contact_phone"]
    if phone is not None and not re.fullmatch(r"[\d\s+\-()]+", phone):
        out.add(("contact_phone", "invalid_phone"))
    amount = f["requested_amount_sek"]
    if isinstance(amount, int) and amount > 50000:
        out.add(("requested_amount_sek", "amount_too_high"))
    if isinstance(amount, int) and amount <= 0:
        out.add(("requested_amount_sek", "amount_not_positive"))
    if f["timeline"] is not None and not _names_time(str(f["timeline"]), YEAR):
        out.add(("timeline", "timeline_no_date"))
    support = f["requested_support"]
    if support is not None and not any(w in str(support).casefold() for w in SUPPORT_WORDS):
        out.add(("requested_support", "support_unspecified"))
    for key in DESCRIPTION_KEYS:
        if f[key] is not None and len(_words(str(f[key]))) < 5:
            out.add((key, "too_short"))
    return out


def test_problems_follow_from_expected_values(good: list[Case]) -> None:
    for case in good:
        if case.kind in ("pdf-scanned", "image"):
            continue
        assert case.problems == _reference_problems(case), case.name


def test_expected_values_are_normalised(good: list[Case]) -> None:
    for case in good:
        f = case.fields
        if not f:
            continue
        assert f["strategic_area"] in (None, *AREAS), case.name
        assert f["requested_amount_sek"] is None or isinstance(f["requested_amount_sek"], int)
        assert f["date"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d", str(f["date"])), case.name
        for key, value in f.items():
            if isinstance(value, str):
                assert value == value.strip() and value, (case.name, key)


def test_one_application_per_municipality(good: list[Case]) -> None:
    """A second, different application from a municipality raises a cross-file warning; only
    the pair tagged "corrected" shares a municipality, with the same activity."""
    by_municipality: dict[str, list[Case]] = {}
    for case in good:
        if case.fields.get("municipality"):
            by_municipality.setdefault(str(case.fields["municipality"]), []).append(case)
    for name, cases in by_municipality.items():
        if len(cases) > 1:
            assert all("corrected" in c.tags for c in cases), name
            assert len({c.fields["project_title"] for c in cases}) == 1, name


def test_unspecified_support_avoids_every_vocabulary_word(good: list[Case]) -> None:
    if not FORM_TOML.exists():
        pytest.skip("models/form.toml not present")
    checks = tomllib.loads(FORM_TOML.read_text(encoding="utf-8"))["checks"]
    vocabulary = [*checks["support_competence"], *checks["support_financing"]]
    for case in good:
        if ("requested_support", "support_unspecified") in case.problems:
            text = str(case.fields["requested_support"]).casefold()
            assert not [w for w in vocabulary if w in text], case.name


# --- the files open and hold what the expectations say ------------------------------------------

def _docx_text(data: bytes) -> str:
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    return "\n".join("".join(t.text or "" for t in p.iter(f"{w}t")) for p in root.iter(f"{w}p"))


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    if reader.get_fields():
        return "\n".join(str(f.get("/V", "")) for f in reader.get_fields().values())
    return "\n".join(page.extract_text() for page in reader.pages)


def test_docx_cases_open_with_python_docx(good: list[Case]) -> None:
    for case in good:
        if case.kind == "docx":
            document = docx.Document(io.BytesIO(case.data))
            assert document.core_properties.created.year == YEAR, case.name


def test_pdf_cases_open_with_pypdf(good: list[Case]) -> None:
    for case in good:
        if case.kind and case.kind.startswith("pdf"):
            reader = PdfReader(io.BytesIO(case.data))
            assert not reader.is_encrypted
            assert 1 <= len(reader.pages) <= 4, case.name
            if case.kind == "pdf-form":
                assert reader.get_fields(), case.name
            elif case.kind == "pdf-text":
                assert not reader.get_fields() and 2 <= len(reader.pages) <= 4, case.name
            else:  # scanned: images only, nothing to extract
                assert len(reader.pages) >= 2
                assert all(not page.extract_text().strip() for page in reader.pages)


def test_expected_answers_are_in_the_files(good: list[Case]) -> None:
    """Every word of every expected text answer occurs in the file (as often, at least)."""
    skip = {"municipality", "strategic_area", "requested_amount_sek", "date"}
    for case in good:
        if not case.fields:
            continue
        text = _docx_text(case.data) if case.kind == "docx" else _pdf_text(case.data)
        have = Counter(_words(text.casefold()))
        for key, value in case.fields.items():
            if key in skip or not isinstance(value, str):
                continue
            need = Counter(_words(value.casefold()))
            assert not need - have, (case.name, key, need - have)


def test_feature_tags_are_covered(good: list[Case]) -> None:
    tags = Counter(t for c in good for t in c.tags)
    for tag in ("content-controls", "textbox", "legacy-fields", "merged-cells",
                "headers-footers", "page-break", "generic-field-names", "smarttag",
                "customxml", "dropdown", "radio", "export-values", "table-in-answer",
                "wrong-extension", "english", "corrected", "incomplete", "swedish-style-ids"):
        assert tags[tag] >= 1, tag
    assert tags["corrected"] == 2


# --- bad inputs -------------------------------------------------------------------------------

def test_bad_inputs_are_what_they_claim(built: list[Case]) -> None:
    bad = {c.name: c for c in built if c.kind is None}
    errors = Counter(c.error for c in bad.values())
    for word in (".doc", "opendocument", "image", "encrypted", "damaged", "empty",
                 "not a supported", "too large", "dtd", "pages", "xfa"):
        assert errors[word] >= 1, word
    by_error = {c.error: c for c in bad.values()}
    assert by_error[".doc"].data.startswith(bytes.fromhex("D0CF11E0A1B11AE1"))
    assert by_error["empty"].data == b""
    assert PdfReader(io.BytesIO(by_error["encrypted"].data)).is_encrypted
    bomb = zipfile.ZipFile(io.BytesIO(by_error["too large"].data))
    assert bomb.getinfo("word/document.xml").file_size > 200 * 1024 * 1024
    assert len(by_error["too large"].data) < 1024 * 1024
    dtd = [c for c in bad.values() if c.error == "dtd"]
    assert len(dtd) == 2
    for case in dtd:
        part = zipfile.ZipFile(io.BytesIO(case.data)).read("word/document.xml")
        assert b"<!DOCTYPE" in part and b"<!ENTITY" in part
    assert len(PdfReader(io.BytesIO(by_error["pages"].data)).pages) > 200
    xfa = PdfReader(io.BytesIO(by_error["xfa"].data)).trailer["/Root"]["/AcroForm"]
    assert "/XFA" in xfa and not xfa.get("/Fields")


# --- the template and its agreement with models/form.toml ---------------------------------------

def test_template_docx_carries_labels_hints_and_page_furniture() -> None:
    document = docx.Document(io.BytesIO(build_template_docx()))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    text = "\n".join(cells)
    for key, label in LABELS.items():
        assert label in text, key
    for hint in HINTS.values():
        assert hint in text
    assert "☐ Det öppna biblioteket" in text and "☒" not in text
    section = document.sections[0]
    assert "Kulturutveckling" in section.header.paragraphs[0].text
    assert "Sida" in section.footer.paragraphs[0].text


def test_template_pdf_fields_are_named_by_key_with_label_tooltips() -> None:
    fields = PdfReader(io.BytesIO(build_template_pdf())).get_fields()
    for key in FIELD_KEYS:
        if key != "strategic_area":
            assert fields[key].get("/TU") == LABELS[key]
            assert fields[key].get("/V") == ""
    for key, name in AREAS.items():
        assert fields[f"area_{key}"].get("/TU") == name
        assert fields[f"area_{key}"].get("/V") == "/Off"


def test_form_facts_agree_with_form_toml() -> None:
    if not FORM_TOML.exists():
        pytest.skip("models/form.toml not present")
    spec = tomllib.loads(FORM_TOML.read_text(encoding="utf-8"))
    fields = {f["key"]: f for f in spec["fields"]}
    assert tuple(fields) == FIELD_KEYS
    for key, f in fields.items():
        assert f["label"] == LABELS[key]
        assert f.get("hint") == HINTS.get(key)
        assert f["required"] == (key in REQUIRED)
    assert tuple(spec["municipality"]["names"]) == MUNICIPALITIES
    assert {a["key"]: a["name"] for a in spec["areas"]} == AREAS


# --- writing ----------------------------------------------------------------------------------

def test_write_corpus_writes_files_and_manifest(tmp_path: Path) -> None:
    cases = write_corpus(tmp_path, YEAR)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in manifest] == [c.name for c in cases]
    for entry, case in zip(manifest, cases, strict=True):
        assert (tmp_path / case.name).read_bytes() == case.data
        assert entry["sha256"] == case.sha256
        assert {tuple(p) for p in entry["problems"]} == set(case.problems)
        assert entry["tags"] == sorted(case.tags)
        assert "data" not in entry


def test_samples_are_cases_of_the_corpus(built: list[Case]) -> None:
    names = {c.name for c in built}
    assert set(SAMPLES) <= names
    kinds = {c.kind for c in built if c.name in SAMPLES}
    assert kinds == {"docx", "pdf-form", "pdf-text", "pdf-scanned"}
