"""Projects: subjects, experiments, resources and files listings; resources; download_dir."""

from __future__ import annotations

import os
from typing import Any

from ..mount import HasDataDir
from ..registry import behaviour
from .common import ChildListing, Place, create_resource, download_dir, place_under
from .host import HostBase


@behaviour("xnat:projectData")
class ProjectBehaviour(HasDataDir, HostBase):
    """``session.projects['P']``: keyed by ID or name."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    SECONDARY_LOOKUP_FIELD = "name"

    subjects = ChildListing("The project's subjects (one request; label, project and dates included).")

    experiments = ChildListing("The project's experiments (one request; label, xsi type, date... included).")

    resources = ChildListing("The project-level resources.")

    files = ChildListing("Every file of the project-level resources.")

    def create_resource(self, label: str, format: str | None = None, data_dir: str | None = None,
                        method: str | None = None) -> Any:
        """A new resource catalog on the project (uploading ``data_dir`` when given)."""
        return create_resource(self, label, format, data_dir, method)

    def _download_sources(self, prefix: str) -> list[tuple[str, Place]]:
        sources: list[tuple[str, Place]] = [(f"{self.uri}/files", place_under(prefix))]
        for subject in self.subjects:
            sources += subject._download_sources(f"{prefix}/{subject.label}")
        return sources

    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool | None = None,
                     workers: int | None = None) -> str:
        """Download every file of the project to ``target_dir/<project>/...`` (XNAT's layout)."""
        return download_dir(self, target_dir, str(self.id), verbose, workers)
