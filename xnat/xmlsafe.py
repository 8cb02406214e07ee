"""The one way this package parses XML it did not write (schemas, PUT bodies, search bundles).

Schemas and request bodies come from servers and clients we do not control, so the parser
never resolves entities, never loads or validates against a DTD, never touches the
network, refuses huge trees, and drops comments and processing instructions.
"""

from __future__ import annotations

from lxml import etree

__all__ = ["safe_parser"]


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
