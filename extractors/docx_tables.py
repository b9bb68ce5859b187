"""Label and answer pairs in a table, in the layouts a form table takes:

- label | answer, also several pairs a row (label | answer | label | answer);
- a label row across the table with the answer in the row(s) below (one-column tables);
- a header row of labels with the answers in the row below, column by column;
- "Label: answer" in one cell, or a cell with the label paragraph above its answer;
- a label cell merged down over several rows, one option of the answer a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from blankett.extractors.docx_model import Cell, Line, Row, Table, item_lines, join_cells, row_line
from blankett.extractors.segment import heading_like, instruction_like
from blankett.models.labels import LabelMatch, LabelMatcher


@dataclass
class Pair:
    """A label cell and its answer. `match` is None for a label nobody listed, set out as one
    (shaded, bold, or the first cell of its row): which field it names is decided later."""

    match: LabelMatch | None
    heading: str
    lines: list[Line] = field(default_factory=list)
    strong: bool = True  # the label cell is shaded or bold, not only first in its row


class _View:
    """A cell as the reader judges it: its answer lines and whether it opens with a label.
    Whether it does is looked up only when asked: most answer cells are never asked, and a
    lookup of a line that is no label costs a fuzzy comparison with every label."""

    def __init__(self, cell: Cell, lines: list[Line], matcher: LabelMatcher, first: bool) -> None:
        self.cell = cell
        self.lines = lines
        self._matcher = matcher
        # Set out as a label: shaded, bold, or the first of several cells in its row. Such a
        # cell may name its field in words of its own ("Bibliotekets egen insats").
        self._strong = cell.shaded or bool(lines and lines[0].bold)
        self._set_out = self._strong or first

    @cached_property
    def head(self) -> LabelMatch | None:
        """The first line, whole, is a label (key "" for a section heading)."""
        if not self.lines:
            return None
        return self._matcher.match(self.lines[0].text, loose=self._set_out, guess=self._strong)

    @cached_property
    def split(self) -> bool:
        """The first line is "Label: answer"; not when it is all in bold or asks a question,
        which is a label whole ("Önskat stöd: kompetens och samfinansiering")."""
        if not self.lines or self.head is not None:
            return False
        first = self.lines[0]
        if first.bold or first.text.rstrip().endswith("?"):
            return False
        return self._matcher.split(first.text) is not None

    @property
    def labelish(self) -> bool:
        return self.head is not None or self.split

    @cached_property
    def unknown_label(self) -> bool:
        """Set out as a label, one line that reads as a heading, but naming nothing we know."""
        return (self._set_out and len(self.lines) == 1 and not self.labelish
                and heading_like(self.lines[0].text))

    @property
    def strong(self) -> bool:
        return self._strong


@dataclass(frozen=True)
class TableReading:
    pairs: list[Pair]
    rows: int
    columns: int  # the most cells in one row

    @property
    def fields(self) -> set[str]:
        return {p.match.key for p in self.pairs if p.match is not None}

    @property
    def unknown(self) -> int:
        """Pairs under a strongly set-out label nobody listed."""
        return sum(1 for p in self.pairs if p.match is None and p.strong)


def read_table(table: Table, matcher: LabelMatcher) -> TableReading:
    reader = _Reader(matcher)
    grid = [[reader.view(c, n == 0 and len(row.cells) > 1) for n, c in enumerate(row.cells)]
            for row in table.rows]
    reader.read(grid)
    columns = max((sum(not c.merged for c in row.cells) for row in table.rows), default=0)
    return TableReading(reader.pairs, len(grid), columns)


class _Reader:
    def __init__(self, matcher: LabelMatcher) -> None:
        self._matcher = matcher
        self.pairs: list[Pair] = []
        # An answer that continues in the rows below its label row.
        self._pending: Pair | None = None
        # The pending label had an (empty) answer cell beside it, rather than running across.
        self._pending_beside = False
        # Label cells merged down: grid column -> the pair their later rows add to.
        self._merged_labels: dict[int, Pair] = {}

    def view(self, cell: Cell, first: bool) -> _View:
        lines = [] if cell.merged else item_lines(cell.items, self._matcher.is_hint)
        return _View(cell, lines, self._matcher, first)

    def read(self, grid: list[list[_View]]) -> None:
        skip = False
        for n, views in enumerate(grid):
            if skip:
                skip = False
                continue
            live = [v for v in views if not v.cell.merged]
            below = grid[n + 1] if n + 1 < len(grid) else None
            if below is not None and _header_row(live) and not any(v.labelish for v in below):
                self._read_columns(live, below)
                self._pending, skip = None, True
            elif self._pending is not None and not any(v.labelish for v in live) \
                    and not _label_row(live, self._pending_beside):
                self._pending.lines += _row_lines(live, self._matcher)
            else:
                self._pending = None
                self._read_row(views)

    def _read_row(self, views: list[_View]) -> None:
        alone = sum(1 for v in views if v.lines) == 1
        i = 0
        while i < len(views):
            v = views[i]
            if v.cell.merged:
                i = self._continue_merged(views, i)
            elif v.head is not None:
                i = self._read_label(views, i, v.head, alone)
            elif v.split:
                self.pairs += _segment(v.lines, self._matcher)
                i += 1
            elif v.unknown_label and i + 1 < len(views) and _answers_unknown(v, views[i + 1]):
                end = _answer_end(views, i)
                pair = Pair(None, v.lines[0].text,
                            _answer(join_cells([w.lines for w in views[i + 1:end]])), v.strong)
                self.pairs.append(pair)
                if v.cell.restart:
                    self._merged_labels[v.cell.col] = pair  # a label merged down over rows
                i = end
            elif v.unknown_label and alone and v.strong:
                # A label row across the table: its answer is in the row(s) below.
                self._pending = Pair(None, v.lines[0].text, strong=True)
                self._pending_beside = False
                self.pairs.append(self._pending)
                i += 1
            else:
                i += 1

    def _read_label(self, views: list[_View], i: int, head: LabelMatch, alone: bool) -> int:
        v = views[i]
        self._merged_labels.pop(v.cell.col, None)
        if head.key == "":
            return i + 1
        if i + 1 < len(views):
            # Answer cells run to the next label; any further lines in the label cell are the
            # template's instructions, not an answer.
            end = _answer_end(views, i)
            pair = Pair(head, head.label, _answer(join_cells([w.lines for w in views[i + 1:end]])))
            self.pairs.append(pair)
            if v.cell.restart:
                self._merged_labels[v.cell.col] = pair
        elif len(v.lines) > 1:
            self.pairs += _segment(v.lines, self._matcher)  # label and answer in one cell
            return i + 1
        else:
            pair = Pair(head, head.label)
            self.pairs.append(pair)
            end = i + 1
        if alone and not pair.lines:
            self._pending = pair
            self._pending_beside = i + 1 < len(views)
        return end

    def _continue_merged(self, views: list[_View], i: int) -> int:
        owner = self._merged_labels.get(views[i].cell.col)
        if owner is None or i + 1 >= len(views):
            return i + 1
        end = _answer_end(views, i)
        owner.lines += join_cells([w.lines for w in views[i + 1:end]])
        return end

    def _read_columns(self, labels: list[_View], below: list[_View]) -> None:
        for v in labels:
            if v.head is None:
                continue
            first, last = v.cell.col, v.cell.col + v.cell.span
            under = [w for w in below if not w.cell.merged
                     and w.cell.col < last and w.cell.col + w.cell.span > first]
            self.pairs.append(Pair(v.head, v.head.label, join_cells([w.lines for w in under])))


def _header_row(live: list[_View]) -> bool:
    """Labels of different fields side by side and nothing else: their answers stand below."""
    filled = [v for v in live if v.lines]
    if len(filled) < 2:
        return False
    keys: set[str] = set()
    for v in filled:
        if len(v.lines) != 1 or v.head is None or not v.head.key or v.head.key in keys:
            return False
        keys.add(v.head.key)
    return True


def _answer_end(views: list[_View], i: int) -> int:
    """The cell after the last answer cell of the label at i. The first cell after the label
    always answers it, even when it reads like a label ("Mål: ..." as the purpose)."""
    answer_shaded = views[i + 1].cell.shaded
    end = i + 2
    while end < len(views):
        v = views[end]
        if v.labelish or (v.cell.shaded and not answer_shaded) or v.cell.merged:
            break
        end += 1
    return end


def _answer(lines: list[Line]) -> list[Line]:
    """An answer cell's lines without the instructions a template left at its top."""
    start = 0
    while start < len(lines) and instruction_like(lines[start].text, lines[start].faint):
        start += 1
    return lines[start:]


def _label_row(live: list[_View], beside: bool) -> bool:
    """The next label's row, not more of the pending answer: a row holding only a strongly
    set-out label nobody listed; or, below a label whose answer cell was left empty, a row that
    opens with a label cell nobody listed."""
    filled = [v for v in live if v.lines]
    if len(filled) == 1 and filled[0].strong and filled[0].unknown_label:
        return True
    return beside and len(filled) >= 2 and live[0].unknown_label


def _answers_unknown(label: _View, answer: _View) -> bool:
    """The cell after a label nobody listed is its answer: unless it is a label itself, or
    "Label: text" beside a shaded label, which is still the shaded label's answer."""
    if not answer.labelish:
        return True
    return label.cell.shaded and not answer.cell.shaded and answer.head is None


def _row_lines(live: list[_View], matcher: LabelMatcher) -> list[Line]:
    """A row under a label row: one cell gives its lines, several cells a line "a | b" unless
    they are options to tick, which stay a line each."""
    filled = [v for v in live if v.lines]
    if len(filled) <= 1:
        return [line for v in filled for line in v.lines]
    if any(v.lines[0].text[:1] in "☒☐☑□■" for v in filled):
        return join_cells([v.lines for v in filled])
    line = row_line(Row([v.cell for v in filled]), matcher.is_hint)
    return [line] if line is not None else []


def _segment(lines: list[Line], matcher: LabelMatcher) -> list[Pair]:
    """Labels and answers inside one cell: "Kommun: Ale" lines, or a label line above its answer."""
    pairs: list[Pair] = []
    current: Pair | None = None
    for line in lines:
        whole = matcher.match(line.text, loose=line.bold)
        split = None if whole is not None else matcher.split(line.text)
        match = whole or (split[0] if split else None)
        starts = match is not None and (match.exact or current is None or line.bold)
        if match is not None and starts:
            if match.key == "":
                current = None
                continue
            current = Pair(match, match.label)
            pairs.append(current)
            if split and split[1]:
                current.lines.append(Line(split[1], False, line.origin))
        elif current is not None:
            current.lines.append(line)
    return pairs
