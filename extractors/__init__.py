"""Reading a received file: bytes in, raw answers by field out, with where each was found.

`read(data, context)` sniffs the type from the bytes (`sniff.py`) and hands the file to the one
reader for that type in `READERS`. Every reader is a pure function of the bytes and the context;
none knows about Prefect, the store or the file's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from blankett.extractors.context import ReadContext
from blankett.extractors.errors import Unreadable
from blankett.extractors.sniff import Container, sniff
from blankett.models.identity import not_the_form
from blankett.models.records import Extraction

__all__ = ["EXTRACTOR_VERSION", "READERS", "ReadContext", "Reader", "Unreadable", "read", "reader"]

# Raise when a change to any reader may change what is read from a file already received,
# so that stored results from older readers are known to be stale.
EXTRACTOR_VERSION = 2

Reader = Callable[[bytes, ReadContext], Extraction]

# The reader of each type of file, as "module:function", imported on first use: importing this
# package (for EXTRACTOR_VERSION, say) loads no PDF or Word library. A PDF's reader tells a
# fillable form, a printed one and a scan apart itself (pdf.py): that takes parsing the file.
READERS: dict[Container, str] = {
    "docx": "blankett.extractors.docx:read_docx",
    "pdf": "blankett.extractors.pdf:read_pdf",
    "image": "blankett.extractors.scan:read_image",
    # Converted to .docx by LibreOffice, then read as Word.
    "doc": "blankett.extractors.convert:read_converted",
    "odt": "blankett.extractors.convert:read_converted",
    "rtf": "blankett.extractors.convert:read_converted",
}


def read(data: bytes, context: ReadContext) -> Extraction:
    """What the file says as the form; Unreadable when it cannot be read, or is another document
    than the form (models/identity.py): kept and sent to a person like an unreadable file,
    never taken as an application with every part missing."""
    if too_large := context.limits.too_large(len(data)):
        raise too_large
    extraction = reader(sniff(data))(data, context)
    if (evidence := not_the_form(extraction, context.spec)) is not None:
        raise Unreadable(f"is not the application form: {evidence.parts} of the form's "
                         f"{evidence.of_parts} parts were found under their headings",
                         "not_the_form", found=evidence.parts, total=evidence.of_parts)
    return extraction


def reader(kind: Container) -> Reader:
    """The function that reads files of this kind."""
    module, _, function = READERS[kind].partition(":")
    found: Reader = getattr(importlib.import_module(module), function)
    return found
