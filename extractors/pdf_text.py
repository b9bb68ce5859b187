"""Reading a PDF without form fields: a form printed or exported from Word.

The answers are text on the page, under headings or in a two-column table of labels and answers.
Each character's position and font, from pdfminer, rebuild lines, table columns and emphasis;
the label-to-answer segmentation is the one shared with the Word reader.

pdfminer is the engine under pdfplumber. pdfplumber's own word extraction converts every
attribute of every character into a dict first, which made it three times slower on a printed
form (55 ms against 18 ms for two full pages) for nothing this reader uses.
"""

from __future__ import annotations

import difflib
import io
import re
import struct
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LTChar, LTContainer, LTCurve, LTItem, LTPage, LTRect
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.psexceptions import PSException

from blankett.extractors.context import ReadContext
from blankett.extractors.errors import Unreadable
from blankett.extractors.placement import Placement
from blankett.extractors.segment import Block, Segmenter
from blankett.models.labels import LabelMatch, LabelMatcher
from blankett.models.records import Extraction
from blankett.models.text import strip_numbering

# What pdfminer raises on a broken file (its own errors derive from PSException; a few plain
# ones slip through). Only library calls are wrapped with it, so that a bug of ours still
# surfaces as one.
MINER_ERRORS: tuple[type[BaseException], ...] = (
    PSException, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
    RecursionError, OverflowError, EOFError, NotImplementedError, zlib.error, struct.error,
)

# Running headers and footers live in this share of the page height at its top and bottom.
RUNNING_MARGIN = 0.08
# Two lines there this much alike are the same line (OCR may read a letter differently).
_RUNNING_LIKENESS = 0.9
# Two words further apart than this many average character widths are in different columns.
COLUMN_GAP_CHARS = 3.0
# ...and never closer than this (points): justified text stretches its spaces.
MIN_COLUMN_GAP = 15.0
# A gap this many times the font size where bold type gives way to regular is a cell border.
CELL_GAP = 0.6
# A gap between two characters wider than this share of the font size is a space.
SPACE_GAP = 0.15
# A cell starting this close to the answer column (points) belongs to it.
COLUMN_TOLERANCE = 6.0
# Lines with text on both sides of a gutter that make a page one of newspaper columns.
MIN_NEWSPAPER_LINES = 6
# A label in a narrow table cell wraps over at most this many lines.
MAX_LABEL_LINES = 4
# A horizontal line at least this long (points) is a table's border; a vertical one this tall.
MIN_RULE_WIDTH = 40.0
MIN_BORDER_HEIGHT = 8.0
# Text at least this much larger than the page's body text is a heading.
HEADING_SIZE_RATIO = 1.15

_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_ITALIC = re.compile(r"italic|oblique|kursiv", re.IGNORECASE)
# Text this much smaller than the body is fine print: an instruction, a note.
FAINT_SIZE_RATIO = 0.88
_LEADER = re.compile(r"[._…]{4,}")
_PAGE_NUMBER = re.compile(
    r"^(?:(?:sida|page|s\.|p\.)\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?\s*(?:(?:av|of|/|\()\s*\d{1,4}\s*\)?)?$",
    re.IGNORECASE,
)
_SOFT_HYPHEN = "\u00ad"
_UNMAPPED = re.compile(r"\(cid:\d+\)")
_UNKNOWN = "\ufffd"
# Word writes bullets and legacy checkboxes in Symbol and Wingdings, whose glyphs often come out
# in the private use area.
_SYMBOLS = str.maketrans({
    "\uf0b7": "•", "\uf0a7": "▪", "\uf06c": "●", "\uf0d8": "➢", "\uf0fc": "✓",
    "\uf0a8": "☐", "\uf06f": "☐", "\uf0fe": "☒", "\uf0fd": "☒", "\uf078": "☒",
})
# "läs- och skrivfrämjande": a hyphen before these words stands apart from the next line.
_HANGING_HYPHEN_NEXT = frozenset({"och", "eller", "samt", "resp", "respektive", "till", "and", "or"})
_SENTENCE_END = ".!?:;"
# Abbreviations whose full stop ends no sentence ("personalens tid, ev." / "administrativa").
_ABBREVIATION = re.compile(r"(?:\b(?:ev|t\.ex|bl\.a|m\.m|m\.fl|osv|resp|ca|inkl|exkl|dvs|s\.k|"
                           r"kr|st|nr|tel|e\.g|i\.e|etc|jfr)|\b\w)\.$", re.IGNORECASE)


def _ends_sentence(text: str) -> bool:
    """Whether a line ends a sentence: with ".!?:;", not after an abbreviation, and not with a
    parenthesis left open."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] not in _SENTENCE_END:
        return False
    if stripped.count("(") > stripped.count(")"):
        return False
    return not (stripped.endswith(".") and _ABBREVIATION.search(stripped))


# An e-mail address broken at a dot or a hyphen at the end of a line.
_BROKEN_ADDRESS = re.compile(r"\S+@\S*[.\-]$")
# The glyphs of a bulleted list; a dash or an asterisk may be typed text and stays.
_BULLET = re.compile(r"^[•◦▪●➢]\s*")
# A line starting a list item or a checkbox line starts anew, whatever the line above.
_ITEM = re.compile(r"^(?:[•◦▪●➢\-–*☐☒☑□■✓✔❑]\s|[☐☒☑□■]|\[[ xX]?\]|\d{1,2}[.)]\s|[a-zA-Z][.)]\s)")
# A bullet, box or number set off by a tab from its text is no column of its own.
_MARKER = re.compile(r"^(?:[•◦▪●·➢\-–*☐☒☑□■✓✔❑\ufffd]|\d{1,2}[.)]|[a-zA-Z][.)]|\[[ xX]?\]|\([ xX]?\))$")


@dataclass(frozen=True)
class _Char:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    strong: bool  # set in a bold font
    slanted: bool = False  # set in an italic font


@dataclass(frozen=True)
class Cell:
    """Words of one line that stand together, apart from the next column."""

    text: str
    x0: float
    x1: float
    emphasised: bool
    lead: float = 0.0  # the width of its first word: would it have fit on the line above?
    # The bold words it opens with when the rest is not bold: "**Kontakt:** Anna Berg".
    bold_lead: str = ""
    faint: bool = False  # italic or small: how a template sets its instructions
    chars: tuple[_Char, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class Line:
    page: int  # 1-based
    top: float
    bottom: float
    cells: tuple[Cell, ...]

    @property
    def text(self) -> str:
        return "\t".join(cell.text for cell in self.cells)

    @property
    def emphasised(self) -> bool:
        return all(cell.emphasised for cell in self.cells)


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
        return layout_box(rect, self.media, self.rotation, self.height)


def layout_box(rect: Box, media: Box, rotation: int, height: float) -> Box:
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


ENCRYPTED = "is encrypted (password-protected); ask for an unprotected copy"


def damaged(exc: BaseException) -> Unreadable:
    reason = " ".join(str(exc).split())[:120] or type(exc).__name__
    return Unreadable(f"is a damaged PDF: {reason}")


class Document:
    """The characters of a PDF's pages, page by page on demand. pdfminer opens a file protected
    by an owner password only (the empty user password) by itself."""

    def __init__(self, data: bytes) -> None:
        try:
            document = PDFDocument(PDFParser(io.BytesIO(data)), password="")
            self._pages = list(PDFPage.create_pages(document))
        except PDFEncryptionError:
            raise Unreadable(ENCRYPTED) from None
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
        return page_text(layout, index + 1, media, crop, rotation)


def _box(values: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in values)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def page_text(layout: LTPage, number: int, media: Box, crop: Box, rotation: int) -> PageText:
    """The lines of a laid-out page, top to bottom, each split into its columns."""
    height = float(layout.height) or 1.0
    seen = layout_box(crop, media, rotation, height)
    chars = [_char(c, height) for c in _chars(layout) if c.upright]
    # Text outside the CropBox is not shown by any viewer (printer's marks, cut-off layouts).
    chars = [c for c in chars if c.text and _within(c, seen)]
    shapes = list(_shapes(layout))
    chars = _with_drawn_checkboxes(chars, _drawn_checkboxes(shapes, height))
    body = _body_size(chars)
    borders = _borders(shapes, height)
    lines = tuple(_line(group, number, body, borders) for group in _group_lines(chars))
    return PageText(number=number, height=height, width=float(layout.width),
                    lines=tuple(ln for ln in lines if ln.cells), media=media, rotation=rotation,
                    visible=(seen[1], seen[3]), body=body, rules=_rules(shapes, height))


def _rules(shapes: list[LTItem], height: float) -> tuple[Rule, ...]:
    """Horizontal lines long enough to be a table's border, not an underline or a tick."""
    return tuple(sorted(
        (height - shape.y1, shape.x0, shape.x1) for shape in shapes
        if isinstance(shape, LTCurve) and shape.height <= 2.0 and shape.width >= MIN_RULE_WIDTH
    ))


def read_pages(data: bytes) -> list[PageText]:
    document = Document(data)
    return [document.page(index) for index in range(len(document))]


def read_text(data: bytes, context: ReadContext) -> Extraction:
    found = answers(read_pages(data), context)
    return Extraction(kind="pdf-text", values=found.values, unplaced=found.unplaced)


def answers(pages: Sequence[PageText], context: ReadContext) -> Placement:
    segmenter = Segmenter(context.matcher, "pdf-text")
    for block in blocks(pages, context.matcher):
        segmenter.feed(block)
    return segmenter.place(context.placer)


def blocks(pages: Sequence[PageText], matcher: LabelMatcher) -> list[Block]:
    """The text of the pages in reading order, without running headers and footers, with table
    rows turned into a label followed by its answer, and the lines of a paragraph joined."""
    kept = [_unfold_columns(page) for page in drop_running(pages)]
    pieces = [piece for page in kept for piece in _page_pieces(page, matcher)]
    return [Block(_unbullet(p.text), page=p.page, emphasised=p.emphasised, lead=p.bold_lead,
                  faint=p.faint, cells=True)
            for p in _paragraphs(pieces, matcher, _right_margin(kept))]


def _right_margin(pages: Sequence[PageText]) -> float:
    """Where the layout wraps lines: the furthest any line reaches, and at least as far from the
    right edge as the text starts from the left (Word's margins are alike), for a document of
    short lines only."""
    reach = max((line.cells[-1].x1 for page in pages for line in page.lines), default=0.0)
    mirrored = [page.width - min(line.cells[0].x0 for line in page.lines) for page in pages if page.lines]
    return max(reach, min(mirrored, default=0.0))


# --- characters to lines ----------------------------------------------------------------------

def _chars(item: LTItem) -> Iterator[LTChar]:
    # Text drawn inside a form XObject comes nested in a figure.
    if isinstance(item, LTChar):
        yield item
    elif isinstance(item, LTContainer):
        for child in item:
            yield from _chars(child)


# No page of a form holds more checkboxes than this; each is compared with every mark on the page.
_MAX_BOXES = 200


def _drawn_checkboxes(shapes: list[LTItem], height: float) -> list[_Char]:
    """Checkboxes drawn as squares rather than typed as ☐/☒ (legacy Word form fields printed by
    LibreOffice, say), as characters: ticked when a stroke is drawn inside the square."""
    boxes = [r for r in shapes if isinstance(r, LTRect) and 5 <= r.width <= 18
             and abs(r.width - r.height) <= 2]
    if len(boxes) > _MAX_BOXES:
        return []  # a pattern of squares (a grid, a drawing), no form's checkboxes
    found: dict[tuple[int, int], _Char] = {}
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
            found[key] = _Char(text="☒" if ticked else "☐", x0=box.x0, x1=box.x1,
                               top=height - box.y1, bottom=height - box.y0,
                               size=float(box.height), strong=False)
    return list(found.values())


def _with_drawn_checkboxes(chars: list[_Char], boxes: list[_Char]) -> list[_Char]:
    """The page's characters with the drawn boxes among them. A glyph inside a box is its tick
    (a flattened form draws ✔ in ZapfDingbats there): the box is ticked, the glyph goes."""
    if not boxes:
        return chars
    inside: set[int] = set()
    out: list[_Char] = []
    for box in boxes:
        marks = [n for n, c in enumerate(chars) if not c.text.isspace()
                 and box.x0 - 1 <= (c.x0 + c.x1) / 2 <= box.x1 + 1
                 and box.top - 1 <= _middle(c) <= box.bottom + 1 and c.x1 - c.x0 <= box.x1 - box.x0 + 2]
        inside.update(marks)
        out.append(replace(box, text="☒") if marks else box)
    return [c for n, c in enumerate(chars) if n not in inside] + out


def _shapes(item: LTItem) -> Iterator[LTItem]:
    if isinstance(item, LTCurve):  # LTRect and LTLine are curves too
        yield item
    elif isinstance(item, LTContainer):
        for child in item:
            yield from _shapes(child)


def _char(char: LTChar, height: float) -> _Char:
    text = char.get_text()
    if not text.isascii():
        # NFKC: ligatures ("ﬁ"), non-breaking and other odd spaces, full-width forms.
        text = unicodedata.normalize("NFKC", text.translate(_SYMBOLS))
    elif text.startswith("(cid:"):
        # A glyph without a character is kept as a placeholder, so that it still counts as a
        # bullet before a tab; it is dropped from the text.
        text = _UNMAPPED.sub(_UNKNOWN, text)
    return _Char(
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


def _within(char: _Char, box: Box) -> bool:
    x, y = (char.x0 + char.x1) / 2, _middle(char)
    return box[0] - 1 <= x <= box[2] + 1 and box[1] - 1 <= y <= box[3] + 1


def _body_size(chars: list[_Char]) -> float:
    sizes = Counter(round(c.size * 2) / 2 for c in chars if not c.text.isspace())
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _middle(char: _Char) -> float:
    return (char.top + char.bottom) / 2


def _group_lines(chars: list[_Char]) -> list[list[_Char]]:
    # By vertical middle rather than top, so that a larger or bold word on the same baseline
    # stays on its line; sorting first makes text drawn in any order come out top to bottom.
    groups: list[list[_Char]] = []
    anchor = 0.0
    for char in sorted(chars, key=_middle):
        tolerance = 0.45 * max(char.bottom - char.top, 1.0)
        if groups and _middle(char) - anchor <= tolerance:
            groups[-1].append(char)
        else:
            groups.append([char])
            anchor = _middle(char)
    return [sorted(group, key=lambda c: c.x0) for group in groups]


def _borders(shapes: list[LTItem], height: float) -> tuple[Rule, ...]:
    """Vertical lines tall enough to be a table cell's border: (x, top, bottom)."""
    return tuple(sorted(
        ((shape.x0 + shape.x1) / 2, height - shape.y1, height - shape.y0) for shape in shapes
        if isinstance(shape, LTCurve) and shape.width <= 2.0 and shape.height >= MIN_BORDER_HEIGHT
    ))


def _line(chars: list[_Char], number: int, body: float, borders: Sequence[Rule] = ()) -> Line:
    return Line(
        page=number,
        top=min(c.top for c in chars),
        bottom=max(c.bottom for c in chars),
        cells=tuple(cell for run in _columns(chars, borders) if (cell := _cell(run, body)) is not None),
    )


def _columns(chars: list[_Char], borders: Sequence[Rule] = ()) -> list[list[_Char]]:
    """The line cut where the space between two visible characters is wide: another column.
    Spaces typed to line text up count as space, as a tab stop does."""
    visible = [c for c in chars if not c.text.isspace()]
    if not visible:
        return []
    width = sum(c.x1 - c.x0 for c in visible) / len(visible)
    gap = max(MIN_COLUMN_GAP, COLUMN_GAP_CHARS * width)
    runs: list[list[_Char]] = [[]]
    last: _Char | None = None
    for char in chars:
        if char.text.isspace():
            runs[-1].append(char)
            continue
        if last is not None and not _is_marker(runs[-1]) and (
                char.x0 - last.x1 > gap
                # A bold label and its answer in the next cell of a grid: a wide gap where the
                # type changes, wider than a space.
                or (last.strong and not char.strong and char.x0 - last.x1 > CELL_GAP * char.size)
                # A table cell's border between them.
                or any(last.x1 - 1 <= x <= char.x0 + 1 and top <= _middle(char) <= bottom
                       for x, top, bottom in borders)):
            runs.append([])
        runs[-1].append(char)
        last = char
    return runs


def _is_marker(run: list[_Char]) -> bool:
    return bool(_MARKER.match("".join(c.text for c in run if not c.text.isspace())))


def _cell(chars: list[_Char], body: float) -> Cell | None:
    visible = [c for c in chars if not c.text.isspace()]
    text = _cell_text(chars)
    if not text or not visible:
        return None
    strong = sum(1 for c in visible if c.strong or (body > 0 and c.size >= body * HEADING_SIZE_RATIO))
    faint = sum(1 for c in visible if not c.strong and (
        c.slanted or (body > 0 and c.size <= body * FAINT_SIZE_RATIO)))
    return Cell(text=text, x0=visible[0].x0, x1=visible[-1].x1, emphasised=strong * 2 > len(visible),
                lead=_lead(chars), bold_lead=_bold_lead(chars), faint=faint * 2 > len(visible),
                chars=tuple(chars))


def _bold_lead(chars: list[_Char]) -> str:
    """The text of the bold characters a cell opens with, when all after them are regular."""
    visible = [n for n, c in enumerate(chars) if not c.text.isspace()]
    if not visible or not chars[visible[0]].strong:
        return ""
    end = next((n for n in visible if not chars[n].strong), None)
    if end is None or any(chars[n].strong for n in visible if n > end):
        return ""
    return _cell_text(chars[:end])


def _cell_text(chars: list[_Char]) -> str:
    # A space is either typed or left as a gap between glyphs (justified and kerned text).
    parts: list[str] = []
    previous: _Char | None = None
    for char in chars:
        if char.text.isspace():
            parts.append(" ")
            continue
        if previous is not None and char.x0 - previous.x1 > SPACE_GAP * char.size:
            parts.append(" ")
        parts.append(char.text)
        previous = char
    text = " ".join("".join(parts).replace(_UNKNOWN, " ").split())
    return _LEADER.sub("\t", text).strip("\t ")


def _lead(chars: list[_Char]) -> float:
    """The width of the first word, up to a typed space or a gap."""
    first: _Char | None = None
    last: _Char | None = None
    for char in chars:
        if char.text.isspace() or (last is not None and char.x0 - last.x1 > SPACE_GAP * char.size):
            if first is not None:
                break
            continue
        first = first or char
        last = char
    return last.x1 - first.x0 if first is not None and last is not None else 0.0


# --- running headers, footers and page numbers -------------------------------------------------

def _zone(line: Line, page: PageText) -> Literal["top", "bottom"] | None:
    top, bottom = page.visible if page.visible[1] > page.visible[0] else (0.0, page.height)
    margin = RUNNING_MARGIN * (bottom - top)
    if line.top < top + margin:
        return "top"
    if line.bottom > bottom - margin:
        return "bottom"
    return None


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.casefold().split()))


def drop_running(pages: Sequence[PageText]) -> list[PageText]:
    """The pages without lines repeated in the top or bottom margin of two or more pages (the
    date or page number in them may differ, and a letter or two where the page was read by
    OCR) and without page numbers there."""
    margins = [[(zone, _shape(line.text)) for line in page.lines if (zone := _zone(line, page))]
               for page in pages]

    def running(line: Line, page: PageText, number: int) -> bool:
        zone = _zone(line, page)
        if zone is None:
            return False
        if _PAGE_NUMBER.match(" ".join(line.text.split())):
            return True
        shape = _shape(line.text)
        return any(other_zone == zone and _alike(shape, other)
                   for n, lines in enumerate(margins) if n != number
                   for other_zone, other in lines)

    return [
        replace(page, lines=tuple(line for line in page.lines if not running(line, page, n)))
        for n, page in enumerate(pages)
    ]


def _alike(one: str, other: str) -> bool:
    if one == other:
        return True
    if abs(len(one) - len(other)) > max(2, len(one) // 10):
        return False
    return difflib.SequenceMatcher(None, one, other, autojunk=False).ratio() >= _RUNNING_LIKENESS


# --- newspaper columns ------------------------------------------------------------------------

def _unfold_columns(page: PageText) -> PageText:
    """A page set in two newspaper columns, read down the left column, then down the right.

    Read line by line, the two columns look like a table of labels and answers. Their left
    side tells them apart: a label column holds labels, in bold, that end where they end,
    while a newspaper column is as wide as the text beside it, and its regular lines run on to
    the gutter."""
    starts = Counter(round(c.x0 / 4) for line in page.lines for c in line.cells[1:2])
    for bucket, _ in starts.most_common(3):
        split = min(c.x0 for line in page.lines for c in line.cells[1:2] if round(c.x0 / 4) == bucket)
        unfolded = _unfold_at(page, split)
        if unfolded is not None:
            return unfolded
    return page


def _unfold_at(page: PageText, split: float) -> PageText | None:
    start = next((n for n, line in enumerate(page.lines)
                  if any(abs(c.x0 - split) <= COLUMN_TOLERANCE for c in line.cells[1:])), None)
    if start is None:
        return None
    region = page.lines[start:]
    if any(c.x0 < split - COLUMN_TOLERANCE < split + COLUMN_TOLERANCE < c.x1
           for line in region for c in line.cells):
        return None  # a line runs across the gutter: no columns here
    beside = [line for line in region if len(line.cells) >= 2 and line.cells[0].x1 < split]
    left_x = min(line.cells[0].x0 for line in region)
    right_x = max(c.x1 for line in region for c in line.cells)
    column = split - left_x
    if len(beside) < MIN_NEWSPAPER_LINES or column < 0.4 * (right_x - left_x):
        return None
    gutter = split - max(line.cells[0].x1 for line in beside)
    running = [line for line in beside if not line.cells[0].emphasised
               and line.cells[0].x1 >= split - gutter - 0.15 * column]
    aligned = [line for line in beside if abs(line.cells[0].x0 - left_x) <= COLUMN_TOLERANCE]
    if len(running) < 0.4 * len(beside) or len(aligned) < 0.8 * len(beside):
        return None  # a table's columns (a label column, or a small table inside an answer)
    left = [replace(line, cells=tuple(c for c in line.cells if c.x0 < split - COLUMN_TOLERANCE))
            for line in region]
    right = [replace(line, cells=tuple(c for c in line.cells if c.x0 >= split - COLUMN_TOLERANCE))
             for line in region]
    lines = (*page.lines[:start], *(ln for ln in left if ln.cells), *(ln for ln in right if ln.cells))
    return replace(page, lines=lines)


# --- lines to pieces, table rows ---------------------------------------------------------------

@dataclass(frozen=True)
class _Piece:
    """Text of one or more lines, with where it stands: to rebuild table rows and paragraphs."""

    text: str
    page: int  # where it starts
    emphasised: bool
    x0: float
    x1: float  # of its last line
    top: float
    bottom: float  # of its last line
    lead: float  # the width of its first word
    bold_lead: str = ""  # the bold words it opens with, when the rest is regular
    faint: bool = False
    end_page: int = 0  # where its last line is, if not `page`

    @property
    def last_page(self) -> int:
        return self.end_page or self.page

    @property
    def height(self) -> float:
        return self.bottom - self.top


def _piece(cells: Sequence[Cell], line: Line) -> _Piece:
    return _Piece(text="\t".join(c.text for c in cells), page=line.page,
                  emphasised=all(c.emphasised for c in cells), x0=cells[0].x0, x1=cells[-1].x1,
                  top=line.top, bottom=line.bottom, lead=cells[0].lead, bold_lead=cells[0].bold_lead,
                  faint=all(c.faint for c in cells))


def _answer_column(lines: Sequence[Line]) -> float | None:
    """Where the right-hand column of a two-column table starts on this page, if there is one:
    the most common start of a line's second column, among lines that begin at the left edge
    (not the columns of a small table inside an answer)."""
    edge = min((line.cells[0].x0 for line in lines if line.cells), default=0.0)
    starts = [line.cells[1].x0 for line in lines
              if len(line.cells) >= 2 and line.cells[0].x0 <= edge + COLUMN_TOLERANCE]
    if not starts:
        return None
    bucket, _ = Counter(round(x / 4) for x in starts).most_common(1)[0]
    return min(x for x in starts if round(x / 4) == bucket)


def _split_at(cells: Sequence[Cell], column: float, body: float) -> list[Cell]:
    """Cells cut where a word starts right at the answer column after a clear gap: a label
    filling its cell comes closer to the answer than columns elsewhere do."""
    out: list[Cell] = []
    for cell in cells:
        at = _column_start(cell, column)
        parts = [cell] if at is None else [_cell(list(cell.chars[:at]), body),
                                           _cell(list(cell.chars[at:]), body)]
        out.extend(part for part in parts if part is not None)
    return out


def _column_start(cell: Cell, column: float) -> int | None:
    if not cell.x0 < column - COLUMN_TOLERANCE < column + COLUMN_TOLERANCE < cell.x1:
        return None
    previous: _Char | None = None
    for index, char in enumerate(cell.chars):
        if char.text.isspace():
            continue
        if (previous is not None and abs(char.x0 - column) <= COLUMN_TOLERANCE
                and char.x0 - previous.x1 > 0.5 * char.size):
            return index
        previous = char
    return None


def _page_pieces(page: PageText, matcher: LabelMatcher) -> list[_Piece]:
    column = _answer_column(page.lines)
    rows = _Rows(matcher, column, page.rules)
    out: list[_Piece] = []
    for line in page.lines:
        if column is None:
            out.append(_piece(line.cells, line))
            continue
        cells = _split_at(line.cells, column, page.body)
        left = [c for c in cells if c.x0 < column - COLUMN_TOLERANCE]
        right = [c for c in cells if c.x0 >= column - COLUMN_TOLERANCE]
        if any(c.x1 > column + COLUMN_TOLERANCE for c in left):
            # Text running across the answer column: a paragraph, not a table row.
            out.extend(rows.flush())
            out.append(_piece(cells, line))
            continue
        out.extend(rows.line(_piece(left, line) if left else None, [_piece([c], line) for c in right]))
    out.extend(rows.flush())
    return out


_Role = Literal["label", "text", "loose"]


@dataclass
class _Item:
    role: _Role
    piece: _Piece
    # Left-hand text on a line whose right-hand cell holds answer text: label-column material
    # (the template's hint under its label), never an answer.
    beside_answer: bool = False


class _Rows:
    """Rebuilds the rows of a table of labels (left) and answers (right) from its lines.

    A label in a narrow cell wraps over several lines while its answer runs beside it, so read
    line by line the label's pieces and the answer's lines interleave. A row is emitted as the
    whole label, then the rest of its text in reading order. Left-hand pieces after a complete
    label ("loose") either continue it, start the next row's label, or are text: a hint, or the
    answers of a heading layout whose short lines happen to sit left of the column.
    """

    def __init__(self, matcher: LabelMatcher, column: float | None = None,
                 rules: Sequence[Rule] = ()) -> None:
        self._matcher = matcher
        self._rules = rules
        self._items: list[_Item] = []
        self._complete = False
        # How far a label may reach: the answer column, less the cell's padding.
        self._edge = (column or 0.0) - 2 * COLUMN_TOLERANCE

    def line(self, left: _Piece | None, right: list[_Piece]) -> list[_Piece]:
        out = self._left(left) if left is not None else self._end_loose()
        if left is not None and right and self._items and self._items[-1].piece is left:
            self._items[-1].beside_answer = True
        previous: _Item | None = None
        for index, piece in enumerate(right):
            # A third column holding a label: a grid of two pairs a row ("Kommun | X |
            # Telefon | Y"). Its row goes on until the next label on the left, and the lines
            # of each answer stay with the pair they stand under.
            grid_label = piece.bold_lead or (index + 1 < len(right) and (
                piece.emphasised or self._is_label([piece], exact=True)))
            column = round(piece.x0 / 8)
            wrapped_label = piece.emphasised and any(
                item.role == "label" and round(item.piece.x0 / 8) == column for item in self._items[1:])
            if (index > 0 and self._complete and grid_label) or wrapped_label:
                previous = _Item("label", piece)
                self._items.append(previous)
            elif previous is not None and previous.role == "text":
                # The cells of one row of a small table inside the answer stay one line.
                previous.piece = replace(previous.piece, text=previous.piece.text + "\t" + piece.text,
                                         x1=piece.x1, emphasised=False)
            else:
                previous = _Item("text", piece)
                self._items.append(previous)
        return out

    def flush(self) -> list[_Piece]:
        items, complete = self._items, self._complete
        self._items, self._complete = [], False
        label = [item for item in items if item.role == "label"]
        if not complete or not label:
            return [item.piece for item in items]
        # One pair per column of labels: a grid row holds two.
        columns = sorted({round(item.piece.x0 / 8) for item in label})
        if len(columns) > 1:
            edges = [min(i.piece.x0 for i in label if round(i.piece.x0 / 8) == c) for c in columns]
        else:
            edges = [label[0].piece.x0]
        out: list[_Piece] = []
        for n, edge in enumerate(edges):
            end = edges[n + 1] - COLUMN_TOLERANCE if n + 1 < len(edges) else float("inf")
            mine = [i for i in items if edge - COLUMN_TOLERANCE <= i.piece.x0 < end] if n else \
                [i for i in items if i.piece.x0 < end]
            heads = [i.piece for i in mine if i.role == "label"]
            if not heads:
                out.extend(i.piece for i in mine)
                continue
            out.append(replace(heads[0], text=" ".join(p.text for p in heads),
                               emphasised=any(p.emphasised for p in heads), x1=heads[-1].x1,
                               bottom=heads[-1].bottom))
            out.extend(i.piece for i in mine
                       if i.role == "text" or (i.role == "loose" and not i.beside_answer))
        return out

    def _match(self, pieces: Sequence[_Piece]) -> LabelMatch | None:
        # Bold text in the label column is set out as a label: its wording may be free.
        loose = all(p.emphasised for p in pieces)
        return self._matcher.match(" ".join(p.text for p in pieces), loose=loose)

    def _is_label(self, pieces: Sequence[_Piece], *, exact: bool = False) -> bool:
        found = self._match(pieces)
        return found is not None and (found.exact or not exact)

    def _starts_label(self, pieces: Sequence[_Piece], *, exact: bool = False) -> bool:
        # A piece starting in lower case goes on from the line above ("aktiviteten." under
        # "Beskriv varför ni vill genomföra"), whatever label it happens to spell alone.
        first = pieces[0].text.lstrip()
        if first[:1].islower() or first[:1] in "(/&,-–":
            return False
        # Bold lines of the label column together may name a field in words of their own.
        return self._is_label(pieces, exact=exact and not all(p.emphasised for p in pieces))

    def _goes_on(self, label: list[_Piece], piece: _Piece) -> bool:
        """Whether `piece` continues a label matched only by a keyword or closely: the label
        breaks mid-phrase ("Hur stor blir bibliotekets" / "egeninsats i timmar?")."""
        found = self._match(label)
        return (found is not None and not found.exact and piece.text.lstrip()[:1].islower()
                and label[-1].text.rstrip()[-1:] not in ":?." and self._match([*label, piece]) is not None)

    def _pieces(self, role: _Role) -> list[_Piece]:
        return [item.piece for item in self._items if item.role == role]

    def _left(self, piece: _Piece) -> list[_Piece]:
        hint = self._matcher.is_hint(piece.text) or (
            not piece.emphasised and self._matcher.is_hint_part(piece.text))
        if hint:
            return []  # the template's instruction under its label, never an answer
        if piece.emphasised:
            return self._bold(piece)
        label = self._pieces("label")
        if not label:
            # Text before the first label (an answer running on from the previous page) stays
            # before it.
            out = self.flush()
            self._items.append(_Item("label", piece))
            self._complete = self._starts_label([piece])
            return out
        if not self._complete:
            return self._extend_partial(label, piece)
        loose = self._pieces("loose")
        if self._matcher.is_hint(" ".join(p.text for p in [*loose, piece])):
            self._items = [item for item in self._items if item.role != "loose"]
            return []
        if self._is_label([*label, *loose, piece], exact=True) or (not loose and self._goes_on(label, piece)):
            for item in self._items:
                item.role = "label" if item.role == "loose" else item.role
            self._items.append(_Item("label", piece))
            return []
        candidates = [*loose, piece]
        for count in range(min(len(candidates), MAX_LABEL_LINES), 0, -1):
            if self._starts_label(candidates[-count:], exact=count > 1):
                return self._restart(count - 1, piece)
        self._items.append(_Item("loose", piece))
        return []

    def _bold(self, piece: _Piece) -> list[_Piece]:
        """Bold text in the label column is a label, whether or not its words are known: the
        next line of the label above, or the next row's label."""
        label = self._pieces("label")
        if label and all(p.emphasised for p in label) and self._wraps(label, piece):
            for item in self._items:
                item.role = "label" if item.role == "loose" else item.role
            self._items.append(_Item("label", piece))
            self._complete = True
            return []
        out = self.flush()
        self._items, self._complete = [_Item("label", piece)], True
        return out

    def _wraps(self, label: list[_Piece], piece: _Piece) -> bool:
        if not _wraps_on(label[-1], piece, self._edge, self._rules):
            return False
        # A label the form lists, whole already, is not continued by the next row's label.
        above = self._match(label)
        if above is not None and above.exact and piece.text.lstrip()[:1].isupper():
            joined = self._match([*label, piece])
            return joined is not None and joined.exact and joined.key == above.key
        return True

    def _extend_partial(self, label: list[_Piece], piece: _Piece) -> list[_Piece]:
        if self._is_label([*label, piece], exact=True):
            self._items.append(_Item("label", piece))
            self._complete = True
            return []
        if self._starts_label([piece]) or len(label) >= MAX_LABEL_LINES:
            out = self.flush()
            self._items, self._complete = [_Item("label", piece)], self._starts_label([piece])
            return out
        self._items.append(_Item("label", piece))
        return []

    def _restart(self, loose_count: int, piece: _Piece) -> list[_Piece]:
        """The last `loose_count` loose pieces and `piece` are the next row's label; the text
        beside them moves with them."""
        start = len(self._items)
        if loose_count:
            loose_at = [i for i, item in enumerate(self._items) if item.role == "loose"]
            start = loose_at[-loose_count]
        moved = self._items[start:]
        self._items = self._items[:start]
        out = self.flush()
        for item in moved:
            item.role = "label" if item.role == "loose" else item.role
        self._items = [*moved, _Item("label", piece)]
        self._complete = True
        return out

    def _end_loose(self) -> list[_Piece]:
        # A line with nothing on the left ends a run of label pieces.
        for item in self._items:
            if item.role == "loose" and not item.beside_answer:
                item.role = "text"
        return []


def _wraps_on(above: _Piece, piece: _Piece, edge: float, rules: Sequence[Rule]) -> bool:
    """Whether a bold line of the label column goes on from the bold line above it: the label
    above is not finished (no "?" or ":"), no row border lies between them, and this line starts
    in lower case or its first word would not have fit on the line above, before the label
    column's edge."""
    before, text = above.text.rstrip(), piece.text.lstrip()
    if not before or not text or before[-1] in "?:" or strip_numbering(text) != text:
        return False
    if piece.page == above.last_page and any(
            above.bottom - 1 <= top <= piece.top + 1 and x0 <= piece.x0 + 2 and x1 > piece.x0
            for top, x0, x1 in rules):
        return False
    if piece.page == above.last_page and piece.top - above.bottom > max(piece.height, 1.0):
        return False  # not the next line: the text beside ran on, and this is the next row
    return text[0].islower() or text[0] in "(/&,–-" or above.x1 + 0.25 * piece.height + piece.lead > edge


# --- paragraphs -------------------------------------------------------------------------------

def _paragraphs(pieces: list[_Piece], matcher: LabelMatcher, edge: float) -> list[_Piece]:
    """The lines of each paragraph joined again, where the layout wrapped them: so that answers
    read as written, and a wrapped line starting "resultat: ..." is not taken for a label."""
    out: list[_Piece] = []
    for piece in pieces:
        if out and _continues(out[-1], piece, matcher, edge):
            out[-1] = _joined(out[-1], piece)
        else:
            out.append(piece)
    return out


def _joined(previous: _Piece, piece: _Piece) -> _Piece:
    """A word broken at a line end is closed up. A soft (optional) hyphen goes; a hyphen typed as
    such stays, since Word breaks lines after the hyphen of "e-post" or "april-maj" and does not
    hyphenate by itself: "utveck-la" is a lesser harm than "aprilmaj"."""
    before, after = previous.text.rstrip(), piece.text.lstrip()
    first = after.split()[0].casefold()
    if before.endswith(_SOFT_HYPHEN):
        text = before[:-1] + after
    elif _BROKEN_ADDRESS.search(before) or (
            before.endswith("-") and before[-2:-1].isalpha() and first not in _HANGING_HYPHEN_NEXT):
        text = before + after
    else:
        text = before + " " + after
    # A bold label wrapped onto the line where its answer starts: the label is both lines.
    lead = previous.bold_lead
    if _ends_bold(previous) and piece.bold_lead:
        lead = text[: len(text) - len(after)] + piece.bold_lead
    return replace(previous, text=text, x1=piece.x1, bottom=piece.bottom, end_page=piece.last_page,
                   bold_lead=lead, faint=previous.faint and piece.faint)


def _ends_bold(piece: _Piece) -> bool:
    return piece.emphasised and not piece.bold_lead


def _starts_bold(piece: _Piece) -> bool:
    return piece.emphasised or bool(piece.bold_lead)


def _continues(previous: _Piece, piece: _Piece, matcher: LabelMatcher, edge: float) -> bool:
    text, before = piece.text.strip(), previous.text.strip()
    if not text or not before or "\t" in text or "\t" in before or _ITEM.match(text):
        return False
    if _BROKEN_ADDRESS.search(before) and text[0].isalnum():
        return True  # "anna.berg@kommun.example." / "org"
    label = matcher.match(before, loose=previous.emphasised)
    if text[0].islower() and not _ends_sentence(before):
        # The sentence above goes on, even with a word that spells a label ("... som bor i" /
        # "kommunen."), unless that is set apart in bold. A heading broken mid-phrase
        # ("Stöd från Kulturutveckling (kompetens och") may name its field by a keyword or
        # closely; only a whole label ("Kommun") is complete.
        if _ends_bold(previous) != _starts_bold(piece):
            return False  # a label in bold and its answer in regular type, or the reverse
        return label is None or not label.exact
    if piece.bold_lead:
        return False  # "**Summa:** 45 000 kr": a label of its own starts the line
    if _ends_bold(previous) and piece.emphasised:
        # A bold heading broken where its next word did not fit, even before a word that alone
        # is a heading of the form ("... ni önskar från" / "Kulturutveckling").
        alone = matcher.match(text, loose=True)
        return (alone is None or not alone.key) and _wrapped(previous, piece, edge)
    if matcher.match(text, loose=piece.emphasised) is not None:
        return False
    # "Kontaktperson: Maria Holm" under "Kommun: Lidköping" is the next label, however long.
    return label is None and matcher.split(text) is None and _wrapped(previous, piece, edge)


def _wrapped(previous: _Piece, piece: _Piece, edge: float) -> bool:
    """Whether the line before ended only because the next word (capitalised: a name, say)
    did not fit on it. After the end of a sentence, a new paragraph is the likelier reading
    (a timeline of one line per month), and the only harm of a wrong one is a line break."""
    if _ends_sentence(previous.text) or _ends_bold(previous) != _starts_bold(piece):
        return False
    if piece.page == previous.last_page and piece.top - previous.bottom > max(0.6 * piece.height, 3.0):
        return False  # space between paragraphs
    space = 0.25 * piece.height
    return previous.x1 + space + piece.lead > edge


def _unbullet(text: str) -> str:
    # A bullet glyph is list formatting (Word's numbering, never part of the text in the .docx).
    return _BULLET.sub("", text, count=1)
