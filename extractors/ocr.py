"""Reading pictures of forms: scanned PDFs and photos, with Tesseract and its Swedish model.

Each page image is straightened (a photo is rarely square to the page) and recognised by the
`tesseract` program, once, into two things: a searchable PDF (the page image with an invisible
text layer, each word where it stands) and a table of the words with their confidences. The
searchable PDF is read by the printed-PDF reader like any other, so that headings, positions and
all the rest work on scans unchanged; the confidences say how sure each answer is.

Without Tesseract (or without its Swedish model) nothing is recognised and the scan goes to a
person, as it did before OCR.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageFilter

from blankett.extractors import patience
from blankett.extractors.errors import Unreadable
from blankett.extractors.scan_image import (
    Box,
    bold_words,
    ink_span,
    straighten,
    unshaded,
    without_rules,
    x_height,
)
from blankett.extractors.text_layer import Type, retyped
from blankett.models.limits import Limits
from blankett.models.text import fold

LANGUAGE = "swe"
# How high a small letter is for the size of the type (0.52 in Arial and Helvetica, 0.55 in
# DejaVu Sans, 0.47 in Times), and for the height of a line of text, roughly.
_X_HEIGHT = 0.52
_X_OF_LINE = 0.55
_FEW_LETTERS = 12
INSTALL_HINT = "sudo apt-get install tesseract-ocr tesseract-ocr-swe"
TURNED_OFF = "OCR är avstängt i inställningarna"
# A page is read at this resolution at least; a phone photo of a page is often coarser.
_MIN_DPI = 200
# An A4 page is 8.27 inches wide: what a picture of one without a resolution of its own is.
_A4_INCHES = 8.27
# Resolutions believed: a file may claim anything.
_DPI_RANGE = (30, 1200)
# No page is enlarged beyond this many pixels a side (an A4 page at 600 dpi is 7 016 high).
_MAX_SIDE = 7200
# A picture coarser than this (a phone's photo of a whole page) has letters a few pixels high
# with soft edges: whitening its light greys eats the letters, and a stroke's width says nothing
# of the weight. It is read as it is.
_CLEAN_DPI = 100


@cache
def tesseract() -> str | None:
    """The tesseract program, if it is installed with its Swedish model."""
    program = shutil.which("tesseract")
    if program is None:
        return None
    try:
        listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True,
                                timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return program if LANGUAGE in listed.stdout.split() else None


def missing_reason() -> str:
    """Why scans are not read on this machine, and the command that changes it (in Swedish:
    the consultant reads it in the report)."""
    if shutil.which("tesseract") is None:
        return f"OCR är inte installerat ({INSTALL_HINT})"
    return f"Tesseract saknar svensk språkmodell ({INSTALL_HINT})"


def not_tried(reason: str) -> bool:
    """Whether a scan was left unread only because OCR was off or missing (and not because OCR
    tried and failed): such a scan is worth reading again once OCR is on."""
    return TURNED_OFF in reason or INSTALL_HINT in reason


@dataclass(frozen=True)
class Page:
    image: Image.Image
    dpi: int


@dataclass(frozen=True)
class Recognised:
    pdf: bytes  # the searchable copy
    confidences: dict[str, list[float]]  # a word (folded) -> the confidences it was read with, 0-1
    pages: int
    empty_pages: int  # pages where no word was read at all

    def confidence(self, text: str) -> float:
        """How sure the reading of a text is: the mean confidence of its words, each by the
        median of its readings (a name is also in a running header, cut or smudged there); of all
        words read where none of its own is known (a mark, a word repaired after reading)."""
        found = [statistics.median(self.confidences[word])
                 for word in _keys(text) if self.confidences.get(word)]
        if not found:
            found = [c for seen in self.confidences.values() for c in seen]
        return round(sum(found) / len(found), 2) if found else 0.0


def recognise(pages: Sequence[Page], limits: Limits) -> Recognised:
    """Every page straightened and read; the searchable copy and the words' confidences."""
    program = tesseract()
    if program is None:
        raise Unreadable(missing_reason(), "ocr_failed")
    # Unreadable here says why OCR gave up, in Swedish: the scan goes to a person with it.
    patience.ask_for(limits.ocr_page_seconds * len(pages))
    with tempfile.TemporaryDirectory(prefix="blankett-ocr-") as tmp:
        folder = Path(tmp)
        parts: list[bytes] = []
        confidences: dict[str, list[float]] = defaultdict(list)
        empty = 0
        for number, page in enumerate(pages, start=1):
            image, dpi, coarse = _prepared(page)
            source, out = folder / f"page{number:04d}.png", folder / f"page{number:04d}"
            image.save(source, dpi=(dpi, dpi))
            _run(program, source, out, dpi, limits.ocr_page_seconds)
            words = _words(out.with_suffix(".tsv"))
            parts.append(retyped(out.with_suffix(".pdf").read_bytes(),
                                 _types(image, dpi, words, measure_weight=not coarse)))
            sure = [w for w in words if w.confidence >= 0]
            empty += not sure
            for word in sure:
                for key in _keys(word.text):
                    confidences[key].append(word.confidence)
        return Recognised(_joined(parts), dict(confidences), len(pages), empty)


def _prepared(page: Page) -> tuple[Image.Image, int, bool]:
    """The page as Tesseract gets it, its resolution then, and whether it is too coarse for its
    greys to be whitened and its words' weight measured."""
    image, dpi = straighten(page.image), page.dpi
    coarse = dpi < _CLEAN_DPI
    factor = min(_MIN_DPI / dpi, _MAX_SIDE / max(image.width, image.height))
    if factor > 1:
        # A coarse photo read at the size of a scan: Tesseract wants letters tall enough.
        image = image.resize((round(image.width * factor), round(image.height * factor)),
                             Image.Resampling.BICUBIC)
        dpi = round(dpi * factor)
    # Specks of dust and toner read as hyphens and full stops: a median filter takes them and
    # leaves the letters (and the dots over them, at this resolution).
    image = image.filter(ImageFilter.MedianFilter(3))
    return (image if coarse else without_rules(unshaded(image), dpi)), dpi, coarse


def _types(image: Image.Image, dpi: int, words: Sequence[_Word], *,
           measure_weight: bool) -> list[Type]:
    """Each word's type as the page shows it: its weight, its size, where its ink runs."""
    heights = _x_heights(image, words)
    bold = bold_words(image, [(w.text, w.box, h) for w, h in zip(words, heights, strict=True)]) \
        if measure_weight else [False] * len(words)
    points = 72 / dpi / _X_HEIGHT
    return [Type(b, round(h * points * 2) / 2 or 1.0, left * 72 / dpi, (right - left) * 72 / dpi)
            for b, h, (left, right) in zip(bold, heights, _inks(image, words), strict=True)]


def _keys(text: str) -> list[str]:
    """The words of a text as the confidences are kept: folded."""
    return re.findall(r"\w+", fold(text))


def _run(program: str, source: Path, out: Path, dpi: int, seconds: float) -> None:
    # One thread: several make Tesseract several times slower on two cores, and the pipeline
    # reads files side by side anyway.
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [program, str(source), str(out), "-l", LANGUAGE, "--dpi", str(dpi), "--psm", "3",
             "pdf", "tsv"],
            capture_output=True, timeout=seconds, env=environment, check=False)
    except subprocess.TimeoutExpired:
        raise Unreadable(f"en sida tog längre tid än {seconds:g} s", "ocr_failed") from None
    except OSError as exc:
        raise Unreadable(f"Tesseract kunde inte startas ({exc.strerror or exc})", "ocr_failed") from None
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode("utf-8", "replace").split())[:120]
        raise Unreadable(f"Tesseract misslyckades ({reason or 'okänt fel'})", "ocr_failed")


@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float  # 0-1; below 0 where Tesseract gives none
    box: Box
    line: tuple[str, ...]  # the line it stands in, as Tesseract numbers it
    line_height: int


def _words(tsv: Path) -> list[_Word]:
    """The words read, in the order of the text layer, with their confidence and place."""
    words: list[_Word] = []
    heights: dict[tuple[str, ...], int] = {}
    with tsv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            line = tuple(row.get(k) or "" for k in ("page_num", "block_num", "par_num", "line_num"))
            if row.get("level") == "4":
                heights[line] = int(row["height"])
            text = (row.get("text") or "").strip()
            if row.get("level") != "5" or not text:
                continue
            left, top = int(row["left"]), int(row["top"])
            words.append(_Word(text, float(row.get("conf") or -1) / 100,
                               (left, top, left + int(row["width"]), top + int(row["height"])),
                               line, heights.get(line, int(row["height"]))))
    return words


def _inks(image: Image.Image, words: Sequence[_Word]) -> list[tuple[int, int]]:
    """Where each word's ink starts and ends across the page. Tesseract's box of a word before
    a short one ("elever i") often takes the short one in: cut where the next word's ink starts."""
    inks = [ink_span(image, w.box) for w in words]
    for n in range(len(words) - 1):
        if words[n].line == words[n + 1].line and inks[n][1] >= inks[n + 1][0] > words[n].box[0]:
            left, top, _, bottom = words[n].box
            inks[n] = ink_span(image, (left, top, inks[n + 1][0] - 1, bottom))
    return inks


def _x_heights(image: Image.Image, words: Sequence[_Word]) -> list[float]:
    """The x-height (pixels) of each word's line: measured on its words of small letters,
    steady where the line's height varies with its capitals, digits and "på". A line without
    such a word is taken by its height against the lines that have one."""
    found: dict[tuple[str, ...], list[int]] = defaultdict(list)
    measured: dict[tuple[str, ...], int] = defaultdict(int)
    for word in words:
        letters = [c for c in word.text if c.isalpha()]
        if len(letters) >= 2 and sum(c.islower() for c in letters) >= 0.7 * len(letters):
            height = x_height(image, word.box)
            if height:
                found[word.line].append(height)
                measured[word.line] += len(letters)
    lines = {line: statistics.median(heights) for line, heights in found.items()}
    if not lines:
        return [w.line_height * _X_OF_LINE for w in words]
    body_x = statistics.median(lines.values())
    # A line measured on a word or two ("Telefon:") is as tall as its ascenders make it look:
    # near the body's, it is the body's.
    for line, letters in measured.items():
        if letters < _FEW_LETTERS and abs(lines[line] / body_x - 1) < 0.2:
            lines[line] = body_x
    body_line = statistics.median(w.line_height for w in words if w.line in lines) or 1
    return [lines.get(w.line, body_x * _scale(w.line_height / body_line)) for w in words]


def _scale(ratio: float) -> float:
    """A line as much taller than the body's as it is larger; a little taller or shorter only
    for its capitals and digits, and so of the body's size."""
    return 1.0 if 0.8 < ratio < 1.3 else ratio


def _joined(parts: list[bytes]) -> bytes:
    if len(parts) == 1:
        return parts[0]
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(io.BytesIO(part))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def clamp_dpi(dpi: float) -> int:
    low, high = _DPI_RANGE
    return max(low, min(high, round(dpi)))


def image_dpi(image: Image.Image) -> int:
    """A picture's resolution: its own, else that of an A4 page as wide."""
    own = image.info.get("dpi")
    try:
        claimed = float(own[0]) if own else 0.0
    except (TypeError, ValueError, IndexError):
        claimed = 0.0
    if claimed > _DPI_RANGE[0]:
        return clamp_dpi(claimed)
    return clamp_dpi(image.width / _A4_INCHES)
