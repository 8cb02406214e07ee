"""The credential a map's worker processes log in with, and its renewal when the server refuses it.

Objects go to worker processes (a ``ProcessPoolExecutor``, Dask) pickled by the caller
(:meth:`JobCredential.pack`), their session as the job's :class:`~xnat.services.recipe.SessionRecipe`:
at first the caller session's own recipe (the alias token it issued for jobs). A worker that
cannot log in with it, or whose login is refused mid-call (the token expired, was revoked),
never prompts: its objects come back as :class:`Refused` outcomes. The caller then issues a
fresh alias token (:meth:`JobCredential.renew`; it holds the password or its own live
session, the workers never do) and sends those objects again with the new recipe, at most
:data:`RENEWALS` times per job. A recipe of the ``"jsession"`` kind cannot be renewed: its
objects fail with an error that says so.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import pickle
from collections.abc import Sequence
from typing import Any

from ..exceptions import XNATAuthError

__all__ = ["RENEWALS", "JobCredential", "Refused", "refused", "unpack"]

logger = logging.getLogger(__name__)

#: How many times a job issues a fresh token after its workers were refused.
RENEWALS = 2


class Refused:
    """The outcome of an object whose worker could not log in with the job's credential."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (Refused, (self.reason,))

    def __str__(self) -> str:
        return self.reason


def refused(error: BaseException) -> Refused | None:
    """A :class:`Refused` for a login failure met on a worker, None for any other error."""
    return Refused(f"{type(error).__name__}: {error}") if isinstance(error, XNATAuthError) else None


class _JobPickler(pickle.Pickler):
    """Pickles each session of the job as the job's current recipe for it."""

    def __init__(self, file: io.BytesIO, reductions: dict[int, tuple[Any, ...]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._reductions = reductions

    def reducer_override(self, obj: Any) -> Any:
        return self._reductions.get(id(obj), NotImplemented)


class JobCredential:
    """The recipes a job's objects travel with, one per caller session."""

    def __init__(self, sessions: Sequence[Any]) -> None:
        self._sessions = {id(session): session for session in sessions}
        # a session pickles as (restore_session, (recipe,)): the job keeps that pair and may
        # swap the recipe, leaving the session's own untouched
        self._reductions: dict[int, tuple[Any, ...]] = {key: session.__reduce__()
                                                        for key, session in self._sessions.items()}
        self.renewals = 0

    def recipe(self, session: Any) -> Any:
        return self._reductions[id(session)][1][0]

    def pack(self, objects: Sequence[Any]) -> bytes:
        """``objects`` pickled with the job's current recipes."""
        buffer = io.BytesIO()
        _JobPickler(buffer, self._reductions).dump(list(objects))
        return buffer.getvalue()

    def renew(self) -> str | None:
        """Issue a fresh alias token for each session; None when done, else why it cannot be."""
        if self.renewals >= RENEWALS:
            return f"the server refused the job's credential again after {RENEWALS} fresh tokens"
        for key, session in self._sessions.items():
            restore, (recipe,) = self._reductions[key]
            if recipe.credential != "token":
                return (f"the server refused the workers' {recipe.credential} credential, which cannot be renewed "
                        "(with worker_credential='jsession' the workers share the caller's session: connect again, "
                        "or use the default 'token')")
            token = session.services.issue_token()
            self._reductions[key] = (restore, (dataclasses.replace(recipe, alias=token.alias, secret=token.secret),))
        self.renewals += 1
        logger.info("map: the workers' token was refused; a fresh one was issued (%d of %d)", self.renewals, RENEWALS)
        return None


def unpack(payload: bytes) -> list[Any]:
    """The objects of a batch, on the worker (their sessions log in here, once per process)."""
    objects: list[Any] = pickle.loads(payload)
    return objects
