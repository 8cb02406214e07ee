"""DICOM headers and files: the server's DICOM dump, ``scan.dicom_dump()`` and ``scan.read_dicom()``.

``read_dicom`` opens the remote file as a seekable reader that fetches byte ranges
(:class:`xnat.transfer.RemoteFile`), so ``pydicom`` reading a header without pixel data
downloads a few hundred kilobytes at most, never the whole file. pydicom is the optional
``dicom`` extra, imported only here and only when used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..exceptions import XNATValueError
from .paths import archive_path

__all__ = ["dicom_dump", "read_dicom_file", "scan_dicom_dump", "scan_read_dicom"]


def dicom_dump(xnat_session: Any, src: str, fields: Iterable[str] | str | None = None) -> list[dict[str, str]]:
    """The server's DICOM dump (``/data/services/dicomdump``) of the first file below ``src``.

    :param src: ``/archive/projects/P/subjects/S/experiments/E[/scans/N]`` or
        ``/prearchive/projects/P/TS/S[/scans/N]`` (a leading ``/data`` is dropped)
    :param fields: keywords (``Modality``) or tags (``00080060``) to keep
    :return: rows ``{"tag1", "tag2", "vr", "value", "desc"}``
    """
    if not src:
        raise XNATValueError("dicom_dump needs src: /archive/projects/P/subjects/S/experiments/E[/scans/N]")
    src = src[5:] if src.startswith("/data/") else src
    query: dict[str, Any] = {"src": src}
    if fields:
        query["field"] = [fields] if isinstance(fields, str) else list(fields)
    return list(xnat_session.get_json("/data/services/dicomdump", query=query)["ResultSet"]["Result"])


def read_dicom_file(xnat_session: Any, uri: str, size: int | None = None, read_pixel_data: bool = False,
                    force: bool = False) -> Any:
    """A ``pydicom`` dataset of the remote file at ``uri``."""
    try:
        import pydicom
    except ImportError:
        raise ModuleNotFoundError("read_dicom needs pydicom: pip install 'xnat[dicom]'") from None
    from pydicom.errors import InvalidDicomError

    with xnat_session.transferer().open(uri, size=size) as remote:
        try:
            return pydicom.dcmread(remote, stop_before_pixels=not read_pixel_data, force=force)
        except InvalidDicomError as error:
            raise XNATValueError(f"{uri} is not a DICOM file: {error} (force=True reads it anyway)") from None


def scan_dicom_dump(scan: Any, fields: list[str] | str | None = None) -> list[dict[str, str]]:
    """The header of an archived scan's first DICOM file, as the server's DICOM dump rows."""
    return dicom_dump(scan.xnat_session, archive_path(scan), fields)


def scan_read_dicom(scan: Any, file: Any = None, read_pixel_data: bool = False, force: bool = False) -> Any:
    """A ``pydicom`` dataset of one of a scan's DICOM files (the first by default)."""
    if file is None:
        resources = scan.resources
        resource = None
        for label in ("DICOM", "secondary"):
            if label in resources:
                resource = resources[label]
                break
        if resource is None:
            raise XNATValueError(f"{scan!r} has no DICOM or secondary resource to read")
        files = resource.files
        if len(files) == 0:
            raise XNATValueError(f"{scan!r} has no DICOM files")
        file = files[0]
    size = getattr(file, "size", None)
    return read_dicom_file(scan.xnat_session, file.uri, int(size) if size else None, read_pixel_data, force)
