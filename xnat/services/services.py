"""``session.services``: import, DICOM dump, alias tokens and catalog refresh (xnatpy 0.8 API).

::

    experiment = session.services.import_("case.zip", project="P1")          # into the archive
    staged = session.services.import_("case.zip", destination="/prearchive/projects/P1")
    rows = session.services.dicom_dump(experiment.uri[5:], fields=["Modality"])
    token = session.services.issue_token()                                   # (alias, secret)

Differences from xnatpy, on purpose: ``trigger_pipelines`` is sent as ``triggerPipelines``
(xnatpy misspells it, so it never had an effect); an import that the server refuses raises
:class:`~xnat.exceptions.XNATUploadError` naming the status and the server's reason; a
destination or ``overwrite`` value that cannot work is refused before anything is sent.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple

from ..exceptions import XNATResponseError, XNATUploadError, XNATValueError, describe_response
from .dicom import dicom_dump
from .inbox import DicomBoxImportRequest
from .paths import archive_path
from .prearchive import Prearchive

__all__ = ["Services", "TokenResult", "guess_content_type"]

logger = logging.getLogger(__name__)

OVERWRITE = (None, "none", "append", "delete")
_SPOOL_LIMIT = 256 * 1024 * 1024  # import_dir keeps zips this small in memory


class TokenResult(NamedTuple):
    """An alias token: log in with ``user=alias, password=secret``."""

    alias: str
    secret: str

    def __repr__(self) -> str:
        # A token stands for the password until it expires: never print its secret.
        return f"TokenResult(alias={self.alias!r}, secret='***')"


def guess_content_type(path: str | os.PathLike[str]) -> str:
    """The content type to send a file with (zip and tar.gz fixed up, as XNAT wants them)."""
    name = os.fspath(path).lower()
    if name.endswith(".zip"):
        return "application/zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "application/x-gzip"
    if name.endswith(".tar"):
        return "application/x-tar"
    if name.endswith((".dcm", ".ima")):
        return "application/dicom"
    content_type, encoding = mimetypes.guess_type(name)
    if encoding == "gzip":
        return "application/x-gzip"
    return content_type or "application/octet-stream"


def _flag(name: str, value: bool | None) -> str | None:
    """``value`` as the server's ``true``/``false``; anything but a bool or None is refused (as xnatpy)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"{name} should be a bool, not {type(value).__name__} ({value!r})")
    return "true" if value else "false"


def _destination(destination: str | os.PathLike[str] | None) -> str | None:
    if destination is None:
        return None
    text = str(destination).strip()
    if not text.startswith("/"):
        text = "/" + text
    if text.startswith("/data/"):
        text = text[5:]
    if not text.startswith(("/archive", "/prearchive")):
        raise XNATValueError(f"destination should start with /archive or /prearchive, not {destination!r}")
    return text


class Services:
    """XNAT's services (``/data/services/...``) for one session."""

    def __init__(self, xnat_session: Any) -> None:
        self.xnat_session = xnat_session

    def __repr__(self) -> str:
        return f"<Services of {getattr(self.xnat_session, 'server', '?')}>"

    # -- DICOM dump ---------------------------------------------------------------------------
    def dicom_dump(self, src: str, fields: Iterable[str] | str | None = None) -> list[dict[str, str]]:
        """The DICOM header of the first file of a session or scan.

        :param src: ``/archive/projects/P/subjects/S/experiments/E[/scans/N]`` or
            ``/prearchive/projects/P/TS/S[/scans/N]`` (a leading ``/data`` is dropped)
        :param fields: keywords (``Modality``) or tags (``00080060``) to keep
        :return: rows ``{"tag1", "tag2", "vr", "value", "desc"}``
        """
        return dicom_dump(self.xnat_session, src, fields)

    # -- import ---------------------------------------------------------------------------------
    def import_(self, path: str | os.PathLike[str] | None = None, overwrite: str | None = None,
                quarantine: bool = False, destination: str | None = None, trigger_pipelines: bool | None = None,
                project: str | None = None, subject: str | None = None, experiment: str | None = None,
                content_type: str | None = None, import_handler: str | None = None, timeout: float | None = None,
                ignore_unparsable: bool | None = None, direct_archive: bool | None = None,
                data: bytes | IO[bytes] | None = None) -> Any:
        """Import a zip or tar.gz of DICOM (``path``, or ``data`` as bytes or a binary stream).

        :return: the archived experiment (``session.create_object``), or a
            :class:`~xnat.services.prearchive.PrearchiveSession` for a prearchive destination
        :raises XNATUploadError: the server refused the upload (status and reason in the message)
        """
        if (path is None) == (data is None):
            raise XNATValueError("import_ needs exactly one of path and data")
        if overwrite not in OVERWRITE:
            raise XNATValueError(f"overwrite should be one of none, append, delete; not {overwrite!r}")
        query: dict[str, str] = {}
        if overwrite is not None:
            query["overwrite"] = overwrite
        if _flag("quarantine", quarantine) == "true":
            query["quarantine"] = "true"
        for key, value in (("triggerPipelines", _flag("trigger_pipelines", trigger_pipelines)),
                           ("dest", _destination(destination)),
                           ("project", project), ("subject", subject), ("session", experiment),
                           ("import-handler", import_handler)):
            if value is not None:
                query[key] = value
        _flag("ignore_unparsable", ignore_unparsable)
        _flag("direct_archive", direct_archive)
        if ignore_unparsable is not None or direct_archive is not None:
            self._options_18(query, ignore_unparsable, direct_archive)
        if path is not None:
            if not os.path.isfile(path):
                raise XNATValueError(f"import_: {path} is not a file")
            content_type = content_type or guess_content_type(path)
            with open(path, "rb") as stream:
                return self._send(query, stream, content_type, timeout, os.fspath(path))
        return self._send(query, data, content_type or "application/octet-stream", timeout, "data")

    def _options_18(self, query: dict[str, str], ignore_unparsable: bool | None, direct_archive: bool | None) -> None:
        version = getattr(self.xnat_session, "xnat_version_tuple", ())
        if version and version < (1, 8, 3):
            logger.warning("XNAT %s ignores Ignore-Unparsable and Direct-Archive (1.8.3+); not sent",
                           ".".join(map(str, version)))
            return
        for key, value in (("Ignore-Unparsable", ignore_unparsable), ("Direct-Archive", direct_archive)):
            if value is not None:
                query[key] = _flag(key, value) or "false"

    def _send(self, query: dict[str, str], body: Any, content_type: str, timeout: float | None, what: str) -> Any:
        try:
            response = self.xnat_session.post("/data/services/import", data=body, query=query, timeout=timeout,
                                              headers={"Content-Type": content_type}, accepted_status=[200, 201])
        except XNATResponseError as error:
            raise XNATUploadError(f"import of {what} failed: {error}") from error
        uris = [line.strip() for line in response.text.splitlines() if line.strip()]
        if not uris:
            raise XNATUploadError(describe_response(response, f"import of {what}: the server answered no URI"))
        if len(uris) > 1:
            logger.info("import of %s made %d sessions; returning the first: %s", what, len(uris), ", ".join(uris))
        return self._object(uris[0])

    def _object(self, uri: str) -> Any:
        if uri.startswith(("/data/prearchive/", "/prearchive/")):
            prearchive = getattr(self.xnat_session, "prearchive", None)  # the session's own cache, when wired
            if not isinstance(prearchive, Prearchive):
                prearchive = Prearchive(self.xnat_session)
            return prearchive.session(uri)
        return self.xnat_session.create_object(uri)

    def import_dir(self, directory: str | os.PathLike[str], overwrite: str | None = None, quarantine: bool = False,
                   destination: str | None = None, project: str | None = None, subject: str | None = None,
                   experiment: str | None = None, **kwargs: Any) -> Any:
        """Zip a folder (in memory up to 256 MB, then on disk) and import it."""
        folder = Path(directory)
        if not folder.is_dir():
            raise XNATValueError(f"import_dir: {directory} is not a folder")
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_LIMIT) as spool:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
                for item in sorted(folder.rglob("*")):
                    if item.is_file() and not item.is_symlink():
                        archive.write(item, item.relative_to(folder).as_posix())
            spool.seek(0)
            return self.import_(data=spool, overwrite=overwrite, quarantine=quarantine, destination=destination,
                                project=project, subject=subject, experiment=experiment,
                                content_type="application/zip", **kwargs)

    def import_dicom_inbox(self, path: str | os.PathLike[str], cleanup: bool = False, project: Any = None,
                           subject: Any = None, experiment: Any = None) -> Any:
        """Import a folder that is already on the server (its DICOM inbox) with XNAT's ``inbox``
        import handler; ``project`` and ``subject`` are IDs (or objects), ``experiment`` a label.

        XNAT answers the URI of the import request it queued (``/xapi/dicom/{id}``): that comes
        back as a :class:`~xnat.services.inbox.DicomBoxImportRequest`, whose ``status`` reads it
        again. A ``/data/prearchive/...`` answer comes back as that prearchive session, an
        archive URI (older servers) as that experiment.
        """
        query = {"import-handler": "inbox", "path": os.fspath(path),
                 "cleanupAfterImport": _flag("cleanup", cleanup) or "false"}
        for key, value in (("PROJECT_ID", getattr(project, "id", project)),
                           ("SUBJECT_ID", getattr(subject, "id", subject)),
                           ("EXPT_LABEL", getattr(experiment, "label", experiment))):
            if value is not None:
                query[key] = str(value)
        try:
            response = self.xnat_session.post("/data/services/import", query=query, accepted_status=[200, 201])
        except XNATResponseError as error:
            raise XNATUploadError(f"inbox import of {os.fspath(path)} failed: {error}") from error
        uris = [line.strip() for line in response.text.splitlines() if line.strip()]
        if not uris:
            raise XNATUploadError(describe_response(response, f"inbox import of {os.fspath(path)}: no URI"))
        if uris[0].startswith("/xapi/"):
            return DicomBoxImportRequest(uris[0], self.xnat_session)
        return self._object(uris[0])

    # -- tokens and catalogs ----------------------------------------------------------------------
    def issue_token(self, user: str | None = None) -> TokenResult:
        """A new alias token for the logged-in user (or for ``user``: administrators only)."""
        uri = "/data/services/tokens/issue" + (f"/user/{user}" if user else "")
        data = self.xnat_session.get_json(uri)
        return TokenResult(str(data["alias"]), str(data["secret"]))

    def refresh_catalog(self, resource: Any, checksum: bool = False, delete: bool = False, append: bool = False,
                        populate_stats: bool = False) -> None:
        """Re-read a session's, scan's or resource's files into its catalogue.

        :param resource: an archive object, or its ``/archive/projects/...`` path
        """
        path = resource if isinstance(resource, str) else archive_path(resource)
        path = path[5:] if path.startswith("/data/") else path
        options = [name for name, on in (("checksum", checksum), ("delete", delete), ("append", append),
                                         ("populateStats", populate_stats)) if on]
        query: dict[str, str] = {"resource": path}
        if options:
            query["options"] = ",".join(options)
        self.xnat_session.post("/data/services/refresh/catalog", query=query)
