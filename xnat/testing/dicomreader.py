"""Read uploaded DICOM into studies, series and files, as XNAT's importer sees them.

The embedded server's ``/data/services/import`` hands the uploaded zip, tar or tar.gz (or a
folder it unpacked) to :func:`read_dicom_archive`; it gets back one :class:`Study` per
StudyInstanceUID (an XNAT image session) holding one :class:`Series` per SeriesInstanceUID
(a scan), with the header values a real XNAT copies into the session and scan fields.
(``/data/services/dicomdump`` reads one file's header with :mod:`.dicomdump`.)

Uploads are untrusted: member names with ``..``, absolute paths or links make the whole
archive refused; members that are not DICOM are listed in :attr:`DicomArchive.unparsable`
(never mixed in); an archive without any DICOM raises :class:`ValueError`. Sizes and
member counts are bounded.

pydicom (the ``dicom`` extra) is imported inside the functions that need it.
"""

from __future__ import annotations

import datetime
import io
import logging
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, Union

__all__ = [
    "DicomArchive",
    "DicomFile",
    "Series",
    "Study",
    "read_dicom_archive",
    "scan_xsi_type",
    "session_xsi_type",
]

logger = logging.getLogger(__name__)

MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 8 * 1024**3  # uncompressed; a zip bomb stops here

Source = Union[str, os.PathLike[str], bytes, bytearray, IO[bytes]]  # noqa: UP007 (a runtime alias on 3.10)

# Modality -> XNAT data type. Series of other modalities land in otherDicom types, as in XNAT.
_SESSION_TYPES = {
    "MR": "xnat:mrSessionData", "CT": "xnat:ctSessionData", "PT": "xnat:petSessionData",
    "US": "xnat:usSessionData", "CR": "xnat:crSessionData", "DX": "xnat:dxSessionData",
    "MG": "xnat:mgSessionData", "NM": "xnat:nmSessionData", "XA": "xnat:xaSessionData",
    "RF": "xnat:rfSessionData", "OP": "xnat:opSessionData", "OPT": "xnat:optSessionData",
    "ES": "xnat:esSessionData", "GM": "xnat:gmSessionData", "SM": "xnat:smSessionData",
    "IO": "xnat:ioSessionData", "XC": "xnat:xcSessionData", "ECG": "xnat:ecgSessionData",
    "EPS": "xnat:epsSessionData", "HD": "xnat:hdSessionData", "RT": "xnat:rtSessionData",
}
_SCAN_TYPES = {
    "MR": "xnat:mrScanData", "CT": "xnat:ctScanData", "PT": "xnat:petScanData",
    "US": "xnat:usScanData", "CR": "xnat:crScanData", "DX": "xnat:dxScanData",
    "MG": "xnat:mgScanData", "NM": "xnat:nmScanData", "XA": "xnat:xaScanData",
    "RF": "xnat:rfScanData", "OP": "xnat:opScanData", "OPT": "xnat:optScanData",
    "ES": "xnat:esScanData", "GM": "xnat:gmScanData", "SM": "xnat:smScanData",
    "IO": "xnat:ioScanData", "XC": "xnat:xcScanData", "ECG": "xnat:ecgScanData",
    "EPS": "xnat:epsScanData", "HD": "xnat:hdScanData", "SR": "xnat:srScanData",
    "SEG": "xnat:segScanData", "RTIMAGE": "xnat:rtImageScanData",
}
# Secondary objects never decide the session type.
_NON_IMAGING = {"SR", "PR", "KO", "REG", "SEG", "OT", "DOC", "RTSTRUCT", "RTPLAN", "RTDOSE"}


def session_xsi_type(modalities: list[str]) -> str:
    """The XNAT session type for a study with these series modalities (PET wins, as in XNAT)."""
    imaging = [m for m in modalities if m and m not in _NON_IMAGING]
    if "PT" in imaging:
        return "xnat:petmrSessionData" if "MR" in imaging else "xnat:petSessionData"
    if not imaging:
        return "xnat:otherDicomSessionData"
    dominant = max(set(imaging), key=lambda m: (imaging.count(m), m))
    return _SESSION_TYPES.get(dominant, "xnat:otherDicomSessionData")


def scan_xsi_type(modality: str) -> str:
    """The XNAT scan type for a series of this modality."""
    return _SCAN_TYPES.get(modality, "xnat:otherDicomScanData")


@dataclass
class DicomFile:
    """One DICOM file: its name in the upload and where its bytes are."""

    name: str  # relative path in the archive or folder, with "/" separators
    source: bytes | Path
    size: int
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    instance_number: int | None = None
    frames: int = 1

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name).name

    def open(self) -> BinaryIO:
        """A binary stream of the file's bytes."""
        if isinstance(self.source, Path):
            return open(self.source, "rb")
        return io.BytesIO(self.source)

    def read_bytes(self) -> bytes:
        """All the file's bytes."""
        return self.source.read_bytes() if isinstance(self.source, Path) else bytes(self.source)


@dataclass
class Series:
    """One series (an XNAT scan) and the scan fields XNAT fills from its headers."""

    series_instance_uid: str
    series_number: str = ""
    series_description: str = ""
    modality: str = ""
    sop_class_uid: str = ""
    series_date: datetime.date | None = None
    series_time: datetime.time | None = None
    protocol_name: str = ""
    body_part: str = ""
    image_type: str = ""
    manufacturer: str = ""
    model: str = ""
    field_strength: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    files: list[DicomFile] = field(default_factory=list)
    scan_id: str = ""  # unique within the study: the series number, suffixed when repeated

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def frames(self) -> int:
        """Frames over all files (NumberOfFrames, or one per file)."""
        return sum(f.frames for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def xsi_type(self) -> str:
        return scan_xsi_type(self.modality)

    @property
    def scan_type(self) -> str:
        """XNAT's default scan ``type``: the series description."""
        return self.series_description


@dataclass
class Study:
    """One study (an XNAT image session) and the session fields XNAT fills from its headers."""

    study_instance_uid: str
    study_id: str = ""
    study_description: str = ""
    accession_number: str = ""
    patient_name: str = ""
    patient_id: str = ""
    patient_sex: str = ""
    patient_birth_date: datetime.date | None = None
    patient_age: str = ""
    patient_weight: str = ""
    study_date: datetime.date | None = None
    study_time: datetime.time | None = None
    manufacturer: str = ""
    model: str = ""
    station_name: str = ""
    institution: str = ""
    operator: str = ""
    field_strength: str = ""
    series: list[Series] = field(default_factory=list)

    @property
    def modalities(self) -> list[str]:
        """The series modalities, in series order, without repeats."""
        return list(dict.fromkeys(s.modality for s in self.series if s.modality))

    @property
    def modality(self) -> str:
        """The session modality: that of the session type's main series."""
        imaging = [s.modality for s in self.series if s.modality and s.modality not in _NON_IMAGING]
        if "PT" in imaging:
            return "PT"
        if not imaging:
            return self.modalities[0] if self.modalities else ""
        return max(set(imaging), key=lambda m: (imaging.count(m), m))

    @property
    def xsi_type(self) -> str:
        return session_xsi_type([s.modality for s in self.series])

    @property
    def file_count(self) -> int:
        return sum(s.file_count for s in self.series)

    @property
    def default_subject_label(self) -> str:
        """XNAT's default subject label: the patient name, made a valid label."""
        return _label(self.patient_name)

    @property
    def default_session_label(self) -> str:
        """XNAT's default session label: the patient id, made a valid label."""
        return _label(self.patient_id)


class DicomArchive(list[Study]):
    """The studies read from an upload, plus the members that were not DICOM."""

    def __init__(self, studies: list[Study], unparsable: dict[str, str]) -> None:
        super().__init__(studies)
        self.reasons = dict(unparsable)

    @property
    def unparsable(self) -> list[str]:
        """Names of the members that are not readable DICOM, in upload order."""
        return list(self.reasons)

    @property
    def file_count(self) -> int:
        return sum(study.file_count for study in self)


def _label(text: str) -> str:
    # XNAT labels allow letters, digits, '-' and '_'; other characters become '_'.
    return re.sub(r"[^A-Za-z0-9_-]", "_", text.strip())


# --- reading members ------------------------------------------------------------------------

def _safe_name(name: str) -> str:
    """The member name as a relative POSIX path; ValueError for anything escaping the upload."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise ValueError(f"archive member {name!r} has an absolute path; refused")
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"archive member {name!r} points outside the archive ('..'); refused")
    if "\x00" in posix:
        raise ValueError(f"archive member {name!r} has a NUL character; refused")
    return "/".join(parts)


class _Budget:
    def __init__(self, max_members: int, max_bytes: int) -> None:
        self.max_members, self.max_bytes = max_members, max_bytes
        self.members = self.bytes = 0

    def take(self, size: int) -> None:
        self.members += 1
        self.bytes += size
        if self.members > self.max_members:
            raise ValueError(f"the upload has more than {self.max_members} files")
        if self.bytes > self.max_bytes:
            raise ValueError(f"the upload is larger than {self.max_bytes} bytes uncompressed")


def _read_limited(stream: IO[bytes], declared: int, name: str) -> bytes:
    data = stream.read(declared + 1)
    if len(data) != declared:
        raise ValueError(f"archive member {name!r} is not the size its header declares")
    return data


def _zip_members(archive: zipfile.ZipFile, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    for info in archive.infolist():
        name = _safe_name(info.filename)
        if info.is_dir() or not name:
            continue
        mode = (info.external_attr >> 16) & 0o170000
        if mode == 0o120000:  # a symbolic link stored by Info-ZIP
            raise ValueError(f"archive member {info.filename!r} is a symbolic link; refused")
        budget.take(info.file_size)
        with archive.open(info) as stream:
            yield name, _read_limited(stream, info.file_size, info.filename)


def _tar_members(archive: tarfile.TarFile, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    for info in archive:
        name = _safe_name(info.name)
        if info.isdir() or not name:
            continue
        if not info.isfile():
            raise ValueError(f"archive member {info.name!r} is a link or special file; refused")
        budget.take(info.size)
        stream = archive.extractfile(info)
        if stream is None:  # pragma: no cover - isfile() members always have data
            continue
        with stream:
            yield name, _read_limited(stream, info.size, info.name)


def _folder_members(root: Path, budget: _Budget, unparsable: dict[str, str]) -> Iterator[tuple[str, Path]]:
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs.sort()
        for filename in sorted(files):
            path = Path(directory, filename)
            name = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file():
                unparsable[name] = "not a regular file (link or special file)"
                continue
            budget.take(path.stat().st_size)
            yield name, path


def _looks_like_zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _open_stream(source: Source) -> tuple[IO[bytes], bool]:
    """A seekable binary stream of the upload, and whether we must close it."""
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True
    if not hasattr(source, "read"):
        raise ValueError(f"cannot read DICOM from a {type(source).__name__}")
    try:
        seekable = source.seekable()
    except (AttributeError, OSError):
        seekable = False
    if seekable:
        return source, False
    # zip needs to seek: spool a one-way stream (request bodies) to disk past 64 MB
    spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 -- closed by its owner
    shutil.copyfileobj(source, spool)
    spool.seek(0)
    return spool, True


def _members(source: Source, filename: str | None, budget: _Budget,
             unparsable: dict[str, str]) -> Iterator[tuple[str, bytes | Path]]:
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        yield from _folder_members(Path(source), budget, unparsable)
        return
    stream, owned = _open_stream(source)
    try:
        start = stream.tell()
        head = stream.read(512)
        stream.seek(start)
        if _looks_like_zip(head):
            try:
                archive = zipfile.ZipFile(stream)
            except zipfile.BadZipFile as error:
                raise ValueError(f"{filename or 'the upload'} is not a readable zip: {error}") from None
            with archive:
                yield from _zip_members(archive, budget)
            return
        try:
            tar = tarfile.open(fileobj=stream, mode="r:*")  # noqa: SIM115 -- closed by its owner
        except (tarfile.TarError, EOFError, OSError):
            tar = None
        if tar is not None:
            with tar:
                try:
                    yield from _tar_members(tar, budget)
                except (tarfile.TarError, EOFError, OSError, zipfile.BadZipFile) as error:
                    raise ValueError(f"{filename or 'the upload'} is a damaged tar archive: {error}") from None
            return
        stream.seek(start)
        data = stream.read(budget.max_bytes + 1)
        budget.take(len(data))
        # Not an archive: a single file, which may itself be DICOM (gradual upload).
        yield PurePosixPath((filename or "").replace("\\", "/")).name or "upload.dcm", data
    finally:
        if owned:
            stream.close()


# --- reading headers ------------------------------------------------------------------------

def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _date(text: str) -> datetime.date | None:
    text = text.strip().replace(".", "").replace("-", "")  # old ACR-NEMA writes YYYY.MM.DD
    try:
        return datetime.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def _time(text: str) -> datetime.time | None:
    text = text.strip().replace(":", "")
    match = re.match(r"^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?", text)
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        return datetime.time(int(hour), int(minute or 0), int(second or 0), int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None


def _read_header(data: bytes | Path) -> tuple[Any, str]:
    """The header of one file and "", or None and why XNAT could not sort it."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    def read(force: bool) -> Any:
        target = data if isinstance(data, Path) else io.BytesIO(data)
        return pydicom.dcmread(target, stop_before_pixels=True, force=force)

    try:
        ds = read(False)
    except InvalidDicomError:
        # Files without the 128-byte preamble start straight with group 0002 or 0008.
        if isinstance(data, Path):
            with open(data, "rb") as stream:
                head = stream.read(2)
        else:
            head = data[:2]
        if head not in (b"\x02\x00", b"\x08\x00"):
            return None, "not a DICOM file"
        try:
            ds = read(True)
        except Exception:  # noqa: BLE001 - anything pydicom raises means "not DICOM"
            return None, "not a DICOM file"
    except Exception:  # noqa: BLE001
        return None, "not a DICOM file (damaged header)"
    try:
        if not _text(ds, "StudyInstanceUID") or not _text(ds, "SeriesInstanceUID"):
            return None, "DICOM without a Study or Series Instance UID"
    except Exception:  # noqa: BLE001 - a forced read of garbage fails on first access
        return None, "not a DICOM file (damaged header)"
    return ds, ""


MR_PARAMETERS = {
    "tr": "RepetitionTime", "te": "EchoTime", "ti": "InversionTime", "flip": "FlipAngle",
    "sequence": "SequenceName", "scanSequence": "ScanningSequence", "seqVariant": "SequenceVariant",
    "scanOptions": "ScanOptions", "acqType": "MRAcquisitionType", "sliceThickness": "SliceThickness",
    "pixelSpacing": "PixelSpacing", "rows": "Rows", "columns": "Columns", "coil": "ReceiveCoilName",
}


def _new_series(ds: Any) -> Series:
    parameters = {name: _text(ds, keyword) for name, keyword in MR_PARAMETERS.items() if _text(ds, keyword)}
    return Series(
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_text(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        modality=_text(ds, "Modality"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        series_date=_date(_text(ds, "SeriesDate")),
        series_time=_time(_text(ds, "SeriesTime") or _text(ds, "AcquisitionTime")),
        protocol_name=_text(ds, "ProtocolName"),
        body_part=_text(ds, "BodyPartExamined"),
        image_type=_text(ds, "ImageType"),
        manufacturer=_text(ds, "Manufacturer"),
        model=_text(ds, "ManufacturerModelName"),
        field_strength=_text(ds, "MagneticFieldStrength"),
        parameters=parameters,
    )


def _new_study(ds: Any) -> Study:
    return Study(
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        study_id=_text(ds, "StudyID"),
        study_description=_text(ds, "StudyDescription"),
        accession_number=_text(ds, "AccessionNumber"),
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        patient_sex=_text(ds, "PatientSex"),
        patient_birth_date=_date(_text(ds, "PatientBirthDate")),
        patient_age=_text(ds, "PatientAge"),
        patient_weight=_text(ds, "PatientWeight"),
        # XNAT falls back to the series and acquisition dates when the study has none
        study_date=_date(_text(ds, "StudyDate") or _text(ds, "SeriesDate") or _text(ds, "AcquisitionDate")),
        study_time=_time(_text(ds, "StudyTime") or _text(ds, "SeriesTime") or _text(ds, "AcquisitionTime")),
        manufacturer=_text(ds, "Manufacturer"),
        model=_text(ds, "ManufacturerModelName"),
        station_name=_text(ds, "StationName"),
        institution=_text(ds, "InstitutionName"),
        operator=_text(ds, "OperatorsName"),
        field_strength=_text(ds, "MagneticFieldStrength"),
    )


def _int(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None


def _series_order(series: Series) -> int:
    # by series number; the sort is stable, so ties keep upload order
    number = _int(series.series_number)
    return number if number is not None else 1 << 30


def _assign_scan_ids(study: Study) -> None:
    # XNAT uses the series number as scan ID; a number shared by several series gets a suffix.
    used: set[str] = set()
    for series in study.series:
        base = series.series_number or "0"
        candidate, k = base, 1
        while candidate in used:
            candidate = f"{base}-{k}"
            k += 1
        series.scan_id = candidate
        used.add(candidate)


def read_dicom_archive(
    source: Source,
    filename: str | None = None,
    *,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_TOTAL_BYTES,
) -> DicomArchive:
    """Read a zip, tar, tar.gz, folder or single file of DICOM into studies.

    ``source`` is a path (file or folder), bytes, or a binary stream; ``filename`` names the
    upload in messages. Files from archives are kept in memory (``DicomFile.source`` is
    bytes); files in a folder are referenced by path. Raises ValueError when the upload is
    unsafe (``..``, absolute paths, links), damaged, too large, or holds no DICOM at all.
    """
    budget = _Budget(max_members, max_bytes)
    unparsable: dict[str, str] = {}
    studies: dict[str, Study] = {}
    series_by_uid: dict[tuple[str, str], Series] = {}
    seen = 0
    for name, data in _members(source, filename, budget, unparsable):
        seen += 1
        ds, reason = _read_header(data)
        if ds is None:
            unparsable[name] = reason
            continue
        study_uid, series_uid = _text(ds, "StudyInstanceUID"), _text(ds, "SeriesInstanceUID")
        study = studies.get(study_uid)
        if study is None:
            study = studies[study_uid] = _new_study(ds)
        series = series_by_uid.get((study_uid, series_uid))
        if series is None:
            series = series_by_uid[(study_uid, series_uid)] = _new_series(ds)
            study.series.append(series)
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        series.files.append(DicomFile(
            name=name,
            source=data,
            size=size,
            sop_instance_uid=_text(ds, "SOPInstanceUID"),
            sop_class_uid=_text(ds, "SOPClassUID"),
            instance_number=_int(_text(ds, "InstanceNumber")),
            frames=max(_int(_text(ds, "NumberOfFrames")) or 1, 1),
        ))
    what = filename or (str(source) if isinstance(source, (str, os.PathLike)) else "the upload")
    if not studies:
        if not seen and not unparsable:
            raise ValueError(f"{what} holds no files")
        raise ValueError(f"{what} holds no DICOM: none of its {seen or len(unparsable)} file(s) could be read as DICOM")
    for study in studies.values():
        study.series.sort(key=_series_order)
        for series in study.series:
            series.files.sort(key=lambda f: (f.instance_number if f.instance_number is not None else 1 << 30, f.name))
        _assign_scan_ids(study)
    if unparsable:
        logger.info("%s: %d file(s) are not DICOM: %s", what, len(unparsable), ", ".join(list(unparsable)[:10]))
    return DicomArchive(list(studies.values()), unparsable)
