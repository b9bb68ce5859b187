"""Walking word/document.xml into paragraphs, tables and text boxes (docx_model).

Blocks are read here: paragraphs, tables with their merged and shaded cells, block-level
content controls and wrappers. What stands inside a paragraph is read by docx_inline.
"""

from __future__ import annotations

from lxml import etree

from blankett.extractors.docx_inline import InlineReader, check_depth, number
from blankett.extractors.docx_model import Cell, Item, LineBuilder, Origin, Para, Row, Table
from blankett.extractors.docx_styles import is_outline_level
from blankett.extractors.errors import Unreadable

_MAX_SPAN = 1000  # grid columns a cell may span; Word allows 63
# An application is a few pages; a document of more paragraphs and cells than this is no form,
# and reading it would cost a label lookup for every short line in it.
MAX_BLOCKS = 50_000


class Walker(InlineReader):
    _blocks_read = 0

    def _count_block(self) -> None:
        self._blocks_read += 1
        if self._blocks_read > MAX_BLOCKS:
            raise Unreadable(f"is refused: it holds more than {MAX_BLOCKS} paragraphs and table "
                             "cells, far more than an application form", "too_nested")
    # ---- blocks

    def blocks(self, parent: etree._Element, depth: int = 0, origin: Origin = "") -> list[Item]:
        check_depth(depth)
        t = self._t
        items: list[Item] = []
        for child in parent:
            tag = child.tag
            if tag == t["p"]:
                items.append(self._paragraph(child, depth, origin))
            elif tag == t["tbl"]:
                items.append(self._table(child, depth + 1))
            elif tag == t["sdt"]:
                items += self._block_sdt(child, depth + 1, origin)
            elif tag in self._block_wrappers:
                items += self.blocks(child, depth + 1, origin)
            elif tag == self._alternate:
                branch = self._branch(child)
                if branch is not None:
                    items += self.blocks(branch, depth + 1, origin)
        return items

    def _block_sdt(self, sdt: etree._Element, depth: int, origin: Origin) -> list[Item]:
        named, placeholder, _ = self._sdt_props(sdt)
        content = sdt.find(self._t["sdtContent"])
        if placeholder or content is None:
            # Only the prompt is showing: nothing was typed.
            self._note(named, "control", "")
            return []
        items = self.blocks(content, depth, "sdt")
        self._note(named, "control", items)
        return items

    def _paragraph(self, p: etree._Element, depth: int, origin: Origin) -> Para:
        self._count_block()
        t = self._t
        ppr = p.find(t["pPr"])
        style = self._styles.default_paragraph
        numbered = outline = False
        if ppr is not None:
            style_el = ppr.find(t["pStyle"])
            if style_el is not None:
                style = style_el.get(t["val"])
            num_id = ppr.find(t["numPr"] + "/" + t["numId"])
            numbered = num_id is not None and num_id.get(t["val"], "0") != "0"
            level = ppr.find(t["outlineLvl"])
            outline = level is not None and is_outline_level(level.get(t["val"], "9"))
        heading = outline or self._styles.heading(style)
        para = Para(heading=heading, listed=not heading and (numbered or self._styles.listed(style)))
        saved = self._builder, self._para, self._para_style
        self._builder, self._para, self._para_style = LineBuilder(), para, style
        try:
            self._inline(p, depth, origin)
            self._builder.newline()
            para.lines = self._builder.lines
        finally:
            self._builder, self._para, self._para_style = saved
        for capture in self._captures:
            capture.append("\n")  # a form field's result running over paragraphs
        return para

    # ---- tables

    def _table(self, tbl: etree._Element, depth: int) -> Table:
        check_depth(depth)
        return Table(self._rows(tbl, depth, ""))

    def _rows(self, parent: etree._Element, depth: int, origin: Origin) -> list[Row]:
        t = self._t
        rows: list[Row] = []
        for child in parent:
            if child.tag == t["tr"]:
                if child.find(t["trPr"] + "/" + t["del"]) is not None:
                    continue  # a row deleted with changes tracked
                rows.append(Row(self._cells(child, depth, origin, _grid_before(child, t))[0]))
            elif child.tag == t["sdt"]:
                named, _, _ = self._sdt_props(child)
                content = child.find(t["sdtContent"])
                if content is not None:
                    inner = self._rows(content, depth + 1, "sdt")
                    self._note(named, "control", [i for r in inner for c in r.cells for i in c.items])
                    rows += inner
            elif child.tag == t["customXml"]:
                rows += self._rows(child, depth + 1, origin)
        return rows

    def _cells(self, parent: etree._Element, depth: int, origin: Origin, col: int) -> tuple[list[Cell], int]:
        t = self._t
        cells: list[Cell] = []
        for child in parent:
            inner: list[Cell] = []
            if child.tag == t["tc"]:
                inner = [self._cell(child, depth, origin, col)]
            elif child.tag == t["sdt"]:
                named, _, _ = self._sdt_props(child)
                content = child.find(t["sdtContent"])
                if content is not None:
                    inner, _ = self._cells(content, depth + 1, "sdt", col)
                    self._note(named, "control", [i for c in inner for i in c.items])
            elif child.tag == t["customXml"]:
                inner, _ = self._cells(child, depth + 1, origin, col)
            for cell in inner:
                col = cell.col + cell.span
            cells += inner
        return cells, col

    def _cell(self, tc: etree._Element, depth: int, origin: Origin, col: int) -> Cell:
        self._count_block()
        t = self._t
        pr = tc.find(t["tcPr"])
        span, merged, restart, shaded = 1, False, False, False
        if pr is not None:
            span_el = pr.find(t["gridSpan"])
            if span_el is not None:
                span = max(1, min(number(span_el.get(t["val"])), _MAX_SPAN))
            for merge in (pr.find(t["vMerge"]), pr.find(t["hMerge"])):
                if merge is not None:
                    # No value means "continue": the cell is part of the one above (or left).
                    restart = restart or merge.get(t["val"]) == "restart"
                    merged = merged or merge.get(t["val"]) != "restart"
            shaded = _is_shaded(pr.find(t["shd"]), t)
        items = self.blocks(tc, depth + 1, origin)
        return Cell(items, col, span, merged, restart, shaded)

def _grid_before(tr: etree._Element, t: dict[str, str]) -> int:
    before = tr.find(t["trPr"] + "/" + t["gridBefore"])
    return min(number(before.get(t["val"]) if before is not None else None), _MAX_SPAN)


def _is_shaded(shd: etree._Element | None, t: dict[str, str]) -> bool:
    if shd is None:
        return False
    fill = (shd.get(t["fill"]) or "").strip().lower()
    return bool(shd.get(t["themeFill"])) or fill not in ("", "auto", "ffffff", "none")


