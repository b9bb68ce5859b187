"""Every reader fuzzed with mutated real forms: the only outcomes are a reading or Unreadable.

Bounded for CI (a few hundred examples in all); run longer with
`BLANKETT_FUZZ_EXAMPLES=3000 .venv/bin/pytest tests/test_fuzz_extractors.py` (RELIABILITY.md).
"""

from __future__ import annotations

import io
import os
import zipfile
from functools import cache

import shared_sets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blankett.extractors import ReadContext, Unreadable, read
from blankett.fixtures.corpus import Case
from blankett.models.records import Extraction
from blankett.models.spec import load_spec

CONTEXT = ReadContext(load_spec())
EXAMPLES = int(os.environ.get("BLANKETT_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def forms() -> dict[str, list[Case]]:
    cases = [c for c in shared_sets.corpus() if c.kind is not None]
    return {kind: [c for c in cases if c.kind == kind]
            for kind in ("docx", "pdf-form", "pdf-text")}


def _outcome(data: bytes) -> None:
    try:
        result = read(data, CONTEXT)
    except Unreadable as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(result, Extraction)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    cases = forms()[kind]
    data = bytearray(draw(st.sampled_from(cases)).data)
    for _ in range(draw(st.integers(1, 8))):
        operation = draw(st.sampled_from(["flip", "cut", "insert", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif operation == "cut":
            del data[at: at + draw(st.integers(1, 4096))]
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at:] = data[at:][::-1] if draw(st.booleans()) else data[at:at]
    return bytes(data)


@FUZZ
@given(mutated("docx"))
def test_mutated_word_files(data: bytes) -> None:
    _outcome(data)


@FUZZ
@given(mutated("pdf-form"))
def test_mutated_form_pdfs(data: bytes) -> None:
    _outcome(data)


@FUZZ
@given(mutated("pdf-text"))
def test_mutated_printed_pdfs(data: bytes) -> None:
    _outcome(data)


@st.composite
def mutated_document_xml(draw: st.DrawFn) -> bytes:
    """Past the zip layer: a well-packed .docx whose document.xml is mangled."""
    case = draw(st.sampled_from(forms()["docx"]))
    source = zipfile.ZipFile(io.BytesIO(case.data))
    xml = bytearray(source.read("word/document.xml"))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(xml) - 1))
        choice = draw(st.sampled_from([b"<", b">", b"</w:p>", b"<w:tbl>", b"<w:sdt>", b"&",
                                       b"\x00", b"<w:tc><w:tc><w:tc>", b""]))
        xml[at: at + draw(st.integers(0, 32))] = choice
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = bytes(xml) if item.filename == "word/document.xml" else source.read(item)
            target.writestr(item.filename, body)
    return out.getvalue()


@FUZZ
@given(mutated_document_xml())
def test_mangled_document_xml(data: bytes) -> None:
    _outcome(data)


def test_deeply_nested_tables_are_refused_or_read() -> None:
    body = "<w:tbl><w:tr><w:tc>" * 3000 + "<w:p/>" + "</w:tc></w:tr></w:tbl>" * 3000
    xml = ('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
           f'wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>')
    base = forms()["docx"][0]
    source = zipfile.ZipFile(io.BytesIO(base.data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, xml.encode() if item.filename == "word/document.xml"
                            else source.read(item))
    _outcome(out.getvalue())
