"""Where an archive object lives, as XNAT's services want it: ``/archive/projects/P/...``.

The DICOM dump and the catalog refresh services take an ``/archive/projects/P/subjects/S/
experiments/E[/scans/N]`` path, while objects may have been reached through
``/data/experiments/E``; :func:`archive_path` turns either into the former.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import XNATValueError

__all__ = ["archive_path"]


def archive_path(obj: Any) -> str:
    """``/archive/projects/P/subjects/S/experiments/E[...]`` of an object (as XNAT wants it).

    A resource is named by its label: its object URI holds the numeric resource ID, which
    the services do not look resources up by.
    """
    uri = getattr(obj, "uri", None)
    if not isinstance(uri, str) or not uri:
        raise XNATValueError(f"{obj!r} has no URI to refresh")
    head, found, _ = uri.rpartition("/resources/")
    label = getattr(obj, "label", None) if found else None
    if isinstance(label, str) and label:
        uri = f"{head}/resources/{label}"
    if uri.startswith("/data/projects/"):
        return "/archive" + uri[5:]
    if uri.startswith("/data/archive/"):
        return uri[5:]
    if uri.startswith("/data/experiments/"):
        experiment_id, _, rest = uri[len("/data/experiments/"):].partition("/")
        experiment_uri = f"/data/experiments/{experiment_id}"
        owner = next((o for o in (obj, *_parents(obj)) if getattr(o, "uri", "") == experiment_uri), None)
        if owner is None:
            owner = obj.xnat_session.create_object(f"/data/experiments/{experiment_id}")
        project, subject = getattr(owner, "project", None), getattr(owner, "subject_id", None)
        if project and subject:
            return f"/archive/projects/{project}/subjects/{subject}/experiments/{experiment_id}" + \
                (f"/{rest}" if rest else "")
    raise XNATValueError(f"cannot tell the archive path of {obj!r}; pass /archive/projects/... instead")


def _parents(obj: Any) -> list[Any]:
    found: list[Any] = []
    current = getattr(obj, "parent", None)
    while current is not None and len(found) < 8:
        found.append(current)
        current = getattr(current, "parent", None)
    return found
