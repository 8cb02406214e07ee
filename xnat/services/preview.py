"""Pictures of scans and imaging sessions: ``scan.preview()`` and ``experiment.preview()``.

A scan's picture is the middle frame of ONE of its DICOM files: the scan's files listing
(one request) names the files of its ``DICOM`` resource (else of a resource whose format
is DICOM, else of ``secondary``); the middle one in natural name order is read through a
:class:`xnat.transfer.RemoteFile` (byte ranges; a small file comes in one request, a
server that ignores ``Range`` is read up to what is needed), its header and pixels decoded
by pydicom and displayed by :mod:`xnat.services.thumbnail`. A session's contact sheet is a
grid of its scans' pictures, a scan without one drawn as an empty captioned tile.

**Cache.** The 8-bit picture of each scan is kept for the life of the session object, per
scan URI, so showing a scan or its session again makes no request. ``preview(refresh=True)``
reads again; :func:`clear_previews` forgets a session's pictures.

**Notebooks.** ``_repr_png_`` (which IPython and Jupyter call to display an object, never a
plain ``repr()``) answers None, with the reason logged, when there is nothing to show: the
``dicom`` extra is missing, the scan has no DICOM, its pixels cannot be decoded, or the
server could not be read. ``preview()`` raises for the same causes, with a message that
says which.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import XNATError, XNATIOError, XNATValueError
from .thumbnail import DEFAULT_SIZE, contact_sheet_png, display_image, thumbnail_png

if TYPE_CHECKING:
    import numpy as np

__all__ = ["clear_previews", "scan_image", "scan_preview", "scan_repr_png", "session_preview", "session_repr_png"]

logger = logging.getLogger(__name__)

EXTRA_MISSING = "previews need pydicom, numpy and Pillow: pip install 'xnat[dicom]'"

_LOCK = threading.Lock()
# session -> {scan URI -> its 8-bit picture}; weak, so a dropped session frees its pictures.
_PICTURES: weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


def clear_previews(xnat_session: Any) -> None:
    """Forget every picture cached for ``xnat_session``."""
    with _LOCK:
        _PICTURES.pop(xnat_session, None)


def _require_extra() -> None:
    try:
        import numpy  # noqa: F401
        import PIL  # noqa: F401
        import pydicom  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError(EXTRA_MISSING) from None


def _natural(name: str) -> list[Any]:
    """Sort key: ``img-9`` before ``img-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _dicom_rows(scan: Any) -> list[dict[str, str]]:
    """The files listing rows of the scan's DICOM files, in natural name order."""
    rows: list[dict[str, str]] = scan.files.tabulate_dict()
    # The DICOM resource, else one whose files are in DICOM format, else XNAT's secondary captures.
    for column, value in (("collection", "DICOM"), ("file_format", "DICOM"), ("collection", "secondary")):
        chosen = [row for row in rows if (row.get(column) or "").upper() == value.upper()]
        if chosen:
            return sorted(chosen, key=lambda row: _natural(row.get("Name", "")))
    raise XNATValueError(f"{scan.uri} has no DICOM files to preview (its resources: "
                         f"{', '.join(sorted({r.get('collection', '') for r in rows})) or 'none'})")


def _read_middle_frame(xnat_session: Any, uri: str, size: int | None) -> tuple[Any, np.ndarray]:
    """The header and the middle frame of the remote DICOM file at ``uri``."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels.utils import pixel_array

    with xnat_session.transferer().open(uri, size=size) as remote:
        try:
            header = pydicom.dcmread(remote, stop_before_pixels=True)
        except XNATError:  # the server or the network, said as such
            raise
        except (InvalidDicomError, OSError, EOFError, ValueError, struct.error) as error:  # not DICOM, or cut short
            raise XNATValueError(f"{uri} is not a DICOM file: {error}") from None
        if "Rows" not in header:  # the header was read up to the pixels: an image has its size
            raise XNATValueError(f"{uri} holds no image (no pixel data)")
        frames = int(getattr(header, "NumberOfFrames", 1) or 1)
        remote.seek(0)
        try:
            pixels = pixel_array(remote, index=frames // 2 if frames > 1 else None)
        except XNATError:
            raise
        except (NotImplementedError, RuntimeError, ValueError, AttributeError, KeyError) as error:
            syntax = getattr(getattr(header, "file_meta", None), "TransferSyntaxUID", None)
            name = getattr(syntax, "name", None) or str(syntax or "unknown transfer syntax")
            raise XNATValueError(f"{uri}: cannot decode its pixels ({name}): {error}") from None
    return header, pixels


def scan_image(scan: Any, refresh: bool = False) -> np.ndarray:
    """The scan's 8-bit picture (see the module docstring), cached per session."""
    _require_extra()
    xnat_session = scan.xnat_session
    key = str(scan.uri)
    if not refresh:
        with _LOCK:
            found = _PICTURES.get(xnat_session, {}).get(key)
        if found is not None:
            return found
    rows = _dicom_rows(scan)
    row = rows[len(rows) // 2]
    size = row.get("Size", "")
    header, pixels = _read_middle_frame(xnat_session, row["URI"], int(size) if size.isdigit() else None)
    image = display_image(pixels, header)
    with _LOCK:
        _PICTURES.setdefault(xnat_session, {})[key] = image
    return image


def _write(png: bytes, path: str | os.PathLike[str] | None) -> bytes:
    if path is not None:
        try:
            Path(path).write_bytes(png)
        except OSError as error:
            raise XNATIOError(f"cannot write the preview to {os.fspath(path)}: {error.strerror or error}") from None
    return png


def scan_preview(scan: Any, path: str | os.PathLike[str] | None = None, size: int = DEFAULT_SIZE,
                 refresh: bool = False) -> bytes:
    """A PNG thumbnail of the scan, ``size`` pixels on its longest side; written to ``path`` if given."""
    return _write(thumbnail_png(scan_image(scan, refresh), size), path)


def session_preview(experiment: Any, path: str | os.PathLike[str] | None = None, size: int = 160,
                    columns: int = 4, refresh: bool = False) -> bytes:
    """A PNG contact sheet of the session's scans, ``size`` pixels per tile, ``columns`` tiles a row."""
    _require_extra()
    tiles: list[tuple[str, np.ndarray | None]] = []
    reasons = []
    for scan in experiment.scans.values():
        caption = " ".join(str(part) for part in (scan.id, scan.type or scan.series_description or "") if part)
        try:
            tiles.append((caption, scan_image(scan, refresh)))
        except XNATValueError as error:  # no DICOM, or pixels that cannot be decoded: an empty tile
            logger.info("No picture: %s", error)
            tiles.append((caption, None))
            reasons.append(str(error))
    if all(image is None for _, image in tiles):
        found = "; ".join(reasons) if reasons else "it has no scans"
        raise XNATValueError(f"{experiment.uri} has no scan to preview: {found}")
    return _write(contact_sheet_png(tiles, size, columns), path)


def _quietly(what: str, uri: Any, make: Any) -> bytes | None:
    """``make()``, or None with the reason logged: a notebook's display must not raise."""
    try:
        return make()  # type: ignore[no-any-return]
    except (ImportError, XNATError) as error:
        logger.info("No picture of %s %s: %s", what, uri, error)
        return None


def scan_repr_png(scan: Any) -> bytes | None:
    """The scan's thumbnail for a notebook, or None (reason logged) when there is none."""
    return _quietly("scan", scan.uri, lambda: scan_preview(scan))


def session_repr_png(experiment: Any) -> bytes | None:
    """The session's contact sheet for a notebook, or None (reason logged) when there is none."""
    return _quietly("session", experiment.uri, lambda: session_preview(experiment))
