"""Opening a Word package with python-docx, behind the zip-bomb guard.

The zip's directory is checked (safezip) before python-docx sees a byte of it; python-docx then
opens an uncompressed copy whose every member was inflated under those checks, and whose XML
parts declare no DTD. python-docx finds the parts by their relationships: the main document and
its style sheet, in transitional or strict OOXML, whatever their names in the zip.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.exceptions import OpcError
from docx.opc.package import OpcPackage
from docx.opc.part import Part, XmlPart
from docx.oxml.parser import parse_xml
from docx.package import Package
from lxml import etree

from blankett.extractors.errors import Unreadable
from blankett.extractors.safezip import SafeZip
from blankett.models.limits import Limits

# What python-docx raises on a package it cannot make sense of.
DOCX_ERRORS: tuple[type[BaseException], ...] = (
    OpcError, KeyError, ValueError, TypeError, AttributeError, IndexError, RecursionError,
    NotImplementedError, zipfile.BadZipFile, etree.LxmlError,
)
# Strict OOXML names its relationships under another root than transitional (RT).
_STRICT_RELATIONSHIPS = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
_MISSING = re.compile(r"There is no item named '(.+)' in the archive")


@dataclass(frozen=True)
class WordPackage:
    document: etree._Element  # the main document part's root element
    styles: etree._Element | None  # its style sheet's, when it has one


def open_word(data: bytes, limits: Limits) -> WordPackage:
    stored = SafeZip(data, limits).stored(_refuse_dtd)
    try:
        package = Package.open(io.BytesIO(stored))
        main = _related(package, RT.OFFICE_DOCUMENT)
        if main is None:
            raise Unreadable("is a damaged Word file: it names no main document part",
                             "damaged_word")
        styles = _related(main, RT.STYLES)
        return WordPackage(_element(main), _element(styles) if styles is not None else None)
    except DOCX_ERRORS as exc:
        raise Unreadable(f"is a damaged Word file: {_reason(exc)}", "damaged_word") from None


def _refuse_dtd(name: str, data: bytes) -> None:
    # A DTD has no place in Office XML: refusing it closes entity expansion and external entities
    # whatever the parser's defaults become.
    if not name.lower().endswith((".xml", ".rels")):
        return
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise Unreadable(f"is refused: {name} declares a DTD or entities, which Word never writes",
                         "refused")


def _related(source: OpcPackage | Part, reltype: str) -> Part | None:
    """The part `source` points to by a relationship of this type, transitional or strict."""
    for kind in (reltype, _STRICT_RELATIONSHIPS + reltype.rsplit("/", 1)[1]):
        try:
            return source.part_related_by(kind)
        except KeyError:
            continue
    return None


def _element(part: Part) -> etree._Element:
    """The part's root element; a part python-docx keeps as bytes (a template's or a macro
    document's main part, by its content type) is parsed with python-docx's parser."""
    return part.element if isinstance(part, XmlPart) else parse_xml(part.blob)


def _reason(exc: BaseException) -> str:
    """One line saying what is wrong with the package."""
    if isinstance(exc, etree.XMLSyntaxError):
        detail = " ".join(str(exc.msg).split())  # libxml2's messages may hold line breaks
        return f"an XML part is not well-formed ({detail})"
    detail = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
    missing = _MISSING.fullmatch(detail)
    if missing:
        return f"{missing.group(1)[:200]} is missing"
    return f"its parts cannot be opened ({type(exc).__name__}: {detail[:200]})"
