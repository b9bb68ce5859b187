"""Page images made ready for OCR, and what the pixels say that OCR does not: the page turned
square, its ruled lines and box borders taken away, and which words are set in bold.

Pillow only: each step is a handful of whole-image operations or a regular expression over a
row of pixels, a fraction of a second on an A4 page at 200 dpi.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from PIL import Image, ImageChops, ImageFilter, ImageOps

# Straightening: the angles tried (degrees) on a small copy of the page, then finer around the best.
_MAX_SKEW = 4.0
_COARSE_STEP = 0.25
_FINE_STEP = 0.05
_PROBE_WIDTH = 700
# Pages longer or wider than this are no page of a form turned askew: left as they are.
_MAX_ASPECT = 4.0
# Lighter than this is paper or shading, not print.
_SHADING = 200
# Darker than this is ink (paper and a box's light shading are lighter); ink this many inches
# thick is no ruled line but a letter's stem, a shaded cell, a logo.
_INK = 225
_THICK = 0.012
# A word's strokes this much thicker for its size than the page's usual ones are bold (measured
# on scans at 150-300 dpi: regular words within 0.9-1.15 of the usual, bold ones from 1.5).
_BOLD_STEMS = 1.3
_STEM_INK = 140


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


def unshaded(image: Image.Image) -> Image.Image:
    """Light shading (a form's grey label cells, a yellowed sheet) made white: Tesseract reads
    black on grey worse than black on white. Grey print (an instruction, a hint) is darker and
    stays."""
    return image.point(lambda v: 255 if v > _SHADING else v)


def without_rules(image: Image.Image, dpi: int) -> Image.Image:
    """The page with its ruled lines and box borders whited out. Tesseract reads a border as
    letters ("|", "[", "EES SN ET") and a letter that touches one as another; a form's answers
    stand in boxes and tables. A line is a thin run of ink longer than a letter is wide or tall:
    half an inch across, a fifth of an inch down (a single-line box is taller, the stem of a
    heading's letter shorter). A thick band (a shaded cell, a logo) is no line, and the text on
    it stays."""
    ink = image.point(lambda v: 255 if v < _INK else 0)
    thickness = max(2, round(dpi * _THICK))
    across = _thin(_runs(_bridged(ink), round(dpi * 0.5)), thickness)
    turned = _bridged(ink.transpose(Image.Transpose.TRANSPOSE))
    down = _thin(_runs(turned, round(dpi * 0.22)), thickness).transpose(Image.Transpose.TRANSPOSE)
    # The line's grey edges too, left by the scanner's blur.
    lines = ImageChops.lighter(across, down).filter(ImageFilter.MaxFilter(3))
    return Image.composite(Image.new("L", image.size, 255), image, lines)


def _bridged(ink: Image.Image) -> Image.Image:
    """A scanned line is broken by a pixel here and there, and steps a row where the sheet lay
    a little askew: a gap of one pixel bridged, and each row merged with the one below."""
    return ImageChops.lighter(ImageChops.lighter(ink, ImageChops.offset(ink, 1, 0)),
                              ImageChops.offset(ink, 0, 1))


def _runs(ink: Image.Image, length: int) -> Image.Image:
    """Where the ink runs at least `length` pixels along a row."""
    out = bytearray(ink.width * ink.height)
    for start, end in _row_runs(ink, max(2, length)):
        out[start:end] = b"\xff" * (end - start)
    return Image.frombytes("L", ink.size, bytes(out))


def _row_runs(ink: Image.Image, length: int = 1) -> Iterator[tuple[int, int]]:
    """Each run of ink (255) at least `length` pixels long along a row, as offsets into the
    image's bytes; a run stops at the row's end."""
    width, data = ink.width, ink.tobytes()
    run = re.compile(rb"\xff{%d,}" % length)
    for start in range(0, len(data), width):
        for found in run.finditer(data, start, start + width):
            yield found.start(), found.end()


def _thin(runs: Image.Image, thickness: int) -> Image.Image:
    """The runs, less those in a band thicker than `thickness` rows (runs above and below too)."""
    thick = ImageChops.multiply(ImageChops.offset(runs, 0, thickness),
                                ImageChops.offset(runs, 0, -thickness))
    band = thick
    for step in range(1, thickness + 1):
        band = ImageChops.lighter(band, ImageChops.lighter(ImageChops.offset(thick, 0, step),
                                                           ImageChops.offset(thick, 0, -step)))
    return ImageChops.subtract(runs, band)


Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels


def ink_span(image: Image.Image, box: Box) -> tuple[int, int]:
    """Where a word's ink starts and ends across the page (pixels). OCR's box of a short word
    often reaches into the gap before it."""
    inked = image.crop(box).point(lambda v: 255 if v < _STEM_INK else 0).getbbox()
    return (box[0] + inked[0], box[0] + inked[2]) if inked else (box[0], box[2])


def x_height(image: Image.Image, box: Box) -> int:
    """How tall a word's small letters are (pixels): the rows where its ink is densest. An
    ascender, a descender or a capital adds a few thin rows; the body of "a", "e", "n" is
    where most of the ink is."""
    left, top, right, bottom = box
    if right - left < 2 or bottom - top < 2:
        return 0
    rows = ImageOps.invert(image.crop(box)).resize((1, bottom - top), Image.Resampling.BOX)
    ink = list(rows.tobytes())
    densest = max(ink)
    return sum(1 for row in ink if row >= densest * 0.4) if densest else 0


def bold_words(image: Image.Image, words: Sequence[tuple[str, Box, float]]) -> list[bool]:
    """Which words are set in bold, of (text, box, x-height of its line). OCR reads letters, not
    their weight, and a form's labels are told from its answers by it: the strokes of a bold
    word are thicker, for its size, than those of the page's usual words (most of a form's
    words are its answers, in regular type)."""
    weights = [_stem_width(image, box) / height
               if height > 0 and any(c.isalnum() for c in text) else None
               for text, box, height in words]
    known = sorted(w for w in weights if w)
    if not known:
        return [False] * len(words)
    usual = known[len(known) // 2]
    bold = [bool(w) and w >= usual * _BOLD_STEMS for w in weights]  # type: ignore[operator]
    # A mark with no letters ("/", "&", "-") is as bold as the words either side of it on its
    # line. (A number is measured like a word: in a label, "1." and "(max 50 000 kr)" are as
    # bold as the rest of it.)
    def between_bold(n: int) -> bool:
        return 0 < n < len(bold) - 1 and all(
            bold[m] and _level(words[m][1], words[n][1]) for m in (n - 1, n + 1))

    return [b if weights[n] is not None else between_bold(n) for n, b in enumerate(bold)]


def _level(one: Box, other: Box) -> bool:
    """Two words on one line: their boxes overlap up and down (a dash's box is a thin bar at
    the middle of its line's)."""
    return one[1] < other[3] and other[1] < one[3]


def _stem_width(image: Image.Image, box: Box) -> float:
    """How thick a word's strokes are: the mean length of its runs of ink along its rows (the
    quarter longest left out: those run along a stroke, not across it)."""
    left, top, right, bottom = box
    if right - left < 2 or bottom - top < 2:
        return 0.0
    crop = image.crop(box).point(lambda v: 255 if v < _STEM_INK else 0)
    lengths = sorted(end - start for start, end in _row_runs(crop))
    across = lengths[:max(1, len(lengths) * 3 // 4)]
    return sum(across) / len(across) if lengths else 0.0
