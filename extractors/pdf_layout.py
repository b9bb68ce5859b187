"""A PDF's pages as positioned text: the layout library beneath both PDF readers.

pdfminer interprets each page into characters with their positions and fonts, and the lines
drawn on it; from these come `PageText`: the page's lines, top to bottom as seen upright, each
cut into cells (`pdf_lines`), with the table rules and checkboxes drawn on the page. The
printed-form reader (`pdf_printed`) reads answers from them; the fillable-form reader
(`pdf_form_labels`) the words printed around a field's box.

pdfminer is the engine under pdfplumber, used directly. Whatever pdfplumber would give these
readers (`chars`, `rects`, `lines`, `find_tables()`) goes through its `page.objects`, which first
turns every character and line of a page into a dict: that alone takes about twice the bare
parse of a printed form, and reading the forms from it took 2.3 times the bare parse against 1.3
from pdfminer's own objects (BENCHMARKS.md), for the same answers.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LTChar, LTContainer, LTCurve, LTItem, LTPage, LTRect
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser

from blankett.extractors.pdf_errors import MINER_ERRORS, damaged, encrypted
from blankett.extractors.pdf_lines import UNKNOWN, Border, Cell, Char, Line, body_size, lines_of, middle

__all__ = ["COLUMN_TOLERANCE", "MAX_LABEL_LINES", "Box", "Cell", "Char", "Document", "Line", "PageText",
           "Rule", "read_pages"]

# A cell starting this close to the answer column (points) belongs to it.
COLUMN_TOLERANCE = 6.0
# A label in a narrow table cell wraps over at most this many lines.
MAX_LABEL_LINES = 4
# A horizontal line at least this long (points) is a table's border; a vertical one this tall.
MIN_RULE_WIDTH = 40.0
MIN_BORDER_HEIGHT = 8.0
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_ITALIC = re.compile(r"italic|oblique|kursiv", re.IGNORECASE)
_UNMAPPED = re.compile(r"\(cid:\d+\)")
# Word writes bullets and legacy checkboxes in Symbol and Wingdings, whose glyphs often come out
# in the private use area.
_SYMBOLS = str.maketrans({
    "\uf0b7": "•", "\uf0a7": "▪", "\uf06c": "●", "\uf0d8": "➢", "\uf0fc": "✓",
    "\uf0a8": "☐", "\uf06f": "☐", "\uf0fe": "☒", "\uf0fd": "☒", "\uf078": "☒",
})
Box = tuple[float, float, float, float]
Rule = tuple[float, float, float]  # top, x0, x1


@dataclass(frozen=True)
class PageText:
    """A page's lines as seen upright (after /Rotate): x to the right, `top` down from the top
    edge of the MediaBox."""

    number: int  # 1-based
    height: float
    lines: tuple[Line, ...]
    width: float = 0.0
    # To place widgets (given in the file's own coordinates) in the same frame.
    media: Box = (0.0, 0.0, 0.0, 0.0)  # the MediaBox as in the file
    rotation: int = 0
    # The part a viewer shows (the CropBox): where running headers and footers are looked for.
    visible: tuple[float, float] = (0.0, 0.0)  # top, bottom
    body: float = 0.0  # the size of most of its text
    # Horizontal rules (a table's row borders) as (top, x0, x1), top down from the top edge.
    rules: tuple[Rule, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def place(self, rect: Box) -> Box:
        """A rectangle in the file's coordinates (y up, before /Rotate) in this page's frame:
        (x0, top, x1, bottom)."""
        return _layout_box(rect, self.media, self.rotation, self.height)


def _layout_box(rect: Box, media: Box, rotation: int, height: float) -> Box:
    # The transformation pdfminer applies to a page's content (PDFPageInterpreter.process_page).
    x0, y0, x1, y1 = media
    a, b, c, d, e, f = {
        90: (0, -1, 1, 0, -y0, x1),
        180: (-1, 0, 0, -1, x1, y1),
        270: (0, 1, -1, 0, y1, -x0),
    }.get(rotation, (1, 0, 0, 1, -x0, -y0))
    points = [(a * x + c * y + e, b * x + d * y + f) for x in (rect[0], rect[2]) for y in (rect[1], rect[3])]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), height - max(ys), max(xs), height - min(ys))


class Document:
    """The characters of a PDF's pages, page by page on demand. pdfminer opens a file protected
    by an owner password only (the empty user password) by itself."""

    def __init__(self, data: bytes) -> None:
        try:
            document = PDFDocument(PDFParser(io.BytesIO(data)), password="")
            self._pages = list(PDFPage.create_pages(document))
        except PDFEncryptionError:
            raise encrypted() from None
        except MINER_ERRORS as exc:
            raise damaged(exc) from None
        resources = PDFResourceManager(caching=True)
        # No layout analysis: lines and columns are rebuilt here from the characters.
        self._device = PDFPageAggregator(resources, laparams=None)
        self._interpreter = PDFPageInterpreter(resources, self._device)

    def __len__(self) -> int:
        return len(self._pages)

    def page(self, index: int) -> PageText:
        """The 0-based page `index`."""
        page = self._pages[index]
        try:
            self._interpreter.process_page(page)
            layout = self._device.get_result()
            media, crop = _box(page.mediabox), _box(page.cropbox)
            rotation = int(page.rotate)
        except MINER_ERRORS as exc:
            raise damaged(exc) from None
        return _page_text(layout, index + 1, media, crop, rotation)


def _box(values: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in values)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _page_text(layout: LTPage, number: int, media: Box, crop: Box, rotation: int) -> PageText:
    """The lines of a laid-out page, top to bottom, each split into its columns."""
    height = float(layout.height) or 1.0
    seen = _layout_box(crop, media, rotation, height)
    chars = [_char(c, height) for c in _chars(layout) if c.upright]
    # Text outside the CropBox is not shown by any viewer (printer's marks, cut-off layouts).
    chars = [c for c in chars if c.text and _within(c, seen)]
    shapes = list(_shapes(layout))
    chars = _with_drawn_checkboxes(chars, _drawn_checkboxes(shapes, height))
    body = body_size(chars)
    borders = _borders(shapes, height)
    return PageText(number=number, height=height, width=float(layout.width),
                    lines=lines_of(chars, number, body, borders), media=media, rotation=rotation,
                    visible=(seen[1], seen[3]), body=body, rules=_rules(shapes, height))


def _rules(shapes: list[LTItem], height: float) -> tuple[Rule, ...]:
    """Horizontal lines long enough to be a table's border, not an underline or a tick."""
    return tuple(sorted(
        (height - shape.y1, shape.x0, shape.x1) for shape in shapes
        if isinstance(shape, LTCurve) and shape.height <= 2.0 and shape.width >= MIN_RULE_WIDTH
    ))


def _borders(shapes: list[LTItem], height: float) -> tuple[Border, ...]:
    """Vertical lines tall enough to be a table cell's border: (x, top, bottom)."""
    return tuple(sorted(
        ((shape.x0 + shape.x1) / 2, height - shape.y1, height - shape.y0) for shape in shapes
        if isinstance(shape, LTCurve) and shape.width <= 2.0 and shape.height >= MIN_BORDER_HEIGHT
    ))


def read_pages(data: bytes) -> list[PageText]:
    document = Document(data)
    return [document.page(index) for index in range(len(document))]


# --- characters and shapes ---------------------------------------------------------------

def _chars(item: LTItem) -> Iterator[LTChar]:
    # Text drawn inside a form XObject comes nested in a figure.
    if isinstance(item, LTChar):
        yield item
    elif isinstance(item, LTContainer):
        for child in item:
            yield from _chars(child)


def _shapes(item: LTItem) -> Iterator[LTItem]:
    if isinstance(item, LTCurve):  # LTRect and LTLine are curves too
        yield item
    elif isinstance(item, LTContainer):
        for child in item:
            yield from _shapes(child)


def _char(char: LTChar, height: float) -> Char:
    text = char.get_text()
    if not text.isascii():
        # NFKC: ligatures ("ﬁ"), non-breaking and other odd spaces, full-width forms.
        text = unicodedata.normalize("NFKC", text.translate(_SYMBOLS))
    elif text.startswith("(cid:"):
        # A glyph without a character is kept as a placeholder, so that it still counts as a
        # bullet before a tab; it is dropped from the text.
        text = _UNMAPPED.sub(UNKNOWN, text)
    return Char(
        text=text, x0=char.x0, x1=char.x1, top=height - char.y1, bottom=height - char.y0,
        size=float(char.size), strong=_is_bold(str(char.fontname)),
        slanted=_is_italic(str(char.fontname)),
    )


@lru_cache(maxsize=256)
def _is_bold(fontname: str) -> bool:
    return bool(_BOLD.search(fontname))


@lru_cache(maxsize=256)
def _is_italic(fontname: str) -> bool:
    return bool(_ITALIC.search(fontname))


def _within(char: Char, box: Box) -> bool:
    x, y = (char.x0 + char.x1) / 2, middle(char)
    return box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1


# No page of a form holds more checkboxes than this; each is compared with every mark on the page.
_MAX_BOXES = 200


def _drawn_checkboxes(shapes: list[LTItem], height: float) -> list[Char]:
    """Checkboxes drawn as squares rather than typed as ☐/☒ (legacy Word form fields printed by
    LibreOffice, say), as characters: ticked when a stroke is drawn inside the square."""
    boxes = [r for r in shapes if isinstance(r, LTRect) and 5 <= r.width <= 18
             and abs(r.width - r.height) <= 2]
    if len(boxes) > _MAX_BOXES:
        return []  # a pattern of squares (a grid, a drawing), no form's checkboxes
    found: dict[tuple[int, int], Char] = {}
    for box in boxes:
        key = (round(box.x0), round(box.y0))
        # A tick or a cross is a slanted stroke; the square's own edges are straight.
        ticked = any(
            not isinstance(mark, LTRect) and mark.width > 1 and mark.height > 1
            and box.x0 - 1 <= mark.x0 and mark.x1 <= box.x1 + 1
            and box.y0 - 1 <= mark.y0 and mark.y1 <= box.y1 + 1
            for mark in shapes
        )
        if ticked or key not in found:
            found[key] = Char(text="☒" if ticked else "☐", x0=box.x0, x1=box.x1,
                              top=height - box.y1, bottom=height - box.y0,
                              size=float(box.height), strong=False)
    return list(found.values())


def _with_drawn_checkboxes(chars: list[Char], boxes: list[Char]) -> list[Char]:
    """The page's characters with the drawn boxes among them. A glyph inside a box is its tick
    (a flattened form draws ✔ in ZapfDingbats there): the box is ticked, the glyph goes."""
    if not boxes:
        return chars
    inside: set[int] = set()
    out: list[Char] = []
    for box in boxes:
        marks = [n for n, c in enumerate(chars) if not c.text.isspace()
                 and box.x0 - 1 <= (c.x0 + c.x1) / 2 <= box.x1 + 1
                 and box.top - 1 <= middle(c) <= box.bottom + 1 and c.x1 - c.x0 <= box.x1 - box.x0 + 2]
        inside.update(marks)
        out.append(replace(box, text="☒") if marks else box)
    return [c for n, c in enumerate(chars) if n not in inside] + out
