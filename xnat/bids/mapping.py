"""The mapping file: every file of the dataset linked back to its XNAT project, subject, session and scan.

``code/xnat/mapping.tsv`` (``code/`` is the place BIDS keeps for a dataset's own tools, so
validators accept it) has one row per file, with the columns :data:`COLUMNS`. It is
written from the session records (:mod:`xnat.bids.state`) after every export, and read by
:func:`xnat.bids.derivatives.upload_derivatives` to find the XNAT session of a
``sub-``/``ses-`` folder.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import BidsTargetError

__all__ = ["COLUMNS", "MAPPING_FILE", "read_mapping", "session_index", "write_mapping"]

#: The mapping file, relative to the dataset.
MAPPING_FILE = Path("code") / "xnat" / "mapping.tsv"
_ID = re.compile(r"[A-Za-z0-9_.-]+")
COLUMNS = ("filename", "project", "subject_id", "subject_label", "experiment_id", "experiment_label", "scan_id",
           "scan_type", "source")


def _clean(value: Any) -> str:
    return " ".join(str("" if value is None else value).split())  # no tab or newline can break a row


def write_mapping(target: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write the mapping of every file of ``records``; returns the number of rows."""
    rows = []
    for record in records:
        for entry in record.get("files", []):
            rows.append([_clean(v) for v in (
                entry["path"], record["project"], record["subject_id"], record["subject_label"],
                record["experiment_id"], record["experiment_label"], entry["scan_id"], entry["scan_type"],
                entry["source"])])
    rows.sort()
    path = target / MAPPING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".mapping-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(rows)


def read_mapping(path: Path) -> list[dict[str, str]]:
    """The rows of a mapping file.

    :raises BidsTargetError: the file is missing or does not have the mapping's columns
    """
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            reader = csv.DictReader(stream, delimiter="\t")
            if reader.fieldnames is None or set(COLUMNS) - set(reader.fieldnames):
                raise BidsTargetError(f"{path} is not an XNAT mapping file (columns {', '.join(COLUMNS)})")
            return list(reader)
    except FileNotFoundError:
        raise BidsTargetError(f"no mapping file at {path}: export the dataset with xnat first") from None


def session_index(rows: Iterable[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """``(sub, ses)`` -> ``{"project", "subject_id", "experiment_id", ...}``, from the files' paths.

    :raises BidsTargetError: a row's IDs could not be XNAT IDs (they go into request paths)
    """
    found: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        parts = row["filename"].split("/")
        if len(parts) < 3 or not parts[0].startswith("sub-") or not parts[1].startswith("ses-"):
            continue
        for key in ("project", "subject_id", "experiment_id"):
            if not _ID.fullmatch(row[key] or "") or row[key] in (".", ".."):
                raise BidsTargetError(f"the mapping's {key} {row[key]!r} (for {row['filename']}) is not an XNAT ID")
        found[(parts[0][4:], parts[1][4:])] = {key: row[key] for key in COLUMNS if key not in ("filename", "scan_id",
                                                                                                "scan_type", "source")}
    return found
