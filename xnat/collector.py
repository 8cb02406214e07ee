"""Pausing Python's cyclic garbage collector while a big, acyclic structure is built.

Making the objects of a big listing allocates one tracked object per row. CPython runs the
collector every 700 such allocations, and each run scans the young objects made so far
(every tracked object of the process, in a full run). None of them is garbage: the listing
holds them. On 50,000 rows those scans cost as much as making the objects, and left a debt
that the script's next loop paid. ``with collector_paused:`` switches the collector off for
such a stretch; nothing is lost, since cycles left behind meanwhile are found by its next
run. (Parsing the JSON rows under a pause was measured too, and made the whole listing
slower: the parsed rows are not tracked, and the pause only moved the collector's work.)
"""

from __future__ import annotations

import gc
import threading

__all__ = ["collector_paused"]


class _PausedCollector:
    """The context behind :data:`collector_paused`: re-entrant and shared by threads; the
    collector is switched back on when the last one leaves, and only if it was on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


#: ``with collector_paused: ...``: the collector is off inside (see the module docstring).
collector_paused = _PausedCollector()
