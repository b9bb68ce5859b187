"""Telling a scanned PDF (page images, no text) from one whose text can be read.

A scan must be reported as such, never as an application with every field missing. OCR may
later read it; until then the file goes to a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from blankett.models.messages import message
from blankett.models.records import Extraction, Kind, Problem

# A scanner or a printer driver may stamp a few words ("Scanned by ...", a page number) onto
# page images; a page of a form holds hundreds of characters with its labels alone.
MIN_TEXT_CHARS = 20

# Glyphs that a font maps to no character come out of pdfminer as "(cid:12)": not readable text.
_UNMAPPED = re.compile(r"\(cid:\d+\)")


def has_text_layer(page_texts: Iterable[str], minimum: int = MIN_TEXT_CHARS) -> bool:
    """Whether some page holds at least `minimum` readable letters or digits. Per page, so that
    a stamp repeated on every page of a long scan does not add up to a text layer."""
    return any(sum(1 for char in _UNMAPPED.sub("", text) if char.isalnum()) >= minimum for text in page_texts)


def scanned(why: str | None = None, kind: Kind = "pdf-scanned", tried: bool = True) -> Extraction:
    """A scan for a person to read; `why` (Swedish, as the consultant reads it) when OCR could
    not read it, or, not `tried`, why OCR was not used at all ("OCR är avstängt i
    inställningarna"), which is no failure of OCR's."""
    unread = "scanned_unread" if tried else "scanned_not_tried"
    text = message("scanned") + (" " + message(unread, why=why) if why else "")
    problem = Problem(field=None, code="scanned", severity="error", message=text)
    return Extraction(kind=kind, values={}, problems=[problem])
