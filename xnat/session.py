"""The session classes, assembled: xnatpy's documented ``xnat.session`` path.

This is the composition root of the client. A session is

* :class:`~xnat.connection.Connection`: the REST core (verbs, answer checks, login state,
  keep-alive, server information);
* :class:`~xnat.classes.session_objects.SessionObjectsMixin`: top-level listings,
  ``create_object``, caches, ``transferer()`` and the session-level download/upload methods;
* :class:`~xnat.services.session_mixin.SessionServicesMixin`: ``services``, ``prearchive``,
  ``users``, ``inspect``, ``plugins``, ``scanners``, ``map``/``search``/``batch_download``.

The REST core comes first in the bases, so its attributes win over a mixin's. The
behaviour mixins of generated classes are listed in
:data:`xnat.classes.registry.BEHAVIOUR_MODULES`, not loaded from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import requests

from .auth import Credentials
from .classes.session_objects import SessionObjectsMixin
from .connection import Connection
from .services.session_mixin import SessionServicesMixin
from .transfer import Progress
from .transport import Timeout

__all__ = ["BaseXNATSession", "XNATSession", "default_update_func"]


class BaseXNATSession(Connection, SessionObjectsMixin, SessionServicesMixin):
    """A connection to one XNAT server (xnatpy's ``BaseXNATSession``).

    Made by :func:`xnat.connect`; not usually constructed directly. :meth:`disconnect`
    stops the keep-alive and closes the connections but leaves the server-side session
    alive (for the command line, ``cli=True``); :class:`XNATSession` also logs out.
    """

    def __init__(
        self,
        server: str,
        interface: requests.Session,
        credentials: Credentials | None = None,
        logger: logging.Logger | None = None,
        debug: bool = False,
        default_timeout: Timeout | None = 300.0,
        auth_provider: str | None = None,
        original_uri: str | None = None,
    ) -> None:
        super().__init__(server, interface, credentials=credentials, logger=logger, debug=debug,
                         default_timeout=default_timeout, auth_provider=auth_provider, original_uri=original_uri)
        self.classes = None
        #: xsi type -> generated class, filled by :func:`xnat.connect` once the classes are built.
        self.XNAT_CLASS_LOOKUP: dict[str, type] = {}

    def disconnect(self) -> None:
        """Stop the keep-alive, log out (XNATSession only) and close the connections. Idempotent."""
        try:
            super().disconnect()
        finally:
            if not self.connected:
                self.classes = None


class XNATSession(BaseXNATSession):
    """A session that also logs out on the server when disconnected."""

    _logout_on_disconnect = True


def default_update_func(total: int | None) -> Callable[[int, int | None, bool], None]:
    """xnatpy's progress callback for ``download_stream(update_func=...)``: a bar on stderr for a
    transfer of ``total`` bytes (``None`` when unknown), fed ``(bytes so far, total, finished)``."""
    progress = Progress(total, verbose=True)
    seen = [0]

    def update(done: int, total_now: int | None, finished: bool) -> None:
        if total_now != progress.total:
            progress.set_total(total_now)
        progress.add(done - seen[0])
        seen[0] = done
        if finished:
            progress.finish()

    return update
