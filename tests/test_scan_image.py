"""A scanned page made ready for OCR and what is measured on it: ruled lines and box borders
taken out with the letters kept, bold told from regular by the strokes, and Tesseract's text
layer rewritten with each word's weight, size and place, so the printed-PDF reader tells labels
from answers on a scan as on the original."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from accuracy_support import ACCURACY
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader

from blankett.extractors import ocr
from blankett.extractors.pdf_layout import Cell, Line, PageText, read_pages
from blankett.extractors.pdf_reading_order import drop_running
from blankett.extractors.scan_image import bold_words, ink_span, unshaded, without_rules, x_height
from blankett.fixtures.corpus import Case
from blankett.fixtures.scans import Scan, scanned_print
from blankett.models.limits import Limits
from blankett.models.records import Report

DPI = 200
FONTS = Path("/usr/share/fonts/truetype/dejavu")
needs_fonts = pytest.mark.skipif(not (FONTS / "DejaVuSans-Bold.ttf").is_file(),
                                 reason="the DejaVu fonts draw the test pages")
needs_tesseract = pytest.mark.skipif(ocr.tesseract() is None, reason="Tesseract with its Swedish "
                                     f"model is not installed ({ocr.INSTALL_HINT})")




def _font(bold: bool, points: float = 11) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONTS / name), round(points * DPI / 72))


def _dark(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return sum(image.crop(box).point(lambda v: 255 if v < 128 else 0).histogram()[255:])


@needs_fonts
def test_ruled_lines_and_box_borders_go_and_the_letters_stay() -> None:
    page = Image.new("L", (1400, 700), 255)
    draw = ImageDraw.Draw(page)
    draw.rectangle((100, 100, 1300, 300), outline=0, width=3)  # an answer's box
    draw.line((100, 400, 1300, 400), fill=30, width=2)  # a rule under a heading
    draw.text((130, 170), "Projektets titel: Läsglädje i Lerum", font=_font(True), fill=0)
    draw.rectangle((100, 500, 1300, 560), fill=20)  # a thick band: no line
    text_box = (125, 150, 1000, 230)
    letters = _dark(page, text_box)

    clean = without_rules(page, DPI)

    assert _dark(clean, (90, 95, 1310, 106)) == 0  # the box's top border
    assert _dark(clean, (95, 90, 106, 310)) == 0  # its left border
    assert _dark(clean, (90, 396, 1310, 405)) == 0  # the rule
    assert _dark(clean, text_box) >= 0.97 * letters  # the bold letters, stems and all
    assert _dark(clean, (100, 505, 1300, 555)) == _dark(page, (100, 505, 1300, 555))


def test_light_shading_is_whitened_and_grey_print_stays() -> None:
    page = Image.new("L", (10, 1), 255)
    page.putdata([230, 215, 205, 190, 140, 20, 255, 240, 0, 100])
    assert list(unshaded(page).tobytes()) == [255, 255, 255, 190, 140, 20, 255, 255, 0, 100]


@needs_fonts
def test_bold_words_are_told_by_their_strokes_for_their_size() -> None:
    """A form's labels are bold and most of its words are answers in regular type; the same
    words at a larger size are no bolder."""
    words = [("Kontaktperson:", True, 11), ("Anna", False, 11), ("Berg,", False, 11),
             ("bibliotekarie", False, 11), ("Syfte", True, 11), ("Biblioteket", False, 11),
             ("vill", False, 11), ("nå", False, 11), ("fler", False, 11), ("läsare", False, 11),
             ("Rubrik", False, 16), ("Mål", True, 16), ("att", False, 11)]
    page = Image.new("L", (3000, 200), 255)
    draw = ImageDraw.Draw(page)
    boxes = []
    x = 20
    for text, bold, points in words:
        font = _font(bold, points)
        draw.text((x, 40), text, font=font, fill=0)
        left, top, right, bottom = font.getbbox(text)
        boxes.append((x + left, 40 + top, x + right, 40 + bottom))
        x += right + 30
    # Weight is measured against the x-height of the word's line, as OCR gives lines.
    line_height = {p: _font(False, p).getbbox("xxxx")[3] - _font(False, p).getbbox("xxxx")[1]
                   for p in (11, 16)}
    heights = [float(line_height[points]) for _, _, points in words]
    assert x_height(page, boxes[5]) == pytest.approx(line_height[11], abs=2)  # "Biblioteket"
    found = bold_words(page, [(t, b, h) for (t, _, _), b, h in zip(words, boxes, heights, strict=True)])
    assert found == [bold for _, bold, _ in words]
    # Where the ink starts: OCR's box of a word may reach into the gap before it.
    wide = (boxes[1][0] - 25, boxes[1][1], boxes[1][2], boxes[1][3])
    assert ink_span(page, wide) == pytest.approx((boxes[1][0], boxes[1][2]), abs=3)


def _line(page: int, top: float, text: str) -> Line:
    return Line(page=page, top=top, bottom=top + 10, cells=(Cell(text, 50, 400, False),))


def test_a_running_header_read_with_a_letter_changed_is_still_running() -> None:
    header = ["Lerums bibliotek – ansökan om utvecklingsmedel",
              "Lerums bibIiotek – ansökan om utvecklingsmede1"]
    pages = [PageText(number=n, height=842, width=595, lines=(
        _line(n, 20, header[n - 1]), _line(n, 300, f"Svar på sidan {n}"),
        _line(n, 820, f"Sida {n} av 2"))) for n in (1, 2)]
    kept = drop_running(pages)
    assert [[line.text for line in page.lines] for page in kept] == [["Svar på sidan 1"],
                                                                      ["Svar på sidan 2"]]
    # Two different lines in the margin are not a running header.
    other = [PageText(number=n, height=842, width=595, lines=(_line(n, 20, text),))
             for n, text in ((1, "Projektets titel: Läsglädje"), (2, "Kontaktperson: Anna Berg"))]
    assert [len(page.lines) for page in drop_running(other)] == [1, 1]


@needs_fonts
@needs_tesseract
def test_the_searchable_copy_carries_each_words_weight_size_and_place() -> None:
    page = Image.new("L", (1654, 1000), 255)  # A4's width at 200 dpi
    draw = ImageDraw.Draw(page)
    draw.text((150, 150), "Målgrupp", font=_font(True, 13), fill=0)
    draw.text((150, 220), "Barn och unga som sällan besöker biblioteket.", font=_font(False), fill=0)
    recognised = ocr.recognise([ocr.Page(page, DPI)], Limits())

    fonts = {str(f["/BaseFont"]) for f in PdfReader(io.BytesIO(recognised.pdf))
             .pages[0]["/Resources"]["/Font"].values()}  # type: ignore[index]
    assert "/GlyphLessFont-Bold" in fonts
    (read,) = read_pages(recognised.pdf)
    heading, answer = read.lines
    assert heading.text == "Målgrupp" and heading.emphasised
    assert answer.text == "Barn och unga som sällan besöker biblioteket."
    assert not answer.emphasised
    # Each word over its ink: the heading starts where it was drawn, 150 px = 54 points in.
    assert heading.cells[0].x0 == pytest.approx(150 * 72 / DPI, abs=2)
    sizes = {round(c.size) for c in heading.cells[0].chars} | {0}
    assert max(sizes) == pytest.approx(13, abs=1.5)


@needs_tesseract
@pytest.mark.parametrize("name", ["pdf_utskrift_rubriker_stromstad.pdf",
                                  "pdf_utskrift_numrerade_fargelanda.pdf",
                                  "pdf_utskrift_engelska_rubriker_svenljunga.pdf",
                                  "pdf_utskrift_ofullstandig_gotene.pdf"])
def test_a_printed_form_scanned_is_read_like_its_original(name: str, corpus: list[Case]) -> None:
    """Forms printed from Word (bold headings, numbered headings, English headings, one with
    answers left out), scanned at 200 dpi in grey and turned a degree: labels still told from
    answers by their weight and size, and what is missing is what the applicant left out."""
    pytest.importorskip("pypdfium2")
    case = next(c for c in corpus if c.name == name)
    scan = scanned_print(case.data, Scan(dpi=200, mode="grey", skew=1.0), name)
    report = ACCURACY.examiner().examine_bytes(name, scan)
    assert isinstance(report, Report) and report.kind == "pdf-scanned"
    wrong = {k for k, v in case.fields.items()
             if ACCURACY.comparable(report.fields.get(k)) != ACCURACY.comparable(v)}
    assert len(wrong) <= 1, wrong  # at least 19 of the 20 fields, letters and all
    assert report.complete is case.complete
    assert {p.field for p in report.problems if p.code == "missing"} == \
        {field for field, code in case.problems if code == "missing"}
