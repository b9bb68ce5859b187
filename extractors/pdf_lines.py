"""A page's characters grouped into lines, and each line cut into cells: where a wide gap, a
change from bold to regular type or a table's border parts its columns.

Each cell keeps how it is set (bold or larger type, italic or smaller type, the bold words it
opens with) and its characters, so that a reader can cut it again at a column it finds later.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

# Two words further apart than this many average character widths are in different columns.
COLUMN_GAP_CHARS = 3.0
# ...and never closer than this (points): justified text stretches its spaces.
MIN_COLUMN_GAP = 15.0
# A gap this many times the font size where bold type gives way to regular is a cell border.
CELL_GAP = 0.6
# A gap between two characters wider than this share of the font size is a space.
SPACE_GAP = 0.15
# Text at least this much larger than the page's body text is a heading.
HEADING_SIZE_RATIO = 1.15
# Text this much smaller than the body is fine print: an instruction, a note.
FAINT_SIZE_RATIO = 0.88
_LEADER = re.compile(r"[._…]{4,}")
# A glyph that maps to no character.
UNKNOWN = "\ufffd"
# A bullet, box or number set off by a tab from its text is no column of its own.
_MARKER = re.compile(r"^(?:[•◦▪●·➢\-–*☐☒☑□■✓✔❑\ufffd]|\d{1,2}[.)]|[a-zA-Z][.)]|\[[ xX]?\]|\([ xX]?\))$")
# A vertical line between cells: x, top, bottom (top down from the page's top edge).
Border = tuple[float, float, float]


@dataclass(frozen=True)
class Char:
    """A character, or a checkbox drawn as a square, where it stands: `top` down from the page's
    top edge."""

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
    chars: tuple[Char, ...] = field(default=(), repr=False, compare=False)


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


def body_size(chars: list[Char]) -> float:
    sizes = Counter(round(c.size * 2) / 2 for c in chars if not c.text.isspace())
    return sizes.most_common(1)[0][0] if sizes else 0.0


def middle(char: Char) -> float:
    return (char.top + char.bottom) / 2


def lines_of(chars: list[Char], number: int, body: float, borders: Sequence[Border] = ()) -> tuple[Line, ...]:
    """The lines of page `number`, top to bottom, each cut into its cells; lines of nothing
    but spaces left out."""
    lines = (_line(group, number, body, borders) for group in _group_lines(chars))
    return tuple(line for line in lines if line.cells)


def _group_lines(chars: list[Char]) -> list[list[Char]]:
    # By vertical middle rather than top, so that a larger or bold word on the same baseline
    # stays on its line; sorting first makes text drawn in any order come out top to bottom.
    groups: list[list[Char]] = []
    anchor = 0.0
    for char in sorted(chars, key=middle):
        tolerance = 0.45 * max(char.bottom - char.top, 1.0)
        if groups and middle(char) - anchor <= tolerance:
            groups[-1].append(char)
        else:
            groups.append([char])
            anchor = middle(char)
    return [sorted(group, key=lambda c: c.x0) for group in groups]


def _line(chars: list[Char], number: int, body: float, borders: Sequence[Border] = ()) -> Line:
    return Line(
        page=number,
        top=min(c.top for c in chars),
        bottom=max(c.bottom for c in chars),
        cells=tuple(cell for run in _columns(chars, borders) if (cell := cell_of(run, body)) is not None),
    )


def _columns(chars: list[Char], borders: Sequence[Border] = ()) -> list[list[Char]]:
    """The line cut where the space between two visible characters is wide: another column.
    Spaces typed to line text up count as space, as a tab stop does."""
    visible = [c for c in chars if not c.text.isspace()]
    if not visible:
        return []
    width = sum(c.x1 - c.x0 for c in visible) / len(visible)
    gap = max(MIN_COLUMN_GAP, COLUMN_GAP_CHARS * width)
    runs: list[list[Char]] = [[]]
    last: Char | None = None
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
                or any(last.x1 - 1 <= x <= char.x0 + 1 and top <= middle(char) <= bottom
                       for x, top, bottom in borders)):
            runs.append([])
        runs[-1].append(char)
        last = char
    return runs


def _is_marker(run: list[Char]) -> bool:
    return bool(_MARKER.match("".join(c.text for c in run if not c.text.isspace())))


def cell_of(chars: list[Char], body: float) -> Cell | None:
    """The characters as one cell, set out as most of them are; None for nothing but spaces."""
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


def _bold_lead(chars: list[Char]) -> str:
    """The text of the bold characters a cell opens with, when all after them are regular."""
    visible = [n for n, c in enumerate(chars) if not c.text.isspace()]
    if not visible or not chars[visible[0]].strong:
        return ""
    end = next((n for n in visible if not chars[n].strong), None)
    if end is None or any(chars[n].strong for n in visible if n > end):
        return ""
    return _cell_text(chars[:end])


def _cell_text(chars: list[Char]) -> str:
    # A space is either typed or left as a gap between glyphs (justified and kerned text).
    parts: list[str] = []
    previous: Char | None = None
    for char in chars:
        if char.text.isspace():
            parts.append(" ")
            continue
        if previous is not None and char.x0 - previous.x1 > SPACE_GAP * char.size:
            parts.append(" ")
        parts.append(char.text)
        previous = char
    text = " ".join("".join(parts).replace(UNKNOWN, " ").split())
    return _LEADER.sub("\t", text).strip("\t ")


def _lead(chars: list[Char]) -> float:
    """The width of the first word, up to a typed space or a gap."""
    first: Char | None = None
    last: Char | None = None
    for char in chars:
        if char.text.isspace() or (last is not None and char.x0 - last.x1 > SPACE_GAP * char.size):
            if first is not None:
                break
            continue
        first = first or char
        last = char
    return last.x1 - first.x0 if first is not None and last is not None else 0.0
