"""A BIDS derivatives folder (fMRIPrep's, MRIQC's, ...) put back on XNAT as resources.

::

    report = upload_derivatives(session, "/data/bids/MYPROJ/derivatives/fmriprep")

``sub-<sub>/ses-<ses>/...`` goes onto the XNAT session the dataset's mapping file
(:mod:`xnat.bids.mapping`) links that ``sub-``/``ses-`` to; ``sub-<sub>/...`` outside a
``ses-`` folder, and top-level files named ``sub-<sub>...`` (reports), onto the subject.
Each lands in a resource named after the derivatives folder (``fmriprep``), or ``resource=``,
with paths kept relative to the session's (or subject's) folder. A ``sub-``/``ses-`` the
mapping does not know is listed in the report's ``skipped``, not uploaded.
Existing files are not replaced unless ``overwrite=True``. Top-level files of the
pipeline (``dataset_description.json``, logs) belong to no session: they are listed in
the report's ``outside`` and stay where they are.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import XNATValueError
from ..transfer import UploadJob
from .errors import BidsTargetError
from .mapping import MAPPING_FILE, read_mapping, session_index

__all__ = ["DerivativesReport", "find_mapping", "upload_derivatives"]

_LABEL = re.compile(r"[A-Za-z0-9._-]+")


@dataclass
class DerivativesReport:
    """Which folders went where; ``skipped`` lists what was not uploaded, with the reason."""

    uploaded: dict[str, str] = field(default_factory=dict)  #: local folder or file -> XNAT resource URI
    files: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    #: top-level files that belong to no subject (dataset_description.json, ...): left where they are
    outside: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped

    def summary(self) -> str:
        lines = [f"{self.files} files uploaded into {len(self.uploaded)} resources"]
        lines += [f"  {local} -> {uri}" for local, uri in sorted(self.uploaded.items())]
        lines += [f"  not uploaded: {local}: {why}" for local, why in sorted(self.skipped.items())]
        return "\n".join(lines)


def find_mapping(derivatives: Path) -> Path:
    """The mapping file of the dataset ``derivatives`` belongs to (``<dataset>/derivatives/<name>``).

    :raises BidsTargetError: no folder above ``derivatives`` holds one
    """
    for folder in derivatives.absolute().parents:
        candidate = folder / MAPPING_FILE
        if candidate.is_file():
            return candidate
    raise BidsTargetError(f"no {MAPPING_FILE} in a folder above {derivatives}: give the exported dataset "
                          "(dataset=) or its mapping file (mapping=)")


def upload_derivatives(session: Any, derivatives: str | os.PathLike[str], mapping: str | os.PathLike[str] | None = None,
                       resource: str | None = None, overwrite: bool = False) -> DerivativesReport:
    """Upload ``derivatives`` onto the XNAT sessions and subjects its ``sub-``/``ses-`` folders stand for.

    :raises BidsTargetError: ``derivatives`` is not a folder or no mapping file is found
    :raises XNATValueError: ``resource`` is not a usable resource label
    """
    folder = Path(derivatives)
    if not folder.is_dir():
        raise BidsTargetError(f"{folder} is not a folder")
    label = resource or folder.absolute().name
    if not _LABEL.fullmatch(label):
        raise XNATValueError(f"{label!r} cannot be a resource label: give resource= (letters, digits, . _ -)")
    rows = read_mapping(Path(mapping) if mapping is not None else find_mapping(folder))
    sessions = session_index(rows)
    subjects = {(sub, row["project"]): row["subject_id"] for (sub, _), row in sessions.items()}
    by_sub: dict[str, tuple[str, str]] = {sub: (project, subject) for (sub, project), subject in subjects.items()}
    report = DerivativesReport()
    for item in sorted(folder.iterdir()):
        if item.is_dir() and item.name.startswith("sub-"):
            _subject_folder(session, item, sessions, by_sub, label, overwrite, report)
        elif item.is_file() and item.name.startswith("sub-"):
            owner = by_sub.get(item.name[4:].split("_")[0].split(".")[0])
            if owner is None:
                report.skipped[str(item)] = "the mapping knows no such subject"
                continue
            uri = f"/data/projects/{owner[0]}/subjects/{owner[1]}"
            _upload(session, uri, label, {item.name: item}, overwrite, report, str(item))
        elif not item.name.startswith("."):
            report.outside.append(str(item))
    return report


def _subject_folder(session: Any, folder: Path, sessions: dict[tuple[str, str], dict[str, str]],
                    by_sub: dict[str, tuple[str, str]], label: str, overwrite: bool,
                    report: DerivativesReport) -> None:
    sub = folder.name[4:]
    loose: dict[str, Path] = {}
    for item in sorted(folder.iterdir()):
        if item.is_dir() and item.name.startswith("ses-"):
            row = sessions.get((sub, item.name[4:]))
            if row is None:
                report.skipped[str(item)] = "the mapping knows no such session"
                continue
            uri = f"/data/projects/{row['project']}/subjects/{row['subject_id']}/experiments/{row['experiment_id']}"
            _upload(session, uri, label, _files(item), overwrite, report, str(item))
        else:
            loose.update(_files(item, folder))
    if not loose:
        return
    owner = by_sub.get(sub)
    if owner is None:
        report.skipped[str(folder)] = "the mapping knows no such subject"
        return
    _upload(session, f"/data/projects/{owner[0]}/subjects/{owner[1]}", label, loose, overwrite, report, str(folder))


def _files(item: Path, base: Path | None = None) -> dict[str, Path]:
    """relative path -> file, of ``item`` (a file or a folder), relative to ``base`` (else to ``item``)."""
    root = base if base is not None else item
    if item.is_file():
        return {item.relative_to(root).as_posix(): item}
    return {path.relative_to(root).as_posix(): path for path in sorted(item.rglob("*"))
            if path.is_file() and not path.is_symlink()}


def _upload(session: Any, owner_uri: str, label: str, files: dict[str, Path], overwrite: bool,
            report: DerivativesReport, local: str) -> None:
    if not files:
        return
    resource_uri = f"{owner_uri}/resources/{label}"
    if session.head(resource_uri, accepted_status=[200, 404]).status_code == 404:
        session.put(resource_uri, accepted_status=[200, 201])
    jobs = [UploadJob(f"{resource_uri}/files/{relpath}", path) for relpath, path in files.items()]
    session.transferer().upload_many(jobs, overwrite=overwrite, verbose=False)
    report.uploaded[local] = resource_uri
    report.files += len(jobs)
