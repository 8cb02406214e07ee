"""``export_bids``: a project, subject or session of XNAT written as a BIDS dataset, incrementally.

::

    report = project.export_bids("/data/bids/MYPROJ", config="dcm2bids_config.json",
                                 participant_fields=["gender", "age"], dates=False)
    print(report.summary())

The walk of subjects and sessions and every decision that needs the whole dataset (which
``sub-``/``ses-`` labels, whether the target may be written) stay on the caller; each
session is exported by :func:`xnat.bids.worker.export_session` on the executors of
``map`` (:mod:`xnat.services.executors`: threads by default, ``"processes"``, an
Executor or a Dask client), with the map's progress bar. The session records the workers
write (:mod:`xnat.bids.state`) are the resumable log: a second run converts only the
sessions that are new or whose scans or files changed, and retries those that failed.
At the end the dataset-level files and the mapping file are written from all records.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import XNATValueError
from ..services import executors
from ..services.mapresults import MapProgress
from .config import Config, load_config
from .convert import TIMEOUT, find_dcm2niix
from .entities import sanitise
from .errors import BidsLabelError, BidsToolMissing
from .layout import check_target, exclusive, remove_session, remove_subject, source_url, write_dataset_files
from .mapping import write_mapping
from .participants import bids_columns, participant_values, participants_rows
from .state import read_records, remove_record
from .worker import SessionTask, export_session

__all__ = ["ExportReport", "export_bids"]

logger = logging.getLogger(__name__)
#: What a ``sub-``/``ses-`` value is once sanitised (:func:`xnat.bids.entities.sanitise`).
_ENTITY = re.compile(r"[A-Za-z0-9]+")


@dataclass
class ExportReport:
    """What an export did. ``ok`` is false when a session or a series failed; series that no
    description matches are listed in ``unmatched`` (often on purpose: a localizer) and do not count."""

    target: Path
    converted: list[str] = field(default_factory=list)        #: experiment IDs written by this run
    unchanged: list[str] = field(default_factory=list)        #: experiment IDs already current
    failed_sessions: dict[str, str] = field(default_factory=dict)  #: experiment ID -> why it was not written
    unmatched: list[dict[str, str]] = field(default_factory=list)  #: series no (or several) descriptions match
    failed_series: list[dict[str, str]] = field(default_factory=list)  #: series dcm2niix could not convert
    series_converted: int = 0                                  #: scans run through dcm2niix by this run
    gone: list[str] = field(default_factory=list)              #: exported before, no longer in the project
    pruned: list[str] = field(default_factory=list)            #: of ``gone``, removed from the dataset (``prune``)
    files: int = 0                                             #: files in the dataset's mapping

    @property
    def ok(self) -> bool:
        return not (self.failed_sessions or self.failed_series)

    def summary(self) -> str:
        """The report as lines of text, for a person."""
        head = (f"{self.target}: {len(self.converted)} sessions converted, {len(self.unchanged)} unchanged, "
                f"{len(self.failed_sessions)} failed; {self.files} files in the dataset")
        lines = [head]
        lines += [f"  session {key} not written: {why}" for key, why in sorted(self.failed_sessions.items())]
        lines += [f"  session {key} is no longer in the project; "
                  f"{'removed from the dataset' if key in self.pruned else 'its files stay in the dataset'}"
                  for key in self.gone]
        lines += [f"  series not converted: {item['experiment_id']} scan {item['scan_id']} ({item['scan_type']}): "
                  f"{item['reason']}" for item in self.failed_series]
        lines += [f"  series not exported: {item['experiment_id']} scan {item['scan_id']} ({item['scan_type']}) "
                  f"{item.get('series', '')}: {item['reason']}" for item in self.unmatched]
        return "\n".join(lines)


def export_bids(root: Any, target: str | os.PathLike[str], config: str | os.PathLike[str] | dict[str, Any] | Config,
                participant_fields: Sequence[str] = (), dates: bool = False, executor: Any = "threads",
                workers: int | None = 4, progress: bool | None = None, max_requests: int | None = None,
                timeout: float = TIMEOUT, prune: bool = False) -> ExportReport:
    """Export ``root`` (a project, subject or image session) into the BIDS dataset at ``target``.

    ``config``: a dcm2bids 3 configuration (path, dict or :class:`~xnat.bids.config.Config`);
    ``participant_fields``: subject fields for ``participants.tsv`` (``gender`` as ``sex``,
    ``age``/``yob``/``dob`` as ``age``, ``handedness``, others by their XNAT name: see
    :mod:`xnat.bids.participants`); ``dates``: put session dates in ``sessions.tsv``;
    ``prune``: sessions exported before and since deleted from the project are removed from
    the dataset (their files, mapping rows, ``sessions.tsv`` rows and records; a subject
    left without sessions goes too); without it they are only reported (``gone``).

    :raises BidsConfigError: the configuration is wrong
    :raises BidsTargetError: ``target`` holds something else than this project's export
    :raises BidsToolMissing: dcm2niix is not installed (``pip install "xnat[bids]"``)
    :raises XNATValueError: ``prune`` on a subject or a session (only a whole project says which are gone)
    """
    checked = config if isinstance(config, Config) else load_config(config)
    executors.check_executor(executor, workers)
    project = _project_of(root)
    if prune and root is not project:
        raise XNATValueError("prune needs the export of a whole project: a subject or session cannot tell "
                             "which sessions were deleted")
    session = root.xnat_session
    source = source_url(str(session.server), str(project.id))
    folder = Path(target).absolute()
    check_target(folder, source)
    program = _converter(checked)
    report = ExportReport(folder)
    with exclusive(folder):
        tasks = _tasks(root, project, folder, checked, list(participant_fields), dates, program, timeout, report)
        _run(tasks, executor, workers, progress, max_requests, report)
        records = read_records(folder)
        if root is project:
            # sessions exported before and no longer in the project: kept (nothing is deleted), but said
            report.gone = sorted(set(records) - {key for key, _ in tasks} - set(report.failed_sessions))
            if prune:
                _prune(folder, records, report)
                records = {key: r for key, r in records.items() if key not in report.pruned}
        report.files = write_mapping(folder, records.values())
        # the subjects' fields as read now, also for sessions unchanged since an earlier run
        current = {key: task.participant for key, task in tasks}
        columns = bids_columns(list(participant_fields))
        participants = participants_rows(
            [{**r, "participant": current.get(key, r.get("participant"))} for key, r in records.items()], columns)
        write_dataset_files(folder, str(getattr(project, "name", None) or project.id), source, records.values(),
                            participants, columns, dates)
    return report


def _prune(folder: Path, records: dict[str, dict[str, Any]], report: ExportReport) -> None:
    """Remove the ``gone`` sessions: files first, record last (a run stopped between prunes again)."""
    for key in report.gone:
        sub, ses = str(records[key].get("sub", "")), str(records[key].get("ses", ""))
        if not (_ENTITY.fullmatch(sub) and _ENTITY.fullmatch(ses)):
            # a record is a file in the dataset: its names must be entities before they become a path
            logger.warning("session %s not pruned: its record names sub-%r/ses-%r", key, sub, ses)
            continue
        remove_session(folder, sub, ses)
        remove_record(folder, key)
        report.pruned.append(key)
    left = {str(r.get("sub")) for key, r in records.items() if key not in report.pruned}
    for sub in sorted({str(records[key]["sub"]) for key in report.pruned} - left):
        remove_subject(folder, sub)


def _converter(config: Config) -> str | None:
    try:
        return find_dcm2niix()
    except BidsToolMissing:
        if config.nifti_resource is None:
            raise
        return None  # scans with NIfTI on the server need no converter; the others are reported


def _project_of(root: Any) -> Any:
    if hasattr(root, "subjects"):
        return root
    if hasattr(root, "experiments") or hasattr(root, "scans"):
        return root.xnat_session.projects[root.project]
    raise XNATValueError(f"export_bids works on a project, a subject or an image session, not {root!r}")


def _pairs(root: Any) -> list[tuple[Any, Any]]:
    """``(subject, experiment)`` of every image session below ``root``, from fresh listings
    (an export is a snapshot of the server now, not of what this session listed before)."""
    if hasattr(root, "scans"):
        return [(root.subject, root)]
    subjects = [root] if not hasattr(root, "subjects") else list(_fresh(root.subjects).values())
    return [(subject, experiment) for subject in subjects for experiment in _fresh(subject.experiments).values()
            if hasattr(experiment, "scans")]


def _fresh(listing: Any) -> Any:
    listing.clearcache()
    return listing


def _tasks(root: Any, project: Any, folder: Path, config: Config, fields: list[str], dates: bool,
           program: str | None, timeout: float, report: ExportReport) -> list[tuple[str, SessionTask]]:
    records = read_records(folder)
    subject_of = {str(r["sub"]): str(r["subject_id"]) for r in records.values()}
    session_of = {(str(r["sub"]), str(r["ses"])): eid for eid, r in records.items()}
    tasks = []
    for subject, experiment in _pairs(root):
        try:
            sub, ses = _entities(subject, experiment, subject_of, session_of)
        except BidsLabelError as error:
            report.failed_sessions[str(experiment.id)] = str(error)
            continue
        tasks.append((str(experiment.id), SessionTask(
            experiment, str(folder), config, sub, ses, str(project.id), str(subject.id), str(subject.label),
            participant_values(subject, fields, getattr(experiment, "date", None)),
            _acq_time(experiment) if dates else None, program, timeout)))
    return tasks


def _entities(subject: Any, experiment: Any, subject_of: dict[str, str],
              session_of: dict[tuple[str, str], str]) -> tuple[str, str]:
    """``sub``/``ses`` of a session; two XNAT subjects or sessions may not share one."""
    sub = sanitise(str(subject.label), "sub")
    ses = sanitise(str(experiment.label), "ses")
    owner = subject_of.setdefault(sub, str(subject.id))
    if owner != str(subject.id):
        raise BidsLabelError(f"subject {subject.label!r} ({subject.id}) would be sub-{sub}, which is already "
                             f"XNAT subject {owner}: rename one of them in XNAT")
    other = session_of.setdefault((sub, ses), str(experiment.id))
    if other != str(experiment.id):
        raise BidsLabelError(f"session {experiment.label!r} ({experiment.id}) would be sub-{sub}/ses-{ses}, which "
                             f"is already XNAT session {other}: rename one of them in XNAT")
    return sub, ses


def _acq_time(experiment: Any) -> str | None:
    date = getattr(experiment, "date", None)
    if not date:
        return None
    time = getattr(experiment, "time", None)
    return f"{date}T{time}" if time else f"{date}T00:00:00"


def _run(tasks: list[tuple[str, SessionTask]], executor: Any, workers: int | None, progress: bool | None,
         max_requests: int | None, report: ExportReport) -> None:
    bar = MapProgress(len(tasks), progress)
    if executor is None:
        outcomes: Any = ((key, executors.call(export_session, task, (), {})) for key, task in tasks)
    else:
        outcomes = executors.run(executor, workers, export_session, tasks, (), {}, max_requests)
    try:
        for key, (success, result) in outcomes:
            _collect(report, key, success, result)
            bar.add("done" if success and result["status"] == "converted" else
                    "skipped" if success else "failed")
    finally:
        if hasattr(outcomes, "close"):
            outcomes.close()
        bar.finish()


def _collect(report: ExportReport, key: str, success: bool, result: Any) -> None:
    if not success:
        logger.warning("session %s not exported: %s", key, result)
        report.failed_sessions[key] = str(result)
        return
    (report.converted if result["status"] == "converted" else report.unchanged).append(key)
    report.series_converted += int(result["series_converted"])
    report.unmatched += [{"experiment_id": key, **item} for item in result["unmatched"]]
    report.failed_series += [{"experiment_id": key, **item} for item in result["failed"]]

