"""Where a file appears: the ``locator=`` of file listings and its path inside a downloaded archive.

Both follow XNAT's ``FileList`` (``NrgXnat/xnat-web``, ``restlet/resources/files/FileList.java``):

* ``locator=absolutePath`` puts the file's path on the server's disk in place of the ``URI``
  column (the column is named ``absolutePath``), ``locator=projectPath`` its path from the
  project's archive folder (``P1/arc001/...``); archives ignore it (they need the URI).
* ``structure=`` shapes the paths inside ``?format=zip|tar.gz``: the default
  ``{session}/scans/{ID}/resources/{label}/files/{path}``; ``simplified`` drops the
  ``/resources`` and ``/files`` segments; ``improved`` is ``getImprovedPath``:
  ``scans/{ID}_{type}/{label}/{path}`` (no type in a tar, whose names are short) or
  ``resources/{label}/{path}``; ``legacy`` is the file's path on disk below the project's
  archive folder. XNAT's disk layout names a session's folder by its label and a scan's by its
  ID; this server's by their IDs (``XNAT_E00001/SCANS/{pk}``), and legacy shows that layout.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..store import loads
from .base import HTTPError
from .lookup import Node

#: the structure= values XNAT's FileList knows ("default" is the same as none)
STRUCTURES = ("default", "legacy", "simplified", "improved")
LOCATORS = {"uri": "URI", "absolutepath": "absolutePath", "projectpath": "projectPath"}
_UNSAFE = re.compile(r'[/\\:*?"<>|]')  # characters getImprovedPath replaces in a scan type


def locator(value: str | None) -> str:
    """The column that locates each file: ``URI`` (the default), ``absolutePath`` or ``projectPath``."""
    if not value:
        return "URI"
    try:
        return LOCATORS[value.lower()]
    except KeyError:
        raise HTTPError(400, f"Unknown locator {value!r}: use absolutePath or projectPath") from None


def structure(value: str | None) -> str:
    """The checked ``structure=`` of an archive download (``default`` when none)."""
    chosen = (value or "default").lower()
    if chosen not in STRUCTURES:
        raise HTTPError(400, f"Unknown structure {value!r}: use one of {', '.join(STRUCTURES)}")
    return chosen


def archive_name(res: Node, relpath: str, disk: Path, root: Path, how: str, tar: bool) -> str:
    """The path of resource ``res``'s file ``relpath`` (on disk at ``disk`` under the archive
    ``root``) inside a downloaded archive, for structure ``how``."""
    if how == "legacy":
        parts = disk.relative_to(root).parts
        return "/".join(parts[2:] if len(parts) > 2 and parts[1] == "arc001" else parts)
    if how == "improved":
        return _improved(res, tar) + relpath
    name = _default(res, relpath)
    if how == "simplified":
        return name.replace("/resources", "").replace("/files", "")
    return name


def _default(res: Node, relpath: str) -> str:
    """``{owner}/[scans/{ID}/]resources/{label}/files/{path}``."""
    owner = res.parent
    label = res.row["label"]
    if owner is None:
        return f"resources/{label}/files/{relpath}"
    if owner.kind in ("scan", "reconstruction") and owner.parent is not None:
        top = owner.parent.row["label"]
        sub = "scans" if owner.kind == "scan" else "reconstructions"
        return f"{top}/{sub}/{owner.row['id']}/resources/{label}/files/{relpath}"
    top = owner.row["label"] if "label" in owner.row.keys() else owner.key
    io = f"{res.io}/" if res.io else ""
    return f"{top}/{io}resources/{label}/files/{relpath}"


def _improved(res: Node, tar: bool) -> str:
    """getImprovedPath's root: the kind of holder, its folder (a scan: ID and type), the label."""
    owner = res.parent
    label = res.row["label"]
    if owner is not None and owner.kind in ("scan", "reconstruction"):
        folder = str(owner.row["id"])
        kind_type = _scan_type(owner) if owner.kind == "scan" else ""
        if kind_type and not tar:
            folder += "_" + _UNSAFE.sub("_", kind_type)
        return f"{owner.kind}s/{folder}/{label}/"
    if owner is not None and owner.kind == "assessor":
        return f"assessors/{owner.row['label']}/{label}/"
    return f"resources/{label}/"


def _scan_type(scan: Node) -> str:
    return str(loads(scan.row["fields"]).get("type") or "")
