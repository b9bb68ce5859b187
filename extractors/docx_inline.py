"""Reading inside a paragraph: runs, content controls, legacy form fields, symbols, text boxes.

What the printed page shows is kept: the text of controls and fields where they stand, ticked
boxes as ☒/☐, inserted text. What it does not show is left out: deleted text, field codes,
hidden runs, the fallback copy of every text box, and tables of contents (their entries would
read as labels answered by page numbers). On the way, controls and fields whose tag, title or
name is that of a field of the form are noted (`Named`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from blankett.extractors.docx_model import CHECKED, UNCHECKED, Item, LineBuilder, Origin, Para
from blankett.extractors.docx_styles import MC, W14, Styles, is_on
from blankett.extractors.errors import Unreadable
from blankett.models.labels import LabelMatch

# Far beyond any real form (a control in a cell of a table in a text box is 4 levels); a crafted
# file must not reach Python's recursion limit.
MAX_DEPTH = 50
_MAX_OPEN_FIELDS = 50
# Fields whose result lists the document's own headings ("Syfte med aktiviteten ... 2").
_LISTING_FIELDS = frozenset({"TOC", "INDEX", "TOA"})

# Symbol fonts draw ticked and empty boxes from private-use code points.
_SYMBOL_BOXES: dict[str, dict[int, str]] = {
    "wingdings": {0x78: CHECKED, 0xFD: CHECKED, 0xFE: CHECKED, 0x6F: UNCHECKED, 0xA8: UNCHECKED,
                  0x71: UNCHECKED, 0x72: UNCHECKED},
    "wingdings 2": {0x51: CHECKED, 0x52: CHECKED, 0x53: CHECKED, 0x54: CHECKED, 0x2A: UNCHECKED,
                    0xA3: UNCHECKED},
}

NameResolver = Callable[[str | None, str | None], LabelMatch | None]
Payload = str | list[Item] | Para
NamedKind = Literal["control", "field"]


@dataclass(frozen=True)
class Named:
    """A control or form field named after a field of the form; its payload becomes the answer:
    text, the items of a block control, or the paragraph a named checkbox stands in."""

    match: LabelMatch
    kind: NamedKind
    payload: Payload


@dataclass
class _Field:
    kind: Literal["text", "checkbox", "dropdown", "other", "hidden"]
    in_result: bool = False
    capture: list[str] | None = None
    named: LabelMatch | None = None
    code: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _RunProps:
    bold: bool
    hidden: bool
    symbol_font: str | None
    faint: bool = False  # italic, grey or small: how a template sets its instructions


class InlineReader:
    """The paragraph-level half of the walk; `docx_walk.Walker` adds blocks and tables."""

    def __init__(self, namespace: str, styles: Styles, resolve: NameResolver) -> None:
        self._styles = styles
        self._resolve = resolve
        self.named: list[Named] = []
        self._fields: list[_Field] = []
        self._captures: list[list[str]] = []
        self._builder = LineBuilder()
        self._para = Para()
        self._para_style: str | None = None
        self._faint_run = False
        w = "{" + namespace + "}"
        self._t = {name: w + name for name in (
            "p", "r", "t", "tbl", "tr", "tc", "sdt", "sdtPr", "sdtContent", "tag", "alias", "val",
            "showingPlcHdr", "pPr", "rPr", "pStyle", "numPr", "numId", "outlineLvl", "rStyle", "b",
            "vanish", "webHidden", "rFonts", "ascii", "hAnsi", "tab", "ptab", "br", "cr",
            "noBreakHyphen", "sym", "font", "char", "fldChar", "fldCharType",
            "ffData", "name", "instrText", "checkBox", "checked", "default", "ddList", "result",
            "listEntry", "txbxContent", "tcPr", "gridSpan", "vMerge", "hMerge", "shd", "fill",
            "themeFill", "trPr", "gridBefore", "customXml", "smartTag", "hyperlink", "ins", "del",
            "moveTo", "fldSimple", "instr", "dir", "bdo", "i", "color", "sz")}
        t = self._t
        self._inline_wrappers = frozenset(t[n] for n in (
            "hyperlink", "smartTag", "customXml", "ins", "moveTo", "fldSimple", "dir", "bdo"))
        self._block_wrappers = frozenset(t[n] for n in ("customXml", "ins", "moveTo", "smartTag"))
        self._drawings = frozenset(w + n for n in ("drawing", "pict", "object"))
        self._alternate = "{" + MC + "}AlternateContent"

    def blocks(self, parent: etree._Element, depth: int = 0, origin: Origin = "") -> list[Item]:
        raise NotImplementedError  # text boxes hold blocks: the walker reads them

    # ---- inline content

    def _inline(self, parent: etree._Element, depth: int, origin: Origin) -> None:
        check_depth(depth)
        t = self._t
        for child in parent:
            tag = child.tag
            if tag == t["r"]:
                self._run(child, depth, origin)
            elif tag == t["sdt"]:
                self._inline_sdt(child, depth + 1, origin)
            elif tag == t["fldSimple"] and _is_listing(child.get(t["instr"], "")):
                continue
            elif tag in self._inline_wrappers:
                self._inline(child, depth + 1, origin)
            elif tag == self._alternate:
                branch = self._branch(child)
                if branch is not None:
                    self._inline(branch, depth + 1, origin)

    def _inline_sdt(self, sdt: etree._Element, depth: int, origin: Origin) -> None:
        named, placeholder, checkbox = self._sdt_props(sdt)
        if checkbox is not None:
            # The glyph inside is whatever font the template used; the state is in the properties.
            self._emit(CHECKED if checkbox else UNCHECKED, False, "sdt")
            self._note(named, "control", self._para)
            return
        content = sdt.find(self._t["sdtContent"])
        if placeholder or content is None:
            self._note(named, "control", "")
            return
        capture: list[str] = []
        if named is not None:
            self._captures.append(capture)
        try:
            self._inline(content, depth, "sdt")
        finally:
            if named is not None:
                _drop(self._captures, capture)
        self._note(named, "control", "".join(capture).strip())

    def _run(self, r: etree._Element, depth: int, origin: Origin) -> None:
        t = self._t
        props = self._run_props(r.find(t["rPr"]))
        self._faint_run = props.faint
        for child in r:
            tag = child.tag
            if tag == t["fldChar"]:
                self._field_char(child)
            elif tag == t["instrText"]:
                if self._fields and not self._fields[-1].in_result:
                    self._fields[-1].code.append(child.text or "")
            elif props.hidden:
                continue
            elif tag == t["t"]:
                self._emit(_symbols(child.text or "", props.symbol_font), props.bold, origin)
            elif tag in (t["tab"], t["ptab"]):
                self._emit("\t", props.bold, origin)
            elif tag in (t["br"], t["cr"]):
                self._newline()
            elif tag == t["noBreakHyphen"]:
                self._emit("-", props.bold, origin)
            elif tag == t["sym"]:
                self._emit(_symbol(child, t), props.bold, origin)
            elif tag in self._drawings or tag == self._alternate:
                self._text_boxes(child, depth + 1)
        self._faint_run = False

    def _run_props(self, rpr: etree._Element | None) -> _RunProps:
        t = self._t
        bold = self._styles.bold(self._para_style) or False
        if rpr is None:
            return _RunProps(bold, False, None)
        char_style = rpr.find(t["rStyle"])
        if char_style is not None:
            style_bold = self._styles.bold(char_style.get(t["val"]))
            bold = bold if style_bold is None else style_bold
        direct = rpr.find(t["b"])
        if direct is not None:
            bold = is_on(direct, t["val"])
        hidden = is_on(rpr.find(t["vanish"]), t["val"]) or is_on(rpr.find(t["webHidden"]), t["val"])
        fonts = rpr.find(t["rFonts"])
        font = None
        if fonts is not None:
            name = (fonts.get(t["ascii"]) or fonts.get(t["hAnsi"]) or "").strip().lower()
            font = name if name in _SYMBOL_BOXES else None
        return _RunProps(bold, hidden, font, _faint(rpr, t))

    def _text_boxes(self, element: etree._Element, depth: int) -> None:
        """Text boxes in a drawing, each once: Word writes a DrawingML box and a VML copy of it
        for old readers (mc:Fallback), and only the first is read."""
        check_depth(depth)
        if element.tag == self._alternate:
            branch = self._branch(element)
            if branch is None:
                return
            element = branch
        for child in element:
            if child.tag == self._t["txbxContent"]:
                self._para.boxes.append(self._boxed(child, depth + 1))
            elif isinstance(child.tag, str):
                self._text_boxes(child, depth + 1)

    def _boxed(self, content: etree._Element, depth: int) -> list[Item]:
        saved = self._builder, self._para, self._para_style
        try:
            return self.blocks(content, depth)
        finally:
            self._builder, self._para, self._para_style = saved

    def _branch(self, alternate: etree._Element) -> etree._Element | None:
        choice = alternate.find("{" + MC + "}Choice")
        return choice if choice is not None else alternate.find("{" + MC + "}Fallback")

    # ---- legacy form fields

    def _field_char(self, char: etree._Element) -> None:
        t = self._t
        kind = char.get(t["fldCharType"])
        if kind == "begin":
            if len(self._fields) >= _MAX_OPEN_FIELDS:
                raise Unreadable("is a damaged Word file: fields are nested too deeply",
                                 "damaged_word")
            self._begin_field(char.find(t["ffData"]))
        elif kind == "separate" and self._fields:
            frame = self._fields[-1]
            frame.in_result = True
            if frame.kind == "other" and _is_listing("".join(frame.code)):
                frame.kind = "hidden"
        elif kind == "end" and self._fields:
            done = self._fields.pop()
            if done.capture is not None:
                _drop(self._captures, done.capture)
                self._note(done.named, "field", "".join(done.capture).strip())

    def _begin_field(self, data: etree._Element | None) -> None:
        t = self._t
        if data is None:
            self._fields.append(_Field("other"))
            return
        name_el = data.find(t["name"])
        named = self._resolve(name_el.get(t["val"]) if name_el is not None else None, None)
        box = data.find(t["checkBox"])
        drop = data.find(t["ddList"])
        if box is not None:
            state = box.find(t["checked"])
            if state is None:
                state = box.find(t["default"])
            self._emit(CHECKED if is_on(state, t["val"]) else UNCHECKED, False, "field")
            self._note(named, "field", self._para)
            self._fields.append(_Field("checkbox"))
        elif drop is not None:
            shown = _dropdown_choice(drop, t)
            self._emit(shown, False, "field")
            self._note(named, "field", shown)
            self._fields.append(_Field("dropdown"))
        else:
            capture: list[str] | None = [] if named is not None else None
            if capture is not None:
                self._captures.append(capture)
            self._fields.append(_Field("text", capture=capture, named=named))

    # ---- output

    def _emit(self, text: str, bold: bool, origin: Origin) -> None:
        if not text:
            return
        for frame in self._fields:
            if not frame.in_result:
                return  # a field's code, not its shown result
        for frame in reversed(self._fields):
            if frame.kind in ("checkbox", "dropdown", "hidden"):
                return  # shown from the field's data already, or a listing of the document
            if frame.kind == "text":
                origin = "field"
                break
        self._builder.add(text, bold, origin, self._faint_run)
        for capture in self._captures:
            capture.append(text)

    def _newline(self) -> None:
        if any(not frame.in_result for frame in self._fields):
            return
        self._builder.newline()
        for capture in self._captures:
            capture.append("\n")

    def _sdt_props(self, sdt: etree._Element) -> tuple[LabelMatch | None, bool, bool | None]:
        """The field a control is named after, whether it shows its prompt, and the state of a
        checkbox control (None when it is none)."""
        t = self._t
        pr = sdt.find(t["sdtPr"])
        if pr is None:
            return None, False, None
        tag = pr.find(t["tag"])
        alias = pr.find(t["alias"])
        named = self._resolve(tag.get(t["val"]) if tag is not None else None,
                              alias.get(t["val"]) if alias is not None else None)
        placeholder = is_on(pr.find(t["showingPlcHdr"]), t["val"])
        box = pr.find("{" + W14 + "}checkbox")
        checkbox = None
        if box is not None:
            state = box.find("{" + W14 + "}checked")
            value = state.get("{" + W14 + "}val", "0") if state is not None else "0"
            checkbox = value.strip().lower() in ("1", "true")
        return named, placeholder, checkbox

    def _note(self, named: LabelMatch | None, kind: NamedKind, payload: Payload) -> None:
        if named is not None:
            self.named.append(Named(named, kind, payload))


def _faint(rpr: etree._Element, t: dict[str, str]) -> bool:
    """Italic, a grey colour or a size under 9 pt."""
    if is_on(rpr.find(t["i"]), t["val"]):
        return True
    colour = rpr.find(t["color"])
    value = (colour.get(t["val"]) or "").strip().lower() if colour is not None else ""
    if re.fullmatch(r"[0-9a-f]{6}", value):
        red, green, blue = (int(value[n:n + 2], 16) for n in (0, 2, 4))
        if max(red, green, blue) - min(red, green, blue) < 24 and 0x60 <= red <= 0xd0:
            return True
    size = rpr.find(t["sz"])
    return size is not None and 0 < number(size.get(t["val"])) < 18


def check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Unreadable(f"is refused: its tables, controls or text boxes are nested more than "
                         f"{MAX_DEPTH} levels deep", "too_nested")


def _drop(captures: list[list[str]], capture: list[str]) -> None:
    """Remove this very capture: another one may hold the same text, and `remove` compares."""
    for n in range(len(captures) - 1, -1, -1):
        if captures[n] is capture:
            del captures[n]
            return


def _is_listing(instruction: str) -> bool:
    words = instruction.split(maxsplit=1)
    return bool(words) and words[0].upper() in _LISTING_FIELDS


def _dropdown_choice(drop: etree._Element, t: dict[str, str]) -> str:
    result = drop.find(t["result"])
    index = number(result.get(t["val"]) if result is not None else None)
    entries = [e.get(t["val"], "") for e in drop.findall(t["listEntry"])]
    return entries[index] if index < len(entries) else ""


def number(value: str | None) -> int:
    """A count or index from an attribute; 0 for anything that is not a plain number."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 0


def _symbol(sym: etree._Element, t: dict[str, str]) -> str:
    font = (sym.get(t["font"]) or "").strip().lower()
    try:
        code = int(sym.get(t["char"]) or "", 16)
    except ValueError:
        return ""
    if code >= 0xF000:
        code -= 0xF000
        return _SYMBOL_BOXES.get(font, _SYMBOL_BOXES["wingdings"]).get(code, "")
    return chr(code) if 0x20 <= code < 0x110000 and not 0xD800 <= code < 0xE000 else ""


def _symbols(text: str, font: str | None) -> str:
    """Text typed in a symbol font ("x" in Wingdings is a ticked box), as the page shows it."""
    if font is None:
        return text
    table = _SYMBOL_BOXES[font]
    return "".join(table.get(ord(c) & 0xFF, "") if ord(c) < 0x100 or ord(c) >= 0xF000 else c
                   for c in text)
