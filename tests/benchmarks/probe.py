"""Measurement helpers used *inside* a workload subprocess.

Standard library only: this module is loaded by ``_child.py`` in every interpreter the
suite drives, including the xnatpy virtual environment, so it must not import our package
(or anything that could shadow ``xnat``).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterable
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set size of this process, in MiB (from /proc/self/statm)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE / 2**20
    except OSError:  # not Linux: fall back to the peak, the best we have
        return peak_rss_mb()


def _vm_hwm_mb(pid: str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    VmHWM, not ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the parent through
    (v)fork + exec, so a child of a 100 MB harness would report at least 100 MB.
    """
    hwm = _vm_hwm_mb()
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_watching_rss(command: list[str], timeout: float) -> float:
    """Run a command to completion; return its peak RSS in MiB (VmHWM polled every 10 ms).

    VmHWM only grows, so the last reading before exit is the peak to within the memory
    touched in the last few milliseconds.
    """
    import subprocess

    process = subprocess.Popen(command)
    deadline = time.monotonic() + timeout
    peak = 0.0
    while process.poll() is None:
        hwm = _vm_hwm_mb(str(process.pid))
        if hwm is not None:
            peak = max(peak, hwm)
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise TimeoutError(f"{command[0]} took over {timeout:g} s")
        time.sleep(0.01)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return peak


INSTALLED: list[RequestCounter] = []


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

    def install(self) -> RequestCounter:
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
