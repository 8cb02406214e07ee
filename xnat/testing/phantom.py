"""Small synthetic DICOM files: a head-like phantom, written without pydicom.

The demo study and ``xnat serve --populate`` give scans these files, so that a newcomer
has something to list, download, dump (``/data/services/dicomdump``) and preview before
they have data of their own. Each file is a valid DICOM Part 10 file (explicit VR little
endian, MR image storage, 16-bit unsigned, ``MONOCHROME2``) with the identifying tags XNAT
reads (patient, study, series, instance) and a window; its pixels are ellipses of
different brightness whose size changes from slice to slice, like a head seen in a
series of slices.
"""

from __future__ import annotations

import hashlib
import struct

__all__ = ["MR_IMAGE_STORAGE", "phantom_dicom", "uid"]

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
# Values of these VRs have a 4-byte length after two reserved bytes (PS3.5 7.1.2).
_LONG_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN"}


def uid(*parts: object) -> str:
    """A stable UID for ``parts`` (the ``2.25`` form: a UUID-sized number, PS3.5 B.2)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _element(group: int, element: int, vr: str, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        data = struct.pack("<H" if vr == "US" else "<I", value)
    elif isinstance(value, str):
        data = value.encode("ascii")
        if len(data) % 2:
            data += b"\0" if vr == "UI" else b" "
    else:
        data = value + (b"\0" if len(value) % 2 else b"")
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", group, element, vr.encode(), 0, len(data)) + data
    return struct.pack("<HH2sH", group, element, vr.encode(), len(data)) + data


def _pixels(rows: int, columns: int, slice_number: int, slices: int) -> bytes:
    """A head-like picture: a bright skull ring, darker brain, two bright ventricles."""
    depth = 1.0 - abs((slice_number - (slices + 1) / 2) / max(slices, 2)) * 0.6  # largest mid-series
    values = []
    for y in range(rows):
        dy = (y - rows / 2) / (rows / 2)
        for x in range(columns):
            dx = (x - columns / 2) / (columns / 2)
            head = (dx / (0.72 * depth)) ** 2 + (dy / (0.9 * depth)) ** 2
            brain = (dx / (0.64 * depth)) ** 2 + (dy / (0.82 * depth)) ** 2
            ventricle = min(((dx - s * 0.16) / 0.09) ** 2 + (dy / (0.3 * depth)) ** 2 for s in (-1, 1))
            if head > 1:
                value = 20 + (x * 7 + y * 3) % 11  # noise-like background
            elif brain > 1:
                value = 1600  # skull and scalp
            elif ventricle <= 1:
                value = 1400  # fluid
            else:
                value = 700 + int(200 * (1 - brain))  # brain, brighter to the centre
            values.append(value)
    return struct.pack(f"<{len(values)}H", *values)


def phantom_dicom(patient: str, study: str, series_number: int, series_description: str, slice_number: int = 1,
                  slices: int = 1, size: int = 64, study_date: str = "20210301") -> bytes:
    """One slice of a phantom series, as the bytes of a DICOM file.

    :param patient: the patient name and ID (XNAT's subject, as a scanner sends it)
    :param study: the study description and the seed of its UID (XNAT's session)
    :param series_number: the series (XNAT's scan ID)
    :param slice_number: this file's instance number, from 1 to ``slices``
    :param size: rows and columns, in pixels
    """
    if not 1 <= slice_number <= slices:
        raise ValueError(f"slice_number must be from 1 to {slices}, not {slice_number}")
    if not 8 <= size <= 512:
        raise ValueError(f"size must be from 8 to 512 pixels, not {size}")
    study_uid = uid("study", patient, study)
    series_uid = uid("series", patient, study, series_number)
    instance_uid = uid("instance", patient, study, series_number, slice_number)
    body = b"".join((
        _element(0x0008, 0x0016, "UI", MR_IMAGE_STORAGE),
        _element(0x0008, 0x0018, "UI", instance_uid),
        _element(0x0008, 0x0020, "DA", study_date),
        _element(0x0008, 0x0060, "CS", "MR"),
        _element(0x0008, 0x1030, "LO", study),
        _element(0x0008, 0x103E, "LO", series_description),
        _element(0x0010, 0x0010, "PN", patient),
        _element(0x0010, 0x0020, "LO", patient),
        _element(0x0020, 0x000D, "UI", study_uid),
        _element(0x0020, 0x000E, "UI", series_uid),
        _element(0x0020, 0x0011, "IS", str(series_number)),
        _element(0x0020, 0x0013, "IS", str(slice_number)),
        _element(0x0028, 0x0002, "US", 1),
        _element(0x0028, 0x0004, "CS", "MONOCHROME2"),
        _element(0x0028, 0x0010, "US", size),
        _element(0x0028, 0x0011, "US", size),
        _element(0x0028, 0x0100, "US", 16),
        _element(0x0028, 0x0101, "US", 16),
        _element(0x0028, 0x0102, "US", 15),
        _element(0x0028, 0x0103, "US", 0),
        _element(0x0028, 0x1050, "DS", "900"),
        _element(0x0028, 0x1051, "DS", "1800"),
        _element(0x7FE0, 0x0010, "OW", _pixels(size, size, slice_number, slices)),
    ))
    meta = b"".join((
        _element(0x0002, 0x0001, "OB", b"\0\1"),
        _element(0x0002, 0x0002, "UI", MR_IMAGE_STORAGE),
        _element(0x0002, 0x0003, "UI", instance_uid),
        _element(0x0002, 0x0010, "UI", EXPLICIT_VR_LITTLE_ENDIAN),
        _element(0x0002, 0x0012, "UI", uid("xnat", "phantom")),
    ))
    return b"\0" * 128 + b"DICM" + _element(0x0002, 0x0000, "UL", len(meta)) + meta + body
