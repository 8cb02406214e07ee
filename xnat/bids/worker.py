"""One XNAT session exported: sources listed, downloaded, converted, matched and moved in whole.

:func:`export_session` is what runs on an executor's worker (a thread, a process, a Dask
worker) for one :class:`SessionTask`. It lists the session's scans and the files of their
DICOM (or NIfTI) resources; if the session's record says it was exported from these very
files with this configuration, it stops there. Otherwise it downloads each scan's files
(verified, in parallel, through the transfer layer) into the dataset's staging folder,
converts each series with dcm2niix, matches the sidecars to the configuration, lays the
session out under the staging folder and moves it into the dataset in one rename. A series
dcm2niix cannot convert is reported and the others go on; a session that cannot be laid
out (two series for one name with ``"duplicates": "error"``) is not written at all.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .convert import ConversionFailed, Series, find_dcm2niix, read_series, run_dcm2niix
from .errors import BidsToolMissing
from .layout import install_session, remove_session, staging_folder
from .plan import Candidate, Placement, plan_session, sidecar_changes
from .state import id_filename, is_current, read_record, session_digest, write_record

__all__ = ["SessionTask", "export_session"]

logger = logging.getLogger(__name__)
_NIFTI = (".nii", ".nii.gz")


@dataclass(frozen=True)
class SessionTask:
    """Everything one worker needs for one session (it pickles: the experiment travels as a recipe)."""

    experiment: Any
    target: str
    config: Config
    sub: str
    ses: str
    project: str
    subject_id: str
    subject_label: str
    participant: dict[str, Any]
    acq_time: str | None
    dcm2niix: str | None
    timeout: float

    @property
    def xnat_session(self) -> Any:
        """The experiment's session (the executors put a request bound in front of it)."""
        return self.experiment.xnat_session


@dataclass(frozen=True)
class _Source:
    scan_id: str
    scan_type: str
    resource: str | None  # None: the scan has no resource to export from
    kind: str  # "dicom" or "nifti"
    files_url: str
    files: dict[str, tuple[int | None, str | None]]

    def digestible(self) -> dict[str, Any]:
        return {"scan": self.scan_id, "type": self.scan_type, "resource": self.resource, "kind": self.kind,
                "files": sorted([path, size, md5] for path, (size, md5) in self.files.items())}


def export_session(task: SessionTask) -> dict[str, Any]:
    """Export one session; returns its summary (JSON-safe): ``status`` is ``converted`` or ``unchanged``."""
    experiment = task.experiment
    target = Path(task.target)
    transferer = experiment.xnat_session.transferer()
    scans = experiment.scans
    scans.clearcache()  # the scans as they are now: a scan added since the last listing counts
    sources = [_source(scan, task.config, transferer) for scan in scans.values()]
    digest = session_digest([s.digestible() for s in sources], task.config.digest)
    previous = read_record(target, experiment.id)
    if is_current(previous, digest, target):
        return _summary(experiment.id, "unchanged", previous or {}, 0)
    staging = staging_folder(target, id_filename(experiment.id))
    try:
        candidates, failed = _convert_all(sources, task, transferer, staging)
        plan = plan_session(candidates, task.config, task.sub, task.ses)
        files = _lay_out(plan.placements, staging / "session", task)
        if files:
            install_session(staging / "session", target, task.sub, task.ses)
        else:
            remove_session(target, task.sub, task.ses)
        unmatched = plan.unmatched + [{"scan_id": s.scan_id, "scan_type": s.scan_type, "series": "",
                                       "SeriesDescription": "", "reason": "no DICOM or NIfTI resource"}
                                      for s in sources if s.resource is None]
        record = _record(task, digest, files, unmatched, failed)
        write_record(target, record)
        return _summary(experiment.id, "converted", record, sum(1 for s in sources if s.kind == "dicom"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _source(scan: Any, config: Config, transferer: Any) -> _Source:
    """Where a scan's images come from: the NIfTI resource when the configuration names one
    and the scan has images in it, else the DICOM resource."""
    resources = scan.resources
    resources.clearcache()
    labels = {str(resource.label): resource for resource in resources.values()}
    scan_type = str(scan.type or "")
    if config.nifti_resource and config.nifti_resource in labels:
        url = f"{scan.uri}/resources/{config.nifti_resource}/files"
        files = transferer.list_files(url)
        if any(path.endswith(_NIFTI) for path in files):
            return _Source(str(scan.id), scan_type, config.nifti_resource, "nifti", url, files)
    if config.dicom_resource in labels:
        url = f"{scan.uri}/resources/{config.dicom_resource}/files"
        return _Source(str(scan.id), scan_type, config.dicom_resource, "dicom", url, transferer.list_files(url))
    return _Source(str(scan.id), scan_type, None, "none", "", {})


def _convert_all(sources: list[_Source], task: SessionTask, transferer: Any,
                 staging: Path) -> tuple[list[Candidate], list[dict[str, str]]]:
    candidates: list[Candidate] = []
    failed: list[dict[str, str]] = []
    for number, source in enumerate(s for s in sources if s.resource is not None):
        folder = staging / "scans" / f"{number:04d}"
        try:
            for series in _series_of(source, task, transferer, folder):
                candidates.append(Candidate(source.scan_id, source.scan_type, series, source.kind))
        except (ConversionFailed, BidsToolMissing) as error:
            logger.warning("scan %s of %s not converted: %s", source.scan_id, task.experiment.id, error)
            failed.append({"scan_id": source.scan_id, "scan_type": source.scan_type, "reason": str(error)})
    return candidates, failed


def _series_of(source: _Source, task: SessionTask, transferer: Any, folder: Path) -> list[Series]:
    downloaded = folder / "files"
    if source.kind == "nifti":
        # only the images and their companions, flat: a pipeline's resource may hold more
        transferer.download_tree(source.files_url, downloaded, verbose=False,
                                 rename=lambda path: path.rsplit("/", 1)[-1] if _image_file(path) else None)
        return read_series(downloaded)
    transferer.download_tree(source.files_url, downloaded, verbose=False)
    program = task.dcm2niix if task.dcm2niix and os.path.isfile(task.dcm2niix) else find_dcm2niix()
    # dcm2niix reads % in a name as a field of the DICOM: the name keeps letters and digits only
    name = "scan" + re.sub(r"[^A-Za-z0-9]", "_", source.scan_id)
    return run_dcm2niix(program, downloaded, folder / "nifti", name, task.timeout, task.config.dcm2niix_options)


def _image_file(path: str) -> bool:
    return path.endswith((*_NIFTI, ".json", ".bval", ".bvec"))


def _lay_out(placements: list[Placement], folder: Path, task: SessionTask) -> list[dict[str, str]]:
    """Move the placed series into ``folder`` under their BIDS names; the files' record entries."""
    files = []
    for placement in placements:
        series = placement.candidate.series
        for extension, path in series.files().items():
            destination = folder / f"{placement.relstem}{extension}"
            destination.parent.mkdir(parents=True, exist_ok=True)
            if extension == ".json":
                sidecar = {**series.sidecar, **sidecar_changes(placement, placements, task.config, task.sub, task.ses)}
                destination.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
            else:
                os.replace(path, destination)
            files.append({"path": f"sub-{task.sub}/ses-{task.ses}/{placement.relstem}{extension}",
                          "scan_id": placement.candidate.scan_id, "scan_type": placement.candidate.scan_type,
                          "source": placement.candidate.source})
    return files


def _record(task: SessionTask, digest: str, files: list[dict[str, str]], unmatched: list[dict[str, str]],
            failed: list[dict[str, str]]) -> dict[str, Any]:
    experiment = task.experiment
    return {
        "experiment_id": str(experiment.id), "experiment_label": str(experiment.label), "project": task.project,
        "subject_id": task.subject_id, "subject_label": task.subject_label, "sub": task.sub, "ses": task.ses,
        "participant": task.participant, "acq_time": task.acq_time, "digest": digest, "files": files,
        "unmatched": unmatched, "failed": failed,
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _summary(experiment_id: str, status: str, record: dict[str, Any], converted: int) -> dict[str, Any]:
    return {"experiment_id": str(experiment_id), "status": status, "files": len(record.get("files", [])),
            "series_converted": converted, "unmatched": record.get("unmatched", []),
            "failed": record.get("failed", [])}
