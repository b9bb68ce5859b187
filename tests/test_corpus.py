"""Every generated form read end to end: each field's value and the exact problems raised."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import shared_sets

from blankett.fixtures.corpus import Case
from blankett.flows.pipeline.examine import Examiner, Failure
from blankett.models.limits import Limits
from blankett.models.records import SCAN_KINDS, Report
from blankett.models.spec import load_routing, load_spec

YEAR = 2026
SPEC = load_spec()
# The corpus's scans stand for those OCR cannot read, as a person gets them; tests/test_ocr.py
# reads them.
EXAMINER = Examiner(SPEC, load_routing(), YEAR, Limits(ocr=False))


@cache
def cases() -> list[Case]:
    return shared_sets.corpus()


GOOD = [c for c in cases() if c.kind is not None]
BAD = [c for c in cases() if c.kind is None]


def comparable(value: str | int | None) -> str | int | None:
    """Texts compared as a reader sees them: bullets and line breaks do not matter."""
    if not isinstance(value, str):
        return value
    lines = (re.sub(r"^\s*(?:[•\-*–▪◦]|\d+[.)])\s+", "", line) for line in value.splitlines())
    return " ".join(" ".join(lines).split())


def _examine(case: Case, tmp_path: Path) -> Report | Failure:
    path = tmp_path / case.name
    path.write_bytes(case.data)
    return EXAMINER.examine_path(path, case.name)


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c.name)
def test_every_field_is_read(case: Case, tmp_path: Path) -> None:
    report = _examine(case, tmp_path)
    assert isinstance(report, Report), report
    assert report.kind == case.kind
    if case.kind in SCAN_KINDS:
        assert all(v is None for v in report.fields.values())
    else:
        got = {k: comparable(v) for k, v in report.fields.items()}
        expected = {k: comparable(v) for k, v in case.fields.items()}
        wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
        assert wrong == {}, "field: (read, expected)"


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c.name)
def test_problems_are_those_expected(case: Case, tmp_path: Path) -> None:
    report = _examine(case, tmp_path)
    assert isinstance(report, Report), report
    assert {(p.field, p.code) for p in report.problems} == set(case.problems)
    assert report.complete is case.complete


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_bad_input_is_refused_in_one_line(case: Case, tmp_path: Path) -> None:
    failure = _examine(case, tmp_path)
    assert isinstance(failure, Failure), f"read as {failure.kind if isinstance(failure, Report) else failure}"
    assert failure.line.startswith(f"error: {case.name} ")
    assert "\n" not in failure.line
    assert case.error is not None and case.error in failure.line.lower()


def test_every_field_of_every_form_has_a_source_when_read(tmp_path: Path) -> None:
    for case in GOOD:
        report = _examine(case, tmp_path)
        assert isinstance(report, Report)
        for key, value in report.fields.items():
            if value is not None and report.kind not in SCAN_KINDS:
                assert key in report.sources, (case.name, key)
