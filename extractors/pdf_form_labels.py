"""What names a fillable form's field: its name ("txtKommun"), its tooltip, or the words printed
beside, above or right of its box on the page, which are read only when needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from blankett.extractors.context import ReadContext
from blankett.extractors.pdf_fields import Widget
from blankett.extractors.pdf_layout import COLUMN_TOLERANCE, MAX_LABEL_LINES, Box, Document, Line, PageText
from blankett.models.labels import LabelMatch
from blankett.models.normalise import AreaIndex
from blankett.models.text import fold

# Prefixes form designers put before a field's name: "txtKommun", "fld_purpose", "cb_digital".
_NAME_PREFIX = re.compile(
    r"^(?i:txt|text|fld|field|tf|tb|cbx|cb|chk|check|rb|rdo|radio|opt|ddl|dd|drop|lst|list|cmb|combo)"
    r"(?=[A-ZÅÄÖ0-9_.\- ]|$)"
)
_INDEX = re.compile(r"\[\d+\]")
_CAMEL = re.compile(r"(?<=[a-zåäö])(?=[A-ZÅÄÖ])")


def name_variants(name: str) -> list[str]:
    """A field name as words: "txtKommun" -> "Kommun", "Syfte_med_aktiviteten" -> "Syfte med
    aktiviteten", "fld_purpose" -> "purpose"; the variant without camel-case splitting too,
    since "MalGrupp" and "Malgrupp" both occur."""
    base = _INDEX.sub("", name).strip()
    stripped = _NAME_PREFIX.sub("", base).strip("_.- ") or base
    out = []
    for variant in (stripped, _CAMEL.sub(" ", stripped), base):
        words = re.sub(r"[_.]+", " ", variant)
        words = re.sub(r"\s*\d+$", "", words).strip()
        if words and words not in out:
            out.append(words)
    return out


class FieldLabels:
    """Turns candidate texts into a field (by label or key) or a strategic area."""

    def __init__(self, context: ReadContext) -> None:
        self._matcher = context.matcher
        self._keys = set(context.spec.keys)
        self._areas = AreaIndex(context.spec)

    def field(self, texts: Iterator[str] | list[str]) -> LabelMatch | None:
        guessed: LabelMatch | None = None
        for text in texts:
            text = text.strip()
            if not text:
                continue
            key = fold(text).replace(" ", "_")
            if key in self._keys:
                return LabelMatch(key, text, True)
            # Names, tooltips and the words beside a box are all set out as labels.
            found = self._matcher.match(text, loose=True) or self._split_head(text)
            if found is None or not found.key:
                continue
            if found.exact:
                return LabelMatch(found.key, text, True, found.by, found.confidence)
            guessed = guessed or LabelMatch(found.key, text, False, found.by, found.confidence)
        return guessed

    def _split_head(self, text: str) -> LabelMatch | None:
        # A tooltip "Kommun – den sökande kommunen": the label is its head.
        split = self._matcher.split(text)
        return split[0] if split is not None else None

    def area(self, texts: Iterator[str] | list[str]) -> str | None:
        """The first text that names exactly one strategic area."""
        for text in texts:
            text = text.strip()
            if text and len(self._areas.read(text).areas) == 1:
                return text
        return None


# --- the words printed around a widget --------------------------------------------------------

def _beside(line: Line, box: Box) -> bool:
    middle = (line.top + line.bottom) / 2
    box_middle = (box[1] + box[3]) / 2
    return box[1] - 2 <= middle <= box[3] + 2 or line.top - 2 <= box_middle <= line.bottom + 2


def left_of(box: Box, page: PageText) -> list[str]:
    """The text standing left of the box on its line; for a tall box, a label wrapped over the
    lines beside it grows line by line."""
    cells = []
    for line in page.lines:
        # A long label may run on under the box it names: it starts left of it.
        left = [c for c in line.cells if c.x0 < box[0] - 2] if _beside(line, box) else []
        if left:
            cells.append(max(left, key=lambda c: c.x1))
    if not cells:
        return []
    column = [c.text for c in cells if abs(c.x0 - cells[0].x0) <= COLUMN_TOLERANCE][:MAX_LABEL_LINES]
    return [" ".join(column[:n]) for n in range(1, len(column) + 1)]


def above(box: Box, page: PageText) -> list[str]:
    """The text on the line or two right above the box, over its left part."""
    found: list[str] = []
    limit = box[1] + 2
    for line in sorted((ln for ln in page.lines if ln.bottom <= box[1] + 2), key=lambda ln: -ln.bottom):
        over = [c for c in line.cells if c.x0 < box[2] and c.x1 > box[0] - 10]
        if not over or limit - line.bottom > max(2.0 * (line.bottom - line.top), 24.0):
            break
        nearest = min(over, key=lambda c: abs(c.x0 - box[0]))
        found.insert(0, nearest.text)
        limit = line.top
        if len(found) == 2:
            break
    # The line right above alone first, then with the line above it (a wrapped label).
    return [" ".join(found[-n:]) for n in range(1, len(found) + 1)]


def right_of(box: Box, page: PageText) -> list[str]:
    """The text right after the box on its line: how a checkbox is labelled."""
    near = [c for line in page.lines if _beside(line, box) for c in line.cells
            if c.x0 >= box[2] - 2 and c.x0 - box[2] < 200]
    return [min(near, key=lambda c: c.x0).text] if near else []


def inside(box: Box, page: PageText) -> str:
    """Text printed within the box."""
    return " ".join(
        c.text for line in page.lines for c in line.cells
        if c.x0 >= box[0] - 2 and c.x1 <= box[2] + 2 and line.top >= box[1] - 2 and line.bottom <= box[3] + 2
    )


class Surroundings:
    """The printed lines of the pages that widgets sit on, read on first need: reading a page's
    text costs more than the whole rest of a form."""

    def __init__(self, data: bytes, pages: dict[int, PageText] | None = None) -> None:
        self._data = data
        self._pages: dict[int, PageText] = dict(pages or {})
        self._document: Document | None = None

    @property
    def opened(self) -> bool:
        return self._document is not None or bool(self._pages)

    def page(self, index: int | None) -> PageText | None:
        if index is None:
            return None
        if index not in self._pages:
            if self._document is None:
                self._document = Document(self._data)
            if not 0 <= index < len(self._document):
                return None
            self._pages[index] = self._document.page(index)
        return self._pages[index]

    def around(self, widget: Widget | None, *, sides: tuple[str, ...]) -> list[str]:
        if widget is None or widget.rect is None:
            return []
        page = self.page(widget.page)
        if page is None:
            return []
        box = page.place(widget.rect)
        finders = {"left": left_of, "above": above, "right": right_of}
        return [text for side in sides for text in finders[side](box, page)]
