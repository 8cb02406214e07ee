"""Behaviour the services layer adds to generated classes (registered by xsi type).

* scans: ``scan.dicom_dump(fields)`` (the server's DICOM dump of the first file) and
  ``scan.read_dicom(file=None, read_pixel_data=False, force=False)`` (pydicom, reading
  only the byte ranges it needs);
* scans and imaging sessions: ``preview()`` and ``_repr_png_`` (a thumbnail, a contact
  sheet; see :mod:`xnat.services.preview`);
* projects: ``project.users``, the project's users with their access level;
* projects, subjects, experiments and scans: ``map(function, level, ...)``, ``search``
  and ``batch_download`` below the object (see :mod:`xnat.services.mapping`).

Importing this module registers the mixins; :data:`xnat.classes.registry.BEHAVIOUR_MODULES`
lists it with the other behaviour modules, and the class factory loads that list.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..classes.registry import behaviour
from ..exceptions import XNATValueError
from . import preview
from .dicom import scan_dicom_dump, scan_read_dicom
from .levels import MappingLevel
from .thumbnail import DEFAULT_SIZE
from .users import User, Users, project_group

if TYPE_CHECKING:
    from .mapresults import MapResults

__all__ = ["MappableBehaviour", "ProjectUsersBehaviour", "ScanDicomBehaviour", "ScanPreviewBehaviour",
           "SessionPreviewBehaviour"]


@behaviour("xnat:imageScanData")
class ScanDicomBehaviour:
    """DICOM of a scan."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    def dicom_dump(self, fields: list[str] | str | None = None) -> list[dict[str, str]]:
        """The header of the scan's first DICOM file: rows ``{tag1, tag2, vr, value, desc}``."""
        return scan_dicom_dump(self, fields)

    def read_dicom(self, file: Any = None, read_pixel_data: bool = False, force: bool = False) -> Any:
        """A pydicom dataset of one DICOM file of the scan (the first by default)."""
        return scan_read_dicom(self, file, read_pixel_data, force)


@behaviour("xnat:imageScanData")
class ScanPreviewBehaviour:
    """A scan's picture: the middle frame of one of its DICOM files."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    def preview(self, path: str | os.PathLike[str] | None = None, size: int = DEFAULT_SIZE,
                refresh: bool = False) -> bytes:
        """A PNG thumbnail, ``size`` pixels on its longest side (written to ``path`` if given);
        cached per session, ``refresh=True`` reads again. Needs the ``dicom`` extra."""
        return preview.scan_preview(self, path, size, refresh)

    def _repr_png_(self) -> bytes | None:
        # IPython/Jupyter call this to display the scan; a plain repr() never does.
        return preview.scan_repr_png(self)


@behaviour("xnat:imageSessionData")
class SessionPreviewBehaviour:
    """An imaging session's contact sheet: a picture of each of its scans."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    def preview(self, path: str | os.PathLike[str] | None = None, size: int = 160, columns: int = 4,
                refresh: bool = False) -> bytes:
        """A PNG grid of the scans' thumbnails, ``size`` pixels per tile, ``columns`` a row (written
        to ``path`` if given); a scan without DICOM is an empty captioned tile. Needs the ``dicom`` extra."""
        return preview.session_preview(self, path, size, columns, refresh)

    def _repr_png_(self) -> bytes | None:
        return preview.session_repr_png(self)


@behaviour("xnat:projectData")
class ProjectUsersBehaviour:
    """Users of a project."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    @property
    def users(self) -> Users:
        """login -> user, with ``access_level`` (Owners, Members, Collaborators)."""
        return Users(self.xnat_session, f"/data/projects/{self.id}/users")  # type: ignore[attr-defined]

    @property
    def access_level(self) -> str:
        """The logged-in user's role in this project (``session.access_levels``), else ``"No access"``."""
        levels: dict[str, str] = self.xnat_session.access_levels  # type: ignore[attr-defined]
        return levels.get(self.id, "No access")  # type: ignore[attr-defined]

    def set_access(self, user: User | str, level: str) -> None:
        """Give ``user`` (a login or a :class:`~xnat.users.User`) the role ``level`` in this project:
        ``Owners``, ``Members`` or ``Collaborators`` (``owner``, ``member``, ``collaborator`` also read)."""
        login = user.login if isinstance(user, User) else user
        self.xnat_session.put(f"/data/projects/{self.id}/users/{project_group(level)}/{login}")  # type: ignore[attr-defined]

    def remove_access(self, user: User | str) -> None:
        """Take ``user`` (a login, an e-mail address or a :class:`~xnat.users.User`) off this project."""
        wanted = user.login if isinstance(user, User) else user
        found = next((u for u in self.users.values() if wanted in (u.login, u.email)), None)
        if found is None:
            raise XNATValueError(f"no user with login or email {wanted!r} in project {self.id}")  # type: ignore[attr-defined]
        self.xnat_session.delete(  # type: ignore[attr-defined]
            f"/data/projects/{self.id}/users/{found.access_level}/{found.login}")  # type: ignore[attr-defined]


class MappableBehaviour:
    """``map``, ``search`` and ``batch_download`` below an object."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    def map(self, function: Any, level: Any, args: Any = None, kwargs: Any = None, filter_function: Any = None,
            logfile: str | os.PathLike[str] | None = None, executor: Any = None, workers: int | None = None,
            progress: bool | None = False, max_requests: int | None = None,
            gather: bool = True) -> MapResults:
        """``function(obj)`` on every object at ``level`` below this one (resumable with ``logfile``);
        on ``executor`` (``"threads"``, ``"processes"``, an Executor, a Dask client) with ``workers``,
        at most ``max_requests`` requests in flight across them; ``gather=False`` keeps the results
        on the Dask cluster (see :func:`xnat.services.mapping.map_objects`)."""
        from . import mapping  # the map machinery (executors, multiprocessing) loads when used

        return mapping.map_objects(self, function, level, args, kwargs, filter_function, logfile, executor, workers,
                                   progress, max_requests, gather)

    def search(self, project: Any = None, subject: Any = None, experiment: Any = None, scan: Any = None,
               resource: Any = None, use_regex: bool = False, level: Any = MappingLevel.SCAN) -> list[Any]:
        """The objects at ``level`` below this one whose names match the filters."""
        from . import mapping

        return mapping.search(self, project, subject, experiment, scan, resource, use_regex, level)

    def batch_download(self, target_directory: str | os.PathLike[str], project: Any = None, subject: Any = None,
                       experiment: Any = None, scan: Any = None, resource: Any = None, use_regex: bool = False,
                       level: Any = MappingLevel.SCAN) -> list[str]:
        """``download_dir`` on every matching object below this one."""
        from . import mapping

        return mapping.batch_download(self, target_directory, project, subject, experiment, scan, resource,
                                      use_regex, level)


for _xsi_type in ("xnat:projectData", "xnat:subjectData", "xnat:subjectAssessorData"):
    behaviour(_xsi_type)(MappableBehaviour)
