"""The typed records passed between the stages: what an extractor found, a problem, a report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["docx", "pdf-form", "pdf-text", "pdf-scanned", "image"]
# Kinds read from pictures of pages: by OCR, or by a person.
SCAN_KINDS: tuple[Kind, ...] = ("pdf-scanned", "image")
Severity = Literal["error", "warning"]
Method = Literal[
    "docx-table", "docx-content-control", "docx-legacy-field", "docx-textbox", "docx-paragraphs",
    "pdf-form-field", "pdf-text", "ocr",
    # Not read: a consultant's correction (models/corrections.py).
    "correction",
]


# How a field was told apart: by the form's own label, a listed synonym, the words of a heading
# nobody listed, its place among the parts of the form, or the shape of its answer.
MatchedBy = Literal["label", "synonym", "words", "position", "shape"]


class Source(BaseModel):
    """Where a value was found: how, under which label as written, on which page (1-based), and
    how the label was told to name its field, with how sure that is (0-1)."""

    model_config = ConfigDict(frozen=True)

    method: Method
    label: str | None = None
    page: int | None = None
    matched_by: MatchedBy = "label"
    confidence: float = 1.0

    @property
    def guessed(self) -> bool:
        """Placed only by where it stands or what its answer looks like."""
        return self.matched_by in ("position", "shape")


class Unplaced(BaseModel):
    """A part of the application under a heading that names no field of the form: kept for a
    person to read, never dropped or glued to a neighbouring answer."""

    model_config = ConfigDict(frozen=True)

    heading: str
    text: str
    page: int | None = None


class FoundValue(BaseModel):
    """A field's answer as written in the file, before any normalisation."""

    model_config = ConfigDict(frozen=True)

    value: str
    source: Source


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str | None
    code: str
    severity: Severity
    message: str


class Extraction(BaseModel):
    """What one extractor read from one file: raw answers by field key, and file-level problems
    (a scan without text, say) that no field can carry."""

    kind: Kind
    values: dict[str, FoundValue] = {}
    problems: list[Problem] = []
    unplaced: list[Unplaced] = []
    # A scan's searchable copy made by OCR: filed beside the original, never stored as a value.
    searchable_pdf: bytes | None = Field(default=None, exclude=True, repr=False)


class Report(BaseModel):
    """The checked result for one file, as `blankett extract --json` prints it."""

    file: str
    sha256: str
    kind: Kind
    fields: dict[str, str | int | None]
    complete: bool
    problems: list[Problem]
    consultants: list[str]
    sources: dict[str, Source]
    # A field placed only by position or shape, or the text of a part no field claims: a person
    # should look before trusting the report.
    needs_review: bool = False
    unplaced: list[Unplaced] = []
