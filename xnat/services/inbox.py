"""A DICOM inbox import request: what ``session.services.import_dicom_inbox`` answers.

XNAT's ``inbox`` import handler (``DicomInboxImporter``) queues the import and answers the URI
of the request it made, ``/xapi/dicom/{id}``; ``GET`` on it reads the request as JSON
(``DicomInboxImportRequest``: ``id``, ``username``, ``sessionPath``, ``parameters``,
``cleanupAfterImport``, ``status``, ``resolution``, ``enabled``, ``created``, ``timestamp``).
:class:`DicomBoxImportRequest` holds that URI and reads the request on first use, not when it
is made; :attr:`~DicomBoxImportRequest.status` reads it again each time, so a script can wait
for ``Completed`` (or ``Failed``, with the reason in :attr:`~DicomBoxImportRequest.resolution`).

Differences from xnatpy 0.8.1, on purpose: the request is read when a field is first asked
for (xnatpy reads it in the constructor); ``cleanup_after_import`` reads XNAT's own key
``cleanupAfterImport`` (xnatpy only its misspelling ``clenaupAfterImport``, which it falls back
to); a field the server did not send raises :class:`~xnat.exceptions.XNATValueError` naming it.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..exceptions import XNATValueError

__all__ = ["DicomBoxImportRequest"]


class DicomBoxImportRequest:
    """One DICOM inbox import request of the server (``/xapi/dicom/{id}``)."""

    def __init__(self, uri: str, xnat_session: Any) -> None:
        #: the request's URI, as the import answered it
        self.uri = uri
        self._xnat_session = xnat_session
        self._data: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<DicomBoxImportRequest {self.uri}>"

    def _update_data(self) -> dict[str, Any]:
        data = self._xnat_session.get_json(self.uri)
        if not isinstance(data, dict):
            raise XNATValueError(f"{self.uri} answered {type(data).__name__}, not an import request object")
        self._data = data
        return data

    def _loaded(self) -> dict[str, Any]:
        return self._data if self._data is not None else self._update_data()

    def _field(self, *keys: str) -> Any:
        data = self._loaded()
        for key in keys:
            if key in data:
                return data[key]
        raise XNATValueError(f"the import request {self.uri} has no {keys[0]!r} field")

    def _parameter(self, name: str) -> str | None:
        parameters = self._field("parameters")
        return parameters.get(name) if isinstance(parameters, dict) else None

    @property
    def status(self) -> str:
        """The request's state, read from the server each time (``Queued``, ..., ``Completed``, ``Failed``)."""
        self._update_data()
        return str(self._field("status"))

    @property
    def resolution(self) -> str | None:
        """What the import ended with: the sessions it made, or why it failed (``None`` until then)."""
        value = self._loaded().get("resolution")
        return None if value is None else str(value)

    @property
    def id(self) -> int:
        return int(self._field("id"))

    @property
    def username(self) -> str:
        return str(self._field("username"))

    @property
    def project_id(self) -> str | None:
        """The ``PROJECT_ID`` the import was sent with."""
        return self._parameter("PROJECT_ID")

    @property
    def subject_id(self) -> str | None:
        """The ``SUBJECT_ID`` the import was sent with."""
        return self._parameter("SUBJECT_ID")

    @property
    def session_path(self) -> str:
        """The folder or archive on the server that was imported."""
        return str(self._field("sessionPath"))

    @property
    def cleanup_after_import(self) -> bool:
        """Whether the server removes the imported folder afterwards."""
        return bool(self._field("cleanupAfterImport", "clenaupAfterImport"))

    @property
    def enabled(self) -> bool:
        return bool(self._field("enabled"))

    @property
    def created(self) -> datetime.datetime:
        """When the request was made (local time, as xnatpy gives it)."""
        return datetime.datetime.fromtimestamp(float(self._field("created")) / 1000.0)

    @property
    def timestamp(self) -> datetime.datetime:
        """When the request last changed (local time, as xnatpy gives it)."""
        return datetime.datetime.fromtimestamp(float(self._field("timestamp")) / 1000.0)
