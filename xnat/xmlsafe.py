"""The one way this package parses XML it did not write (schemas, PUT bodies, search bundles).

Schemas and request bodies come from servers and clients we do not control, so the parser
never resolves entities, never loads or validates against a DTD, never touches the
network, refuses huge trees (nesting past 256 levels included), and drops comments and
processing instructions. :func:`parse_xml` is the client's parse of a server's document:
what the parser refuses becomes an :class:`~xnat.exceptions.XNATValueError` naming the
document, never a bare lxml error.
"""

from __future__ import annotations

from lxml import etree

from .exceptions import XNATValueError, redact

__all__ = ["parse_xml", "safe_parser"]


def safe_parser() -> etree.XMLParser:
    """A new lxml parser with entities, DTDs, network access and huge trees all off."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes | str, what: str) -> etree._Element:
    """The root of the XML document ``data`` (``what`` names it in the error), parsed safely.

    Not well-formed, nested too deeply, or text with an encoding declaration: an
    :class:`~xnat.exceptions.XNATValueError`.
    """
    try:
        return etree.fromstring(data.encode("utf-8") if isinstance(data, str) else data, safe_parser())
    except (etree.XMLSyntaxError, ValueError) as error:
        raise XNATValueError(f"{redact(what)} is not a readable XML document ({str(error)[:200]})") from None
