"""Politeness toward the server during a map: a bound on requests in flight, and a pause on 429/503 shared by the job.

Every session that works for a map with an executor (the caller's, for threads; each worker
process's, rebuilt from its recipe) gets a :class:`GatedAdapter` in front of its transport,
carrying the job's :class:`Politeness`:

* ``gate`` (with ``max_requests=N``): a request takes a lease from one semaphore shared by
  the whole job before it is sent and gives it back when the answer's headers are in. The
  semaphore is a ``threading.BoundedSemaphore`` for threads, a ``multiprocessing.Manager``
  semaphore for processes and a ``distributed.Semaphore`` on Dask, so at most ``N`` requests
  are in flight across all workers, whatever their number.
* ``pause``: a :class:`JobPause`, the wall-clock time before which no worker of the job sends
  a request. An answer of 429 (too many requests) or 503 (unavailable) moves it to now +
  ``Retry-After`` (else 1, 2, 4 s; at most :data:`MAX_PAUSE`), so that every worker holds
  back, not only the one that was told; a request that may be repeated (GET, HEAD, OPTIONS)
  is then sent again, at most :data:`BACKOFF_TRIES` times, holding its lease. The time is
  kept in a plain variable for threads, a ``multiprocessing.Manager`` value for processes
  and a ``distributed.Variable`` on Dask, read before every request (on Dask at most every
  :data:`DASK_REFRESH` s per worker process, which spares the scheduler a message per request).

Streamed bodies are read after the lease is given back: the bound counts requests, not open
downloads. Clocks: the pause is wall-clock time, shared by machines whose clocks agree to a
second or so; a wait never exceeds :data:`MAX_PAUSE`, whatever a skewed clock says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import BaseAdapter

__all__ = ["BACKOFF_TRIES", "DASK_REFRESH", "MAX_PAUSE", "GatedAdapter", "JobPause", "LocalValue", "Politeness",
           "install"]

logger = logging.getLogger(__name__)

#: How many times a 429/503 answer is waited out before it is handed back.
BACKOFF_TRIES = 3
#: The longest pause a busy answer (or a skewed clock) can impose, in seconds.
MAX_PAUSE = 60.0
#: How often a Dask worker process reads the job's pause again, in seconds.
DASK_REFRESH = 0.1
_REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS"})
_BUSY = frozenset({429, 503})
_INSTALL_LOCK = threading.Lock()


class LocalValue:
    """A float with ``get``/``set``, shared by the threads of one process."""

    def __init__(self, value: float = 0.0) -> None:
        self._value = value

    def get(self) -> float:
        return self._value

    def set(self, value: float) -> None:
        self._value = value


class JobPause:
    """When the job's requests may go again, kept in ``store`` (anything with ``get()`` and
    ``set(float)`` that every worker reaches), read at most every ``refresh`` seconds."""

    def __init__(self, store: Any, refresh: float = 0.0) -> None:
        self.store = store
        self.refresh = refresh
        self._until = 0.0
        self._read_at = float("-inf")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_received, (self.store, self.refresh))  # what was read stays behind

    def until(self) -> float:
        """The wall-clock time before which no request goes out (0: none)."""
        now = time.monotonic()
        if now - self._read_at >= self.refresh:
            self._until, self._read_at = float(self.store.get()), now
        return self._until

    def hold(self, seconds: float) -> None:
        """No request of the job before ``seconds`` from now (a later pause already set stays)."""
        until = time.time() + seconds
        if until > self.until():
            self.store.set(until)
            self._until = until

    def wait(self, sleep: Callable[[float], None]) -> None:
        left = min(self.until() - time.time(), MAX_PAUSE)
        if left > 0:
            sleep(left)


_RECEIVED: dict[str, JobPause] = {}
_RECEIVED_LOCK = threading.Lock()


def _received(store: Any, refresh: float) -> JobPause:
    """A pause as a worker process receives it with each batch: one per named store (a Dask
    ``Variable``) per process, so that what it read lasts across the job's batches."""
    name = getattr(store, "name", None)
    if not isinstance(name, str) or not refresh:
        return JobPause(store, refresh)
    with _RECEIVED_LOCK:
        pause = _RECEIVED.get(name)
        if pause is None:
            if len(_RECEIVED) > 64:  # the pauses of past jobs go; a job's is made again if needed
                _RECEIVED.clear()
            pause = _RECEIVED[name] = JobPause(store, refresh)
        return pause


@dataclass(frozen=True, eq=False)
class Politeness:
    """What a job asks of every session working for it: ``gate`` (None: no bound) and ``pause``."""

    gate: Any
    pause: JobPause


class GatedAdapter(BaseAdapter):
    """A transport adapter that sends through ``inner`` after the job's pause, holding a lease of its gate."""

    def __init__(self, inner: BaseAdapter, politeness: Politeness,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.inner = inner
        self.politeness = politeness
        self._sleep = sleep

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        gate, pause = self.politeness.gate, self.politeness.pause
        pause.wait(self._sleep)
        if gate is not None:
            gate.acquire()
        try:
            for attempt in range(BACKOFF_TRIES + 1):
                response = self.inner.send(request, *args, **kwargs)
                if response.status_code not in _BUSY:
                    return response
                wait = _retry_after(response, attempt)
                pause.hold(wait)  # every worker of the job holds back, not only this one
                if request.method not in _REPEATABLE or attempt == BACKOFF_TRIES:
                    return response
                logger.info("%s %s answered %d: waiting %.1f s before trying again", request.method,
                            request.path_url.split("?")[0], response.status_code, wait)
                response.close()
                pause.wait(self._sleep)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            if gate is not None:
                gate.release()

    def close(self) -> None:
        self.inner.close()


def _retry_after(response: requests.Response, attempt: int) -> float:
    text = response.headers.get("Retry-After", "")
    try:
        return min(max(float(text), 0.0), MAX_PAUSE)
    except ValueError:
        return float(2 ** attempt)


def install(session: Any, politeness: Politeness) -> Callable[[], None]:
    """Put ``politeness`` in front of every transport of ``session``; returns what undoes it.

    Installing what a session already has does nothing (a worker receives it with each batch).
    """
    interface = session.interface
    with _INSTALL_LOCK:
        adapters = dict(interface.adapters)
        if all(isinstance(a, GatedAdapter) and a.politeness is politeness for a in adapters.values()):
            return lambda: None
        for prefix, adapter in adapters.items():
            inner = adapter.inner if isinstance(adapter, GatedAdapter) else adapter
            interface.adapters[prefix] = GatedAdapter(inner, politeness)

    def undo() -> None:
        with _INSTALL_LOCK:
            interface.adapters.update(adapters)

    return undo
