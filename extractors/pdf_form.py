"""Reading a fillable PDF (AcroForm): the values of its fields, each under the label it answers.

Field names are often generic ("Text1"), so a field's label is found, in order, in its name,
its tooltip, or the words printed beside or above it on the page (`pdf_form_labels`). Only the
last needs the page text, which costs more than all the rest, so it is read only when a
filled-in field needs it. The fields themselves come from `pdf_fields`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pypdf import PdfReader

from blankett.extractors.context import ReadContext
from blankett.extractors.pdf_fields import FormField, FormInfo, Widget, inspect
from blankett.extractors.pdf_form_labels import FieldLabels, Surroundings, inside, name_variants
from blankett.extractors.pdf_layout import PageText
from blankett.extractors.placement import Placement, Placer, Section
from blankett.extractors.segment import heading_like
from blankett.models.labels import LabelMatch
from blankett.models.records import Extraction

# Tooltips a form designer's tool writes by itself: no heading.
_GENERIC = re.compile(r"(?i)(?:text|textfält|field|fält|check ?box|kryssruta|dropdown|group|"
                      r"untitled|namnlös)\s*\d*")
# Export values that say "ticked" and nothing about what was ticked.
_PLAIN_ON = frozenset({"yes", "on", "ja", "1", "true", "x", "checked", "valt", "kryss"})


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
        self._labels = FieldLabels(context)
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
            text = inside(page.place(widget.rect), page)
            if text and matcher.match(text) is None and not matcher.is_hint(text):
                return True
    return False
