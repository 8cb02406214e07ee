"""Running a map's calls on an executor: threads, processes, any ``concurrent.futures`` executor, or Dask.

The walk of the tree stays on the caller (:mod:`xnat.services.mapping`); this module only
runs ``function(obj, *args, **kwargs)`` for the objects it is given and streams the outcomes
back in the order they complete. ``executor`` is one of

* ``"threads"``: a ``ThreadPoolExecutor`` of ``workers`` threads sharing the caller's session;
* ``"processes"``: a ``ProcessPoolExecutor`` of ``workers`` processes; objects travel
  pickled (see :mod:`xnat.services.recipe`), so the function must pickle too: one that
  cannot (a lambda, a local function) is refused before any work starts;
* a ``concurrent.futures.Executor`` of the caller's own (left running afterwards);
* a ``dask.distributed.Client`` (the ``xnat[dask]`` extra): tasks go to its cluster, pickled
  with cloudpickle, and a worker that dies has its tasks retried elsewhere by Dask.

A call that raises is an outcome like any other (``(False, "Type: message")``), made on the
worker, so that one bad object never stops the job.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import pickle
import threading
import uuid
from collections.abc import Callable, Generator, Sequence
from typing import Any

from ..exceptions import XNATValueError
from . import throttle

__all__ = ["EXECUTOR_KINDS", "call", "check_executor", "run"]

#: The executors named by a string.
EXECUTOR_KINDS = ("threads", "processes")

Outcome = tuple[bool, Any]


def call(function: Callable[..., Any], obj: Any, args: Sequence[Any], kwargs: dict[str, Any],
         gate: Any = None) -> Outcome:
    """Run one call where the executor runs it; an exception becomes a failed outcome.

    ``gate``: the job's request bound, put in front of the object's session on the worker."""
    try:
        if gate is not None:
            throttle.install(obj.xnat_session, gate)
        return True, function(obj, *args, **kwargs)
    except Exception as error:  # noqa: BLE001 - recorded per object, the job goes on
        return False, f"{type(error).__name__}: {error}"


def _is_dask_client(executor: Any) -> bool:
    return any(cls.__module__.startswith("distributed") and cls.__name__ == "Client"
               for cls in type(executor).__mro__)


def check_executor(executor: Any, workers: int | None) -> None:
    """A clear error for an executor of an unknown kind or a bad worker count."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise XNATValueError(f"workers must be a positive number, not {workers!r}")
    if executor is None or executor in EXECUTOR_KINDS or _is_dask_client(executor):
        return
    if isinstance(executor, str) or not isinstance(executor, concurrent.futures.Executor):
        raise XNATValueError(f"executor must be None, 'threads', 'processes', a concurrent.futures.Executor or a "
                             f"dask.distributed.Client, not {executor!r}")


def _check_picklable(function: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    name = getattr(function, "__qualname__", repr(function))
    try:
        pickle.dumps(function)
    except Exception as error:  # noqa: BLE001 - any pickling failure means the same to the user
        raise XNATValueError(f"the function {name} cannot be sent to a worker process ({error}): define it at the "
                             "top level of a module, or use executor='threads'") from None
    try:
        pickle.dumps((args, kwargs))
    except Exception as error:  # noqa: BLE001
        raise XNATValueError(f"the arguments of {name} cannot be sent to a worker process: {error}") from None


def check_max_requests(max_requests: int | None) -> None:
    if max_requests is not None and (isinstance(max_requests, bool) or not isinstance(max_requests, int)
                                     or max_requests < 1):
        raise XNATValueError(f"max_requests must be a positive number, not {max_requests!r}")


def run(executor: Any, workers: int | None, function: Callable[..., Any], items: Sequence[tuple[str, Any]],
        args: Sequence[Any], kwargs: dict[str, Any],
        max_requests: int | None = None) -> Generator[tuple[str, Outcome], None, None]:
    """``(uri, outcome)`` for each item, in completion order. Closing the iterator (Ctrl-C,
    an error in the caller) cancels the calls not started yet. ``max_requests`` bounds the
    requests in flight across all workers (:mod:`xnat.services.throttle`)."""
    check_executor(executor, workers)
    check_max_requests(max_requests)
    if _is_dask_client(executor):
        yield from _run_dask(executor, function, items, args, kwargs, max_requests)
        return
    threads = executor == "threads" or isinstance(executor, concurrent.futures.ThreadPoolExecutor)
    if not threads:
        _check_picklable(function, args, kwargs)
    with contextlib.ExitStack() as stack:
        gate = None
        if max_requests is not None and threads:
            for session in {id(obj.xnat_session): obj.xnat_session for _, obj in items}.values():
                stack.callback(throttle.install(session, threading.BoundedSemaphore(max_requests)))
        elif max_requests is not None:
            manager = stack.enter_context(multiprocessing.Manager())
            gate = manager.BoundedSemaphore(max_requests)
        pool = _pool(executor, workers)
        if isinstance(executor, str):
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        yield from _run_pool(pool, function, items, args, kwargs, gate)


def _pool(executor: Any, workers: int | None) -> concurrent.futures.Executor:
    if executor == "threads":
        return concurrent.futures.ThreadPoolExecutor(workers, "xnat-map")
    if executor == "processes":
        return concurrent.futures.ProcessPoolExecutor(workers)
    return executor  # type: ignore[no-any-return]  # checked by check_executor


def _run_pool(pool: concurrent.futures.Executor, function: Callable[..., Any], items: Sequence[tuple[str, Any]],
              args: Sequence[Any], kwargs: dict[str, Any], gate: Any) -> Generator[tuple[str, Outcome], None, None]:
    futures: dict[concurrent.futures.Future[Outcome], str] = {}
    try:
        for uri, obj in items:
            futures[pool.submit(call, function, obj, tuple(args), dict(kwargs), gate)] = uri
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()
    finally:
        for future in futures:
            future.cancel()


def _run_dask(client: Any, function: Callable[..., Any], items: Sequence[tuple[str, Any]],
              args: Sequence[Any], kwargs: dict[str, Any],
              max_requests: int | None) -> Generator[tuple[str, Outcome], None, None]:
    import distributed  # the xnat[dask] extra

    untyped: Any = distributed  # distributed's as_completed and Semaphore are unannotated
    gate = None
    if max_requests is not None:
        gate = untyped.Semaphore(max_leases=max_requests, name=f"xnat-map-{uuid.uuid4()}")
    futures = {}
    try:
        for uri, obj in items:
            future = client.submit(call, function, obj, tuple(args), dict(kwargs), gate, pure=False, retries=1)
            futures[future.key] = (uri, future)
        for future in untyped.as_completed([f for _, f in futures.values()]):
            yield futures[future.key][0], future.result()
    finally:
        client.cancel([f for _, f in futures.values()])
        if gate is not None:
            gate.close()
