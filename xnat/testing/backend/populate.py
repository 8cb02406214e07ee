"""Bulk creation straight into the store: ``projects=1,subjects=200,experiments=100[,scans=2][,files=3]``.

Counts are per parent (subjects per project, MR sessions per subject, scans per
session). Rows go in with ``executemany`` inside one transaction, so tens of
thousands of experiments take seconds, not the minutes one PUT each would.

``files=N`` gives the first N MR sessions example scans with a ``DICOM`` resource of real
files, in place of the ``scans`` rows, so that there is something to download, dump and
preview: three slices from the middle of each Case001 series of the XNAT reference data
when it is found (``$XNAT_REFERENCE``, else ``../shared/xnat-reference`` beside the
clone), else small synthetic series (:mod:`xnat.testing.phantom`). Only those few
sessions get files, so a large population stays as fast as without them.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..filestore import FileStore
from ..phantom import phantom_dicom
from ..store import Store, now_string
from .archive import Archive
from .resources import Resources

KEYS = ("projects", "subjects", "experiments", "scans", "files")
#: Files per example series taken from the reference data (the middle ones: slices through the head).
REFERENCE_SLICES = 3


@dataclass(frozen=True)
class Populated:
    """What :func:`populate` made beyond counts: where the example files came from, and which sessions hold them."""

    source: str = ""
    #: ``PROJECT/SUBJECT/SESSION`` labels of the sessions with example scans, in order.
    sessions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExampleScan:
    """A scan ``files=N`` gives a session: its ID, type and DICOM files (name, bytes)."""

    id: str
    type: str
    files: tuple[tuple[str, bytes], ...]


def parse_spec(spec: str | dict[str, int]) -> dict[str, int]:
    """``"projects=1,subjects=2"`` -> ``{"projects": 1, "subjects": 2, ...}``; ValueError if malformed."""
    if isinstance(spec, str):
        items: dict[str, int] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            if not sep or not value.strip().isdigit():
                raise ValueError(f"bad populate item {part!r}; expected name=count")
            items[key.strip()] = int(value)
    else:
        items = {k: int(v) for k, v in spec.items()}
    unknown = set(items) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown populate keys {sorted(unknown)}; known: {', '.join(KEYS)}")
    if any(v < 0 for v in items.values()):
        raise ValueError("populate counts must not be negative")
    return {k: items.get(k, 0) for k in KEYS}


def reference_folder() -> Path | None:
    """The XNAT reference data's Case001 DICOM folder, if it is found."""
    here = Path(__file__).resolve()
    location = os.environ.get("XNAT_REFERENCE") or str(here.parents[4] / "shared" / "xnat-reference")
    folder = Path(location) / "dicom" / "Case001"
    return folder if folder.is_dir() else None


def _natural(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def example_scans() -> tuple[str, list[ExampleScan]]:
    """(where they come from, the example scans): Case001's series, else synthetic ones."""
    folder = reference_folder()
    if folder is not None:
        scans = []
        for series in sorted(folder.iterdir(), key=lambda p: _natural(p.name)):
            number, _, kind = series.name.partition("_")
            files = sorted((series / "DICOM").glob("*.dcm"), key=lambda p: _natural(p.name))
            middle = max(0, (len(files) - REFERENCE_SLICES) // 2)
            chosen = files[middle: middle + REFERENCE_SLICES]
            if number.isdigit() and chosen:
                scans.append(ExampleScan(number, kind or "MR", tuple((p.name, p.read_bytes()) for p in chosen)))
        if scans:
            return f"DICOM of Case001 from {folder.parent.parent}", scans
    synthetic = [("1", "localizer", 3), ("2", "T1w", 5)]
    return "synthetic DICOM", [
        ExampleScan(number, kind, tuple((f"{kind}.{n}.dcm", phantom_dicom("PHANTOM", "PHANTOM_MR1", int(number), kind,
                                                                          n, count)) for n in range(1, count + 1)))
        for number, kind, count in synthetic]


def populate(store: Store, archive: Archive, spec: str | dict[str, int], resources: Resources | None = None,
             files: FileStore | None = None) -> Populated:
    """Create the projects, subjects, MR sessions and scans ``spec`` asks for (owned by the first admin).

    ``files=N`` needs ``resources`` and ``files`` (the backend's catalogue and the file store).
    Returns where the example files came from and which sessions hold them.
    """
    counts = parse_spec(spec)
    if counts["files"] and (resources is None or files is None):
        raise ValueError("populate files=N needs the resource catalogue and the file store")
    site = archive.site_id
    owner_row = store.one("SELECT login FROM users WHERE admin=1 ORDER BY xdat_user_id LIMIT 1")
    owner = owner_row["login"] if owner_row else "admin"
    date = now_string()
    n_proj, n_subj, n_exp, n_scan = (counts[k] for k in KEYS[:4])
    n_examples = min(counts["files"], n_proj * n_subj * n_exp)
    source, examples = example_scans() if n_examples else ("", [])
    written: list[Path] = []
    try:
        with store.transaction() as conn:
            first_p = store.next_value(conn, "populate_project", n_proj) if n_proj else 0
            first_s = store.next_value(conn, "subject", n_proj * n_subj) if n_proj * n_subj else 0
            first_e = store.next_value(conn, "experiment", n_proj * n_subj * n_exp) if n_proj * n_subj * n_exp else 0
            event = store.next_value(conn, "event")
            projects: list[tuple[Any, ...]] = []
            subjects: list[tuple[Any, ...]] = []
            experiments: list[tuple[Any, ...]] = []
            scans: list[tuple[Any, ...]] = []
            with_examples: list[tuple[str, str, str]] = []  # (project, experiment ID, PROJECT/SUBJECT/SESSION)
            s_id, e_id = first_s, first_e
            for p in range(n_proj):
                pid = f"PROJ{first_p + p:03d}"
                projects.append((pid, pid, pid, f"Populated project {pid}", "", "", "private", "{}", date, owner,
                                 event))
                for s in range(1, n_subj + 1):
                    sid, slabel = f"{site}_S{s_id:05d}", f"{pid}_S{s:05d}"
                    s_id += 1
                    subjects.append((sid, pid, slabel, "xnat:subjectData", "{}", date, owner, event))
                    for e in range(1, n_exp + 1):
                        eid = f"{site}_E{e_id:05d}"
                        e_id += 1
                        experiments.append((eid, pid, sid, None, f"{slabel}_MR{e:03d}", "xnat:mrSessionData",
                                            "2020-01-01", "{}", date, owner, event))
                        if len(with_examples) < n_examples:
                            with_examples.append((pid, eid, f"{pid}/{slabel}/{slabel}_MR{e:03d}"))
                            continue
                        scans.extend((eid, str(k), "xnat:mrScanData", '{"type": "T1w"}', event)
                                     for k in range(1, n_scan + 1))
            archive.bulk_insert(conn, projects, subjects, experiments, scans)
            for project, experiment, _ in with_examples:
                assert resources is not None and files is not None  # checked above
                _add_examples(conn, archive, resources, files, project, experiment, examples, written)
    except BaseException:
        for path in written:  # the rows rolled back: take back their files
            path.unlink(missing_ok=True)
        raise
    return Populated(source, tuple(path for _, _, path in with_examples))


def _add_examples(conn: sqlite3.Connection, archive: Archive, resources: Resources, files: FileStore, project: str,
                  experiment: str, examples: list[ExampleScan], written: list[Path]) -> None:
    """The example scans of one session: a scan row, a DICOM resource, its files on disk and catalogued."""
    now = time.time()
    attributes = {"format": "DICOM", "content": "RAW"}
    for example in examples:
        pk = archive.insert_child(conn, "scan", experiment, example.id, "xnat:mrScanData",
                                  {"type": example.type, "series_description": example.type,
                                   "frames": len(example.files)})
        folder_rel = f"{project}/arc001/{experiment}/SCANS/{pk}/DICOM"
        res_pk = resources.insert_in(conn, "scan", str(pk), "", "DICOM", "xnat:resourceCatalog", attributes,
                                     folder_rel)
        folder = files.resource_dir(*folder_rel.split("/"))
        for name, data in example.files:
            stored = files.write(folder, name, io.BytesIO(data), len(data))
            written.append(files.path_of(folder, name))
            resources.catalogue_in(conn, res_pk, stored.path, stored.size, stored.md5, attributes, now)
