"""The Word document as the reader sees it: paragraphs cut into lines, tables of cells, text boxes.

The XML walk (docx_walk) builds this once; the table reader and the paragraph flow both read it, so
neither has to know about runs, fields, controls or namespaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

# Where a line's text was typed: in a content control, in a legacy form field, or anywhere else.
Origin = Literal["", "sdt", "field"]

CHECKED = "☒"
UNCHECKED = "☐"
# Boxes an applicant may type instead of ticking a control; a cell holding only one of them is
# the box in front of the option in the next cell.
_BOX_GLYPHS = frozenset("☒☐☑□■▣")
# Between the cells of a row of a small table inside an answer ("Mars | Planering").
CELL_SEPARATOR = " | "


@dataclass(frozen=True)
class Line:
    text: str
    bold: bool  # every visible character is bold: the applicant meant it as a label
    origin: Origin
    lead: str = ""  # the bold words a line opens with when the rest is not bold
    # Every visible character italic, grey or small: how templates set their instructions.
    faint: bool = False


@dataclass
class Para:
    lines: list[Line] = field(default_factory=list)
    heading: bool = False
    listed: bool = False
    # Text boxes anchored in this paragraph, read after it: each a list of items.
    boxes: list[list[Item]] = field(default_factory=list)


@dataclass(frozen=True)
class Cell:
    items: list[Item]
    col: int  # first grid column
    span: int
    # The continuation of a merged cell: what it shows belongs to the cell it is merged into.
    merged: bool
    restart: bool  # the first cell of a vertical merge
    shaded: bool


@dataclass(frozen=True)
class Row:
    cells: list[Cell]


@dataclass(frozen=True)
class Table:
    rows: list[Row]


@dataclass
class LineBuilder:
    """Text of one paragraph as it arrives run by run, cut into lines at breaks."""

    lines: list[Line] = field(default_factory=list)
    _parts: list[str] = field(default_factory=list)
    _bold: bool = True
    # The bold text a line opens with while the rest is not bold: "**Kommun** Ale".
    _lead: list[str] = field(default_factory=list)
    _weights: dict[Origin, int] = field(default_factory=dict)
    _faint: bool = True

    def add(self, text: str, bold: bool, origin: Origin, faint: bool = False) -> None:
        self._parts.append(text)
        weight = len("".join(text.split()))
        if weight:
            if self._bold and bold:
                self._lead.append(text)
            self._bold = self._bold and bold
            self._faint = self._faint and faint
            self._weights[origin] = self._weights.get(origin, 0) + weight

    def newline(self) -> None:
        text = "".join(self._parts).strip()
        if text:
            origin: Origin = next(iter(self._weights)) if len(self._weights) == 1 else ""
            lead = "" if self._bold else "".join(self._lead).strip()
            self.lines.append(Line(text, self._bold, origin, lead, self._faint and not self._bold))
        self._parts, self._bold, self._lead, self._weights, self._faint = [], True, [], {}, True


Item = Para | Table
IsHint = Callable[[str], bool]


def is_box(text: str) -> bool:
    return len(text) == 1 and text in _BOX_GLYPHS


def joined_origin(lines: Sequence[Line]) -> Origin:
    origins = {line.origin for line in lines}
    return origins.pop() if len(origins) == 1 else ""


def para_lines(para: Para, is_hint: IsHint) -> list[Line]:
    """The paragraph's own lines, list items marked "- ", the template's hints left out."""
    out: list[Line] = []
    for n, line in enumerate(para.lines):
        if is_hint(line.text):
            continue
        if n == 0 and para.listed:
            line = Line("- " + line.text, line.bold, line.origin, line.lead)
        out.append(line)
    return out


def item_lines(items: Sequence[Item], is_hint: IsHint) -> list[Line]:
    """Everything in a cell or a control as answer lines; a nested table gives a line a row."""
    out: list[Line] = []
    for item in items:
        if isinstance(item, Para):
            out += para_lines(item, is_hint)
            for box in item.boxes:
                out += item_lines(box, is_hint)
        else:
            out += table_lines(item, is_hint)
    return out


def table_lines(table: Table, is_hint: IsHint) -> list[Line]:
    out: list[Line] = []
    for row in table.rows:
        line = row_line(row, is_hint)
        if line is not None:
            out.append(line)
    return out


def row_line(row: Row, is_hint: IsHint) -> Line | None:
    """A row of a small table as one line, "a | b | c"; a lone box joins the option after it."""
    texts: list[str] = []
    origins: list[Line] = []
    for cell in row.cells:
        if cell.merged:
            continue
        lines = item_lines(cell.items, is_hint)
        text = " ".join(line.text for line in lines)
        if not text:
            continue
        if texts and is_box(texts[-1]):
            texts[-1] += " " + text
        else:
            texts.append(text)
        origins += lines
    if not texts:
        return None
    return Line(CELL_SEPARATOR.join(texts), False, joined_origin(origins))


def join_cells(cells: Sequence[Sequence[Line]]) -> list[Line]:
    """Lines of neighbouring answer cells, one after the other; a cell holding only a box
    is put in front of the first line of the next cell ("☒ Det digitala biblioteket")."""
    out: list[Line] = []
    carry: Line | None = None
    for lines in cells:
        if len(lines) == 1 and is_box(lines[0].text):
            if carry is not None:
                out.append(carry)
            carry = lines[0]
            continue
        if carry is not None and lines:
            first = lines[0]
            lines = [Line(f"{carry.text} {first.text}", False, first.origin), *lines[1:]]
            carry = None
        out += lines
    if carry is not None:
        out.append(carry)
    return out
