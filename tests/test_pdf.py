"""The PDF readers: fillable forms, forms printed from Word, scans, and broken files.

Every PDF is built here with reportlab (and pypdf where reportlab cannot do it), so each test
shows the layout it reads.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, StreamObject, TextStringObject
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen.canvas import Canvas

from blankett.extractors.context import ReadContext
from blankett.extractors.errors import Unreadable
from blankett.extractors.pdf import read_pdf
from blankett.models.limits import Limits
from blankett.models.messages import message
from blankett.models.records import Extraction
from blankett.models.spec import load_spec

WIDTH, HEIGHT = A4


@pytest.fixture(scope="module")
def context() -> ReadContext:
    return ReadContext(load_spec())


def flat(text: str) -> str:
    return " ".join(text.split())


def values(extraction: Extraction) -> dict[str, str]:
    return {key: flat(found.value) for key, found in extraction.values.items()}


def canvas_pdf(*draw: Callable[[Canvas], None]) -> bytes:
    """One page per drawing function."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1)
    for page in draw:
        page(canvas)
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def rewrite(data: bytes, change: Callable[[PdfWriter], None]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- fillable forms ---------------------------------------------------------------------------

def text_field(canvas: Canvas, name: str, value: str, y: float, *, x: float = 200,
               tooltip: str | None = None, height: float = 18, width: float = 330) -> None:
    flags = "multiline" if "\n" in value or height > 30 else ""
    canvas.acroForm.textfield(name=name, value=value, tooltip=tooltip, x=x, y=y, width=width, height=height,
                              fieldFlags=flags, maxlen=2000, borderWidth=0.5, fontSize=10)


def test_fields_named_by_label_or_key(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        text_field(c, "Kommun", "Mölndal", 780)
        text_field(c, "txtBibliotek", "Mölndals stadsbibliotek", 750)
        text_field(c, "KontaktPerson", "Anna Berg", 720)
        text_field(c, "contact_email", "anna.berg@example.org", 690)
        text_field(c, "Sökt belopp (kr)", "45 000 kr", 660)
        text_field(c, "Syfte_med_aktiviteten", "Rad ett.\nRad två.", 560, height=80)
        text_field(c, "fld_target_group", "Unga vuxna 16-25 år", 520)
        text_field(c, "form1[0].Malgrupp[0]", "", 490)  # an empty duplicate does not hide the answer

    result = read_pdf(canvas_pdf(page), context)
    assert result.kind == "pdf-form"
    assert values(result) == {
        "municipality": "Mölndal",
        "library": "Mölndals stadsbibliotek",
        "contact_name": "Anna Berg",
        "contact_email": "anna.berg@example.org",
        "requested_amount_sek": "45 000 kr",
        "purpose": "Rad ett. Rad två.",
        "target_group": "Unga vuxna 16-25 år",
    }
    assert result.values["purpose"].value == "Rad ett.\nRad två."  # lines kept
    source = result.values["library"].source
    assert (source.method, source.label, source.page) == ("pdf-form-field", "Bibliotek", 1)
    assert result.problems == []


def test_generic_names_with_tooltips(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        text_field(c, "Text1", "Borås", 780, tooltip="Kommun")
        text_field(c, "Text2", "karin@example.org", 750, tooltip="Kontaktpersonens e-post")
        text_field(c, "Text3", "Vi vill nå fler läsare.", 720, tooltip="Beskriv syftet med aktiviteten")
        text_field(c, "Text4", "Fler lån", 690, tooltip="Mål: vad vill ni uppnå?")

    result = read_pdf(canvas_pdf(page), context)
    assert values(result) == {
        "municipality": "Borås",
        "contact_email": "karin@example.org",
        "purpose": "Vi vill nå fler läsare.",
        "goal": "Fler lån",
    }
    assert result.values["municipality"].source.label == "Kommun"


def test_generic_names_with_labels_printed_left(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.setFont("Helvetica", 10)
        for y, label, value in [
            (780, "Kommun:", "Alingsås"),
            (750, "Kontaktperson", "Per Lund"),
            (720, "3. Förväntade resultat", "Fler besökare"),
        ]:
            c.drawString(60, y + 5, label)
            text_field(c, f"Text{y}", value, y)
        # Two fields on one line, each after its own label.
        c.drawString(60, 695, "Telefon")
        text_field(c, "Text98", "031-123 45 67", 690, x=120, width=150)
        c.drawString(300, 695, "Datum")
        text_field(c, "Text99", "2025-03-01", 690, x=350, width=150)
        # A tall field beside a label wrapped over three lines.
        c.setFont("Helvetica-Bold", 10)
        for i, part in enumerate(["Kunskap som ni vill", "utveckla genom", "aktiviteten"]):
            c.drawString(60, 650 - 12 * i, part)
        text_field(c, "Text100", "Metoder för\nläsfrämjande.", 590, height=70)

    result = read_pdf(canvas_pdf(page), context)
    assert values(result) == {
        "municipality": "Alingsås",
        "contact_name": "Per Lund",
        "expected_results": "Fler besökare",
        "contact_phone": "031-123 45 67",
        "date": "2025-03-01",
        "knowledge": "Metoder för läsfrämjande.",
    }
    assert result.values["knowledge"].source.label == "Kunskap som ni vill utveckla genom aktiviteten"


def test_labels_printed_above_fields(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.setFont("Helvetica-Bold", 11)
        c.drawString(60, 770, "Syfte med aktiviteten")
        text_field(c, "Text1", "Att fler barn ska läsa.\nAtt biblioteket syns.", 690, x=60, height=70)
        c.drawString(60, 670, "Planerat arbete och tidsplan")
        text_field(c, "Text2", "Mars: planering. Maj: workshop.", 610, x=60, height=50)

    second = canvas_pdf(lambda c: None, page)  # on page 2, after an empty page
    result = read_pdf(second, context)
    assert values(result) == {
        "purpose": "Att fler barn ska läsa. Att biblioteket syns.",
        "timeline": "Mars: planering. Maj: workshop.",
    }
    assert result.values["timeline"].source.page == 2


def rename_state(data: bytes, states: dict[str, str]) -> bytes:
    """Gives checkboxes other "on" export values than reportlab's /Yes (field name -> value)."""

    def change(writer: PdfWriter) -> None:
        for page in writer.pages:
            for ref in page.get("/Annots", []):
                annot = ref.get_object()
                new = states.get(str(annot.get("/T")))
                if new is None:
                    continue
                for key in ("/N", "/D"):
                    appearances = annot["/AP"].get(key)
                    if appearances is not None and "/Yes" in appearances:
                        appearances[NameObject("/" + new)] = appearances.pop("/Yes")
                for key in ("/AS", "/V"):
                    if annot.get(key) == "/Yes":
                        annot[NameObject(key)] = NameObject("/" + new)

    return rewrite(data, change)


def test_area_checkboxes_named_by_area_with_varied_export_values(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        text_field(c, "Kommun", "Lerum", 780)
        for i, (name, on) in enumerate([("cb_open", False), ("cbLasframjande", False),
                                        ("Det digitala biblioteket", True), ("chkLarande", False)]):
            c.acroForm.checkbox(name=name, checked=on, x=60, y=700 - 30 * i, size=14)

    data = rename_state(canvas_pdf(page), {"Det digitala biblioteket": "Ja", "cb_open": "On"})
    result = read_pdf(data, context)
    assert result.values["strategic_area"].value == (
        "☐ open\n☐ Lasframjande\n☒ Det digitala biblioteket\n☐ Larande"
    )
    assert result.values["strategic_area"].source.label == "Det digitala biblioteket"


@pytest.mark.parametrize("export", ["Yes", "On", "1", "Digitala"])
def test_generic_checkboxes_labelled_by_the_text_beside_them(context: ReadContext, export: str) -> None:
    areas = ["Det öppna biblioteket", "Det läs- och skrivfrämjande biblioteket", "Det digitala biblioteket",
             "Det lärande biblioteket"]

    def page(c: Canvas) -> None:
        c.setFont("Helvetica", 10)
        c.drawString(60, 745, "Strategisk inriktning")
        for i, area in enumerate(areas):
            c.acroForm.checkbox(name=f"Check Box{i + 1}", checked=i == 2, x=200, y=740 - 20 * i, size=12)
            c.drawString(218, 743 - 20 * i, area)

    data = canvas_pdf(page)
    if export != "Yes":
        data = rename_state(data, {"Check Box3": export})
    result = read_pdf(data, context)
    assert result.kind == "pdf-form"
    if export == "Digitala":
        # The export value names the area: no need to read the page around the boxes.
        assert result.values["strategic_area"].value == "☒ Digitala"
        return
    assert result.values["strategic_area"].value.split("\n") == [
        "☐ Det öppna biblioteket", "☐ Det läs- och skrivfrämjande biblioteket",
        "☒ Det digitala biblioteket", "☐ Det lärande biblioteket",
    ]


def test_radio_group_of_areas(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        text_field(c, "Kommun", "Skövde", 780)
        for i, value in enumerate(["Oppna", "Lasframjande", "Digitala", "Larande"]):
            c.acroForm.radio(name="Strategisk inriktning", value=value, selected=value == "Digitala",
                             x=60 + 40 * i, y=700, size=14)

    result = read_pdf(canvas_pdf(page), context)
    assert result.values["strategic_area"].value == "☐ Oppna\n☐ Lasframjande\n☒ Digitala\n☐ Larande"
    source = result.values["strategic_area"].source
    assert (source.label, source.page) == ("Strategisk inriktning", 1)


def test_dropdown_of_areas_under_a_generic_name(context: ReadContext) -> None:
    areas = ["Välj ett objekt", "Det öppna biblioteket", "Det läs- och skrivfrämjande biblioteket",
             "Det digitala biblioteket", "Det lärande biblioteket"]

    def page(c: Canvas) -> None:
        text_field(c, "Kommun", "Tanum", 780)
        c.acroForm.choice(name="Dropdown1", value="Det lärande biblioteket", options=areas,
                          x=200, y=700, width=300, height=18)

    result = read_pdf(canvas_pdf(page), context)
    assert values(result)["strategic_area"] == "Det lärande biblioteket"


def test_empty_fillable_form_is_a_form_with_nothing_filled_in(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.setFont("Helvetica", 10)
        c.drawString(60, 785, "Kommun")
        text_field(c, "Text1", "", 780)
        c.drawString(60, 755, "Syfte med aktiviteten")
        text_field(c, "Text2", "", 750)
        c.drawString(60, 700, "Skicka ansökan till kulturutveckling@example.org senast 1 mars.")

    result = read_pdf(canvas_pdf(page), context)
    assert result.kind == "pdf-form"
    assert not any(found.value for found in result.values.values())


def test_form_printed_with_its_answers_in_the_page_text(context: ReadContext) -> None:
    """Filled in, then printed to PDF: the fields are still there but empty, and the answers are
    printed where they were."""

    def page(c: Canvas) -> None:
        c.setFont("Helvetica", 10)
        for y, label, answer in [(780, "Kommun", "Vara"), (750, "Kontaktperson", "Eva Ek"),
                                 (720, "Målgrupp", "Nyanlända vuxna")]:
            c.drawString(60, y + 5, label)
            text_field(c, f"Text{y}", "", y)
            c.drawString(205, y + 5, answer)

    result = read_pdf(canvas_pdf(page), context)
    assert result.kind == "pdf-text"
    assert values(result) == {
        "municipality": "Vara", "contact_name": "Eva Ek", "target_group": "Nyanlända vuxna",
    }


# --- forms printed from Word ------------------------------------------------------------------

TOP, BOTTOM = HEIGHT - 72, 72
LINE = 14.0


@dataclass
class Printout:
    """A word processor's printout: text flowing over A4 pages, with running header and footer."""

    header: str | None = None
    footer: str | None = "Sida {page} av {pages}"
    pages: list[list[Callable[[Canvas], None]]] = field(default_factory=lambda: [[]])
    y: float = TOP

    def _room(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.pages.append([])
            self.y = TOP

    def _draw(self, x: float, y: float, text: str, font: str, size: float) -> None:
        def op(c: Canvas) -> None:
            c.setFont(font, size)
            c.drawString(x, y, text)

        self.pages[-1].append(op)

    def paragraph(self, text: str, *, font: str = "Helvetica", size: float = 11, width: float = 470,
                  after: float = 6) -> None:
        for line in text.split("\n"):
            for part in simpleSplit(line, font, size, width) or [""]:
                self._room(LINE)
                self._draw(72, self.y, part, font, size)
                self.y -= LINE
        self.y -= after

    def heading(self, text: str) -> None:
        self.paragraph(text, font="Helvetica-Bold", size=12, after=2)

    def row(self, label: str, answer: str, hint: str = "") -> None:
        """A table row: the label wrapped in a narrow left cell (with the template's hint under
        it), the answer beside it."""
        left = [(p, "Helvetica-Bold", 10) for p in simpleSplit(label, "Helvetica-Bold", 10, 130)]
        left += [(p, "Helvetica-Oblique", 8) for p in simpleSplit(hint, "Helvetica-Oblique", 8, 130)]
        right = [p for line in answer.split("\n") for p in simpleSplit(line, "Helvetica", 10, 320) or [""]]
        self._rule()
        self.y -= 4
        for i in range(max(len(left), len(right))):
            self._room(LINE)
            if i < len(left):
                self._draw(66, self.y - 10, *left[i])
            if i < len(right):
                self._draw(212, self.y - 10, right[i], "Helvetica", 10)
            self.y -= LINE
        self.y -= 4

    def columns(self, *cells: tuple[float, str]) -> None:
        """One line of text at the given x positions (tab stops, or a table without wrapping)."""
        self._room(LINE)
        for x, text in cells:
            self._draw(x, self.y, text, "Helvetica", 10)
        self.y -= LINE

    def _rule(self) -> None:
        y = self.y

        def op(c: Canvas) -> None:
            c.setLineWidth(0.5)
            c.line(60, y, 535, y)
            c.line(205, y, 205, y - 18)

        self.pages[-1].append(op)

    def pdf(self) -> bytes:
        total = len(self.pages)
        buf = io.BytesIO()
        canvas = Canvas(buf, pagesize=A4, invariant=1)
        for number, ops in enumerate(self.pages, start=1):
            canvas.setFont("Helvetica", 9)
            if self.header:
                canvas.drawString(72, HEIGHT - 40, self.header)
            if self.footer:
                canvas.drawRightString(WIDTH - 72, 30, self.footer.format(page=number, pages=total))
            for op in ops:
                op(canvas)
            canvas.showPage()
        canvas.save()
        return buf.getvalue()


APPLICATION = {
    "Kommun": "Lidköping",
    "Bibliotek / biblioteksenhet": "Lidköpings stadsbibliotek",
    "Kontaktperson": "Maria Holm",
    "E-post": "maria.holm@example.org",
    "Aktivitetens namn": "Läslust i hela kommunen",
    "Strategisk inriktning": "[X] Det läs- och skrivfrämjande biblioteket",
    "Sökt belopp (kr)": "40 000 kr",
    "Syfte med aktiviteten": (
        "Syftet är att stärka barns och ungas läsande genom att biblioteket arbetar närmare "
        "skolorna och fritidsgårdarna i kommunens alla delar.\n"
        "Målgruppen har i dag svag koppling till biblioteket."
    ),
    "Mål": "Fler lån bland barn i åk 4-6 och tre nya samarbeten med skolor.",
    "Kunskap som ni vill utveckla genom aktiviteten": (
        "Kunskap om hur läsfrämjande metoder kan användas utanför bibliotekets väggar."
    ),
    "Planerat arbete och tidsplan": "Mars: planering. April-maj: bokcirklar. Oktober: utvärdering.",
    "Målgrupp": "Barn i årskurs 4-6 och deras lärare.",
    "Förväntade resultat": "Ökad utlåning och en metod som kan spridas i regionen.",
    "Fortsättning i ordinarie verksamhet": "Arbetssättet blir en del av skolbibliotekssamarbetet.",
    "Stöd från Kulturutveckling (kompetens och samfinansiering)": (
        "Konsulentstöd i metodfrågor och samfinansiering med 40 000 kr."
    ),
    "Egen insats (personalens tid, ev. administrativa kostnader)": "Två bibliotekarier 20 % under ett år.",
    "Datum": "2025-02-14",
    "Namnförtydligande": "Maria Holm",
}
EXPECTED = {
    "municipality": "Lidköping",
    "library": "Lidköpings stadsbibliotek",
    "contact_name": "Maria Holm",
    "contact_email": "maria.holm@example.org",
    "project_title": "Läslust i hela kommunen",
    "strategic_area": "[X] Det läs- och skrivfrämjande biblioteket",
    "requested_amount_sek": "40 000 kr",
    "purpose": flat(APPLICATION["Syfte med aktiviteten"]),
    "goal": APPLICATION["Mål"],
    "knowledge": APPLICATION["Kunskap som ni vill utveckla genom aktiviteten"],
    "timeline": APPLICATION["Planerat arbete och tidsplan"],
    "target_group": APPLICATION["Målgrupp"],
    "expected_results": APPLICATION["Förväntade resultat"],
    "continuation": APPLICATION["Fortsättning i ordinarie verksamhet"],
    "requested_support": APPLICATION["Stöd från Kulturutveckling (kompetens och samfinansiering)"],
    "own_contribution": APPLICATION["Egen insats (personalens tid, ev. administrativa kostnader)"],
    "date": "2025-02-14",
    "signatory": "Maria Holm",
}


def test_printed_table_layout(context: ReadContext) -> None:
    doc = Printout(header="Ansökan om stöd till biblioteksutveckling")
    doc.heading("Ansökan om stöd till biblioteksutveckling")
    for label, answer in APPLICATION.items():
        if label == "Syfte med aktiviteten":
            doc.heading("Beskrivning av aktiviteten")
        doc.row(label, answer)
    result = read_pdf(doc.pdf(), context)
    assert result.kind == "pdf-text"
    assert values(result) == EXPECTED
    # Lines the layout wrapped are joined; the paragraphs stay apart.
    assert result.values["purpose"].value == APPLICATION["Syfte med aktiviteten"]
    source = result.values["requested_support"].source
    assert source.method == "pdf-text"
    assert source.label == "Stöd från Kulturutveckling (kompetens och samfinansiering)"


def test_printed_heading_layout(context: ReadContext) -> None:
    doc = Printout(header="Lidköpings kommun – ansökan 2025")
    doc.heading("Ansökan om stöd till biblioteksutveckling")
    for label, answer in APPLICATION.items():
        doc.heading(label)
        doc.paragraph(answer, after=20)
    data = doc.pdf()
    assert len(PdfReader(io.BytesIO(data)).pages) == 2
    result = read_pdf(data, context)
    assert result.kind == "pdf-text"
    assert values(result) == EXPECTED
    assert result.values["purpose"].value == APPLICATION["Syfte med aktiviteten"]
    assert result.values["signatory"].source.page == 2


def test_printed_label_and_answer_on_one_line(context: ReadContext) -> None:
    doc = Printout(footer=None)
    for label in ("Kommun", "Kontaktperson", "E-post"):
        doc.paragraph(f"{label}: {APPLICATION[label]}", after=0)
    doc.heading("Syfte")
    doc.paragraph("Vi vill utveckla läs-\noch skrivförmågan hos äldre.")
    doc.heading("Tidsplan")
    doc.paragraph("Bokcirklar april-\nmaj och i september.")
    result = read_pdf(doc.pdf(), context)
    assert values(result) == {
        "municipality": "Lidköping",
        "contact_name": "Maria Holm",
        "contact_email": "maria.holm@example.org",
        "purpose": "Vi vill utveckla läs- och skrivförmågan hos äldre.",
        "timeline": "Bokcirklar april-maj och i september.",
    }


def test_printed_table_with_hints_bullets_and_four_columns(context: ReadContext) -> None:
    doc = Printout()
    doc.columns((66, "Kommun"), (212, "Vänersborg"), (330, "Telefon"), (420, "0521-72 10 00"))
    doc.columns((66, "Kontaktperson ..............."), (212, "Sara Lind"))
    hint = "Beskriv varför ni vill genomföra aktiviteten."
    doc.row("Syfte med aktiviteten", "Att nå nyanlända.", hint=hint)
    # A hint not in the form's spec, beside the answer's lines: label-column text all the same.
    doc.row("Målgrupp", "Nyanlända vuxna som\nbesöker språkcaféet.", hint="Beskriv vilka den når.")
    doc.row("Planerat arbete och tidsplan", "Så här:")
    doc.columns((212, "•"), (240, "mars: planering"))  # a glyph the font maps to no character
    doc.columns((212, "-"), (240, "april: genomförande"))
    doc.row("Mål", "Fler låntagare.")
    result = read_pdf(doc.pdf(), context)
    assert values(result) == {
        "municipality": "Vänersborg",
        "contact_phone": "0521-72 10 00",
        "contact_name": "Sara Lind",
        "purpose": "Att nå nyanlända.",
        "target_group": "Nyanlända vuxna som besöker språkcaféet.",
        "timeline": "Så här: mars: planering - april: genomförande",
        "goal": "Fler låntagare.",
    }


def test_printed_table_with_freely_worded_bold_labels(context: ReadContext) -> None:
    doc = Printout()
    doc.row("Kommun", "Herrljunga")
    doc.row("Hur stor blir bibliotekets egeninsats i timmar?", "Cirka 300 timmar personaltid.")
    doc.row("Vilka ska aktiviteten nå, alltså vår målgrupp?", "Föräldrar till små barn.")
    result = read_pdf(doc.pdf(), context)
    assert values(result) == {
        "municipality": "Herrljunga",
        "own_contribution": "Cirka 300 timmar personaltid.",
        "target_group": "Föräldrar till små barn.",
    }


def test_printed_checkboxes_set_off_by_a_tab(context: ReadContext) -> None:
    font = dejavu()

    def page(c: Canvas) -> None:
        c.setFont(font, 10)
        c.drawString(66, 760, "Strategisk inriktning")
        for i, (box, area) in enumerate([("☐", "Det öppna biblioteket"), ("☒", "Det lärande biblioteket")]):
            c.drawString(212, 760 - 14 * i, box)
            c.drawString(240, 760 - 14 * i, area)
        c.drawString(66, 720, "Kommun")
        c.drawString(212, 720, "Essunga")

    result = read_pdf(canvas_pdf(page), context)
    assert result.values["strategic_area"].value == "☐ Det öppna biblioteket\n☒ Det lärande biblioteket"


def test_empty_form_with_captions_inside_its_boxes_is_a_form(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.setFont("Helvetica", 7)
        for i, label in enumerate(["Kommun", "Kontaktperson", "Syfte med aktiviteten"]):
            c.drawString(62, 790 - 60 * i, label)
            text_field(c, f"Text{i}", "", 750 - 60 * i, x=60, height=50)

    result = read_pdf(canvas_pdf(page), context)
    assert result.kind == "pdf-form"


def test_answer_over_a_page_break_without_header_and_footer(context: ReadContext) -> None:
    long_answer = " ".join(f"Mening {i} om hur vi arbetar med läsfrämjande insatser." for i in range(100))
    doc = Printout(header="Ansökan biblioteksutveckling – Lidköpings kommun 2025")
    doc.heading("Kommun")
    doc.paragraph("Lidköping")
    doc.heading("Syfte med aktiviteten")
    doc.paragraph(long_answer)
    doc.heading("Mål")
    doc.paragraph("Fler läsare.")
    data = doc.pdf()
    assert len(PdfReader(io.BytesIO(data)).pages) == 2
    result = read_pdf(data, context)
    assert values(result) == {"municipality": "Lidköping", "purpose": long_answer, "goal": "Fler läsare."}
    assert result.values["purpose"].source.page == 1


def test_cropped_pages_with_printer_marks(context: ReadContext) -> None:
    """The MediaBox holds a margin with printer's marks around the A4 CropBox: the running
    header and footer sit at the edges of the cropped page, the marks are never shown."""
    margin = 40

    def page(number: int) -> Callable[[Canvas], None]:
        def draw(c: Canvas) -> None:
            c.setPageSize((WIDTH + 2 * margin, HEIGHT + 2 * margin))
            c.setCropBox((margin, margin, WIDTH + margin, HEIGHT + margin))
            c.setFont("Helvetica", 8)
            c.drawRightString(margin - 4, 300, "Kommun: Borås")  # a note in the trimmed-off margin
            c.drawString(margin + 72, margin + HEIGHT - 36, "Ansökan – Ulricehamns kommun")
            c.drawString(margin + 480, margin + 24, f"Sida {number} av 2")
            c.setFont("Helvetica", 11)
            if number == 1:
                c.drawString(margin + 72, margin + 700, "Kommun: Ulricehamn")
                c.drawString(margin + 72, margin + 680, "Syfte med aktiviteten")
                c.drawString(margin + 72, margin + 100, "Vi vill att fler")
            else:
                c.drawString(margin + 72, margin + 760, "läser böcker.")

        return draw

    result = read_pdf(canvas_pdf(page(1), page(2)), context)
    assert values(result) == {"municipality": "Ulricehamn", "purpose": "Vi vill att fler läser böcker."}


def test_answer_lines_starting_with_label_words_stay_in_the_answer(context: ReadContext) -> None:
    purpose = (
        "Mål för oss är att fler ska låna. Målgruppen är unga som vi vill nå, och vårt förväntade\n"
        "resultat: fler lån och fler besök under året.\n"
        "Syftet är också att\n"
        "målgrupp och bibliotek möts."
    )
    doc = Printout(footer=None)
    doc.heading("Syfte med aktiviteten")
    doc.paragraph(purpose)
    doc.heading("Målgrupp")
    doc.paragraph("Unga vuxna.")
    doc.heading("Förväntade resultat")
    doc.paragraph("Fler lån.")
    result = read_pdf(doc.pdf(), context)
    assert values(result) == {
        "purpose": flat(purpose),
        "target_group": "Unga vuxna.",
        "expected_results": "Fler lån.",
    }


def dejavu() -> str:
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not font.exists():
        pytest.skip("needs DejaVu Sans for the ligature and checkbox glyphs")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("DejaVu", str(font)))
    return "DejaVu"


def landscape(c: Canvas) -> None:
    """Draws upright on a page that /Rotate 90 turns to landscape: x runs up the portrait page."""
    c.translate(WIDTH, 0)
    c.rotate(90)


def test_text_out_of_order_on_a_rotated_page_with_ligatures_and_checkboxes(context: ReadContext) -> None:
    font = dejavu()

    def page(c: Canvas) -> None:
        landscape(c)
        c.setFont(font, 11)
        # Bottom to top, as some generators write.
        c.drawString(72, 400, "☐ Det öppna biblioteket")
        c.drawString(72, 414, "☒ Det digitala biblioteket")
        c.drawString(72, 428, "Strategisk inriktning")
        c.drawString(72, 460, "Syfte: Vi vill ﬁnna nya läsare.")

    data = rewrite(canvas_pdf(page), lambda w: w.pages[0].rotate(90))
    result = read_pdf(data, context)
    assert values(result) == {
        "purpose": "Vi vill finna nya läsare.",
        "strategic_area": "☒ Det digitala biblioteket ☐ Det öppna biblioteket",
    }


def test_label_beside_a_field_on_a_rotated_page(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.saveState()
        landscape(c)
        c.drawString(72, 500, "Kommun")
        c.drawString(72, 400, "Kontaktperson")
        c.restoreState()
        # Widgets are placed in the page's own (portrait) space: landscape (x, y) is (W - y, x).
        text_field(c, "Text1", "Härryda", x=WIDTH - 513, y=200, width=18, height=200)
        text_field(c, "Text2", "Ola Berg", x=WIDTH - 413, y=200, width=18, height=200)

    data = rewrite(canvas_pdf(page), lambda w: w.pages[0].rotate(90))
    assert values(read_pdf(data, context)) == {"municipality": "Härryda", "contact_name": "Ola Berg"}


# --- files that cannot be read, and scans -----------------------------------------------------

def simple_pdf() -> bytes:
    def page(c: Canvas) -> None:
        c.drawString(72, 760, "Kommun: Ale kommun")
        c.drawString(72, 740, "Kontaktperson: Lena Ek")

    return canvas_pdf(page)


def encrypt(data: bytes, user: str) -> bytes:
    return rewrite(data, lambda w: w.encrypt(user_password=user, owner_password="owner", algorithm="AES-128"))


def test_encrypted_with_a_password_is_unreadable(context: ReadContext) -> None:
    with pytest.raises(Unreadable, match="encrypted"):
        read_pdf(encrypt(simple_pdf(), "hemligt"), context)


def test_owner_password_only_is_read(context: ReadContext) -> None:
    result = read_pdf(encrypt(simple_pdf(), ""), context)
    assert values(result) == {"municipality": "Ale kommun", "contact_name": "Lena Ek"}


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_file_is_damaged(context: ReadContext, cut: float) -> None:
    data = simple_pdf()
    with pytest.raises(Unreadable, match=r"^is a damaged PDF: ") as caught:
        read_pdf(data[: int(len(data) * cut)], context)
    assert "\n" not in str(caught.value)


def test_garbage_after_the_header_is_damaged(context: ReadContext) -> None:
    with pytest.raises(Unreadable, match="damaged"):
        read_pdf(b"%PDF-1.7\n" + bytes(random.Random(1).randrange(256) for _ in range(4000)), context)


def test_damaged_file_prints_nothing() -> None:
    """pypdf logs what it repairs; with no logging set up, that must not reach the terminal."""
    data = simple_pdf()
    script = (
        "import sys\n"
        "from blankett.extractors.context import ReadContext\n"
        "from blankett.extractors.errors import Unreadable\n"
        "from blankett.extractors.pdf import read_pdf\n"
        "from blankett.models.spec import load_spec\n"
        "try:\n"
        "    read_pdf(sys.stdin.buffer.read(), ReadContext(load_spec()))\n"
        "except Unreadable:\n"
        "    pass\n"
    )
    done = subprocess.run([sys.executable, "-c", script], input=data[: len(data) // 2],
                          capture_output=True, env=os.environ.copy(), timeout=60, check=True)
    assert done.stderr == b""
    assert done.stdout == b""


def test_too_many_pages(context: ReadContext) -> None:
    data = canvas_pdf(*[lambda c: None] * 300)
    limited = ReadContext(load_spec(), Limits(max_pages=200))
    with pytest.raises(Unreadable, match=r"^has too many pages \(300; the limit is 200\)$"):
        read_pdf(data, limited)


def test_image_only_pdf_is_scanned(context: ReadContext) -> None:
    noise = random.Random(2)
    image = Image.new("L", (200, 280))
    image.putdata([noise.randrange(256) for _ in range(200 * 280)])

    def page(c: Canvas) -> None:
        c.drawImage(ImageReader(image), 0, 0, width=WIDTH, height=HEIGHT)
        c.setFont("Helvetica", 6)
        c.drawString(10, 10, "Skannad 2025-03-01")  # a scanner's stamp is not a text layer

    result = read_pdf(canvas_pdf(page, page), context)
    assert result.kind == "pdf-scanned"
    assert result.values == {}
    assert [(p.field, p.code, p.severity) for p in result.problems] == [(None, "scanned", "error")]
    # For a person to read; with the reason OCR did not (not installed, or no text found).
    said = result.problems[0].message
    assert said.startswith(message("scanned") + " OCR kunde inte läsa den:") or (
        said.startswith(message("scanned")) and said.endswith(", så skannade sidor läses inte.")), said


def test_scan_with_a_stamped_line_of_text_is_still_a_scan(context: ReadContext) -> None:
    noise = random.Random(3)
    image = Image.new("L", (200, 280))
    image.putdata([noise.randrange(256) for _ in range(200 * 280)])

    def page(c: Canvas) -> None:
        c.drawImage(ImageReader(image), 0, 0, width=WIDTH, height=HEIGHT)
        c.setFont("Helvetica", 8)
        c.drawString(10, 10, "Scanned with CamScanner – Skannad 2026-03-03 10:14 – Sida 1")

    assert read_pdf(canvas_pdf(page), context).kind == "pdf-scanned"


def with_xfa(data: bytes) -> bytes:
    def change(writer: PdfWriter) -> None:
        template = StreamObject()
        template.set_data(b"<template xmlns='http://www.xfa.org/schema/xfa-template/3.3/'/>")
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject({
            NameObject("/Fields"): ArrayObject(),
            NameObject("/XFA"): ArrayObject([TextStringObject("template"), writer._add_object(template)]),
        })

    return rewrite(data, change)


def test_xfa_only_form_is_unreadable(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.drawString(72, 760, "Please wait...")
        c.drawString(72, 740, "If this message is not eventually replaced by the proper contents of the")
        c.drawString(72, 720, "document, your PDF viewer may not be able to display this type of document.")

    with pytest.raises(Unreadable, match="XFA"):
        read_pdf(with_xfa(canvas_pdf(page)), context)


def test_xfa_form_with_its_answers_printed_is_read_as_text(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.drawString(72, 760, "Kommun: Orust")
        c.drawString(72, 740, "Kontaktperson: Lena Ek")

    result = read_pdf(with_xfa(canvas_pdf(page)), context)
    assert result.kind == "pdf-text"
    assert values(result) == {"municipality": "Orust", "contact_name": "Lena Ek"}
    assert result.problems == []


def test_xfa_form_showing_only_its_labels_says_why_nothing_was_read(context: ReadContext) -> None:
    def page(c: Canvas) -> None:
        c.drawString(72, 760, "Kommun")
        c.drawString(72, 740, "Kontaktperson")
        c.drawString(72, 720, "Syfte med aktiviteten")

    result = read_pdf(with_xfa(canvas_pdf(page)), context)
    assert [p.code for p in result.problems] == ["xfa_only"]


def test_checkboxes_drawn_as_squares_with_a_cross(context: ReadContext) -> None:
    # How LibreOffice prints Word's legacy checkboxes: a stroked square, and two diagonals in the
    # ticked one; no character at all.
    areas = ["Det öppna biblioteket", "Det läs- och skrivfrämjande biblioteket",
             "Det digitala biblioteket", "Det lärande biblioteket"]

    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 10)
        canvas.drawString(60, 760, "Kommun")
        canvas.drawString(220, 760, "Ale kommun")
        canvas.drawString(60, 740, "Strategisk inriktning")
        for index, area in enumerate(areas):
            y = 740 - index * 14
            canvas.rect(220, y - 1, 9, 9, stroke=1, fill=0)
            if index == 2:
                canvas.line(220, y - 1, 229, y + 8)
                canvas.line(220, y + 8, 229, y - 1)
            canvas.drawString(234, y, area)
        canvas.drawString(60, 670, "Sökt belopp (kr)")
        canvas.drawString(220, 670, "40 000")

    found = read_pdf(canvas_pdf(draw), context).values
    lines = found["strategic_area"].value.splitlines()
    assert [line[0] for line in lines] == ["☐", "☐", "☒", "☐"]
    assert lines[2] == "☒ Det digitala biblioteket"
    assert found["requested_amount_sek"].value == "40 000"
