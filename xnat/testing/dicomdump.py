"""One DICOM file's header as XNAT's DICOM dump rows (``/data/services/dicomdump``).

pydicom (the ``dicom`` extra) is imported inside the functions that need it.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any, BinaryIO

__all__ = ["dicom_dump"]

MAX_DUMP_BINARY = 64  # characters of a binary value shown in a dump, as dcm4che's default


def _tag_text(tag: Any) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _parse_field(spec: str) -> Any:
    """A tag from ``00080060``, ``(0008,0060)``, ``0008,0060`` or a keyword (``Modality``)."""
    from pydicom.datadict import tag_for_keyword
    from pydicom.tag import Tag

    text = spec.strip()
    hexdigits = re.sub(r"[(),\s]", "", text)
    if re.fullmatch(r"[0-9A-Fa-f]{8}", hexdigits):
        return Tag(int(hexdigits, 16))
    number = tag_for_keyword(text)
    if number is None:
        raise ValueError(f"unknown DICOM field {spec!r}: give a keyword or a GGGGEEEE tag")
    return Tag(number)


def _value_text(elem: Any) -> str:
    if elem.VR == "SQ":
        return ""
    value = elem.value
    if isinstance(value, (bytes, bytearray)):
        text = "\\".join(f"{b:02X}" for b in value[: MAX_DUMP_BINARY // 3 + 1])
        return text[:MAX_DUMP_BINARY]
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _dump_rows(dataset: Any, wanted: set[Any] | None, parent: str, rows: list[dict[str, str]]) -> None:
    for elem in dataset:
        if wanted is not None and elem.tag not in wanted:
            continue
        if elem.tag == 0x7FE00010:  # pixel data is never dumped
            continue
        tag = _tag_text(elem.tag)
        name = "" if elem.tag.is_private and elem.name.startswith("Private") else elem.name
        rows.append({"tag1": tag, "tag2": parent, "vr": str(elem.VR), "value": _value_text(elem), "desc": name})
        if elem.VR == "SQ":
            for item in elem.value:
                _dump_rows(item, None, tag, rows)


def dicom_dump(path: str | os.PathLike[str] | bytes | BinaryIO,
               fields: list[str] | str | None = None) -> list[dict[str, str]]:
    """The header of one DICOM file as XNAT's DICOM dump rows.

    Each row is ``{"tag1": "(0008,0060)", "tag2": "", "vr": "CS", "value": "MR",
    "desc": "Modality"}``: ``tag2`` is the enclosing sequence's tag for elements inside a
    sequence, multiple values are joined with ``\\``, binary values are shown as hex
    bytes (cut at 64 characters) and pixel data is left out. ``fields`` (keywords or
    ``GGGGEEEE`` tags) keeps only those top-level elements. Rows come in tag order, file
    meta information (group 0002) first.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    if isinstance(fields, str):
        fields = [fields]
    wanted = {_parse_field(f) for f in fields} if fields else None
    target: Any = io.BytesIO(path) if isinstance(path, (bytes, bytearray)) else path
    try:
        ds = pydicom.dcmread(target, stop_before_pixels=True)
    except InvalidDicomError as error:
        raise ValueError(f"not a DICOM file: {error}") from None
    except (OSError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot read DICOM header: {error}") from None
    meta = getattr(ds, "file_meta", None)
    if not len(ds) and not len(meta or ()):
        raise ValueError("not a DICOM file: no header elements could be read")
    rows: list[dict[str, str]] = []
    if meta is not None:
        _dump_rows(meta, wanted, "", rows)
    try:
        _dump_rows(ds, wanted, "", rows)
    except Exception as error:  # noqa: BLE001 - a damaged element deep in the file
        raise ValueError(f"cannot read DICOM header: {error}") from None
    return rows
