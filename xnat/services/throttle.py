"""Politeness toward the server during a map: a bound on requests in flight, and backoff on 429/503.

A map with ``max_requests=N`` gives every session that works for it (the caller's, for
threads; each worker process's, rebuilt from its recipe) a :class:`GatedAdapter` in front of
its transport: a request takes a lease from one semaphore shared by the whole job before it
is sent and gives it back when the answer's headers are in. The semaphore is a
``threading.BoundedSemaphore`` for threads, a ``multiprocessing.Manager`` semaphore for
processes and a ``distributed.Semaphore`` on Dask, so at most ``N`` requests are in flight
across all workers, whatever their number.

An answer of 429 (too many requests) or 503 (unavailable) to a request that may be repeated
(GET, HEAD, OPTIONS) is waited out while the lease is still held (``Retry-After`` when the
server says, else 1, 2, 4 s) and sent again, at most :data:`BACKOFF_TRIES` times: the job as a
whole slows down instead of each worker hammering on. Streamed bodies are read after the lease
is given back: the bound counts requests, not open downloads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter

__all__ = ["BACKOFF_TRIES", "GatedAdapter", "install"]

logger = logging.getLogger(__name__)

#: How many times a 429/503 answer is waited out before it is handed back.
BACKOFF_TRIES = 3
_REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS"})
_BUSY = frozenset({429, 503})
_INSTALL_LOCK = threading.Lock()


class GatedAdapter(BaseAdapter):
    """A transport adapter that sends through ``inner`` holding a lease of ``gate``."""

    def __init__(self, inner: BaseAdapter, gate: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.inner = inner
        self.gate = gate
        self._sleep = sleep

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.gate.acquire()
        try:
            for attempt in range(BACKOFF_TRIES + 1):
                response = self.inner.send(request, *args, **kwargs)
                if (response.status_code not in _BUSY or request.method not in _REPEATABLE
                        or attempt == BACKOFF_TRIES):
                    return response
                wait = _retry_after(response, attempt)
                logger.info("%s %s answered %d: waiting %.1f s before trying again", request.method,
                            request.path_url.split("?")[0], response.status_code, wait)
                response.close()
                self._sleep(wait)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self.gate.release()

    def close(self) -> None:
        self.inner.close()


def _retry_after(response: requests.Response, attempt: int) -> float:
    text = response.headers.get("Retry-After", "")
    try:
        return min(max(float(text), 0.0), 60.0)
    except ValueError:
        return float(2 ** attempt)


def install(session: Any, gate: Any) -> Callable[[], None]:
    """Put ``gate`` in front of every transport of ``session``; returns what undoes it.

    Installing the gate a session already has does nothing (a worker receives it with each call).
    """
    interface = session.interface
    with _INSTALL_LOCK:
        adapters = dict(interface.adapters)
        if all(isinstance(a, GatedAdapter) and a.gate == gate for a in adapters.values()):
            return lambda: None
        for prefix, adapter in adapters.items():
            inner = adapter.inner if isinstance(adapter, GatedAdapter) else adapter
            interface.adapters[prefix] = GatedAdapter(inner, gate)

    def undo() -> None:
        with _INSTALL_LOCK:
            interface.adapters.update(adapters)

    return undo
