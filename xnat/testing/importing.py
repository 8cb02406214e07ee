"""DICOM into the embedded server: stage a study in the prearchive, then archive it.

This is what ``/data/services/import`` and ``/data/services/archive`` share, kept apart
from HTTP. As in XNAT, every import passes through the prearchive: :func:`stage` writes a
study's files under ``prearchive/P/TS/FOLDER/SCANS/{scan}/DICOM`` and records the session
and scan fields read from the headers; :func:`commit` turns a staged session into an
archived one (subject, experiment, scans, ``DICOM`` resources and their catalogued files)
in **one** database transaction, copying the files first and removing them again if
anything fails, so the archive never holds half a session.

Only fields the served schema knows are filled, so the same code serves the compact
default schema set and the real one.
"""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dicomreader import Series, Study
from .prearchive_store import PrearchiveSession, PrearchiveStore
from .store import now_string

__all__ = ["ImportError_", "Target", "commit", "merge", "scan_fields", "session_fields", "stage"]

logger = logging.getLogger(__name__)

OVERWRITE = ("none", "append", "delete")
# XNAT's own messages for an upload into a session that exists (PrearcSessionArchiver)
PRE_EXISTS = "Session already exists, retry with overwrite enabled"
MODALITY_MOD = "Invalid modification of session modality via archive process.  Data may require a manual merge."
SUBJECT_MOD = "Invalid modification of session subject via archive process."


class ImportError_(Exception):
    """An import or archive step refused: ``status`` and ``reason`` are the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Target:
    """Where a session goes: project ID, subject label, session label."""

    project: str
    subject: str
    label: str


def _iso(value: datetime.date | datetime.time | None) -> str:
    return value.isoformat() if value is not None else ""


def _known(app: Any, xsi_type: str, values: dict[str, str]) -> dict[str, str]:
    """The non-empty values whose path the served schema has for ``xsi_type``."""
    return {path: value for path, value in values.items()
            if value not in ("", None) and app.datatypes.field(xsi_type, path) is not None}


def session_fields(app: Any, study: Study) -> dict[str, str]:
    """The session fields XNAT fills from a study's headers."""
    values = {
        "time": _iso(study.study_time), "modality": study.modality, "UID": study.study_instance_uid,
        "scanner": study.station_name, "scanner/manufacturer": study.manufacturer, "scanner/model": study.model,
        "operator": study.operator, "acquisition_site": study.institution, "session_type": study.study_description,
        "study_id": study.study_id, "dcmAccessionNumber": study.accession_number,
        "dcmPatientId": study.patient_id, "dcmPatientName": study.patient_name,
        "dcmPatientBirthDate": _iso(study.patient_birth_date), "fieldStrength": study.field_strength,
    }
    return _known(app, study.xsi_type, values)


def _parameters(series: Series) -> dict[str, str]:
    params = {f"parameters/{k}": v for k, v in series.parameters.items()
              if k not in ("pixelSpacing", "sliceThickness", "rows", "columns")}
    spacing = series.parameters.get("pixelSpacing", "").split("\\")
    if len(spacing) == 2:
        params["parameters/voxelRes/x"], params["parameters/voxelRes/y"] = spacing[1], spacing[0]
    if series.parameters.get("sliceThickness"):
        params["parameters/voxelRes/z"] = series.parameters["sliceThickness"]
    if series.parameters.get("columns"):
        params["parameters/fov/x"] = series.parameters["columns"]
    if series.parameters.get("rows"):
        params["parameters/fov/y"] = series.parameters["rows"]
    return params


def scan_fields(app: Any, series: Series) -> dict[str, str]:
    """The scan fields XNAT fills from a series' headers."""
    values = {
        "type": series.scan_type, "series_description": series.series_description, "UID": series.series_instance_uid,
        "frames": str(series.frames), "modality": series.modality, "quality": "usable",
        "startTime": _iso(series.series_time), "scanner/manufacturer": series.manufacturer,
        "scanner/model": series.model, "fieldStrength": series.field_strength, "bodyPartExamined": series.body_part,
        "protocolName": series.protocol_name, **_parameters(series),
    }
    return _known(app, series.xsi_type, values)


def file_names(series: Series, by_uid: bool = False) -> list[str | None]:
    """Names for a series' files in its resource, as XNAT's ``GradualDicomImporter.getSafeFile``
    picks them: the uploaded base name (``by_uid``: ``{SOPInstanceUID}.dcm``, the file namer's);
    a name already taken by another object gets the namer's name instead, and a second copy of
    the same object (same name, same SOP Instance UID) is None: it is stored once."""
    names: list[str | None] = []
    owners: dict[str, str] = {}  # name -> SOP Instance UID of the file stored under it
    for dicom in series.files:
        uid = dicom.sop_instance_uid
        name = f"{uid}.dcm" if by_uid and uid else dicom.basename
        if name in owners and uid and owners[name] == uid:
            names.append(None)
            continue
        if name in owners and uid:
            name = f"{uid}.dcm"
        name = _free(name, owners)
        owners[name] = uid
        names.append(name)
    return names


def _free(name: str, used: dict[str, str]) -> str:
    """``name``, or ``name-1``, ``name-2``... (before the extension) if that is taken (files
    with no SOP Instance UID, or one UID under two names)."""
    if name not in used:
        return name
    stem, dot, ext = name.rpartition(".")
    base, ext = (stem, dot + ext) if dot else (name, "")
    k = 1
    while f"{base}-{k}{ext}" in used:
        k += 1
    return f"{base}-{k}{ext}"


def stage(app: Any, pre: PrearchiveStore, study: Study, target: Target, owner: str,
          by_uid: bool = False) -> PrearchiveSession:
    """Write one study into the prearchive (status READY); nothing is left if it fails."""
    with app.store.transaction() as conn:  # reserve the timestamp under the write lock
        timestamp = pre.free_timestamp(conn, target.project, target.label)
        session = PrearchiveSession(
            project=target.project, timestamp=timestamp, folder_name=target.label, name=target.label,
            subject=target.subject, status="RECEIVING", uploaded=now_string(), lastmod=now_string(),
            scan_date=_iso(study.study_date), scan_time=_iso(study.study_time), tag=study.study_instance_uid,
            xsi_type=study.xsi_type, fields=session_fields(app, study), owner=owner)
        pre.insert(conn, session)
    try:
        for series in study.series:
            folder = pre.scan_folder(session, series.scan_id)
            stored = []
            for dicom, name in zip(series.files, file_names(series, by_uid)):
                if name is None:  # the same object twice in the upload
                    continue
                with dicom.open() as stream:
                    f = pre.files.write(folder, name, stream)
                stored.append({"path": f.path, "size": f.size, "md5": f.md5})
            session.scans.append({"id": series.scan_id, "xsi_type": series.xsi_type,
                                  "fields": scan_fields(app, series), "resource": "DICOM", "files": stored})
        pre.mark_ready(session, session.scans)
    except BaseException:
        pre.remove(session)
        raise
    return session


def merge(app: Any, pre: PrearchiveStore, session: PrearchiveSession, study: Study) -> PrearchiveSession:
    """Add a study's files to a prearchive session of the same study (gradual uploads).

    A file of a series already there replaces the file of that name; new series become new
    scans. A write failure leaves the session's record as it was (files written so far
    are taken back).
    """
    written: list[Path] = []
    scans = [dict(s, files=list(s["files"])) for s in session.scans]
    try:
        for series in study.series:
            uid = series.series_instance_uid
            scan = next((s for s in scans if s["fields"].get("UID") == uid), None)
            if scan is None:
                used = {s["id"] for s in scans}
                scan_id, k = series.scan_id, 1
                while scan_id in used:
                    scan_id, k = f"{series.scan_id}-{k}", k + 1
                scan = {"id": scan_id, "xsi_type": series.xsi_type, "fields": scan_fields(app, series),
                        "resource": "DICOM", "files": []}
                scans.append(scan)
            folder = pre.scan_folder(session, scan["id"], scan.get("resource", "DICOM"))
            for dicom, name in zip(series.files, file_names(series, by_uid=True)):
                if name is None:  # the same object twice in the upload
                    continue
                target = pre.files.path_of(folder, name)
                if not target.exists():
                    written.append(target)
                with dicom.open() as stream:
                    f = pre.files.write(folder, name, stream)
                scan["files"] = [x for x in scan["files"] if x["path"] != f.path] + [
                    {"path": f.path, "size": f.size, "md5": f.md5}]
            scan["fields"]["frames"] = str(len(scan["files"]))
        pre.mark_ready(session, scans)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return session


# -- archiving ------------------------------------------------------------------------------

def _subject(conn: sqlite3.Connection, app: Any, project: str, label: str, login: str) -> str:
    """The ID of subject ``label`` in ``project`` (own or shared label), made if missing."""
    archive = app.backend.archive
    found: str | None = archive.id_by_label(conn, "subject", project, label)
    if found is not None:
        return found
    new_id: str = archive.insert_subject(conn, project, label, "xnat:subjectData", {}, login)
    return new_id


def commit(app: Any, pre: PrearchiveStore, session: PrearchiveSession, target: Target, overwrite: str,
           login: str, status: str | None = None) -> tuple[str, str]:
    """Archive a staged session; returns (subject ID, experiment ID).

    ``overwrite``: ``none`` (409 when the label is taken), ``append`` (add scans and files to
    the existing session), ``delete`` (replace the existing session's scans). ``status``: the
    status the archived session is left in (None: as it was; a new one is active). Raises
    :class:`ImportError_`; on any failure the archive is as before.
    """
    if overwrite not in OVERWRITE:
        raise ImportError_(400, f"Invalid overwrite value {overwrite!r}: use one of {', '.join(OVERWRITE)}")
    copied: list[Path] = []
    replaced: list[str] = []
    try:
        with app.store.transaction() as conn:
            subject_id = _subject(conn, app, target.project, target.subject, login)
            row = app.backend.archive.by_own_label(conn, "experiment", target.project, target.label)
            if row is not None:
                _check_merge(row, session, target, subject_id, overwrite)
                experiment_id = row["id"]
                if overwrite == "delete":  # the session's scans go; their folders are pruned below
                    replaced += app.backend.archive.drop_scans(conn, experiment_id)
                merged = {**_loads(row["fields"]), **session.fields}
                app.backend.archive.set_fields(conn, "experiment", experiment_id, merged)
            else:
                experiment_id = app.backend.archive.insert_experiment(
                    conn, target.project, subject_id, None, target.label, session.xsi_type, session.scan_date,
                    session.fields, login)
            for scan in session.scans:
                _commit_scan(app, pre, conn, session, target.project, experiment_id, scan, copied)
            if status is not None:
                app.backend.archive.set_status(conn, experiment_id, status)
    except BaseException:
        for path in copied:  # the rows rolled back: take back the files written for them
            path.unlink(missing_ok=True)
        raise
    for folder in replaced:  # files of scans replaced by overwrite=delete and not rewritten
        _prune(app, folder, copied)
    return subject_id, experiment_id


def _check_merge(row: sqlite3.Row, session: PrearchiveSession, target: Target, subject_id: str,
                 overwrite: str) -> None:
    """409 with XNAT's words (``PrearcSessionArchiver.checkForConflicts``, in its order) when an
    upload may not go into the existing session ``row``."""
    if overwrite == "none":
        raise ImportError_(409, PRE_EXISTS)
    if row["xsi_type"] != session.xsi_type:
        raise ImportError_(409, MODALITY_MOD)
    if row["subject_id"] != subject_id:
        raise ImportError_(409, f"{SUBJECT_MOD}: {target.label} Already Exists for another Subject")


def _loads(text: str) -> dict[str, Any]:
    return json.loads(text) if text else {}


def _commit_scan(app: Any, pre: PrearchiveStore, conn: sqlite3.Connection, session: PrearchiveSession,
                 project: str, experiment_id: str, scan: dict[str, Any], copied: list[Path]) -> None:
    archive, resources = app.backend.archive, app.backend.resources
    row = archive.scan_by_id(conn, experiment_id, scan["id"])
    if row is None:
        pk = archive.insert_child(conn, "scan", experiment_id, scan["id"], scan["xsi_type"], scan["fields"])
    else:
        pk = row["pk"]
        archive.set_fields(conn, "scan", pk, {**_loads(row["fields"]), **scan["fields"]})
    label = scan.get("resource", "DICOM")
    res = resources.by_label(conn, "scan", str(pk), "", label)
    if res is None:
        folder_rel = f"{project}/arc001/{experiment_id}/SCANS/{pk}/{label}"
        res_pk = resources.insert_in(conn, "scan", str(pk), "", label, "xnat:resourceCatalog",
                                     {"format": "DICOM", "content": "RAW"}, folder_rel)
    else:
        res_pk, folder_rel = res["pk"], res["folder"]
    folder = app.files.resource_dir(*folder_rel.split("/"))
    now = time.time()
    for f in scan["files"]:
        source = pre.file_path(session, scan["id"], label, f["path"])
        target = app.files.path_of(folder, f["path"])
        existed = target.exists()
        with open(source, "rb") as stream:
            app.files.write(folder, f["path"], stream, f["size"])
        if not existed:
            copied.append(target)
        resources.catalogue_in(conn, res_pk, f["path"], f["size"], f["md5"], {"format": "DICOM"}, now)


def _prune(app: Any, folder_rel: str, keep: list[Path]) -> None:
    folder = app.files.root / folder_rel
    if not folder.exists() or any(folder in p.parents for p in keep):
        return
    shutil.rmtree(folder, ignore_errors=True)
