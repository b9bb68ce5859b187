"""Tesseract's searchable PDF, told the weight and size of each word's type.

Tesseract writes each page as the page image under an invisible text layer, every word in one
font, "GlyphLessFont", at a size taken from the height of its line: a line with "på" or "0489"
in it comes out a point or two larger than its neighbours. The printed-PDF reader tells a label
from its answer by weight and a heading by size, as a person does; so each word is rewritten in
the size measured from the page (extractors/ocr.py) and, where the pixels say bold
(extractors/scan_image.py), in a copy of the font named bold. Nothing visible changes, and each
word keeps its place on the page.

The text layer is Tesseract's own: one `<scale> Tz [ <UTF-16 hex> ] TJ` a word, in the order of
its word table. Where the counts differ, the page is left as Tesseract wrote it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject

_REGULAR = "/f-0-0"
_BOLD = "/f-0-1"
# What places and shows Tesseract's words: a font size, a word with its horizontal scale, the
# start of a line (absolute) or of the next word (relative to the one before).
_TOKEN = re.compile(rb"/f-0-0 ([\d.]+) Tf|([\d.]+) Tz \[ <([0-9A-Fa-f]*)> \] TJ"
                    rb"|1 0 0 1 (-?[\d.]+) (-?[\d.]+) Tm|(-?[\d.]+) (-?[\d.]+) Td")
# A turned line of text: Tesseract writes its own matrix; such a page is left as it is.
_TURNED = re.compile(rb"(?<![\d.])(?!1 0 0 1 )-?[\d.]+ -?[\d.]+ -?[\d.]+ -?[\d.]+ -?[\d.]+ -?[\d.]+ Tm")
_SPACE = b"0020"
# Tesseract's GlyphLessFont: every glyph half an em wide.
_ADVANCE = 0.5


@dataclass(frozen=True)
class Type:
    bold: bool
    size: float  # points
    left: float  # where the word's ink starts on the page, points from the left edge
    width: float  # of its ink, points


def retyped(page_pdf: bytes, types: Sequence[Type]) -> bytes:
    """The one-page PDF with each word shown in its type."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(page_pdf)))
    page = writer.pages[0]
    contents = page.get("/Contents")
    if contents is None:
        return page_pdf
    stream = contents.get_object()
    data = stream.get_data()
    if sum(1 for token in _TOKEN.finditer(data) if token.group(2) is not None) != len(types) \
            or _TURNED.search(data):
        return page_pdf
    fonts = page["/Resources"]["/Font"]  # type: ignore[index]
    fonts[NameObject(_BOLD)] = _bold_copy(writer, fonts[_REGULAR].get_object())
    stream.set_data(_rewritten(data, types))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _bold_copy(writer: PdfWriter, regular: DictionaryObject) -> object:
    """Readers name a composite font by its descendant or the descendant's descriptor: all
    three copied, all named bold."""
    name = NameObject("/GlyphLessFont-Bold")
    descendant = DictionaryObject(regular["/DescendantFonts"][0].get_object())
    descriptor = DictionaryObject(descendant["/FontDescriptor"].get_object())
    descriptor[NameObject("/FontName")] = name
    descendant[NameObject("/FontDescriptor")] = writer._add_object(descriptor)
    descendant[NameObject("/BaseFont")] = name
    strong = DictionaryObject(regular)
    strong[NameObject("/BaseFont")] = name
    strong[NameObject("/DescendantFonts")] = ArrayObject([writer._add_object(descendant)])
    return writer._add_object(strong)


def _rewritten(data: bytes, types: Sequence[Type]) -> bytes:
    """Each word set where its ink is: Tesseract's boxes of short words ("i", "å") reach into
    the gap before them, and a reader then joins the word to the one before."""
    parts: list[bytes] = []
    shown, last = 0, 0
    x = y = 0.0
    for token in _TOKEN.finditer(data):
        parts.append(data[last:token.start()])
        last = token.end()
        if token.group(4) is not None:
            x, y = float(token.group(4)), float(token.group(5))
            continue
        if token.group(6) is not None:
            x, y = x + float(token.group(6)), y + float(token.group(7))
            continue
        if token.group(1) is not None:
            continue
        kind, glyphs = types[shown], token.group(3)
        shown += 1
        # Tesseract spreads a word and a space after it over the word's box. Printed PDFs set
        # the letters over the ink and leave the gap to the next word empty, and readers (this
        # project's among them) take a wide glyph between two words for a gap between columns.
        letters = glyphs[:-4] if glyphs.upper().endswith(_SPACE) and len(glyphs) > 4 else glyphs
        scale = 100 * kind.width / (max(1, len(letters) // 4) * _ADVANCE * kind.size)
        font = _BOLD if kind.bold else _REGULAR
        parts.append(f"1 0 0 1 {kind.left:.2f} {y:.2f} Tm {font} {kind.size:.2f} Tf "
                     f"{scale:.3f} Tz [ <".encode() + letters + b"> ] TJ")
    parts.append(data[last:])
    return b"".join(parts)
