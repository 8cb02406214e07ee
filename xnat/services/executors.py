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

On processes and Dask the objects travel in batches (:func:`batches`: about eight per worker
slot, at most :data:`MAX_BATCH` objects each), so that a batch's session recipe is pickled
once and the scheduler's cost is paid per batch, not per object; outcomes come back a batch
at a time. A worker process that dies breaks a ``ProcessPoolExecutor`` for every pending
call: a pool of ours is started again for the batches not back yet (:data:`POOL_RESTARTS`
times); with the caller's own executor, or past that bound, those objects are recorded as
failed (the log then retries them on the next run). Objects whose worker was refused the
job's credential go again with a fresh token the caller issues (:mod:`.jobcredential`).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from ..exceptions import XNATValueError
from . import jobcredential, throttle

__all__ = ["EXECUTOR_KINDS", "MAX_BATCH", "POOL_RESTARTS", "batches", "call", "call_batch", "check_executor", "run"]

logger = logging.getLogger(__name__)

#: The executors named by a string.
EXECUTOR_KINDS = ("threads", "processes")
#: The most objects one task carries to a worker process.
MAX_BATCH = 16
#: Batches per worker slot: enough that the last ones are short, so no slot works alone at the end.
_PER_SLOT = 8
#: How many times a process pool of ours is started again after a worker process died.
POOL_RESTARTS = 3

Outcome = tuple[bool, Any]


def call(function: Callable[..., Any], obj: Any, args: Sequence[Any], kwargs: dict[str, Any],
         politeness: throttle.Politeness | None = None, remote: bool = False) -> Outcome:
    """Run one call where the executor runs it; an exception becomes a failed outcome.

    ``politeness``: the job's request bound and pause, put in front of the object's session.
    ``remote``: in a worker process, whose session logs in with the job's recipe: a login the
    server refuses comes back as :class:`~xnat.services.jobcredential.Refused`, for the caller
    to renew the credential."""
    try:
        if politeness is not None:
            throttle.install(obj.xnat_session, politeness)
        return True, function(obj, *args, **kwargs)
    except Exception as error:  # noqa: BLE001 - recorded per object, the job goes on
        return False, (remote and jobcredential.refused(error)) or f"{type(error).__name__}: {error}"


def is_dask_client(executor: Any) -> bool:
    return any(cls.__module__.startswith("distributed") and cls.__name__ == "Client"
               for cls in type(executor).__mro__)


def check_executor(executor: Any, workers: int | None) -> None:
    """A clear error for an executor of an unknown kind or a bad worker count."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise XNATValueError(f"workers must be a positive number, not {workers!r}")
    if executor is None or executor in EXECUTOR_KINDS or is_dask_client(executor):
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


#: A batch as threads get it (the objects themselves) or as a worker process gets it: the
#: URIs and the objects pickled by the caller with the job's recipe (:mod:`.jobcredential`).
Batch = list[tuple[str, Any]]
Packed = tuple[list[str], bytes]


def call_batch(function: Callable[..., Any], batch: Batch | Packed, args: Sequence[Any],
               kwargs: dict[str, Any], politeness: throttle.Politeness | None = None) -> list[tuple[str, Outcome]]:
    """:func:`call` on each object of a batch: one task carries several objects to a worker
    process, so that their session recipe is pickled once and the scheduler's cost per task
    is shared. A packed batch that cannot be unpickled here (its session cannot log in) fails
    as a whole."""
    if isinstance(batch, list):
        return [(uri, call(function, obj, args, kwargs, politeness)) for uri, obj in batch]
    uris, payload = batch
    try:
        objects = jobcredential.unpack(payload)
    except Exception as error:  # noqa: BLE001 - each object of the batch records it
        outcome = (False, jobcredential.refused(error) or f"{type(error).__name__}: {error}")
        return [(uri, outcome) for uri in uris]
    return [(uri, call(function, obj, args, kwargs, politeness, remote=True)) for uri, obj in zip(uris, objects)]


def _uris(batch: Batch | Packed) -> list[str]:
    return [uri for uri, _ in batch] if isinstance(batch, list) else batch[0]


def batches(items: Sequence[tuple[str, Any]], slots: int) -> list[list[tuple[str, Any]]]:
    """``items`` cut into batches of nearly equal size (at most :data:`MAX_BATCH`), eight per
    worker slot when there are enough: each slot gets the same share, so that none is left
    working alone at the end, and each task carries several objects."""
    if not items:
        return []
    count = max(-(-len(items) // MAX_BATCH), min(len(items), _PER_SLOT * max(slots, 1)))
    size, extra = divmod(len(items), count)
    cuts = [i * size + min(i, extra) for i in range(count + 1)]
    return [list(items[cuts[i]:cuts[i + 1]]) for i in range(count)]


def run(executor: Any, workers: int | None, function: Callable[..., Any], items: Sequence[tuple[str, Any]],
        args: Sequence[Any], kwargs: dict[str, Any], max_requests: int | None = None,
        keep: list[Any] | None = None,
        credential: jobcredential.JobCredential | None = None) -> Generator[tuple[str, Outcome], None, None]:
    """``(uri, outcome)`` for each item, in completion order. Closing the iterator (Ctrl-C,
    an error in the caller) cancels the calls not started yet. ``max_requests`` bounds the
    requests in flight across all workers (:mod:`xnat.services.throttle`). ``keep`` (Dask
    only): the batches' outcomes stay on the cluster, their futures are added to ``keep``,
    and a successful outcome here is ``(True, None)``. ``credential``: the job's, when
    :func:`warmed_up` made it already."""
    check_executor(executor, workers)
    check_max_requests(max_requests)
    dask = is_dask_client(executor)
    threads = not dask and (executor == "threads" or isinstance(executor, concurrent.futures.ThreadPoolExecutor))
    if not threads and not dask:
        _check_picklable(function, args, kwargs)
    sessions = list({id(obj.xnat_session): obj.xnat_session for _, obj in items}.values())
    with contextlib.ExitStack() as stack:
        if threads:  # the threads share the caller's sessions: the job's politeness goes in front of them
            gate = threading.BoundedSemaphore(max_requests) if max_requests is not None else None
            shared = throttle.Politeness(gate, throttle.JobPause(throttle.LocalValue()))
            for session in sessions:
                stack.callback(throttle.install(session, shared))
            yield from _run_pool(executor, workers, function, [[item] for item in items], args, kwargs, None)
            return
        if dask:
            politeness = _dask_politeness(stack, executor, max_requests)
            slots = sum(executor.nthreads().values())
        else:
            manager = stack.enter_context(multiprocessing.Manager())
            pause = throttle.JobPause(manager.Value("d", 0.0))

            def fresh_politeness() -> throttle.Politeness:
                """A new gate: the leases a dead worker process held die with its pool."""
                return throttle.Politeness(manager.BoundedSemaphore(max_requests) if max_requests is not None else None,
                                           pause)

            politeness = fresh_politeness()
            slots = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1

        def send(work: list[Packed]) -> Iterator[tuple[str, Outcome]]:
            if dask:
                return _run_dask(executor, function, work, args, kwargs, politeness, keep)
            return _run_pool(executor, workers, function, work, args, kwargs, politeness, fresh_politeness)

        not_renewed: list[tuple[str, Outcome]] = []
        yield from _run_remote(send, items, slots, credential or jobcredential.JobCredential(sessions), not_renewed)
        if keep is not None and not_renewed:  # no batch on the cluster holds their rows: to_dask() gets them here
            keep.append(executor.scatter([not_renewed], hash=False)[0])


@contextlib.contextmanager
def warmed_up(executor: Any, session: Any) -> Iterator[jobcredential.JobCredential | None]:
    """With a Dask client, every worker process rebuilds the job's session (imports, logs in,
    builds its classes) while the caller walks the tree, instead of on its first batch; yields
    the job's credential for :func:`run` (None for other executors, whose workers start with
    their first batch)."""
    if not is_dask_client(executor):
        yield None
        return
    credential = jobcredential.JobCredential([session])
    payload = credential.pack([session])
    # one task per worker process, run in its thread pool; what it returns stays there, and a
    # refused login is left to the batches, which report it
    futures = [executor.submit(jobcredential.unpack, payload, workers=[address], allow_other_workers=False,
                               pure=False) for address in executor.nthreads()]
    try:
        yield credential
    finally:
        executor.cancel(futures)


def _run_remote(send: Callable[[list[Packed]], Iterator[tuple[str, Outcome]]], items: Sequence[tuple[str, Any]],
                slots: int, credential: jobcredential.JobCredential,
                not_renewed: list[tuple[str, Outcome]]) -> Generator[tuple[str, Outcome], None, None]:
    """The items on worker processes; those whose workers were refused the job's credential go
    again with a fresh one (:meth:`~.jobcredential.JobCredential.renew`), or fail saying why not
    (those failures are also added to ``not_renewed``)."""
    objects = dict(items)
    todo = list(items)
    while todo:
        work = [(_uris(batch), credential.pack([obj for _, obj in batch])) for batch in batches(todo, slots)]
        refused: list[tuple[str, jobcredential.Refused]] = []
        for uri, (success, result) in send(work):
            if isinstance(result, jobcredential.Refused):
                refused.append((uri, result))
            else:
                yield uri, (success, result)
        if not refused:
            return
        reason = credential.renew()
        if reason is not None:
            for uri, why in refused:
                outcome = (False, f"{why} ({reason})")
                not_renewed.append((uri, outcome))
                yield uri, outcome
            return
        todo = [(uri, objects[uri]) for uri, _ in refused]


def _pool(executor: Any, workers: int | None) -> concurrent.futures.Executor:
    if executor == "threads":
        return concurrent.futures.ThreadPoolExecutor(workers, "xnat-map")
    if executor == "processes":
        return concurrent.futures.ProcessPoolExecutor(workers)
    return executor  # type: ignore[no-any-return]  # checked by check_executor


def _run_pool(executor: Any, workers: int | None, function: Callable[..., Any], work: Sequence[Batch | Packed],
              args: Sequence[Any], kwargs: dict[str, Any],
              politeness: throttle.Politeness | None,
              fresh_politeness: Callable[[], throttle.Politeness] | None = None,
              ) -> Generator[tuple[str, Outcome], None, None]:
    """The batches on a pool. A worker process that dies breaks a ``ProcessPoolExecutor`` for
    every call pending; a pool of ours is then started again for the batches not yet back (at
    most :data:`POOL_RESTARTS` times; after that they are failures), with a fresh
    ``politeness`` from ``fresh_politeness``: a lease of ``max_requests`` held by a process of the
    broken pool is never released, and no process of that pool runs any more."""
    pending = dict(enumerate(work))
    for attempt in range(POOL_RESTARTS + 1):
        pool = _pool(executor, workers)
        broken = None
        futures: dict[concurrent.futures.Future[list[tuple[str, Outcome]]], int] = {}
        try:
            for index, batch in pending.items():
                futures[pool.submit(call_batch, function, batch, tuple(args), dict(kwargs), politeness)] = index
            for future in concurrent.futures.as_completed(futures):
                try:
                    outcomes = future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    broken = error  # the batches done before the break still come back
                    continue
                del pending[futures[future]]
                yield from outcomes
        finally:
            for future in futures:
                future.cancel()
            if isinstance(executor, str):
                pool.shutdown(wait=True, cancel_futures=True)
        if broken is None:
            return
        if not isinstance(executor, str) or attempt == POOL_RESTARTS:
            break
        logger.warning("a worker process died: the pool starts again for the %d objects not done",
                       sum(len(_uris(batch)) for batch in pending.values()))
        if fresh_politeness is not None:
            politeness = fresh_politeness()
    reason = ("BrokenProcessPool: the worker process running it died"
              + ("" if isinstance(executor, str) else " (the executor given cannot be started again)"))
    for batch in pending.values():
        for uri in _uris(batch):
            yield uri, (False, reason)


def _dask_politeness(stack: contextlib.ExitStack, client: Any, max_requests: int | None) -> throttle.Politeness:
    """The job's bound (a ``distributed.Semaphore``) and pause (a ``distributed.Variable``), removed afterwards."""
    import distributed  # the xnat[dask] extra

    untyped: Any = distributed  # distributed's Semaphore and Variable are unannotated
    job = f"xnat-map-{uuid.uuid4()}"
    gate = None
    if max_requests is not None:
        gate = untyped.Semaphore(max_leases=max_requests, name=job)
        stack.callback(gate.close)
    until = untyped.Variable(f"{job}-pause", client=client)
    until.set(0.0)
    stack.callback(until.delete)
    return throttle.Politeness(gate, throttle.JobPause(until, refresh=throttle.DASK_REFRESH))


def summary(outcomes: list[tuple[str, Outcome]]) -> list[tuple[str, Outcome]]:
    """A batch's outcomes without the successful results, which stay where they are."""
    return [(uri, (True, None) if success else (success, result)) for uri, (success, result) in outcomes]


def _run_dask(client: Any, function: Callable[..., Any], work: Sequence[Packed], args: Sequence[Any],
              kwargs: dict[str, Any], politeness: throttle.Politeness,
              keep: list[Any] | None) -> Generator[tuple[str, Outcome], None, None]:
    import distributed  # the xnat[dask] extra

    untyped: Any = distributed  # distributed's as_completed is unannotated
    futures = []
    watched = []
    finished = False
    try:
        for batch in work:
            futures.append(client.submit(call_batch, function, batch, tuple(args), dict(kwargs), politeness,
                                         pure=False, retries=1))
        # with keep, the caller hears of each batch through its summary; its results stay put
        watched = futures if keep is None else [client.submit(summary, f, pure=False) for f in futures]
        for future in untyped.as_completed(watched):
            yield from future.result()
        finished = True
    finally:
        if keep is not None and finished:
            keep.extend(futures)
            client.cancel(watched)
        else:
            client.cancel(futures + watched)
