"""The incremental state of an export: one record per XNAT session, kept in the dataset.

``code/xnat/sessions/<experiment ID>.json`` says what one session became: its ``sub-``
and ``ses-``, the digest of what it was made from (scan list, each file's size and MD5 as
the catalog lists them, and the configuration), the files written with the scan each came
from, and what was not written (unmatched or failed series). A session is written in
whole first and its record after (:func:`write_record` replaces the file atomically), so
a run that stops half way leaves either no record (the session runs again) or a true one.
One file per session also lets workers in other processes record without a shared lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["SESSIONS_DIR", "id_filename", "is_current", "read_record", "read_records", "record_path", "remove_record",
           "session_digest", "write_record"]

logger = logging.getLogger(__name__)

#: Where the records live, relative to the dataset (``code/`` is not checked by BIDS validators).
SESSIONS_DIR = Path("code") / "xnat" / "sessions"


def session_digest(scans: list[dict[str, Any]], config_digest: str) -> str:
    """A digest of a session's sources: ``scans`` (ID, type, resource, files with size and MD5)."""
    text = json.dumps({"scans": scans, "config": config_digest}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def id_filename(identifier: str) -> str:
    """An ID the server gave, as one plain file name: no separator, no leading dot."""
    return re.sub(r"^\.|[^A-Za-z0-9_.-]", "_", str(identifier)) or "_"


def record_path(target: Path, experiment_id: str) -> Path:
    """Where the record of one session lives."""
    return target / SESSIONS_DIR / f"{id_filename(experiment_id)}.json"


def read_record(target: Path, experiment_id: str) -> dict[str, Any] | None:
    """One session's record, or None when there is none (or it cannot be read)."""
    try:
        loaded = json.loads(record_path(target, experiment_id).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def read_records(target: Path) -> dict[str, dict[str, Any]]:
    """experiment ID -> record, of every session exported into ``target`` so far."""
    folder = target / SESSIONS_DIR
    records: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            records[str(record["experiment_id"])] = record
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            # an unreadable record only costs a conversion: that session runs again
            logger.warning("%s is not a session record; that session is exported again", path)
    return records


def write_record(target: Path, record: dict[str, Any]) -> None:
    """Write (or replace) one session's record atomically."""
    folder = target / SESSIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".record-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record, stream, indent=1, sort_keys=True)
        os.replace(temporary, record_path(target, record["experiment_id"]))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_record(target: Path, experiment_id: str) -> None:
    """Forget one session (after its files left the dataset: a run stopped between the two exports it again)."""
    record_path(target, experiment_id).unlink(missing_ok=True)


def is_current(record: dict[str, Any] | None, digest: str, target: Path) -> bool:
    """Whether ``record`` says the session was exported from these very sources, whole and without failures."""
    if not record or record.get("digest") != digest or record.get("failed"):
        return False
    return all((target / entry["path"]).is_file() for entry in record.get("files", []))
