"""Scans and photos of forms: the page images recognised by OCR (extractors.ocr), the result read
like a printed PDF, each answer marked as read by OCR with how sure the recognition was.

A scan nothing can be read from (OCR not installed, too many pages, no words found) is reported
as a scan for a person, never as an application with every field missing.
"""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader

from blankett.extractors import ocr
from blankett.extractors.context import ReadContext
from blankett.extractors.errors import Unreadable
from blankett.extractors.pdf_layout import read_pages
from blankett.extractors.pdf_printed import answers
from blankett.extractors.pdf_scanned import has_text_layer, scanned
from blankett.models.messages import message
from blankett.models.normalise import is_email
from blankett.models.records import Extraction, FoundValue, Kind, Problem

# What Tesseract's Swedish model reads for the "@" it has no letter for: one to three of these
# ("Q", "Ö", "QQ", "(W", "©").
_AT_READ_AS = re.compile(r"[QÖö©®&@(W]+")
# A list's bullet, as OCR reads the dot: a guillemet, a star, a small o.
_OCR_BULLET = re.compile(r"^[»«•◦·●▪*°]{1,2}(?=\s)", re.MULTILINE)
# The Swedish model has no en dash: a range comes back with a hyphen. Certain only where a
# hyphen stands spaced between two words or numbers, which word processors turn into a dash as
# it is typed; "mars-maj" and "10-12" are as often written with the hyphen itself.
_SPACED_HYPHEN = re.compile(r"(?<=[\w.)]) -{1,2} (?=[\w(])")
# Below this, what Tesseract read is no text it knows (a smudge, a cut-off line at the edge of a
# photo: "dal", "sudoI"): the field is left for a person, as if empty.
_NOISE = 0.1
# A stray mark left of or right of a line: a speck read as a quote or a bar.
_STRAY = re.compile(r"(?:^|\s)[’'`´‘|_~^°]+(?=\s|$)")


def read_scanned_pdf(reader: PdfReader, context: ReadContext) -> Extraction:
    unread = _not_read(context)
    if unread is not None:
        return scanned(unread, tried=False)
    pages: list[ocr.Page] = []
    if len(reader.pages) > context.limits.ocr_max_pages:
        return scanned(f"den har fler sidor ({len(reader.pages)}) än OCR läser "
                       f"({context.limits.ocr_max_pages})")
    for page in reader.pages:
        image = _largest_image(page)
        if image is None:
            continue
        # The page's width says the image's resolution (a scanner's own claim is often wrong).
        width_inches = abs(float(page.mediabox.width)) / 72
        dpi = ocr.clamp_dpi(image.width / width_inches) if width_inches >= 1 else ocr.image_dpi(image)
        pages.append(ocr.Page(image, dpi))
    return _recognised(pages, context, "pdf-scanned")


def read_image(data: bytes, context: ReadContext) -> Extraction:
    """A photo or a scan saved as an image (PNG, JPEG, TIFF; a TIFF may hold several pages)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            frames = getattr(picture, "n_frames", 1)
            if frames > context.limits.ocr_max_pages:
                return scanned(f"den har fler sidor ({frames}) än OCR läser "
                               f"({context.limits.ocr_max_pages})", kind="image")
            pages = []
            for index in range(frames):
                picture.seek(index)
                frame = picture.convert("L")
                pages.append(ocr.Page(frame, ocr.image_dpi(picture)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Unreadable("is an image too large to read safely", "too_nested") from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError) as exc:
        raise Unreadable(f"is a damaged image ({' '.join(str(exc).split())[:100]})",
                         "damaged_image") from None
    unread = _not_read(context)
    if unread is not None:
        return scanned(unread, kind="image", tried=False)
    return _recognised(pages, context, "image")


def _not_read(context: ReadContext) -> str | None:
    """Why scans are not read here, if they are not."""
    if not context.limits.ocr:
        return ocr.TURNED_OFF
    return ocr.missing_reason() if ocr.tesseract() is None else None


def _recognised(pages: list[ocr.Page], context: ReadContext, kind: Kind) -> Extraction:
    if not pages:
        return scanned(kind=kind)
    try:
        recognised = ocr.recognise(pages, context.limits)
    except Unreadable as exc:
        # A page too slow to recognise, Tesseract failing: still a scan a person can read.
        return scanned(str(exc), kind=kind)
    text = read_pages(recognised.pdf)
    if recognised.empty_pages == recognised.pages or not has_text_layer(p.text for p in text):
        return scanned("OCR hittade ingen text i den", kind=kind)
    found = answers(text, context)
    values = {key: marked for key, value in found.values.items()
              if (marked := _marked(value, recognised)) is not None}
    _repair_address(values)
    problem = Problem(field=None, code="ocr", severity="warning", message=message("ocr"))
    return Extraction(kind=kind, values=values, problems=[problem], unplaced=found.unplaced,
                      searchable_pdf=recognised.pdf)


def _marked(value: FoundValue, recognised: ocr.Recognised) -> FoundValue | None:
    """Read by OCR, as sure as both the placement and the recognition are; None for noise."""
    text = en_dashes(_OCR_BULLET.sub("•", _STRAY.sub("", value.value)).strip())
    sure = recognised.confidence(text)
    if sure < _NOISE:
        return None
    source = value.source.model_copy(update={
        "method": "ocr", "confidence": round(value.source.confidence * sure, 2)})
    return FoundValue(value=text, source=source)


def en_dashes(text: str) -> str:
    """Ranges as a word processor writes them: "mars – juni", "10 – 12"."""
    return _SPACED_HYPHEN.sub(" – ", text)


def _repair_address(values: dict[str, FoundValue]) -> None:
    """An e-mail address whose "@" the Swedish model could not read: repaired where exactly one
    reading of the odd characters as "@" makes a valid address."""
    found = values.get("contact_email")
    if found is None or "@" in found.value:
        return
    # An address holds no spaces, no commas and no two dots in a row: a dot read as a comma, a
    # gap read as a space, a dot read twice.
    word = re.sub(r"\.{2,}", ".", "".join(found.value.split("\n")[0].split()).replace(",", "."))
    # Each whole run of such characters read as one "@" (not a lone "W", a letter of names).
    repairs = {word[:odd.start()] + "@" + word[odd.end():] for odd in _AT_READ_AS.finditer(word)
               if odd.start() > 0 and odd.end() < len(word) and len(odd.group()) <= 3
               and odd.group().strip("W")}
    valid = {r for r in repairs if is_email(r)}
    if len(valid) == 1:
        values["contact_email"] = FoundValue(value=valid.pop(), source=found.source)


def _largest_image(page: object) -> Image.Image | None:
    try:
        images = list(page.images)  # type: ignore[attr-defined]
    except Exception:
        return None
    best = None
    for item in images:
        try:
            image = item.image
        except Exception:
            continue
        if image is not None and (best is None or image.width * image.height > best.width * best.height):
            best = image
    return best.convert("L") if best is not None else None
