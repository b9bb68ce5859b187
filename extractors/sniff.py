"""What a file is, from its first bytes, never from its name."""

from __future__ import annotations

import io
import zipfile
from typing import Literal

from blankett.extractors.errors import Unreadable

Container = Literal["docx", "pdf", "image", "doc", "odt", "rtf"]

# Pictures of pages that OCR reads.
_IMAGES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 and the other old Office formats
# Names of streams inside such a file, as its directory spells them (UTF-16).
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")  # a .docx saved with a password
_WORD = "WordDocument".encode("utf-16-le")
_OTHER_OFFICE = tuple(n.encode("utf-16-le") for n in ("Workbook", "PowerPoint Document"))
_SIGNATURES: tuple[tuple[bytes, str], ...] = ((b"GIF8", "GIF"), (b"BM", "BMP"))


def sniff(data: bytes) -> Container:
    if not data:
        raise Unreadable("is empty (0 bytes)", "empty")
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip_kind(data)
    if data.startswith(_IMAGES):
        return "image"
    if data.startswith(_OLE):
        return _ole_kind(data)
    if data.startswith(b"{\\rtf"):
        return "rtf"
    for signature, image in _SIGNATURES:
        if data.startswith(signature):
            raise Unreadable(f"is an image ({image}), not a supported form format; send a PDF, PNG "
                             "or JPEG", "image_format", format=image)
    if data.lstrip()[:5].lower() in (b"<?xml", b"<html", b"<!doc"):
        raise Unreadable("is an XML or HTML file, not a supported form format (a Word document, a PDF "
                         "or a scan)", "other_format", format="xml")
    raise Unreadable("is not a supported form format: not a Word document (.docx, .doc, .odt, .rtf), "
                     "a PDF or a scan (PNG, JPEG, TIFF)", "not_a_form")


def _zip_kind(data: bytes) -> Container:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, OSError):
        raise Unreadable("is a damaged zip or Word file: its contents cannot be read",
                         "damaged_zip") from None
    if b"opendocument.text" in mimetype:
        return "odt"
    if b"opendocument" in mimetype:
        raise Unreadable("is an OpenDocument spreadsheet or presentation, not a text document",
                         "other_format", format="ods")
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names or "ppt/presentation.xml" in names:
        raise Unreadable("is an Excel or PowerPoint file, not a Word document or PDF",
                         "other_format", format="office")
    raise Unreadable("is a zip archive, not a Word document (.docx) or PDF", "other_format",
                     format="zip")


def _ole_kind(data: bytes) -> Container:
    if _ENCRYPTED in data:
        raise Unreadable("is a password-protected Office file; ask for a copy without a password",
                         "encrypted")
    if _WORD not in data and any(name in data for name in _OTHER_OFFICE):
        raise Unreadable("is an old Excel or PowerPoint file, not a Word document or PDF",
                         "other_format", format="old_office")
    if _WORD not in data:
        # Every Word 97-2003 file holds a stream of that name; without it LibreOffice has nothing
        # to open, and would take a second or two to say so.
        raise Unreadable("is an old Office file (.doc) with no Word document in it: damaged, or "
                         "another program's file", "no_word_document")
    return "doc"
