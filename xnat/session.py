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
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .auth import Credentials
from .classes.factory import build_classes
from .classes.session_objects import SessionObjectsMixin
from .connection import Connection
from .schema.model import SchemaModel
from .services.recipe import SessionRecipe, cached_session, check_credential
from .services.search_classes import install_search
from .services.session_mixin import SessionServicesMixin
from .transfer import Progress
from .transport import Timeout, build_transport

__all__ = ["BaseXNATSession", "XNATSession", "default_update_func", "restore_session"]

_RECIPE_LOCK = threading.Lock()


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
        #: xsi type -> generated class (``classes.lookup``, a class built when read), set by :func:`xnat.connect`.
        self.XNAT_CLASS_LOOKUP: Mapping[str, type] = {}
        #: What a pickled session gives its worker: ``"token"`` (an alias token issued once for
        #: the job) or ``"jsession"`` (this session's own id); never the password.
        self.worker_credential = "token"
        self._recipe: SessionRecipe | None = None

    # -- pickling (see xnat.services.recipe) ---------------------------------------------
    def recipe(self) -> SessionRecipe:
        """The recipe a pickled copy of this session carries (an alias token is issued on first call)."""
        kind = check_credential(self.worker_credential)
        with _RECIPE_LOCK:
            if self._recipe is None or self._recipe.credential != kind:
                self._recipe = self._make_recipe(kind)
            return self._recipe

    def _make_recipe(self, kind: str) -> SessionRecipe:
        self._check_connection()
        user = self.logged_in_user
        if self._credentials.anonymous:
            kind, alias, secret, jsession = "anonymous", None, None, None
        elif kind == "token":
            token = self.services.issue_token()
            alias, secret, jsession = token.alias, token.secret, None
        else:
            alias, secret, jsession = None, None, self.jsession
        model = getattr(self.classes, "model", None)
        return SessionRecipe(
            server=self.server, user=user, credential=kind, alias=alias, secret=secret, jsession=jsession,
            verify=self._verify if isinstance(self._verify, (bool, str)) else True,
            timeout=self.request_timeout, login_timeout=self.login_timeout,
            request_deadline=self.request_deadline, min_transfer_rate=self.min_transfer_rate,
            transfer_rate_window=self.transfer_rate_window,
            model=SessionRecipe.pack_model(model.to_json()) if model is not None else None,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore_session, (self.recipe(),))

    # A session is a shared resource: copying one (or an object holding one) keeps it, and
    # never issues a token the way pickling does.
    def __copy__(self) -> BaseXNATSession:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseXNATSession:
        return self

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


def restore_session(recipe: SessionRecipe) -> BaseXNATSession:
    """The session ``recipe`` describes, built and logged in once per process (unpickling)."""
    return cached_session(recipe, _build_from_recipe)  # type: ignore[no-any-return]


def _build_from_recipe(recipe: SessionRecipe) -> BaseXNATSession:
    if recipe.credential == "token":
        credentials = Credentials(recipe.alias, recipe.secret, "token")
    elif recipe.credential == "jsession":
        credentials = Credentials(recipe.user, None, "jsession")
    else:
        credentials = Credentials(None, None, "anonymous")
    interface = build_transport(recipe.verify, recipe.timeout)
    # A worker's session never logs out: with "jsession" it rides the caller's own session.
    session = BaseXNATSession(recipe.server, interface, credentials=credentials, default_timeout=recipe.timeout)
    session.login_timeout = recipe.login_timeout
    session.request_deadline = recipe.request_deadline
    session.min_transfer_rate = recipe.min_transfer_rate
    session.transfer_rate_window = recipe.transfer_rate_window
    session._recipe = recipe  # pickled again (by a nested job), it hands on the same credential
    try:
        if recipe.credential == "jsession" and recipe.jsession:
            session.adopt_jsession(recipe.jsession)
        else:  # the token was issued for recipe.user: the worker's login need not ask whose it is
            session.authenticate(detect_redirect=False, known_user=recipe.user)
        model_json = recipe.model_json()
        if model_json is not None:
            session.classes = build_classes(SchemaModel.from_json(model_json), session)
            session.XNAT_CLASS_LOOKUP = session.classes.lookup
            install_search(session)
    except BaseException:
        session.disconnect()
        raise
    return session


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
