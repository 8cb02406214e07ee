"""Scans: resources and files, create_resource, download (zip), download_dir."""

from __future__ import annotations

import os
from typing import Any

from ..mount import HasDataDir
from ..registry import behaviour
from .common import ChildListing, Place, create_resource, download_dir, place_under
from .host import HostBase


@behaviour("xnat:imageScanData")
class ImageScanBehaviour(HasDataDir, HostBase):
    """``experiment.scans['1']``: keyed by scan ID or type."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    SECONDARY_LOOKUP_FIELD = "type"

    resources = ChildListing("The scan's resources (DICOM, NIFTI, SNAPSHOTS...), keyed by label.")

    files = ChildListing("Every file of every resource of the scan.")

    def create_resource(self, label: str, format: str | None = None, data_dir: str | None = None,
                        method: str | None = None) -> Any:
        return create_resource(self, label, format, data_dir, method)

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str:
        """A zip of the scan's files."""
        return str(self._session().download_zip(f"{self.uri}/files", path, verbose=verbose))

    def _prefix(self) -> str:
        parent = self.parent
        label = getattr(parent, "label", None) if parent is not None else None
        return str(label or self._get_field("image_session_ID") or "")

    def _download_sources(self, prefix: str) -> list[tuple[str, Place]]:
        return [(f"{self.uri}/files", place_under(prefix))]

    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool | None = None,
                     workers: int | None = None) -> str:
        """Download the scan's files to ``target_dir/<session label>/scans/<ID>/resources/...``."""
        return download_dir(self, target_dir, self._prefix(), verbose, workers)
