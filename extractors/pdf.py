"""Reading a PDF: which of the three kinds it is (fillable form, printed text, scan), and the
reader for that kind.

pypdf opens the file and reads the form in a few milliseconds; the page text (pdfminer) costs
about 10 ms a page, so it is read only for printed forms, and for labels printed beside
generically named form fields.
"""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, WrongPasswordError

from blankett.extractors.context import ReadContext
from blankett.extractors.errors import Unreadable
from blankett.extractors.pdf_errors import PYPDF_ERRORS, damaged, encrypted
from blankett.extractors.pdf_fields import FormInfo, inspect
from blankett.extractors.pdf_form import printed_into, read_form
from blankett.extractors.pdf_layout import PageText, read_pages
from blankett.extractors.pdf_printed import answers
from blankett.extractors.pdf_scanned import has_text_layer
from blankett.extractors.scan import read_scanned_pdf
from blankett.models.messages import message
from blankett.models.records import Extraction, FoundValue, Problem

# Both libraries log every oddity of a file as a warning. With no handler configured anywhere,
# Python would print those to stderr; a NullHandler leaves the choice to the application.
for _name in ("pypdf", "pdfminer"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

XFA = ("is an XFA form (Adobe LiveCycle), whose fields cannot be read; ask for the Word form or a PDF "
       "printed from it")
# Field labels an XFA form's printed pages must show before they are read as a printed form.
MIN_XFA_LABELS = 2
# Answers the text of a form with fields on no page must give to be read as printed.
MIN_PRINTED_ANSWERS = 2


def read_pdf(data: bytes, context: ReadContext) -> Extraction:
    reader = _open(data)
    _check_pages(reader, context)
    form = inspect(reader)
    if form.has_values:
        return read_form(reader, data, context, form)
    pages = read_pages(data)
    by_index = dict(enumerate(pages))
    has_text = has_text_layer(page.text for page in pages)
    if form.xfa:
        return _xfa(pages, context, has_text)
    if not has_text:
        # A fillable form never filled in may show nothing but its boxes; a scan has no fields.
        if form.data_fields:
            return read_form(reader, data, context, form, by_index)
        return read_scanned_pdf(reader, context)
    found = answers(pages, context)
    values = found.values
    if not values and not form.data_fields and _has_page_images(reader):
        # Page images and a few words that are no label of the form: a scanner's stamp or an
        # app's "Scanned with ..." line, not a text layer.
        return read_scanned_pdf(reader, context)
    if form.data_fields and not _answers_printed(form, by_index, values, context):
        return read_form(reader, data, context, form, by_index)
    return Extraction(kind="pdf-text", values=values, unplaced=found.unplaced)


def _has_page_images(reader: PdfReader) -> bool:
    try:
        for page in reader.pages:
            resources = page.get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources else None
            if xobjects and any(x.get_object().get("/Subtype") == "/Image"
                                for x in xobjects.get_object().values()):
                return True
    except PYPDF_ERRORS:
        return False
    return False


def _answers_printed(form: FormInfo, pages: dict[int, PageText], values: dict[str, FoundValue],
                     context: ReadContext) -> bool:
    """Whether a form whose fields are all empty holds its answers in the page text: filled in,
    then flattened or printed to PDF with the fields left in place."""
    placed = any(w.page is not None and w.rect is not None for f in form.data_fields for w in f.widgets)
    if placed:
        return printed_into(form, pages, context)
    # Fields on no page (their widgets flattened away): trust the text if it answers anything.
    return sum(1 for found in values.values() if found.value.strip()) >= MIN_PRINTED_ANSWERS


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # Many forms carry only an owner password (no printing or editing): the empty user
        # password opens them.
        if reader.is_encrypted and not reader.decrypt(""):
            raise encrypted()
    except (DependencyError, FileNotDecryptedError, WrongPasswordError):
        raise encrypted() from None
    except PYPDF_ERRORS as exc:
        raise damaged(exc) from None
    return reader


def _check_pages(reader: PdfReader, context: ReadContext) -> None:
    try:
        count = len(reader.pages)
    except (DependencyError, FileNotDecryptedError):
        raise encrypted() from None
    except PYPDF_ERRORS as exc:
        raise damaged(exc) from None
    if count == 0:
        raise damaged("it has no pages")
    limit = context.limits.max_pages
    if count > limit:
        raise Unreadable(f"has too many pages ({count}; the limit is {limit})", "too_many_pages",
                         count=count, limit=limit)


def _xfa(pages: list[PageText], context: ReadContext, has_text: bool) -> Extraction:
    """An XFA form keeps its fields and values in XML that pypdf cannot read. Its printed pages
    may still show the form (a static XFA form), often with the answers in them."""
    found = answers(pages, context) if has_text else None
    values = found.values if found else {}
    if len(values) < MIN_XFA_LABELS:
        raise Unreadable(XFA, "xfa")
    problems = []
    if not any(found.value.strip() for found in values.values()):
        problems.append(Problem(field=None, code="xfa_only", severity="error", message=message("xfa_only")))
    return Extraction(kind="pdf-text", values=values, problems=problems,
                      unplaced=found.unplaced if found else [])

