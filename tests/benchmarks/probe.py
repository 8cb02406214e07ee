"""Measurement helpers used *inside* a workload subprocess.

Standard library only: this module is loaded by ``_child.py`` in every interpreter the
suite drives, including the xnatpy virtual environment, so it must not import our package
(or anything that could shadow ``xnat``).
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any, Callable, Iterable

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size of this process, in MiB (from /proc/self/statm)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE / 2**20
    except OSError:  # not Linux: fall back to the peak, the best we have
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """Peak RSS of the largest waited-for child process, in MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


INSTALLED: list["RequestCounter"] = []


class RequestCounter:
    """Counts HTTP requests sent through ``requests`` (every client measured here uses it).

    The count is taken at ``HTTPAdapter.send``, the lowest common point, so redirects and
    retries are counted as the wire sees them.
    """

    def __init__(self) -> None:
        self.count = 0
        #: "METHOD /path?query -> status" for every answer >= 400, so the report can say
        #: what the server lacked for a client (a peer's tolerated 404s show up too).
        self.failures: dict[str, int] = {}

    def install(self) -> "RequestCounter":
        import requests.adapters

        original = requests.adapters.HTTPAdapter.send
        counter = self
        INSTALLED.append(self)

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            counter.count += 1
            response = original(adapter, request, *args, **kwargs)
            if response.status_code >= 400 and len(counter.failures) < 20:
                path = request.path_url.split("?")[0] if request.method == "PUT" else request.path_url
                key = f"{request.method} {path[:160]} -> {response.status_code}"
                counter.failures[key] = counter.failures.get(key, 0) + 1
            return response

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        return self


def timed_loop(items: list[Any], action: Callable[[Any], object], budget_s: float) -> tuple[float, int]:
    """Run ``action`` on items until done or ``budget_s`` is spent; (seconds, items done).

    A peer that makes one request per item would take many minutes on 50,000 items; the
    caller extrapolates from the part that ran (and says so in the report).
    """
    start = time.perf_counter()
    deadline = start + budget_s
    done = 0
    for item in items:
        action(item)
        done += 1
        if time.perf_counter() > deadline:
            break
    return time.perf_counter() - start, done


def extrapolate(seconds: float, done: int, total: int) -> float:
    """Scale a partial loop's time to the whole, linearly."""
    if done >= total or done == 0:
        return seconds
    return seconds * total / done


def count_files(root: str) -> tuple[int, int]:
    """(number of files, total bytes) under ``root``."""
    files = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


def drain(iterable: Iterable[Any]) -> int:
    """Consume an iterable, returning how many items it had."""
    return sum(1 for _ in iterable)
