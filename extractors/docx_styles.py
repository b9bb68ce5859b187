"""WordprocessingML namespaces, on/off values and the style sheet (which styles are headings,
lists or bold)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from blankett.extractors.errors import Unreadable
from blankett.models.text import fold

W_TRANSITIONAL = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

# Style names and ids of headings in the languages the forms come in: "heading 1" (Word's
# built-in name whatever the UI language), "Heading1", "Rubrik1" (Swedish ids), "Title".
_HEADING = re.compile(r"^(?:heading|rubrik|overskrift|uberschrift|titre|kop)\s*[1-9]$")
_TITLES = frozenset({"title", "subtitle", "rubrik", "titel", "underrubrik", "undertitel"})
_LIST = re.compile(r"^(?:list (?:bullet|number)|punktlista|numrerad lista)(?:\s*\d)?$")
# Level 9 is body text; 0-8 are the heading levels a paragraph may carry without a heading style.
_OUTLINE_LEVELS = frozenset("012345678")
_MAX_BASED_ON = 20


def wordml_namespace(root: etree._Element) -> str:
    """The WordprocessingML namespace of a part: transitional or strict OOXML."""
    namespace = etree.QName(root).namespace
    if namespace not in (W_TRANSITIONAL, W_STRICT):
        raise Unreadable("is a damaged Word file: its main document is not WordprocessingML",
                         "damaged_word")
    return namespace


def is_outline_level(value: str) -> bool:
    return value.strip() in _OUTLINE_LEVELS


def is_on(element: etree._Element | None, attribute: str) -> bool:
    """An on/off property: present without a value means on."""
    if element is None:
        return False
    return element.get(attribute, "true").strip().lower() not in ("0", "false", "off", "none")


@dataclass(frozen=True)
class _Style:
    name: str
    based_on: str | None
    outline: bool  # an outline level 0-8 makes a paragraph a heading in the navigation pane
    numbered: bool
    bold: bool | None


class Styles:
    """Paragraph and character styles resolved along their `basedOn` chains. Word's style sheet
    holds some 150 styles of which a form uses a handful: each is read when first asked for."""

    def __init__(self, root: etree._Element | None, namespace: str) -> None:
        if root is not None and etree.QName(root).namespace in (W_TRANSITIONAL, W_STRICT):
            namespace = etree.QName(root).namespace  # the style part may differ from the document
        self._w = w = "{" + namespace + "}"
        self._elements: dict[str, etree._Element] = {}
        self._styles: dict[str, _Style | None] = {}
        self.default_paragraph: str | None = None
        for style in root.iter(w + "style") if root is not None else ():
            style_id = style.get(w + "styleId")
            if style_id:
                self._elements.setdefault(style_id, style)
                if style.get(w + "type") == "paragraph" and style.get(w + "default") in ("1", "true"):
                    self.default_paragraph = style_id
        self._heading: dict[str, bool] = {}
        self._listed: dict[str, bool] = {}
        self._bold: dict[str, bool | None] = {}

    def _style(self, style_id: str) -> _Style | None:
        if style_id not in self._styles:
            element = self._elements.get(style_id)
            self._styles[style_id] = None if element is None else self._read(element)
        return self._styles[style_id]

    def _read(self, style: etree._Element) -> _Style:
        w = self._w
        name = style.find(w + "name")
        based_on = style.find(w + "basedOn")
        ppr = style.find(w + "pPr")
        rpr = style.find(w + "rPr")
        outline = ppr.find(w + "outlineLvl") if ppr is not None else None
        num_id = ppr.find(f"{w}numPr/{w}numId") if ppr is not None else None
        bold = rpr.find(w + "b") if rpr is not None else None
        return _Style(
            name=fold(name.get(w + "val", "")) if name is not None else "",
            based_on=based_on.get(w + "val") if based_on is not None else None,
            outline=outline is not None and is_outline_level(outline.get(w + "val", "9")),
            numbered=num_id is not None and num_id.get(w + "val", "0") != "0",
            bold=None if bold is None else is_on(bold, w + "val"),
        )

    def _chain(self, style_id: str | None) -> list[_Style]:
        chain: list[_Style] = []
        seen: set[str] = set()
        while style_id and style_id not in seen and len(chain) < _MAX_BASED_ON:
            seen.add(style_id)
            style = self._style(style_id)
            if style is None:
                break
            chain.append(style)
            style_id = style.based_on
        return chain

    def heading(self, style_id: str | None) -> bool:
        if not style_id:
            return False
        if style_id not in self._heading:
            self._heading[style_id] = _looks_like_heading(fold(style_id)) or any(
                s.outline or _looks_like_heading(s.name) for s in self._chain(style_id))
        return self._heading[style_id]

    def listed(self, style_id: str | None) -> bool:
        if not style_id:
            return False
        if style_id not in self._listed:
            chain = self._chain(style_id)
            self._listed[style_id] = any(s.numbered or _LIST.match(s.name) for s in chain)
        return self._listed[style_id]

    def bold(self, style_id: str | None) -> bool | None:
        """Whether a style makes its text bold; None when no style in its chain says."""
        if not style_id:
            return None
        if style_id not in self._bold:
            self._bold[style_id] = next(
                (s.bold for s in self._chain(style_id) if s.bold is not None), None)
        return self._bold[style_id]


def _looks_like_heading(name: str) -> bool:
    return bool(_HEADING.match(name)) or name in _TITLES
