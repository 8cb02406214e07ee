"""Bulk creation straight into the store: ``projects=1,subjects=200,experiments=100[,scans=2]``.

Counts are per parent (subjects per project, MR sessions per subject, scans per
session). Rows go in with ``executemany`` inside one transaction, so tens of
thousands of experiments take seconds, not the minutes one PUT each would.
"""

from __future__ import annotations

from typing import Any

from ..store import Store, now_string
from .archive import Archive

KEYS = ("projects", "subjects", "experiments", "scans")


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


def populate(store: Store, archive: Archive, spec: str | dict[str, int]) -> None:
    """Create the projects, subjects, MR sessions and scans ``spec`` asks for (owned by the first admin)."""
    counts = parse_spec(spec)
    site = archive.site_id
    owner_row = store.one("SELECT login FROM users WHERE admin=1 ORDER BY xdat_user_id LIMIT 1")
    owner = owner_row["login"] if owner_row else "admin"
    date = now_string()
    n_proj, n_subj, n_exp, n_scan = (counts[k] for k in KEYS)
    with store.transaction() as conn:
        first_p = store.next_value(conn, "populate_project", n_proj) if n_proj else 0
        first_s = store.next_value(conn, "subject", n_proj * n_subj) if n_proj * n_subj else 0
        first_e = store.next_value(conn, "experiment", n_proj * n_subj * n_exp) if n_proj * n_subj * n_exp else 0
        event = store.next_value(conn, "event")
        projects: list[tuple[Any, ...]] = []
        subjects: list[tuple[Any, ...]] = []
        experiments: list[tuple[Any, ...]] = []
        scans: list[tuple[Any, ...]] = []
        s_id, e_id = first_s, first_e
        for p in range(n_proj):
            pid = f"PROJ{first_p + p:03d}"
            projects.append((pid, pid, pid, f"Populated project {pid}", "", "", "private", "{}", date, owner, event))
            for s in range(1, n_subj + 1):
                sid, slabel = f"{site}_S{s_id:05d}", f"{pid}_S{s:05d}"
                s_id += 1
                subjects.append((sid, pid, slabel, "xnat:subjectData", "{}", date, owner, event))
                for e in range(1, n_exp + 1):
                    eid = f"{site}_E{e_id:05d}"
                    e_id += 1
                    experiments.append((eid, pid, sid, None, f"{slabel}_MR{e:03d}", "xnat:mrSessionData",
                                        "2020-01-01", "{}", date, owner, event))
                    scans.extend((eid, str(k), "xnat:mrScanData", '{"type": "T1w"}', event)
                                 for k in range(1, n_scan + 1))
        archive.bulk_insert(conn, projects, subjects, experiments, scans)
