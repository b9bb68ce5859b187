"""A fillable PDF's form fields (AcroForm), read out of pypdf into plain values: each terminal
field with its full name, type, value, tooltip and options, and its widgets (the boxes on the
pages) with where they are and which appearance is on. Every pypdf call of the form reader is
here.

The field tree is walked here rather than by pypdf's `PdfReader.get_fields()`, which gives the
same fields for every generated form but keys them by name, so that two fields sharing a name
(checkboxes copied from one another) come out as one; refuses the whole file over one radio
button without appearances or a field written inline in /Fields; and leaves inheritance and the
widgets' pages to do anyway. The walk has bounds of its own against a hostile tree: each object
once, a depth and a number of fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.generic import IndirectObject, NameObject

from blankett.extractors.pdf_errors import PYPDF_ERRORS, damaged
from blankett.extractors.pdf_layout import Box

# Bounds for a hostile field tree.
MAX_FIELD_DEPTH = 32
MAX_FIELDS = 5000
_PUSHBUTTON = 1 << 16
# What a field takes from its parent when it lacks it (PDF 32000 12.7.4.1); a tooltip is its own.
_INHERITED = ("/FT", "/Ff", "/V")


@dataclass(frozen=True)
class Widget:
    page: int | None  # 0-based page index
    rect: Box | None  # PDF user space: x0, y0, x1, y1
    on: str | None  # the name of its "ticked" appearance (buttons)
    state: str  # its current appearance state (/AS), "" if none

    @property
    def position(self) -> tuple[int, float, float]:
        """Reading order: page, then top to bottom, then left to right."""
        if self.rect is None:
            return (self.page if self.page is not None else 1 << 30, 0.0, 0.0)
        return (self.page if self.page is not None else 1 << 30, -self.rect[3], self.rect[0])


@dataclass(frozen=True)
class FormField:
    """One terminal field, read out of pypdf into plain values."""

    name: str  # fully qualified
    partial: str
    type: str  # "Tx", "Btn", "Ch", "Sig" or ""
    flags: int
    value: tuple[str, ...]  # several for a multiple-choice list
    tooltip: str
    mapping: str
    options: tuple[tuple[str, str], ...]  # (export value, text shown)
    widgets: tuple[Widget, ...]

    @property
    def is_data(self) -> bool:
        return self.type in ("Tx", "Ch") or (self.type == "Btn" and not self.flags & _PUSHBUTTON)

    @property
    def is_button(self) -> bool:
        return self.type == "Btn" and not self.flags & _PUSHBUTTON

    @property
    def text(self) -> str:
        return "\n".join(v for v in self.value if v.strip()).replace("\r\n", "\n").replace("\r", "\n")

    @property
    def selected(self) -> str:
        """The export value of the ticked box or option of a button, "" if none."""
        for state in (*self.value, *(w.state for w in self.widgets)):
            if not is_off(state):
                return state
        return ""

    @property
    def answered(self) -> bool:
        return bool(self.selected) if self.is_button else bool(self.text.strip())

    @property
    def first_widget(self) -> Widget | None:
        return self.widgets[0] if self.widgets else None


@dataclass(frozen=True)
class FormInfo:
    fields: tuple[FormField, ...]
    xfa: bool

    @property
    def data_fields(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if f.is_data)

    @property
    def has_values(self) -> bool:
        return any(f.answered for f in self.data_fields)


def is_off(state: str) -> bool:
    return state.strip().casefold() in ("", "off")


def inspect(reader: PdfReader) -> FormInfo:
    """The form's fields, or none; raises Unreadable when the form's structure is broken."""
    try:
        acroform = _resolve(reader.trailer["/Root"].get("/AcroForm"))
        if not isinstance(acroform, dict):
            return FormInfo(fields=(), xfa=False)
        pages = _pages(reader)
        fields: list[FormField] = []
        for ref in _resolve(acroform.get("/Fields")) or []:
            _walk(ref, {}, "", pages, fields, set(), 0)
        return FormInfo(fields=tuple(fields), xfa="/XFA" in acroform)
    except PYPDF_ERRORS as exc:
        raise damaged(exc) from None


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _get(node: dict[str, Any], key: str, default: Any = None) -> Any:
    value = _resolve(node.get(key))
    return default if value is None else value


def _string(obj: Any) -> str:
    obj = _resolve(obj)
    if obj is None:
        return ""
    if isinstance(obj, bytes):
        for encoding in ("utf-8", "latin-1"):
            try:
                return obj.decode(encoding)
            except UnicodeDecodeError:
                continue
    text = str(obj)
    # A name object ("/Yes", "/Det#20digitala") is read by pypdf with its slash.
    return text[1:] if isinstance(obj, NameObject) and text.startswith("/") else text


@dataclass(frozen=True)
class _Pages:
    annotations: dict[int, int]  # object number of an annotation -> 0-based page index
    objects: dict[int, int]  # object number of a page -> its index


def _pages(reader: PdfReader) -> _Pages:
    annotations: dict[int, int] = {}
    objects: dict[int, int] = {}
    for index, page in enumerate(reader.pages):
        if page.indirect_reference is not None:
            objects[page.indirect_reference.idnum] = index
        for ref in _get(page, "/Annots", []) or []:
            if isinstance(ref, IndirectObject):
                annotations.setdefault(ref.idnum, index)
    return _Pages(annotations, objects)


def _walk(ref: Any, inherited: dict[str, Any], prefix: str, pages: _Pages,
          out: list[FormField], seen: set[int], depth: int) -> None:
    if isinstance(ref, IndirectObject):
        if ref.idnum in seen:
            return
        seen.add(ref.idnum)
    node = _resolve(ref)
    if not isinstance(node, dict) or depth > MAX_FIELD_DEPTH or len(out) >= MAX_FIELDS:
        return
    partial = _string(node.get("/T"))
    name = f"{prefix}.{partial}" if prefix and partial else partial or prefix
    own = {key: node[key] for key in ("/FT", "/Ff", "/V", "/Opt", "/TU", "/TM") if key in node}
    attrs = {**inherited, **own}
    kids = [k for k in _get(node, "/Kids", []) or [] if isinstance(_resolve(k), dict)]
    child_fields = [k for k in kids if "/T" in _resolve(k)]
    if child_fields:
        passed = {key: value for key, value in attrs.items() if key in _INHERITED}
        for kid in child_fields:
            _walk(kid, passed, name, pages, out, seen, depth + 1)
        return
    button = _string(attrs.get("/FT")) == "Btn"
    widgets = [_widget(k, pages, button) for k in kids] or [_widget(ref, pages, button)]
    out.append(_field(name, partial, attrs, widgets))


def _field(name: str, partial: str, attrs: dict[str, Any], widgets: list[Widget]) -> FormField:
    value = _resolve(attrs.get("/V"))
    values = [_string(v) for v in value] if isinstance(value, list) else [_string(value)]
    options = []
    for option in _resolve(attrs.get("/Opt")) or []:
        option = _resolve(option)
        if isinstance(option, list) and len(option) >= 2:
            options.append((_string(option[0]), _string(option[1])))
        else:
            options.append((_string(option), _string(option)))
    try:
        flags = int(_resolve(attrs.get("/Ff")) or 0)
    except (TypeError, ValueError):
        flags = 0
    return FormField(
        name=name, partial=partial, type=_string(attrs.get("/FT")), flags=flags,
        value=tuple(v for v in values if v), tooltip=_string(attrs.get("/TU")),
        mapping=_string(attrs.get("/TM")), options=tuple(options), widgets=tuple(widgets),
    )


def _widget(ref: Any, pages: _Pages, button: bool) -> Widget:
    node = _resolve(ref)
    page = pages.annotations.get(ref.idnum) if isinstance(ref, IndirectObject) else None
    # A widget missing from every page's /Annots may still name its page (pypdf's `get` gives
    # the reference, indexing the page itself).
    named = node.get("/P")
    if page is None and isinstance(named, IndirectObject):
        page = pages.objects.get(named.idnum)
    rect = _get(node, "/Rect")
    box: Box | None = None
    if isinstance(rect, list) and len(rect) == 4:
        x0, y0, x1, y1 = (float(_resolve(v)) for v in rect)
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    # Only a button's appearances name its states; a text field's are streams not worth parsing.
    normal = _get(_get(node, "/AP", {}), "/N", {}) if button else {}
    states = [_string_name(k) for k in normal] if isinstance(normal, dict) else []
    on = next((s for s in states if not is_off(s)), None)
    return Widget(page=page, rect=box, on=on, state=_string(node.get("/AS")))


def _string_name(key: str) -> str:
    return key[1:] if key.startswith("/") else key
