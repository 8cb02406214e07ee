"""A read-only mapping read from the server in one request, cached until ``clearcache()``.

``session.users``, ``project.users`` and ``session.plugins`` are such mappings: the first
use reads everything (one request), later reads come from the cache. Safe to share between
threads: the cache is swapped under a lock, and two threads that miss at once both read,
the last one's answer winning (the answers are the same).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from ..exceptions import XNATKeyError

__all__ = ["CachedMapping"]

_V = TypeVar("_V")


class CachedMapping(Mapping[str, _V]):
    """Key -> value, read by :meth:`_read` on first use; subclasses say what and how."""

    def __init__(self, xnat_session: Any) -> None:
        self.xnat_session = xnat_session
        self._data: dict[str, _V] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, _V]:
        """Everything, from the server (one request)."""
        raise NotImplementedError

    def _missing(self, key: str) -> str:
        """The message of the :class:`~xnat.exceptions.XNATKeyError` for an unknown key."""
        return f"no entry {key!r}"

    def _use_cache(self) -> bool:
        """Whether a cached answer may be served (subclasses may follow the session's ``caching``)."""
        return True

    @property
    def data(self) -> dict[str, _V]:
        """Everything, read on first use and then cached."""
        with self._lock:
            data = self._data
        if data is None or not self._use_cache():
            data = self._read()
            with self._lock:
                self._data = data
        return data

    def clearcache(self) -> None:
        """Forget what was read: the next use reads again."""
        with self._lock:
            self._data = None

    def __getitem__(self, key: str) -> _V:
        try:
            return self.data[key]
        except KeyError:
            raise XNATKeyError(self._missing(key)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
