"""Subjects: experiments/resources/files listings, relabel, share, download_dir."""

from __future__ import annotations

import os
from typing import Any

from ...exceptions import XNATValueError
from ..registry import behaviour
from .common import ChildListing, Place, create_resource, download_dir, place_under
from .host import LabelledHostBase


def share(obj: Any, project: Any, label: str | None = None, primary: bool = False) -> None:
    """Share ``obj`` into another project (``PUT <uri>/projects/<P>?label=``)."""
    project_id = getattr(project, "id", project)
    if not isinstance(project_id, str) or not project_id:
        raise XNATValueError(f"share needs a project or a project ID, not {project!r}")
    query = {"label": label} if label else {}
    if primary:
        query["primary"] = "true"
    session = obj._session()
    session.put(f"{obj.fulluri}/projects/{project_id}", query=query)
    obj._after_write()
    session._layer.refresh_listings()


def unshare(obj: Any, project: Any, kind: str) -> None:
    """Take ``obj`` out of a project it is shared into (``DELETE /data/projects/P/<kind>/<ID>``:
    through a shared project XNAT only unshares). Its own project is refused: there the same
    request would delete the object. ``kind``: ``subjects`` or ``experiments``."""
    project_id = getattr(project, "id", project)
    if not isinstance(project_id, str) or not project_id:
        raise XNATValueError(f"unshare needs a project or a project ID, not {project!r}")
    if project_id == obj._get_field("project"):
        raise XNATValueError(f"{obj.id} belongs to project {project_id}: "
                             "unshare leaves only projects it is shared into")
    session = obj._session()
    session.delete(f"/data/projects/{project_id}/{kind}/{obj.id}")
    obj._after_write()
    session._layer.refresh_listings()


@behaviour("xnat:subjectData")
class SubjectBehaviour(LabelledHostBase):
    """``project.subjects['S']``: keyed by ID or label."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    SECONDARY_LOOKUP_FIELD = "label"
    _RELABEL_BY_QUERY = True

    experiments = ChildListing("The subject's experiments (one request).")

    resources = ChildListing("The subject's resources, keyed by label.")

    files = ChildListing("Every file of the subject's resources.")

    def unshare(self, project: Any) -> None:
        """Take the subject out of ``project``, a project it is shared into."""
        unshare(self, project, "subjects")

    def share(self, project: Any, label: str | None = None) -> None:
        """Share the subject into ``project`` (optionally under another label)."""
        share(self, project, label)

    def create_resource(self, label: str, format: str | None = None, data_dir: str | None = None,
                        method: str | None = None) -> Any:
        return create_resource(self, label, format, data_dir, method)

    def _download_sources(self, prefix: str) -> list[tuple[str, Place]]:
        sources: list[tuple[str, Place]] = [(f"{self.uri}/files", place_under(prefix))]
        for experiment in self.experiments:
            sources += experiment._download_sources(f"{prefix}/{experiment.label}")
        return sources

    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool | None = None,
                     workers: int | None = None) -> str:
        """Download every file of the subject to ``target_dir/<label>/...``."""
        return download_dir(self, target_dir, str(self.label), verbose, workers)
