"""A heartbeat that keeps a session's server-side login alive.

XNAT drops a session after ``SESSION_EXPIRATION_TIME`` of inactivity (15 min by default).
:class:`KeepAlive` runs a daemon thread that calls ``session.heartbeat()`` at about half
that interval. Unlike xnatpy's thread, which died on the first failed heartbeat, it:

* survives failures: a failed heartbeat is logged and retried sooner, and the thread carries
  on when the server is back (``session.heartbeat()`` logs in again if the session expired
  and the credentials are known);
* holds only a **weak reference** to the session, so an abandoned session can be collected
  and the thread then ends by itself;
* stops promptly on :meth:`stop` (called by ``disconnect()``), never blocks interpreter exit
  (daemon thread, waits on an ``Event``), and never prints: it only logs.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_INTERVAL", "MIN_INTERVAL", "KeepAlive", "interval_for_timeout"]

logger = logging.getLogger(__name__)

#: Heartbeat interval (s) when the server did not say its session timeout (xnatpy's 420 s).
DEFAULT_INTERVAL = 420.0
#: Never beat more often than this (s), whatever the server's timeout.
MIN_INTERVAL = 0.05


def interval_for_timeout(timeout_seconds: float | None) -> float:
    """Half the server's session timeout: well within it, even after a failed beat."""
    if not timeout_seconds or timeout_seconds <= 0:
        return DEFAULT_INTERVAL
    return max(timeout_seconds / 2.0, MIN_INTERVAL)


class KeepAlive:
    """The heartbeat thread of one session.

    ``session`` must have a ``heartbeat()`` method; only a weak reference to it is kept.
    ``interval`` is the time between beats; after a failure the next try comes after
    ``retry_interval`` (default: a quarter of ``interval``, at most 60 s) so a session is
    not lost to one bad moment.

    ``beats`` and ``failures`` count successful and failed heartbeats, and
    ``consecutive_failures`` is reset by the first success: they are for logs and tests.
    """

    def __init__(
        self,
        session: Any,
        interval: float = DEFAULT_INTERVAL,
        retry_interval: float | None = None,
        name: str = "xnat-keepalive",
    ) -> None:
        self._session_ref: Callable[[], Any] = weakref.ref(session)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._name = name
        self.enabled = True
        self.interval = float(interval)
        self._retry_interval = retry_interval
        self.beats = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    @property
    def interval(self) -> float:
        """Seconds between heartbeats."""
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        if value <= 0:
            raise ValueError(f"The keep-alive interval must be positive, not {value}")
        self._interval = max(float(value), MIN_INTERVAL)
        self._wake.set()  # apply the new interval now rather than after the old one

    @property
    def retry_interval(self) -> float:
        """Seconds before the next try after a failed heartbeat."""
        if self._retry_interval is not None:
            return max(self._retry_interval, MIN_INTERVAL)
        return max(min(self._interval / 4.0, 60.0), MIN_INTERVAL)

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once; later calls do nothing while it runs)."""
        with self._lock:
            if self._stopped.is_set() or self.running:
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait (at most ``timeout`` s) for it to end. Idempotent."""
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def trigger(self) -> None:
        """Send a heartbeat now (from the thread) instead of waiting for the interval."""
        self._force = True
        self._wake.set()

    def beat(self) -> bool:
        """Send one heartbeat from the calling thread; True if it succeeded.

        Never raises: a failure is logged and counted. Returns False too when the session
        is gone.
        """
        session = self._session_ref()
        if session is None:
            self._stopped.set()
            return False
        try:
            session.heartbeat()
        except Exception as error:  # noqa: BLE001 -- a heartbeat must never kill the thread
            self.failures += 1
            self.consecutive_failures += 1
            self.last_error = str(error)
            logger.warning(
                "Keep-alive heartbeat failed (%d in a row), retrying in %.0f s: %s",
                self.consecutive_failures, self.retry_interval, error,
            )
            return False
        finally:
            del session  # do not hold the session while waiting
        if self.consecutive_failures:
            logger.info("Keep-alive heartbeat succeeded again after %d failures", self.consecutive_failures)
        self.beats += 1
        self.consecutive_failures = 0
        self.last_error = None
        return True

    def _run(self) -> None:
        logger.debug("Keep-alive thread started (interval %.1f s)", self._interval)
        try:
            delay = self._interval
            while not self._stopped.is_set():
                woken = self._wake.wait(delay)
                self._wake.clear()
                if self._stopped.is_set():
                    break
                if woken and not self._forced():
                    delay = self._interval  # only the interval changed: restart the wait
                    continue
                if not self.enabled:
                    delay = self._interval
                    continue
                ok = self.beat()
                delay = self._interval if ok else self.retry_interval
        except BaseException:
            logger.debug("Keep-alive thread ended by an error", exc_info=True)
        finally:
            logger.debug("Keep-alive thread stopped")

    _force = False

    def _forced(self) -> bool:
        forced, self._force = self._force, False
        return forced
