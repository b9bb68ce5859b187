"""What of a printed PDF's pages is read, and in what order: running headers, footers and page
numbers left out, and a page set in two newspaper columns read down one column, then the other.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from blankett.extractors.pdf_layout import COLUMN_TOLERANCE, Line, PageText

# Running headers and footers live in this share of the page height at its top and bottom.
RUNNING_MARGIN = 0.08
# Two lines there this much alike are the same line (OCR may read a letter differently).
_RUNNING_LIKENESS = 0.9
_PAGE_NUMBER = re.compile(
    r"^(?:(?:sida|page|s\.|p\.)\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?\s*(?:(?:av|of|/|\()\s*\d{1,4}\s*\)?)?$",
    re.IGNORECASE,
)
# Lines with text on both sides of a gutter that make a page one of newspaper columns.
MIN_NEWSPAPER_LINES = 6


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

def unfold_columns(page: PageText) -> PageText:
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
