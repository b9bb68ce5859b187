"""The typed records passed between the stages: what an extractor found, a problem, a report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Kind = Literal["docx", "pdf-form", "pdf-text", "pdf-scanned"]
Severity = Literal["error", "warning"]
Method = Literal[
    "docx-table", "docx-content-control", "docx-legacy-field", "docx-textbox", "docx-paragraphs",
    "pdf-form-field", "pdf-text", "ocr",
]


class Source(BaseModel):
    """Where a value was found: how, under which label as written, on which page (1-based)."""

    model_config = ConfigDict(frozen=True)

    method: Method
    label: str | None = None
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
