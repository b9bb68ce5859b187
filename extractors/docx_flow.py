"""The document in reading order, for documents written without the template's table: headings and
bold lines as labels, paragraphs, lists and small tables as their answers (extractors.segment).

Form tables met on the way are read as tables (docx_tables) and end the answer above them, so a
heading's answer never swallows a table's rows, nor the text after a table an empty last row.
"""

from __future__ import annotations

from collections.abc import Sequence

from blankett.extractors.docx_model import Item, Line, Para, Table, item_lines, para_lines, row_line
from blankett.extractors.docx_tables import Pair, TableReading, read_table
from blankett.extractors.segment import Block, Segmenter
from blankett.models.labels import LabelMatcher
from blankett.models.records import FoundValue, Source


class Flow:
    def __init__(self, matcher: LabelMatcher) -> None:
        self._matcher = matcher
        self._runs: list[Segmenter] = [Segmenter(matcher, "docx-paragraphs")]
        self.table_pairs: list[Pair] = []
        # Whether the text being read stands under a field's label: a table there with a single
        # label in it is more likely part of the answer (a timeline whose header says "Aktivitet").
        self._answer_open = False
        self._box_lines: set[str] = set()

    def read(self, items: Sequence[Item], in_box: bool = False) -> None:
        for item in items:
            if isinstance(item, Para):
                self._para(item, in_box)
            else:
                self._table(item, in_box)

    def _para(self, para: Para, in_box: bool) -> None:
        for line in para_lines(para, self._matcher.is_hint):
            rest = None if para.heading else self._after_bold_label(line)
            if rest is not None:
                self._feed(line.lead, True, in_box)
                self._feed(rest, False, in_box)
            else:
                self._feed(line.text, para.heading or line.bold, in_box)
        for box in para.boxes:
            self.read(box, in_box=True)

    def _after_bold_label(self, line: Line) -> str | None:
        """The answer in "**Kommun** Ale": a bold label and its answer in one line with nothing
        between them that `LabelMatcher.split` would cut at."""
        if not line.lead or not line.text.startswith(line.lead):
            return None
        found = self._matcher.match(line.lead, loose=True)
        if found is None or not found.key:
            return None
        if self._matcher.match(line.text) is not None or self._matcher.split(line.text) is not None:
            return None
        return line.text[len(line.lead):].strip() or None

    def _table(self, table: Table, in_box: bool) -> None:
        reading = read_table(table, self._matcher)
        if self._is_form(reading):
            self.table_pairs += reading.pairs
            self._runs.append(Segmenter(self._matcher, "docx-paragraphs"))
            self._answer_open = False
            return
        for row in table.rows:
            filled = [c for c in row.cells if not c.merged and item_lines(c.items, self._matcher.is_hint)]
            if len(filled) == 1:
                # A box around text, or a layout table: read what it holds as the page shows it.
                self.read(filled[0].items, in_box)
            elif filled:
                line = row_line(row, self._matcher.is_hint)
                if line is not None:
                    self._feed(line.text, False, in_box)

    def _is_form(self, reading: TableReading) -> bool:
        fields = reading.fields
        if not fields:
            return False
        inside_answer = self._answer_open and reading.rows >= 2 and reading.columns >= 2
        return len(fields) >= 2 or not inside_answer

    def _feed(self, text: str, emphasised: bool, in_box: bool) -> None:
        self._runs[-1].feed(Block(text, emphasised=emphasised))
        match = self._matcher.match(text, loose=emphasised)
        split = self._matcher.split(text) if match is None else None
        if split is not None:
            match = split[0]
        if match is not None:
            self._answer_open = bool(match.key)
        if in_box:
            self._box_lines.add(text)
            if split is not None:
                self._box_lines.add(split[1])

    def values(self) -> dict[str, FoundValue]:
        """Each field's first non-empty answer; one read from text boxes only says so."""
        found: dict[str, FoundValue] = {}
        for run in self._runs:
            for key, value in run.values().items():
                if key not in found or (not found[key].value.strip() and value.value.strip()):
                    found[key] = self._in_box(value)
        return found

    def _in_box(self, value: FoundValue) -> FoundValue:
        lines = [line.strip() for line in value.value.split("\n") if line.strip()]
        if not lines or not all(line in self._box_lines for line in lines):
            return value
        return FoundValue(value=value.value, source=Source(
            method="docx-textbox", label=value.source.label, page=value.source.page))
