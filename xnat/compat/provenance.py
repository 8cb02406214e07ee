"""pyxnat's ``provenance`` of assessors and reconstructions: the processing steps that made them.

``obj.provenance.set({"program": "bet", "program_version": "6.0", ...})`` adds one step (a
``prov:processStep`` in the object's ``xnat:provenance``) or several (a list); ``machine``,
``platform``, ``timestamp`` and ``user`` are filled in from this machine and login when left
out, as pyxnat does. ``overwrite=True`` replaces the steps already there. The object's XML
document is read, changed and put back (two requests), as pyxnat does.

``get()`` reads the steps from the object's own document (one request) as dicts with
pyxnat's keys (``program``, ``program_version``, ... ``compiler_version``; ``""`` where a
step has no value). pyxnat reads them from listing columns, which a server may leave empty.
``delete()`` removes every step (by sending an emptied ``xnat:provenance``: XNAT keeps a
child item that a document leaves out, which is why pyxnat's ``delete()`` does not work).
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from ..exceptions import XNATValueError
from ..xmlsafe import parse_xml

__all__ = ["FIELDS", "Provenance"]

XNAT_NS = "http://nrg.wustl.edu/xnat"
PROV_NS = "http://www.nbirn.net/prov"
_NSMAP = {"xnat": XNAT_NS, "prov": PROV_NS}

#: pyxnat's keys of one step, in its order
FIELDS = ("program", "program_version", "program_arguments", "timestamp", "cvs", "user", "machine", "platform",
          "platform_version", "compiler", "compiler_version")
_REQUIRED = ("program", "timestamp", "user", "machine", "platform")
#: the ``prov:processStep`` children in schema order, with the attributes each carries
_ELEMENTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("program", {"version": "program_version", "arguments": "program_arguments"}),
    ("timestamp", {}),
    ("cvs", {}),
    ("user", {}),
    ("machine", {}),
    ("platform", {"version": "platform_version"}),
    ("compiler", {"version": "compiler_version"}),
    ("library", {"version": "library_version"}),
)
_KNOWN = {key for name, attributes in _ELEMENTS for key in (name, *attributes.values())}


class Provenance:
    """The processing steps of one assessor or reconstruction."""

    def __init__(self, session: Any, uri: str) -> None:
        self._session = session
        self._uri = uri

    def __repr__(self) -> str:
        return f"<Provenance of {self._uri}>"

    def _document(self) -> etree._Element:
        return parse_xml(self._session.get(self._uri, format="xml").content, f"the document of {self._uri}")

    def _put(self, root: etree._Element, allow_deletion: bool) -> None:
        query = {"inbody": "true", **({"allowDataDeletion": "true"} if allow_deletion else {})}
        self._session.put(self._uri, data=etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                          query=query, headers={"Content-Type": "text/xml"})

    def get(self) -> list[dict[str, str]]:
        """The steps, oldest first, as dicts with pyxnat's keys."""
        found = self._document().find(f"{{{XNAT_NS}}}provenance")
        if found is None:
            return []
        return [_read_step(step) for step in found.iterfind(f"{{{PROV_NS}}}processStep")]

    def set(self, process_steps: Mapping[str, str] | Sequence[Mapping[str, str]], overwrite: bool = False) -> None:
        """Add one step (a dict) or several (a list); ``overwrite`` replaces the steps there."""
        steps = [process_steps] if isinstance(process_steps, Mapping) else list(process_steps)
        if not steps:
            raise XNATValueError("provenance.set needs at least one step: {'program': ..., ...}")
        built = [_build_step(_with_defaults(step, self._session.logged_in_user or "")) for step in steps]
        root = self._document()
        existing = root.find(f"{{{XNAT_NS}}}provenance")
        if existing is not None and overwrite:
            root.remove(existing)
            existing = None
        if existing is None:
            existing = etree.Element(f"{{{XNAT_NS}}}provenance", nsmap=_NSMAP)
            root.insert(0, existing)  # where pyxnat puts it; XNAT reads the element wherever it stands
        existing.extend(built)
        self._put(root, allow_deletion=overwrite)

    def delete(self) -> None:
        """Remove every step."""
        root = self._document()
        existing = root.find(f"{{{XNAT_NS}}}provenance")
        if existing is not None:
            # An emptied element, not a missing one: XNAT keeps a child item the document leaves
            # out (pyxnat's delete() removes the element, and says that it does not work).
            for step in list(existing):
                existing.remove(step)
            self._put(root, allow_deletion=True)


def _with_defaults(step: Mapping[str, str], user: str) -> dict[str, str]:
    """The step with pyxnat's defaults for what describes this run; a clear error for what is left missing."""
    if not isinstance(step, Mapping):
        raise XNATValueError(f"a provenance step is a dict such as {{'program': 'bet'}}, not {step!r}")
    filled = {str(key): str(value) for key, value in step.items()}
    unknown = sorted(set(filled) - _KNOWN)
    if unknown:
        raise XNATValueError(f"unknown provenance keys {unknown}: use {', '.join(sorted(_KNOWN))}")
    filled.setdefault("machine", socket.gethostname())
    if "platform" not in filled:
        filled["platform"], filled["platform_version"] = platform.system(), platform.release()
    filled.setdefault("timestamp", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime()))
    filled.setdefault("user", user)
    missing = [key for key in _REQUIRED if not filled.get(key)]
    if missing:
        raise XNATValueError(f"a provenance step needs {', '.join(missing)}")
    return filled


def _build_step(step: Mapping[str, str]) -> etree._Element:
    node = etree.Element(f"{{{PROV_NS}}}processStep", nsmap=_NSMAP)
    for name, attributes in _ELEMENTS:
        if name not in step:
            continue
        child = etree.SubElement(node, f"{{{PROV_NS}}}{name}")
        child.text = step[name]
        for attribute, key in attributes.items():
            if key in step:
                child.set(attribute, step[key])
    return node


def _read_step(node: etree._Element) -> dict[str, str]:
    values = dict.fromkeys(FIELDS, "")
    for name, attributes in _ELEMENTS:
        child = node.find(f"{{{PROV_NS}}}{name}")
        if child is None:
            continue
        if name in values:
            values[name] = child.text or ""
        for attribute, key in attributes.items():
            if key in values:
                values[key] = child.get(attribute, "")
    return values
