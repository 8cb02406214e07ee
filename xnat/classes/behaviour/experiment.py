"""Experiments, image sessions and assessors: scans/assessors/reconstructions listings,
relabel, share, create_assessor, download (zip) and download_dir honouring ``scan_filter``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ...exceptions import XNATValueError
from ..mount import HasDataDir
from ..registry import behaviour
from .common import ChildListing, Place, create_resource, download_dir, place_under
from .host import HostBase, LabelledHostBase
from .subject import share, unshare


def _scan_segment(scan_filter: str | Sequence[str] | None) -> str:
    """``ALL``, one scan ID/type, or a list of them as XNAT's comma list."""
    if scan_filter is None:
        return "ALL"
    if isinstance(scan_filter, str):
        items = [scan_filter]
    else:
        items = [str(item) for item in scan_filter]
    if not items or any(not item or "/" in item or "?" in item for item in items):
        raise XNATValueError(f"scan_filter must be 'ALL', scan IDs or scan types, not {scan_filter!r}")
    return ",".join(items)


@behaviour("xnat:experimentData")
class ExperimentBehaviour(HasDataDir, LabelledHostBase):
    """Any experiment: keyed by ID or label."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    SECONDARY_LOOKUP_FIELD = "label"
    _RELABEL_BY_QUERY = True

    resources = ChildListing("The experiment's resources, keyed by label.")

    def create_resource(self, label: str, format: str | None = None, data_dir: str | None = None,
                        method: str | None = None) -> Any:
        return create_resource(self, label, format, data_dir, method)

    @property
    def status(self) -> str:
        """The experiment's status on the server (``active``, ``quarantine``, ...): one request.

        Set it to ``"active"`` or ``"quarantined"`` (as xnatpy), or call :meth:`activate` /
        :meth:`quarantine`."""
        return str(self._session().get(f"{self.fulluri}/status").text).strip()

    @status.setter
    def status(self, value: str) -> None:
        if value == "active":
            self.activate()
        elif value in ("quarantined", "quarantine"):
            self.quarantine()
        else:
            raise XNATValueError(f"an experiment's status can be set to 'active' or 'quarantined', not {value!r}")

    def activate(self) -> None:
        """Take the experiment out of quarantine (``PUT ?activate=true``)."""
        self._session().put(self.fulluri, query={"activate": "true"})
        self._after_write()

    def quarantine(self) -> None:
        """Put the experiment in quarantine (``PUT ?quarantine=true``)."""
        self._session().put(self.fulluri, query={"quarantine": "true"})
        self._after_write()

    def unshare(self, project: Any) -> None:
        """Take the experiment out of ``project``, a project it is shared into."""
        unshare(self, project, "experiments")

    def share(self, project: Any, label: str | None = None, primary: bool = False) -> None:
        """Share the experiment into ``project`` (``primary=True`` moves ownership)."""
        share(self, project, label, primary)

    def _download_sources(self, prefix: str, scan_filter: Any = None) -> list[tuple[str, Place]]:
        return [(f"{self.uri}/files", place_under(prefix))]

    def download_dir(self, target_dir: str | os.PathLike[str], verbose: bool | None = None,
                     workers: int | None = None) -> str:
        """Download every file of the experiment to ``target_dir/<label>/...``."""
        return download_dir(self, target_dir, str(self.label), verbose, workers)


@behaviour("xnat:subjectAssessorData")
class SubjectAssessorBehaviour(HostBase):
    """Experiments of a subject."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    @property
    def subject(self) -> Any:
        """The subject the experiment belongs to."""
        subject_id = self._get_field("subject_ID")
        if not subject_id:
            raise XNATValueError(f"{self!r} has no subject_ID")
        return self._session().create_object(f"/data/subjects/{subject_id}", type_="xnat:subjectData",
                                             id_=subject_id)


@behaviour("xnat:imageSessionData")
class ImageSessionBehaviour(LabelledHostBase):
    """MR, PET, CT... sessions."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    scans = ChildListing("The session's scans, keyed by scan ID or type (one request).")

    assessors = ChildListing("The session's assessors, keyed by ID or label.")

    reconstructions = ChildListing("The session's reconstructions, keyed by ID.")

    files = ChildListing("The files of the session-level resources.")

    def create_assessor(self, label: str, type_: str) -> Any:
        """A new assessor of data type ``type_`` (e.g. ``xnat:qcAssessmentData``)."""
        classes = self._session().classes
        cls = classes.lookup.get(type_) if isinstance(type_, str) else type_
        if cls is None:
            raise XNATValueError(f"create_assessor: the server has no data type {type_!r}")
        return cls(parent=self, label=label)

    def _download_sources(self, prefix: str, scan_filter: Any = None) -> list[tuple[str, Place]]:
        return [(f"{self.uri}/files", place_under(prefix)),
                (f"{self.uri}/scans/{_scan_segment(scan_filter)}/files", place_under(prefix))]

    def download(self, path: str | os.PathLike[str], scan_filter: str | Sequence[str] = "ALL",
                 verbose: bool | None = None) -> str:
        """A zip of the session's scan files (only the scans ``scan_filter`` names)."""
        segment = _scan_segment(scan_filter)
        return str(self._session().download_zip(f"{self.uri}/scans/{segment}/files", path, verbose=verbose))

    def download_dir(self, target_dir: str | os.PathLike[str], scan_filter: str | Sequence[str] = "ALL",
                     verbose: bool | None = None, workers: int | None = None) -> str:
        """Download the session's files (only the scans ``scan_filter`` names) to ``target_dir/<label>``."""
        from .common import download_listed, make_target_dir

        prefix = str(self.label)
        sources = self._download_sources(prefix, scan_filter)  # a bad filter fails before any folder is made
        make_target_dir(target_dir)
        download_listed(self, sources, target_dir, verbose, workers)
        return os.path.join(os.fspath(target_dir), prefix)


@behaviour("xnat:derivedData")
class DerivedBehaviour(HostBase):
    """Assessors: resources, files, download."""

    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    files = ChildListing("Every file of the assessor's resources.")

    def download(self, path: str | os.PathLike[str], verbose: bool | None = None) -> str:
        """A zip of the assessor's files."""
        return str(self._session().download_zip(f"{self.uri}/files", path, verbose=verbose))
