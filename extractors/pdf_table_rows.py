"""A printed page's lines as pieces of text in reading order, with the rows of a table of labels
(left) and answers (right) rebuilt: each row's whole label, then its answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from blankett.extractors.pdf_layout import COLUMN_TOLERANCE, MAX_LABEL_LINES, Cell, Char, Line, PageText, Rule
from blankett.extractors.pdf_lines import cell_of
from blankett.models.labels import LabelMatch, LabelMatcher
from blankett.models.text import strip_numbering


@dataclass(frozen=True)
class Piece:
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


def _piece(cells: Sequence[Cell], line: Line) -> Piece:
    return Piece(text="\t".join(c.text for c in cells), page=line.page,
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
        parts = [cell] if at is None else [cell_of(list(cell.chars[:at]), body),
                                           cell_of(list(cell.chars[at:]), body)]
        out.extend(part for part in parts if part is not None)
    return out


def _column_start(cell: Cell, column: float) -> int | None:
    if not cell.x0 < column - COLUMN_TOLERANCE < column + COLUMN_TOLERANCE < cell.x1:
        return None
    previous: Char | None = None
    for index, char in enumerate(cell.chars):
        if char.text.isspace():
            continue
        if (previous is not None and abs(char.x0 - column) <= COLUMN_TOLERANCE
                and char.x0 - previous.x1 > 0.5 * char.size):
            return index
        previous = char
    return None


def page_pieces(page: PageText, matcher: LabelMatcher) -> list[Piece]:
    """The page's lines as pieces in reading order: each line one piece, but in a table of labels
    and answers each row's label first, whole, then its answer."""
    column = _answer_column(page.lines)
    rows = _Rows(matcher, column, page.rules)
    out: list[Piece] = []
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
    piece: Piece
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

    def line(self, left: Piece | None, right: list[Piece]) -> list[Piece]:
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

    def flush(self) -> list[Piece]:
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
        out: list[Piece] = []
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

    def _match(self, pieces: Sequence[Piece]) -> LabelMatch | None:
        # Bold text in the label column is set out as a label: its wording may be free.
        loose = all(p.emphasised for p in pieces)
        return self._matcher.match(" ".join(p.text for p in pieces), loose=loose)

    def _is_label(self, pieces: Sequence[Piece], *, exact: bool = False) -> bool:
        found = self._match(pieces)
        return found is not None and (found.exact or not exact)

    def _starts_label(self, pieces: Sequence[Piece], *, exact: bool = False) -> bool:
        # A piece starting in lower case goes on from the line above ("aktiviteten." under
        # "Beskriv varför ni vill genomföra"), whatever label it happens to spell alone.
        first = pieces[0].text.lstrip()
        if first[:1].islower() or first[:1] in "(/&,-–":
            return False
        # Bold lines of the label column together may name a field in words of their own.
        return self._is_label(pieces, exact=exact and not all(p.emphasised for p in pieces))

    def _goes_on(self, label: list[Piece], piece: Piece) -> bool:
        """Whether `piece` continues a label matched only by a keyword or closely: the label
        breaks mid-phrase ("Hur stor blir bibliotekets" / "egeninsats i timmar?")."""
        found = self._match(label)
        return (found is not None and not found.exact and piece.text.lstrip()[:1].islower()
                and label[-1].text.rstrip()[-1:] not in ":?." and self._match([*label, piece]) is not None)

    def _pieces(self, role: _Role) -> list[Piece]:
        return [item.piece for item in self._items if item.role == role]

    def _left(self, piece: Piece) -> list[Piece]:
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

    def _bold(self, piece: Piece) -> list[Piece]:
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

    def _wraps(self, label: list[Piece], piece: Piece) -> bool:
        if not _wraps_on(label[-1], piece, self._edge, self._rules):
            return False
        # A label the form lists, whole already, is not continued by the next row's label.
        above = self._match(label)
        if above is not None and above.exact and piece.text.lstrip()[:1].isupper():
            joined = self._match([*label, piece])
            return joined is not None and joined.exact and joined.key == above.key
        return True

    def _extend_partial(self, label: list[Piece], piece: Piece) -> list[Piece]:
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

    def _restart(self, loose_count: int, piece: Piece) -> list[Piece]:
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

    def _end_loose(self) -> list[Piece]:
        # A line with nothing on the left ends a run of label pieces.
        for item in self._items:
            if item.role == "loose" and not item.beside_answer:
                item.role = "text"
        return []


def _wraps_on(above: Piece, piece: Piece, edge: float, rules: Sequence[Rule]) -> bool:
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
