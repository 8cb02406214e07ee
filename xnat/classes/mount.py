"""The mounted archive: reading files from XNAT's archive folder when it is mounted here.

On JupyterHub and in XNAT's container service the archive is mounted read-only (named by
``XNAT_DATA``), so files can be read from disk instead of downloaded. Two layouts, as xnatpy
reads them (:class:`DataDirType`):

* ``ARCHIVE_DIR``, XNAT's archive folder itself: ``<root>/<project>/arc001/<session label>/
  SCANS/<scan ID>/<resource>/<file>``; project resources in ``<project>/resources/<label>``,
  subject resources in ``<project>/subjects/<subject label>/<label>``, session resources in
  ``.../<session label>/RESOURCES/<label>``, assessors in ``.../ASSESSORS/<label>``;
* ``JUPYTER_HUB``, XNAT's JupyterHub mount: ``<root>/projects/<project>/...`` with sessions
  in ``experiments/<label>`` instead of ``arc*/<label>``.

A folder is used only when it exists; a name from the server that could leave the mount
(``..``, a slash) gives no folder at all. Nothing here writes: the mount is read-only.
"""

from __future__ import annotations

import enum
import logging
import os
import re
from pathlib import Path
from typing import Any

from ..exceptions import XNATIOError, XNATValueError
from .creation import kind_of

__all__ = ["DataDirType", "HasDataDir", "data_dir", "expected_data_dir", "mount_type", "resolve_mount"]

logger = logging.getLogger(__name__)


class DataDirType(enum.Enum):
    """The layout of a mounted archive (xnatpy's names and values)."""

    NONE = "None"
    ARCHIVE_DIR = "Archive Directory"
    JUPYTER_HUB = "JupyterHub Mount"


def mount_type(root: Path) -> DataDirType:
    """The layout of the mount at ``root``: a ``projects`` folder marks XNAT's JupyterHub mount."""
    return DataDirType.JUPYTER_HUB if (root / "projects").is_dir() else DataDirType.ARCHIVE_DIR


def resolve_mount(path: str | os.PathLike[str], type_: DataDirType | str | None = None) -> tuple[Path, DataDirType]:
    """Check a mount location and its layout (guessed from the folder when not given).

    :raises XNATIOError: the folder does not exist or cannot be read
    :raises XNATValueError: ``type_`` names no layout
    """
    root = Path(path)
    if not root.is_dir():
        raise XNATIOError(f"the archive mount {root} is not a folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise XNATIOError(f"the archive mount {root} cannot be read")
    if type_ is None:
        return root, mount_type(root)
    if isinstance(type_, DataDirType):
        return root, type_
    for member in DataDirType:
        if type_ in (member.name, member.value):
            return root, member
    raise XNATValueError(f"mount type should be one of {', '.join(m.name for m in DataDirType)}, not {type_!r}")


def _part(value: Any) -> str | None:
    """A server-given name as one path component, or None if it could leave its folder."""
    text = "" if value is None else str(value)
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\x00" in text:
        return None
    return text


def _project_dir(session: Any, project: Any) -> Path | None:
    root: Path | None = session.mount_data_dir
    layout: DataDirType = session.mount_data_dir_type
    name = _part(project)
    if root is None or layout is DataDirType.NONE or name is None:
        return None
    return root / "projects" / name if layout is DataDirType.JUPYTER_HUB else root / name


def _experiment_dir(session: Any, obj: Any) -> Path | None:
    project_dir, label = _project_dir(session, obj._get_field("project")), _part(obj._get_field("label"))
    if project_dir is None or label is None:
        return None
    if session.mount_data_dir_type is DataDirType.JUPYTER_HUB:
        return project_dir / "experiments" / label
    return next(iter(sorted(project_dir.glob(f"arc*/{label}"))), project_dir / "arc001" / label)


def _scan_dir(obj: Any, parent_dir: Path) -> Path | None:
    scan_id = _part(obj.id)
    if scan_id is None:
        return None
    expected = parent_dir / "SCANS" / scan_id
    # XNAT renames a clashing scan ID to "<n>-<modality><k>" and keeps the files under "<n>".
    clash = re.fullmatch(r"(\d+)-[A-Z][A-Z]\d+", scan_id)
    if not expected.exists() and clash is not None:
        return parent_dir / "SCANS" / clash.group(1)
    return expected


def _resource_dir(obj: Any) -> Path | None:
    parent = obj.parent
    if parent is None:
        return None
    label = _part(obj._get_field("label"))
    dirname = "DICOM" if obj._get_field("format") == "DICOM" else label
    if label is None or dirname is None:
        return None
    kind = kind_of(parent)
    if kind == "subject":
        project_dir, subject = _project_dir(obj.xnat_session, parent._get_field("project")), _part(parent.label)
        return None if project_dir is None or subject is None else project_dir / "subjects" / subject / dirname
    parent_dir = expected_data_dir(parent)
    if parent_dir is None:
        return None
    if kind == "project":
        return parent_dir / "resources" / dirname
    if kind == "experiment":
        return parent_dir / "RESOURCES" / dirname
    return parent_dir / label


def expected_data_dir(obj: Any) -> Path | None:
    """Where ``obj``'s folder would be in the mounted archive (None: no mount, or no rule)."""
    session = obj.xnat_session
    if session is None or getattr(session, "mount_data_dir", None) is None:
        return None
    kind = kind_of(obj)
    if kind == "project":
        return _project_dir(session, obj.id)
    if kind == "experiment":
        return _experiment_dir(session, obj)
    if kind == "resource":
        return _resource_dir(obj)
    parent_dir = expected_data_dir(obj.parent) if obj.parent is not None else None
    if parent_dir is None:
        return None
    if kind == "scan":
        return _scan_dir(obj, parent_dir)
    if kind == "assessor":
        label = _part(obj._get_field("label"))
        return None if label is None else parent_dir / "ASSESSORS" / label
    return None


def data_dir(obj: Any) -> Path | None:
    """``obj``'s folder in the mounted archive when it exists there, else None."""
    expected = expected_data_dir(obj)
    if expected is None:
        return None
    if not expected.is_dir():
        logger.debug("%r: expected %s in the mounted archive; it is not there", obj, expected)
        return None
    return expected


class HasDataDir:
    """``data_dir`` and ``expected_data_dir`` for the behaviour mixins of projects, experiments,
    scans and resources (xnatpy's names)."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    @property
    def data_dir(self) -> Path | None:
        """This object's folder in the mounted archive, when there is a mount and the folder exists."""
        return data_dir(self)

    @property
    def expected_data_dir(self) -> Path | None:
        """Where this object's folder would be in the mounted archive (None without a mount)."""
        return expected_data_dir(self)
