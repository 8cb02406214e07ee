"""What a pickled session is: a small recipe a worker process rebuilds the session from.

A session holds sockets, locks and a keep-alive thread, none of which can travel to another
process. Pickling one (for a ``ProcessPoolExecutor``, a Dask worker) writes a
:class:`SessionRecipe` instead: the server URL, the TLS and timeout settings, the schema
model (so the worker builds its classes without fetching a schema) and a credential that is
never the password:

* ``"token"`` (the default): an alias token issued for the job by the caller
  (``/data/services/tokens/issue``), once per session; the worker logs in with it, and
  logs in again with it when its server session expires;
* ``"jsession"``: the caller's own server session id, when the user asks for it
  (``session.worker_credential = "jsession"``); no token is issued, and when that session
  expires the worker's objects fail with an error that says it cannot be renewed.

During a map, a token the server refuses (expired, revoked) is renewed by the caller, never
by the worker (:mod:`xnat.services.jobcredential`).

Unpickling in a worker process looks the session up in a per-process cache keyed by server,
user and credential, so a worker logs in once however many objects it receives. Nothing here
prompts: a worker never asks for a password.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import XNATValueError

__all__ = ["WORKER_CREDENTIALS", "SessionRecipe", "cached_session", "clear_cache"]

#: The credentials a worker may be given (``session.worker_credential``).
WORKER_CREDENTIALS = ("token", "jsession")


@dataclass(frozen=True)
class SessionRecipe:
    """Everything a worker needs to rebuild a session; ``__attrs__`` names exactly what is pickled."""

    __attrs__ = ("server", "user", "credential", "alias", "secret", "jsession", "verify", "timeout",
                 "login_timeout", "request_deadline", "min_transfer_rate", "transfer_rate_window", "model")

    server: str
    #: The caller's user name: the cache key, so that two users never share a worker session.
    user: str | None
    #: ``"token"``, ``"jsession"`` or ``"anonymous"``.
    credential: str
    alias: str | None = None
    secret: str | None = field(default=None, repr=False)
    jsession: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: Any = 300.0
    login_timeout: Any = None
    request_deadline: float | None = None
    min_transfer_rate: float | None = None
    transfer_rate_window: float = 60.0
    #: The schema model as zlib-compressed JSON (``SchemaModel.to_json``); None: no classes.
    model: bytes | None = field(default=None, repr=False)

    def __reduce__(self) -> tuple[Any, ...]:
        return (SessionRecipe, tuple(getattr(self, name) for name in self.__attrs__))

    @property
    def key(self) -> tuple[str, str | None, str, str]:
        """What the per-process cache knows a session by: a recipe with another secret never
        gets the session a right one logged in."""
        secret = hashlib.sha256(f"{self.alias}\0{self.secret}\0{self.jsession}".encode()).hexdigest()
        return (self.server, self.user, self.credential, secret)

    @staticmethod
    def pack_model(text: str) -> bytes:
        return zlib.compress(text.encode("utf-8"), 6)

    def model_json(self) -> str | None:
        return None if self.model is None else zlib.decompress(self.model).decode("utf-8")


def check_credential(kind: Any) -> str:
    if kind not in WORKER_CREDENTIALS:
        raise XNATValueError(f"worker_credential must be one of {', '.join(WORKER_CREDENTIALS)}, not {kind!r}")
    return str(kind)


# -- the per-process cache ----------------------------------------------------------------
_CACHE: dict[tuple[str, str | None, str, str], Any] = {}
_CACHE_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child must not ride its parent's sockets and login: it builds its own.
    global _CACHE_LOCK
    _CACHE_LOCK = threading.Lock()
    _CACHE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def cached_session(recipe: SessionRecipe, build: Callable[[SessionRecipe], Any]) -> Any:
    """The session this process built from ``recipe`` (built, and logged in, on first use)."""
    with _CACHE_LOCK:
        session = _CACHE.get(recipe.key)
        if session is None or not session.connected:
            session = _CACHE[recipe.key] = build(recipe)
        return session


def clear_cache() -> None:
    """Forget (and disconnect) the sessions this process rebuilt from recipes."""
    with _CACHE_LOCK:
        sessions = list(_CACHE.values())
        _CACHE.clear()
    for session in sessions:
        session.disconnect()
