"""The dataset on disk: which folder may be written, the dataset-level files, and sessions moved in whole.

* :func:`check_target` refuses a folder that holds anything but an earlier export of the
  same XNAT project from the same server (its ``dataset_description.json`` names them as
  ``SourceDatasets``), so an export never mixes into another dataset.
* :func:`install_session` moves a session converted in the dataset's staging folder
  (``.xnat-staging/``, on the same file system, so that the move is a rename) into
  ``sub-<sub>/ses-<ses>``, replacing an older version; the folder is at every moment the
  old session whole or the new one whole.
* :func:`exclusive` lets one export at a time write into a dataset (a lock on
  ``.xnat-staging/lock``, which the system releases if the process dies) and clears what a
  stopped run left in the staging folder.
* :func:`write_dataset_files` writes ``dataset_description.json``, ``README``,
  ``participants.tsv`` with its ``participants.json`` and each subject's ``sub-<sub>_sessions.tsv``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..version import __version__
from .errors import BidsTargetError
from .participants import sidecar

__all__ = ["BIDS_VERSION", "STAGING", "check_target", "exclusive", "install_session", "remove_session",
           "remove_subject", "source_url", "staging_folder", "write_dataset_files"]

BIDS_VERSION = "1.10.0"
#: The staging folder, inside the dataset (hidden files are outside BIDS' rules).
STAGING = ".xnat-staging"
_GENERATOR = "xnat"


def source_url(server: str, project: str) -> str:
    """The URL a dataset names as its source: the XNAT project on its server."""
    return f"{server.rstrip('/')}/data/projects/{project}"


def check_target(target: Path, source: str) -> None:
    """Refuse ``target`` unless it is missing, empty, or an export of ``source``.

    :raises BidsTargetError: a file, or a folder with another dataset or other files in it
    """
    if not target.exists():
        return
    if not target.is_dir():
        raise BidsTargetError(f"the target {target} is a file, not a folder")
    if not any(target.iterdir()):
        return
    description = target / "dataset_description.json"
    advice = f"choose an empty folder, or the folder of an earlier export of {source}"
    try:
        data = json.loads(description.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BidsTargetError(f"the target {target} is not empty and holds no BIDS dataset: {advice}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BidsTargetError(f"the target's {description} is not readable JSON ({error}): {advice}") from None
    sources = [item.get("URL") for item in data.get("SourceDatasets", []) if isinstance(item, dict)] \
        if isinstance(data, dict) else []
    if source not in sources:
        name = data.get("Name", "?") if isinstance(data, dict) else "?"
        raise BidsTargetError(f"the target {target} holds another dataset ({name!r}, from "
                              f"{', '.join(map(str, sources)) or 'no XNAT source'}): {advice}")


@contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Hold the dataset for one export; what a stopped export left in staging is removed.

    :raises BidsTargetError: another export is writing into ``target`` now
    """
    staging = target / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    with open(staging / "lock", "a+b") as handle:
        if sys.platform != "win32":  # elsewhere one export at a time is the user's to keep
            import fcntl

            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BidsTargetError(f"another export is writing into {target} now: wait until it ends") from None
        for item in staging.iterdir():
            if item.name != "lock":
                shutil.rmtree(item, ignore_errors=True)
        yield


def staging_folder(target: Path, name: str) -> Path:
    """A new, empty folder for one session's work, inside the dataset's staging area."""
    folder = target / STAGING / f"{name}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    return folder


def install_session(converted: Path, target: Path, sub: str, ses: str) -> None:
    """Move the folder ``converted`` to ``target/sub-<sub>/ses-<ses>``, replacing what was there."""
    destination = target / f"sub-{sub}" / f"ses-{ses}"
    destination.parent.mkdir(parents=True, exist_ok=True)
    retired = None
    if destination.exists():
        retired = converted.with_name(converted.name + ".old")
        os.replace(destination, retired)
    os.replace(converted, destination)
    if retired is not None:
        shutil.rmtree(retired)


def remove_session(target: Path, sub: str, ses: str) -> None:
    """Take ``sub-<sub>/ses-<ses>`` out of the dataset (a session now without any matched series)."""
    destination = target / f"sub-{sub}" / f"ses-{ses}"
    if destination.exists():
        retired = staging_folder(target, f"removed-{sub}-{ses}")
        os.replace(destination, retired / "session")
        shutil.rmtree(retired)


def remove_subject(target: Path, sub: str) -> None:
    """Take ``sub-<sub>`` (with its ``sessions.tsv``) out of the dataset: its last session is gone."""
    destination = target / f"sub-{sub}"
    if destination.exists():
        retired = staging_folder(target, f"removed-{sub}")
        os.replace(destination, retired / "subject")
        shutil.rmtree(retired)


def write_dataset_files(target: Path, name: str, source: str, records: Iterable[Mapping[str, Any]],
                        participants: Mapping[str, Mapping[str, Any]], fields: Sequence[str],
                        dates: bool) -> None:
    """The dataset-level files, from the session records; ``participants``: sub -> column -> value,
    for the ``fields`` (BIDS' column names, :mod:`xnat.bids.participants`)."""
    records = list(records)
    _write_json(target / "dataset_description.json", {
        "Name": name, "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
        "GeneratedBy": [{"Name": _GENERATOR, "Version": __version__,
                         "Description": "xnat bids export (dcm2niix, dcm2bids 3 configuration format)"}],
        "SourceDatasets": [{"URL": source}],
    })
    readme = target / "README"
    if not readme.exists():
        _write_text(readme, f"{name}\n\nExported from the XNAT project {source}.\n"
                            "code/xnat/mapping.tsv links every file to its XNAT subject, session and scan.\n")
    subjects = sorted({str(r["sub"]) for r in records if r.get("files")})
    rows = [[f"sub-{sub}"] + [_cell(participants.get(sub, {}).get(f)) for f in fields] for sub in subjects]
    _write_tsv(target / "participants.tsv", ["participant_id", *fields], rows)
    _write_json(target / "participants.json", sidecar(fields))
    for sub in subjects:
        mine = sorted((r for r in records if r["sub"] == sub and r.get("files")), key=lambda r: str(r["ses"]))
        columns = ["session_id"] + (["acq_time"] if dates else [])
        _write_tsv(target / f"sub-{sub}" / f"sub-{sub}_sessions.tsv", columns,
                   [[f"ses-{r['ses']}"] + ([_cell(r.get("acq_time"))] if dates else []) for r in mine])


def _cell(value: Any) -> str:
    text = " ".join(str(value).split()) if value not in (None, "") else ""
    return text or "n/a"


def _write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    _write_text(path, "".join("\t".join(row) + "\n" for row in [list(columns), *rows]))


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=2) + "\n")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
