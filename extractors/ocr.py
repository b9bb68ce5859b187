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
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

from blankett.extractors import patience
from blankett.extractors.errors import Unreadable
from blankett.models.limits import Limits
from blankett.models.text import fold

LANGUAGE = "swe"
INSTALL_HINT = "sudo apt-get install tesseract-ocr tesseract-ocr-swe"
TURNED_OFF = "OCR är avstängt i inställningarna"
# Straightening: the angles tried (degrees) on a small copy of the page, then finer around the best.
_MAX_SKEW = 4.0
_COARSE_STEP = 0.25
_FINE_STEP = 0.05
_PROBE_WIDTH = 700
# A page is read at this resolution at least; a phone photo of a page is often coarser.
_MIN_DPI = 200
# An A4 page is 8.27 inches wide: what a picture of one without a resolution of its own is.
_A4_INCHES = 8.27
# Resolutions believed: a file may claim anything.
_DPI_RANGE = (30, 1200)
# No page is enlarged beyond this many pixels a side (an A4 page at 600 dpi is 7 016 high).
_MAX_SIDE = 7200
# Pages longer or wider than this are no page of a form turned askew: left as they are.
_MAX_ASPECT = 4.0


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
        """How sure the reading of a text is: the mean confidence of its words."""
        found = [c for word in re.findall(r"\w+", fold(text))
                 for c in self.confidences.get(word, ())[:1]]
        return round(sum(found) / len(found), 2) if found else 0.0


def straighten(image: Image.Image) -> Image.Image:
    """The page turned square: the angle at which its lines of text run level is the one where
    the rows of a small copy differ most from each other (text rows dark, gaps light)."""
    grey = ImageOps.grayscale(image)
    if max(grey.width, grey.height) > _MAX_ASPECT * min(grey.width, grey.height):
        return grey
    scale = _PROBE_WIDTH / grey.width
    small = grey.resize((_PROBE_WIDTH, max(1, round(grey.height * scale))), Image.Resampling.BILINEAR)
    ink = ImageOps.invert(small).point(lambda v: 255 if v > 96 else 0)

    def score(angle: float) -> float:
        column = ink.rotate(angle, resample=Image.Resampling.NEAREST).resize(
            (1, ink.height), Image.Resampling.BOX)
        rows = list(column.tobytes())
        mean = sum(rows) / len(rows)
        return sum((r - mean) ** 2 for r in rows)

    steps = round(_MAX_SKEW / _COARSE_STEP)
    coarse = [i * _COARSE_STEP for i in range(-steps, steps + 1)]
    best = max(coarse, key=score)
    fine = [best + i * _FINE_STEP for i in range(-4, 5)]
    angle = max(fine, key=score)
    if abs(angle) < _FINE_STEP:
        return grey
    return grey.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)


def recognise(pages: Sequence[Page], limits: Limits) -> Recognised:
    """Every page straightened and read; the searchable copy and the words' confidences."""
    program = tesseract()
    if program is None:
        raise Unreadable(missing_reason())
    # Unreadable here says why OCR gave up, in Swedish: the scan goes to a person with it.
    patience.ask_for(limits.ocr_page_seconds * len(pages))
    with tempfile.TemporaryDirectory(prefix="blankett-ocr-") as tmp:
        folder = Path(tmp)
        parts: list[bytes] = []
        confidences: dict[str, list[float]] = defaultdict(list)
        empty = 0
        for number, page in enumerate(pages, start=1):
            source = folder / f"page{number:04d}.png"
            image, dpi = straighten(page.image), page.dpi
            factor = min(_MIN_DPI / dpi, _MAX_SIDE / max(image.width, image.height))
            if factor > 1:
                # A coarse photo read at the size of a scan: Tesseract wants letters tall enough.
                image = image.resize((round(image.width * factor), round(image.height * factor)),
                                     Image.Resampling.BICUBIC)
                dpi = round(dpi * factor)
            # Specks of dust and toner read as hyphens and full stops: a median filter takes
            # them and leaves the letters (and the dots over them, at this resolution).
            image = image.filter(ImageFilter.MedianFilter(3))
            image.save(source, dpi=(dpi, dpi))
            out = folder / f"page{number:04d}"
            _run(program, source, out, dpi, limits.ocr_page_seconds)
            parts.append((folder / f"{out.name}.pdf").read_bytes())
            words = _words(folder / f"{out.name}.tsv")
            empty += not words
            for word, confidence in words:
                confidences[word].append(confidence)
        return Recognised(_joined(parts), dict(confidences), len(pages), empty)


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
        raise Unreadable(f"en sida tog längre tid än {seconds:g} s") from None
    except OSError as exc:
        raise Unreadable(f"Tesseract kunde inte startas ({exc.strerror or exc})") from None
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode("utf-8", "replace").split())[:120]
        raise Unreadable(f"Tesseract misslyckades ({reason or 'okänt fel'})")


def _words(tsv: Path) -> list[tuple[str, float]]:
    """The words read, folded, with their confidence (0-1)."""
    words: list[tuple[str, float]] = []
    with tsv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            text, conf = (row.get("text") or "").strip(), row.get("conf") or "-1"
            if text and float(conf) >= 0:
                words += [(w, float(conf) / 100) for w in re.findall(r"\w+", fold(text))]
    return words


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
