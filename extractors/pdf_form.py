"""Reading a fillable PDF (AcroForm): the values of its fields, each under the label it answers.

Field names are often generic ("Text1"), so a field's label is found, in order, in its name,
its tooltip, or the words printed beside or above it on the page. Only the last needs the page
text, which costs more than all the rest, so it is read only when a filled-in field needs it.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import IndirectObject, NameObject

from blankett.extractors.context import ReadContext
from blankett.extractors.pdf_text import (
    COLUMN_TOLERANCE,
    MAX_LABEL_LINES,
    Box,
    Document,
    Line,
    PageText,
    damaged,
)
from blankett.extractors.placement import Placement, Placer, Section
from blankett.extractors.segment import heading_like
from blankett.models.labels import LabelMatch
from blankett.models.normalise import AreaIndex
from blankett.models.records import Extraction
from blankett.models.text import fold

# What pypdf raises on a broken file; only its calls are wrapped with it.
PYPDF_ERRORS: tuple[type[BaseException], ...] = (
    PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
    RecursionError, OverflowError, EOFError, NotImplementedError, zlib.error, struct.error,
)

# Bounds for a hostile field tree.
MAX_FIELD_DEPTH = 32
MAX_FIELDS = 5000

_PUSHBUTTON = 1 << 16
# What a field takes from its parent when it lacks it (PDF 32000 12.7.4.1); a tooltip is its own.
_INHERITED = ("/FT", "/Ff", "/V")

# Prefixes form designers put before a field's name: "txtKommun", "fld_purpose", "cb_digital".
_NAME_PREFIX = re.compile(
    r"^(?i:txt|text|fld|field|tf|tb|cbx|cb|chk|check|rb|rdo|radio|opt|ddl|dd|drop|lst|list|cmb|combo)"
    r"(?=[A-ZÅÄÖ0-9_.\- ]|$)"
)
_INDEX = re.compile(r"\[\d+\]")
_CAMEL = re.compile(r"(?<=[a-zåäö])(?=[A-ZÅÄÖ])")
# Tooltips a form designer's tool writes by itself: no heading.
_GENERIC = re.compile(r"(?i)(?:text|textfält|field|fält|check ?box|kryssruta|dropdown|group|"
                      r"untitled|namnlös)\s*\d*")
# Export values that say "ticked" and nothing about what was ticked.
_PLAIN_ON = frozenset({"yes", "on", "ja", "1", "true", "x", "checked", "valt", "kryss"})


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
            if not _is_off(state):
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


def _is_off(state: str) -> bool:
    return state.strip().casefold() in ("", "off")


# --- reading the field tree (every pypdf call is here) ----------------------------------------

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
    if page is None and isinstance(node.get("/P"), IndirectObject):
        # A widget missing from every page's /Annots may still name its page.
        page = pages.objects.get(node["/P"].idnum)
    rect = _get(node, "/Rect")
    box: Box | None = None
    if isinstance(rect, list) and len(rect) == 4:
        x0, y0, x1, y1 = (float(_resolve(v)) for v in rect)
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    # Only a button's appearances name its states; a text field's are streams not worth parsing.
    normal = _get(_get(node, "/AP", {}), "/N", {}) if button else {}
    states = [_string_name(k) for k in normal] if isinstance(normal, dict) else []
    on = next((s for s in states if not _is_off(s)), None)
    return Widget(page=page, rect=box, on=on, state=_string(node.get("/AS")))


def _string_name(key: str) -> str:
    return key[1:] if key.startswith("/") else key


# --- labels -----------------------------------------------------------------------------------

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


class _Labels:
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

def page_box(rect: Box, page: PageText) -> Box:
    """A widget's rectangle (the file's coordinates) where the page's lines are: (x0, top, x1, bottom)."""
    return page.place(rect)


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
        box = page_box(widget.rect, page)
        finders = {"left": left_of, "above": above, "right": right_of}
        return [text for side in sides for text in finders[side](box, page)]


# --- values -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Box:
    """One ticked or unticked choice of a strategic area."""

    text: str
    on: bool
    label: str
    page: int | None
    order: tuple[int, float, float]


# A text field or a dropdown naming the area wins over the boxes ticked for it.
_RANK_FIELD, _RANK_BOXES = 0, 1


@dataclass
class _Found:
    """Each field's section (its label as found and its value) in the order of the page."""

    sections: list[tuple[tuple[int, float, float], Section]] = field(default_factory=list)
    boxes: list[_Box] = field(default_factory=list)

    def add(self, section: Section, order: tuple[int, float, float]) -> None:
        self.sections.append((order, section))

    def placement(self, placer: Placer) -> Placement:
        area = self._area() if self.boxes else None
        if area is not None:
            self.add(*area)
        ordered = [section for _, section in sorted(self.sections, key=lambda item: item[0])]
        return placer.place(ordered, lambda s: _RANK_BOXES if area and s is area[0] else _RANK_FIELD)

    def _area(self) -> tuple[Section, tuple[int, float, float]]:
        boxes = sorted(self.boxes, key=lambda b: b.order)
        lines = [f"{'☒' if b.on else '☐'} {b.text}" for b in boxes]
        chosen = next((b for b in boxes if b.on), boxes[0])
        match = LabelMatch("strategic_area", chosen.label, True)
        return Section(chosen.label, match, lines, chosen.page, "pdf-form-field"), boxes[0].order


def _page_number(widget: Widget | None) -> int | None:
    return widget.page + 1 if widget is not None and widget.page is not None else None


def _order(widget: Widget | None) -> tuple[int, float, float]:
    return widget.position if widget is not None else (1 << 30, 0.0, 0.0)


class _Reader:
    """Reads fields into `found`. Each read is first tried from the field's own name, tooltip
    and values (`look=False`); a field that needs the printed words around it says so by
    returning False, and is read again with `look=True` once that is worth opening the page."""

    def __init__(self, context: ReadContext, near: Surroundings) -> None:
        self._labels = _Labels(context)
        self._near = near
        self.found = _Found()

    def read(self, form: FormField, *, look: bool) -> bool:
        if form.is_button:
            if len({w.on for w in form.widgets if w.on}) > 1:
                return self._group(form, look=look)
            return self._checkbox(form, look=look)
        if form.type in ("Tx", "Ch"):
            return self._text(form, look=look)
        return True

    def _own_texts(self, form: FormField) -> list[str]:
        # A widget without a name of its own goes by its parent's: the last part of the full name.
        name = form.partial or form.name.rsplit(".", 1)[-1]
        # A dot in a name of its own is against the standard, yet some generators write
        # "form1.Kommun" as one name.
        last = name.rsplit(".", 1)[-1] if "." in name else ""
        return [*name_variants(name), *name_variants(last), form.tooltip, form.mapping]

    def _text(self, form: FormField, *, look: bool) -> bool:
        label = self._labels.field(self._own_texts(form))
        if label is None and form.type == "Ch" and self._area_options(form):
            label = LabelMatch("strategic_area", form.partial or form.name, True)
        heading = ""
        # A tooltip written for people is the box's heading, even in words nobody listed: the
        # placement reads it without the printed page (which costs more than all the rest).
        described = heading_like(form.tooltip) and not _GENERIC.fullmatch(form.tooltip.strip())
        if label is None and form.answered and not described:
            if not look:
                return False
            # The words beside the box name it before those above it, which may be the label
            # of the box above.
            left = self._near.around(form.first_widget, sides=("left",))
            around = left or self._near.around(form.first_widget, sides=("above",))
            label = self._labels.field(left) or (None if left else self._labels.field(around))
            # A label nobody listed: the words printed beside the box, else its tooltip.
            heading = next((t for t in (*around[:1], form.tooltip) if t.strip()), "")
        heading = label.label if label is not None else heading or form.tooltip or form.partial
        widget = form.first_widget
        section = Section(heading, label, [self._shown(form)], _page_number(widget), "pdf-form-field")
        self.found.add(section, _order(widget))
        return True

    def _shown(self, form: FormField) -> str:
        """A choice's value as the list shows it, when export value and text differ."""
        if form.type != "Ch":
            return form.text
        shown = dict(form.options)
        return "\n".join(shown.get(v, v) for v in form.text.split("\n"))

    def _area_options(self, form: FormField) -> bool:
        return sum(1 for _, text in form.options if self._labels.area([text])) >= 2

    def _checkbox(self, form: FormField, *, look: bool) -> bool:
        widget = form.first_widget
        on = widget.on if widget is not None and widget.on else ""
        area = self._labels.area([*self._own_texts(form), "" if on.casefold() in _PLAIN_ON else on])
        if area is None:
            if not look:
                return False
            area = self._labels.area(self._near.around(widget, sides=("right", "left", "above")))
        if area is not None:
            self.found.boxes.append(_Box(area, form.answered, area, _page_number(widget), _order(widget)))
        return True

    def _choices(self, form: FormField) -> list[tuple[Widget, str]]:
        choices: list[tuple[Widget, str]] = []
        for widget in form.widgets:
            if widget.on and all(widget.on != w.on for w, _ in choices):
                choices.append((widget, self._option_text(form, widget.on)))
        return choices

    def _group(self, form: FormField, *, look: bool) -> bool:
        """A radio group, or checkboxes sharing one name: one export value per choice."""
        label = self._labels.field(self._own_texts(form))
        choices = self._choices(form)
        names = [self._labels.area([text]) for _, text in choices]
        of_area = label is not None and label.key == "strategic_area"
        known = all(names) if of_area else label is not None or sum(map(bool, names)) >= 2
        if not known:
            if not look:
                return False
            # Export values like "Choice1": the choice's words are printed beside it.
            names = [self._labels.area([text, *self._near.around(w, sides=("right", "left"))])
                     for w, text in choices]
            if label is None and sum(map(bool, names)) < 2:
                label = self._labels.field(self._near.around(form.first_widget, sides=("left", "above")))
        selected = form.selected
        if of_area or sum(map(bool, names)) >= 2:
            for (widget, text), name in zip(choices, names, strict=True):
                shown = name or text
                self.found.boxes.append(_Box(shown, widget.on == selected, label.label if label else shown,
                                             _page_number(widget), _order(widget)))
        elif label is not None:
            chosen = next((text for w, text in choices if w.on == selected), "")
            widget = form.first_widget
            self.found.add(Section(label.label, label, [chosen], _page_number(widget), "pdf-form-field"),
                           _order(widget))
        return True

    @staticmethod
    def _option_text(form: FormField, on: str) -> str:
        # With /Opt the appearance states are indices ("0", "1") into the list of export values.
        if on.isdigit() and int(on) < len(form.options):
            return form.options[int(on)][1]
        return on


def read_form(reader: PdfReader, data: bytes, context: ReadContext, form: FormInfo | None = None,
              pages: dict[int, PageText] | None = None) -> Extraction:
    """The values of a fillable form. `pages`, when the caller has read them already, are the
    printed lines by 0-based page index."""
    form = form if form is not None else inspect(reader)
    near = Surroundings(data, pages)
    fields = _Reader(context, near)
    later = [f for f in form.data_fields if not fields.read(f, look=False)]
    # Filled-in fields first: only they make reading the pages worth it; an unticked box is
    # then read too, to list every area.
    for pending in sorted(later, key=lambda f: not f.answered):
        if pending.answered or near.opened:
            fields.read(pending, look=True)
    found = fields.found.placement(context.placer)
    return Extraction(kind="pdf-form", values=found.values, unplaced=found.unplaced)


def printed_into(form: FormInfo, pages: dict[int, PageText], context: ReadContext) -> bool:
    """Whether answers are printed inside the text fields' boxes: a form filled in, then
    flattened or printed to PDF with its (now empty) fields left in place. A caption printed
    in the box ("Kommun") is no answer."""
    matcher = context.matcher
    for item in form.data_fields:
        if item.type != "Tx":
            continue
        for widget in item.widgets:
            page = pages.get(widget.page) if widget.page is not None else None
            if page is None or widget.rect is None:
                continue
            text = inside(page_box(widget.rect, page), page)
            if text and matcher.match(text) is None and not matcher.is_hint(text):
                return True
    return False
