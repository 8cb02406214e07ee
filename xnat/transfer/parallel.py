"""Run many transfers on a small thread pool; the first failure stops the rest cleanly.

Each job gets a shared ``threading.Event``; transfers check it between chunks, so when
one job fails the running ones stop within a chunk (removing their temporary files) and
the queued ones never start. The error raised names every file that failed and how many
were not attempted; ``.failures`` maps each failed job to its exception and
``.completed`` lists the results that did finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TypeVar

from ..exceptions import XNATError, XNATIOError
from .connection import Cancelled

__all__ = ["DEFAULT_WORKERS", "resolve_workers", "run_jobs"]

logger = logging.getLogger(__name__)

#: Transfers at once when the caller does not say: enough to overlap the round trips of many
#: small files over a real link (eight waves of 20 ms instead of one per file), few enough
#: for a server to serve side by side. ``workers=`` / ``session.transfer_workers`` bound it.
DEFAULT_WORKERS = 8
MAX_WORKERS = 32

Job = TypeVar("Job")
Result = TypeVar("Result")


def resolve_workers(workers: int | None, jobs: int) -> int:
    """The pool size: ``workers`` (default :data:`DEFAULT_WORKERS`), never more than the jobs or 32."""
    if workers is None:
        workers = DEFAULT_WORKERS
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise XNATIOError(f"workers must be a positive whole number, not {workers!r}")
    return max(1, min(workers, jobs, MAX_WORKERS))


def run_jobs(jobs: Sequence[Job], work: Callable[[Job, threading.Event], Result],
             describe: Callable[[Job], str], workers: int | None = None,
             what: str = "transfers") -> list[Result]:
    """Run ``work(job, cancel)`` for every job; results in job order, or one clear error."""
    if not jobs:
        return []
    pool_size = resolve_workers(workers, len(jobs))
    cancel = threading.Event()
    results: dict[int, Result] = {}
    failures: dict[int, BaseException] = {}
    pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="xnat-transfer")
    try:
        futures: dict[Future[Result], int] = {pool.submit(work, job, cancel): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):  # react to the first failure at once
            _collect(future, futures[future], results, failures, cancel, futures)
    except BaseException:  # KeyboardInterrupt or a bug: stop everything, then re-raise
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        raise _job_error(jobs, describe, results, failures, what)
    return [results[index] for index in range(len(jobs))]


def _collect(future: Future[Result], index: int, results: dict[int, Result],
             failures: dict[int, BaseException], cancel: threading.Event,
             futures: dict[Future[Result], int]) -> None:
    if future.cancelled():
        return
    try:
        results[index] = future.result()
    except Cancelled:
        pass
    except Exception as error:  # noqa: BLE001 - every failure is reported, none is lost
        failures[index] = error
        if not cancel.is_set():
            cancel.set()
            for other in futures:  # queued jobs never start
                other.cancel()


def _job_error(jobs: Sequence[Job], describe: Callable[[Job], str], results: dict[int, Result],
               failures: dict[int, BaseException], what: str) -> XNATError:
    first = failures[min(failures)]
    names = [f"{describe(jobs[i])} ({failures[i]})" for i in sorted(failures)]
    not_done = len(jobs) - len(results) - len(failures)
    message = f"{len(failures)} of {len(jobs)} {what} failed: " + "; ".join(names[:5])
    if len(names) > 5:
        message += f"; and {len(names) - 5} more"
    if not_done:
        message += f". {not_done} were stopped or not started"
    error: XNATError
    try:
        error = type(first)(message) if isinstance(first, XNATError) else XNATIOError(message)
    except TypeError:
        error = XNATIOError(message)
    # Extra attributes of this one error, documented above (XNATError does not declare them).
    error.failures = {describe(jobs[i]): failures[i] for i in sorted(failures)}  # type: ignore[attr-defined]  # see above
    error.completed = [results[i] for i in sorted(results)]  # type: ignore[attr-defined]  # see above
    error.__cause__ = first
    logger.debug("%s", message)
    return error
