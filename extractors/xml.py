"""Parsing XML from documents without DTDs, entities or network access."""

from __future__ import annotations

from lxml import etree

from blankett.extractors.errors import Unreadable

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_comments=True, remove_pis=True,
)


def parse_xml(data: bytes, part: str) -> etree._Element:
    # A DTD has no place in Office XML: refusing it closes entity expansion and external
    # entities whatever the parser's defaults become.
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise Unreadable(f"is refused: {part} declares a DTD or entities, which Word never writes")
    try:
        return etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        detail = " ".join(str(exc.msg).split())  # libxml2's messages may hold line breaks
        raise Unreadable(f"is a damaged Word file: {part} is not well-formed XML ({detail})") from None
