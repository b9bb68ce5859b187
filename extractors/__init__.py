"""Reading a received file: bytes in, raw answers by field out, with where each was found.

`read(data, context)` sniffs the type from the bytes and hands the file to the reader for it.
Every reader is a pure function; none knows about Prefect, the store or the file's name.
"""

from __future__ import annotations

from blankett.extractors.context import ReadContext
from blankett.extractors.errors import Unreadable
from blankett.extractors.sniff import sniff
from blankett.models.records import Extraction

__all__ = ["EXTRACTOR_VERSION", "ReadContext", "Unreadable", "read"]

# Raise when a change to any reader may change what is read from a file already received,
# so that stored results from older readers are known to be stale.
EXTRACTOR_VERSION = 2


def read(data: bytes, context: ReadContext) -> Extraction:
    if too_large := context.limits.too_large(len(data)):
        raise Unreadable(too_large)
    kind = sniff(data)
    if kind in ("doc", "odt", "rtf"):
        from blankett.extractors.convert import to_docx

        data, kind = to_docx(data, kind, context.limits.convert_seconds), "docx"
    if kind == "docx":
        from blankett.extractors.docx import read_docx

        return read_docx(data, context)
    if kind == "image":
        from blankett.extractors.scan import read_image

        return read_image(data, context)
    from blankett.extractors.pdf import read_pdf

    return read_pdf(data, context)
