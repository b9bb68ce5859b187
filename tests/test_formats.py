"""Old and other word-processor formats: read through LibreOffice where it is installed (the
messy forms of tests/test_reworded.py hold a .doc, an .odt and an .rtf), one line that says how to
have them read where it is not."""

from __future__ import annotations

import pytest

from blankett.extractors import ReadContext, convert, read
from blankett.extractors.errors import Unreadable
from blankett.extractors.sniff import sniff
from blankett.fixtures import bad_inputs as bad
from blankett.fixtures.libreoffice import soffice
from blankett.fixtures.messy import old_formats
from blankett.models.spec import load_spec

CONTEXT = ReadContext(load_spec())


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed (.ci/run installs it)")
def test_old_formats_are_sniffed_and_read_as_word_files() -> None:
    cases = old_formats()
    assert {c.name.rsplit(".", 1)[1] for c in cases} == {"doc", "odt", "rtf"}
    for case in cases:
        assert sniff(case.data) == case.name.rsplit(".", 1)[1]
        found = read(case.data, CONTEXT)
        assert found.kind == "docx"
        assert found.values["municipality"].value


def test_without_libreoffice_an_old_format_is_refused_with_how_to_read_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "soffice", lambda: None)
    with pytest.raises(Unreadable) as refused:
        read(bad.damaged_word_doc().data, CONTEXT)
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith("is an old Word file (.doc")
    assert convert.INSTALL_HINT in str(refused.value)


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed (.ci/run installs it)")
def test_a_damaged_old_file_is_refused_in_one_line() -> None:
    with pytest.raises(Unreadable, match=r"^is an old Word file .* LibreOffice cannot open"):
        read(bad.damaged_word_doc().data, CONTEXT)


def test_an_old_office_file_with_no_word_document_in_it_is_refused_without_libreoffice(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "soffice", lambda: pytest.fail("LibreOffice was asked"))
    with pytest.raises(Unreadable, match=r"^is an old Office file \(\.doc\) with no Word") as refused:
        read(bad.old_word_doc().data, CONTEXT)
    assert refused.value.kind == "no_word_document"


def test_a_spreadsheet_is_no_form() -> None:
    with pytest.raises(Unreadable, match="OpenDocument spreadsheet"):
        read(bad.opendocument().data, CONTEXT)
