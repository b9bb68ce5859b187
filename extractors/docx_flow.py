"""The document in reading order, for documents written without the template's table: headings and
bold lines as labels, paragraphs, lists and small tables as their answers (extractors.segment).

Form tables met on the way are read as tables (docx_tables): their rows become sections in their
place in the document, and end the answer above them, so a heading's answer never swallows a
table's rows, nor the text after a table an empty last row.
"""

from __future__ import annotations

from collections.abc import Sequence

from blankett.extractors.docx_model import (
    Item,
    Para,
    Table,
    item_lines,
    joined_origin,
    para_lines,
    row_line,
)
from blankett.extractors.docx_tables import Pair, TableReading, read_table
from blankett.extractors.placement import Placement, Placer, Section
from blankett.extractors.segment import Block, Segmenter
from blankett.models.labels import LabelMatcher
from blankett.models.records import FoundValue, Method

# Which reading wins when two disagree: the table the applicant saw the label in, then a control
# or field named after the field (docx.py), then the free reading of the paragraphs.
RANK_TABLE, RANK_NAMED, RANK_FLOW = 0, 1, 2
_TABLE_METHODS: dict[str, Method] = {"": "docx-table", "sdt": "docx-content-control",
                                     "field": "docx-legacy-field"}
# A table holding no label we know is the form's table when this many of its rows are led by
# a shaded or bold label cell.
MIN_UNKNOWN_LABELS = 2


class Flow:
    def __init__(self, matcher: LabelMatcher) -> None:
        self._matcher = matcher
        self._segmenter = Segmenter(matcher, "docx-paragraphs")
        self._box_lines: set[str] = set()

    def read(self, items: Sequence[Item], in_box: bool = False) -> None:
        for item in items:
            if isinstance(item, Para):
                self._para(item, in_box)
            else:
                self._table(item, in_box)

    def _para(self, para: Para, in_box: bool) -> None:
        for line in para_lines(para, self._matcher.is_hint):
            lead = "" if para.heading else line.lead
            self._feed(Block(line.text, emphasised=para.heading or line.bold, lead=lead,
                             faint=line.faint), in_box)
        for box in para.boxes:
            self.read(box, in_box=True)

    def _table(self, table: Table, in_box: bool) -> None:
        reading = read_table(table, self._matcher)
        if self._is_form(reading):
            for pair in reading.pairs:
                self._segmenter.add(_section(pair))
            return
        for row in table.rows:
            filled = [c for c in row.cells if not c.merged and item_lines(c.items, self._matcher.is_hint)]
            if len(filled) == 1:
                # A box around text, or a layout table: read what it holds as the page shows it.
                self.read(filled[0].items, in_box)
            elif filled:
                line = row_line(row, self._matcher.is_hint)
                if line is not None:
                    self._feed(Block(line.text), in_box)

    def _is_form(self, reading: TableReading) -> bool:
        """The form's table, not a table inside an answer (a timeline whose header says
        "Aktivitet", a budget)."""
        fields = reading.fields
        inside_answer = self._segmenter.answering and reading.rows >= 2 and reading.columns >= 2
        if len(fields) >= 2:
            return True
        if inside_answer:
            return False
        return bool(fields) or reading.unknown >= MIN_UNKNOWN_LABELS

    def _feed(self, block: Block, in_box: bool) -> None:
        self._segmenter.feed(block)
        if in_box:
            self._box_lines.add(block.text.strip())

    def placement(self, placer: Placer) -> Placement:
        """Each field's answer; one read from text boxes only says so."""
        found = self._segmenter.place(placer, rank=_rank)
        values = {key: self._in_box(value) for key, value in found.values.items()}
        return Placement(values, found.unplaced)

    def _in_box(self, value: FoundValue) -> FoundValue:
        if value.source.method != "docx-paragraphs":
            return value
        lines = [line.strip() for line in value.value.split("\n") if line.strip()]
        # An answer after its label on the label's line is the end of that line.
        if not lines or not all(any(box.endswith(line) for box in self._box_lines) for line in lines):
            return value
        boxed = value.source.model_copy(update={"method": "docx-textbox"})
        return FoundValue(value=value.value, source=boxed)


def _section(pair: Pair) -> Section:
    method = _TABLE_METHODS[joined_origin(pair.lines)] if pair.lines else "docx-table"
    return Section(pair.heading, pair.match, [line.text for line in pair.lines], None, method)


def _rank(section: Section) -> int:
    return RANK_FLOW if section.method == "docx-paragraphs" else RANK_TABLE
