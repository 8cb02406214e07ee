"""Bulk operations over the archive: ``search``, ``batch_download`` and a resumable ``map``.

On a small embedded archive (one project, two subjects, an MR session each)::

    import xnat
    from xnat.testing.runner import XNATServer

    def count_files(scan):
        return len(scan.files)

    with XNATServer(populate="projects=1,subjects=2,experiments=1,files=2") as server:
        session = xnat.connect(server.url, user="admin", password="admin")
        results = session.map(count_files, level="scan", logfile="count.jsonl")   # resumable
        scans = session.search(project="P*", scan="T1*")                          # objects
        session.batch_download("out", experiment="*_MR001", level="experiment")
        session.disconnect()

The walk goes project -> subject -> experiment -> scan, with resources at any of those
levels (:class:`MappingLevel`). Filters are shell patterns (``fnmatch``; regular
expressions with ``use_regex=True``) or callables on the object, matched against the
object's name: project ID or name, subject and experiment label, scan type or ID,
resource label.

The log file (``logfile=``) records one result per line as JSON (JSON lines, not
xnatpy's YAML: PyYAML is not a dependency, and an append-only line format survives a
crash mid-write). Running the same ``map`` again with the same log skips every object
that already succeeded, returns its logged result, and retries the failures. A SIGINT
(Ctrl-C) during a map finishes the current object and stops cleanly; the log stays valid.

``executor=`` runs the calls elsewhere (threads, processes, a Dask cluster: see
:mod:`xnat.services.executors`) while the walk stays on the caller, fetching up to eight
listings at a time (and, on Dask, while the workers log in); results are logged in the order
they complete, each object once. The result is a :class:`MapResults` dict, with
``to_pandas()``.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import fnmatch
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import XNATValueError
from . import executors
from .levels import MappingLevel
from .mapresults import KEPT_ON_CLUSTER, MapProgress, MapResults

__all__ = [
    "FilterFunctions",
    "MapResults",
    "MappedFunctionFailed",
    "MappingLevel",
    "MappingLog",
    "batch_download",
    "create_filter_funcs",
    "map_objects",
    "search",
]

logger = logging.getLogger(__name__)


_ORDER = ["connection", "project", "subject", "experiment", "scan"]
#: At most this many listings are fetched at once by the walk of a map with an executor.
_WALK_THREADS = 8
_CHILDREN = {"connection": "projects", "project": "subjects", "subject": "experiments", "experiment": "scans"}


class MappedFunctionFailed:
    """The result of an object whose function raised: ``reason`` is the error text."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MappedFunctionFailed) and self.reason == other.reason

    def __repr__(self) -> str:
        return f"<MappedFunctionFailed {self.reason!r}>"


Filter = Callable[[Any], bool]


@dataclass
class FilterFunctions:
    """One filter per level; None lets everything through."""

    project: Filter | None = None
    subject: Filter | None = None
    experiment: Filter | None = None
    scan: Filter | None = None
    resource: Filter | None = None

    def allows(self, kind: str, obj: Any) -> bool:
        check = getattr(self, kind, None)
        return check is None or bool(check(obj))


def _names(kind: str, obj: Any) -> list[str]:
    attributes = {"project": ("id", "name"), "subject": ("label",), "experiment": ("label",),
                  "scan": ("type", "id"), "resource": ("label",)}[kind]
    return [str(v) for v in (getattr(obj, a, None) for a in attributes) if v not in (None, "")]


def _matcher(kind: str, pattern: str | Filter | None, use_regex: bool) -> Filter | None:
    if pattern is None:
        return None
    if callable(pattern):
        return pattern
    if not isinstance(pattern, str):
        raise XNATValueError(f"the {kind} filter must be a pattern or a callable, not {type(pattern).__name__}")
    if use_regex:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise XNATValueError(f"the {kind} filter {pattern!r} is not a regular expression: {error}") from None
        return lambda obj: any(compiled.fullmatch(name) for name in _names(kind, obj))
    return lambda obj: any(fnmatch.fnmatchcase(name, pattern) for name in _names(kind, obj))


def create_filter_funcs(project: str | Filter | None = None, subject: str | Filter | None = None,
                        experiment: str | Filter | None = None, scan: str | Filter | None = None,
                        resource: str | Filter | None = None, use_regex: bool = False) -> FilterFunctions:
    """Filters from patterns or callables (see the module documentation)."""
    return FilterFunctions(*(_matcher(kind, value, use_regex) for kind, value in (
        ("project", project), ("subject", subject), ("experiment", experiment), ("scan", scan),
        ("resource", resource))))


# -- the log ------------------------------------------------------------------------------
def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


class MappingLog:
    """Results by URI, kept in a JSON-lines file (the last line for a URI wins)."""

    def __init__(self, filename: str | os.PathLike[str] | None) -> None:
        self.filename = Path(filename) if filename is not None else None
        self.states: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self.filename is not None and self.filename.is_file():
            for number, line in enumerate(self.filename.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    self.states[str(entry["uri"])] = entry
                except (ValueError, KeyError, TypeError):
                    # a line cut off by a crash: that object simply runs again
                    logger.warning("%s line %d is not a log entry; ignored", self.filename, number)

    def succeeded(self, uri: str) -> bool:
        entry = self.states.get(uri)
        return bool(entry and entry.get("success"))

    def record(self, uri: str, success: bool, result: Any) -> None:
        entry = {"uri": uri, "success": success, "result": result,
                 "date": datetime.datetime.now().isoformat(timespec="seconds")}
        with self._lock:
            self.states[uri] = entry
            if self.filename is not None:
                with open(self.filename, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
                    handle.flush()


# -- the walk -----------------------------------------------------------------------------
def _level_of(root: Any) -> str:
    if hasattr(root, "projects") and hasattr(root, "create_object"):
        return "connection"
    xsi_type = str(getattr(root, "__xsi_type__", ""))
    session = getattr(root, "xnat_session", None)
    classes = getattr(session, "XNAT_CLASS_LOOKUP", {}) or {}
    chain = list(type(root).__mro__)
    for kind, base in (("project", "xnat:projectData"), ("subject", "xnat:subjectData"),
                       ("experiment", "xnat:experimentData"), ("scan", "xnat:imageScanData")):
        cls = classes.get(base)
        if xsi_type == base or (cls is not None and cls in chain):
            return kind
    raise XNATValueError(f"cannot map over {root!r}: map from a session, project, subject, experiment or scan")


Lister = Callable[[Callable[[Any], list[Any]], list[Any]], Iterable[list[Any]]]


def _serial_lister(listing: Callable[[Any], list[Any]], owners: list[Any]) -> Iterable[list[Any]]:
    return map(listing, owners)


@contextmanager
def _parallel_lister(threads: int) -> Iterator[Lister]:
    """Listings fetched ``threads`` at a time, in their owners' order: with an executor, the
    walk's one request per subject (or experiment) would otherwise hold back every worker."""
    with concurrent.futures.ThreadPoolExecutor(threads, "xnat-map-walk") as pool:
        yield lambda listing, owners: pool.map(listing, owners) if len(owners) > 1 else map(listing, owners)


def _listed(attribute: str) -> Callable[[Any], list[Any]]:
    return lambda owner: list(getattr(owner, attribute).values())


def _walk(root: Any, start: str, target: str, filters: FilterFunctions,
          lister: Lister = _serial_lister) -> Iterator[Any]:
    """The objects at ``target`` below ``root``, level by level, in the tree's order; a filter
    that turns an object down spares the listing below it."""
    owner_target = target.replace("_resource", "")
    owners, kind = [root], start
    while kind != owner_target:
        child_kind, attribute = _ORDER[_ORDER.index(kind) + 1], _CHILDREN[kind]
        listings = lister(_listed(attribute), owners)
        owners = [child for children in listings for child in children if filters.allows(child_kind, child)]
        kind = child_kind
    if not target.endswith("_resource"):
        yield from owners
        return
    for resources in lister(_listed("resources"), owners):
        yield from (resource for resource in resources if filters.allows("resource", resource))


@contextmanager
def _sigint(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        logger.warning("Interrupted: the map stops after the current object")
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _uri(obj: Any) -> str:
    return str(getattr(obj, "fulluri", None) or obj.uri)


def map_objects(root: Any, function: Callable[..., Any], level: MappingLevel | str,
                args: list[Any] | tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None,
                filter_function: FilterFunctions | None = None,
                logfile: str | os.PathLike[str] | None = None, executor: Any = None,
                workers: int | None = None, progress: bool | None = False,
                max_requests: int | None = None, gather: bool = True) -> MapResults:
    """Call ``function(obj, *args, **kwargs)`` on every object at ``level`` below ``root``.

    With ``executor`` (``"threads"``, ``"processes"``, a ``concurrent.futures.Executor`` or a
    ``dask.distributed.Client``; see :mod:`xnat.services.executors`) the walk stays here and
    the calls run there, ``workers`` at a time; results are logged as they complete.
    ``progress`` draws a bar with done/failed/skipped counts (``None``: on a terminal).
    ``max_requests`` bounds the requests in flight across all workers, with backoff on
    429/503 (:mod:`xnat.services.throttle`). ``gather=False`` (a Dask client only) leaves the
    results on the cluster, for :meth:`MapResults.to_dask`: the caller hears only which objects
    succeeded (their result here is ``KEPT_ON_CLUSTER``) and which failed, and why; objects
    whose token could not be renewed never ran there, and their failed rows are sent to the
    cluster so that ``to_dask()`` still has one row per object.

    :return: ``{uri: result}``, a :class:`MappedFunctionFailed` for objects whose call raised
    :raises TypeError: with a ``logfile``, a result that JSON cannot hold
    """
    try:
        level = MappingLevel(level)
    except ValueError:
        raise XNATValueError(f"unknown level {level!r}: use one of {', '.join(m.value for m in MappingLevel)}") \
            from None
    executors.check_executor(executor, workers)
    executors.check_max_requests(max_requests)
    if max_requests is not None and executor is None:
        raise XNATValueError("max_requests bounds the workers of an executor: give executor= as well")
    if not gather and not executors.is_dask_client(executor):
        raise XNATValueError("gather=False keeps the results on a Dask cluster: "
                             "give executor=a dask.distributed.Client")
    if not gather and logfile is not None:
        raise XNATValueError("a logfile keeps every result on the caller, gather=False keeps them on the cluster: "
                             "use one or the other")
    start = _level_of(root)
    target = level.value
    if _ORDER.index(target.replace("_resource", "")) < _ORDER.index(start):
        raise XNATValueError(f"cannot map at level {target} from a {start}")
    log = MappingLog(logfile)
    filters = filter_function or FilterFunctions()
    if executor is None:
        return _map_serial(_walk(root, start, target, filters), function, args, kwargs, log, logfile,
                           MapProgress(None, progress))
    with executors.warmed_up(executor, root if start == "connection" else root.xnat_session) as credential:
        return _map_on(executor, workers, _walk_once(root, start, target, filters, log, workers, max_requests),
                       function, args, kwargs, log, logfile, progress, max_requests, gather, credential)


def _walk_once(root: Any, start: str, target: str, filters: FilterFunctions, log: MappingLog, workers: int | None,
               max_requests: int | None) -> tuple[MapResults, list[tuple[str, Any]]]:
    """The results the log already holds (in the walk's order, None for the rest) and the objects to run."""
    results = MapResults()
    todo = []
    with _parallel_lister(min(_WALK_THREADS, workers or _WALK_THREADS, max_requests or _WALK_THREADS)) as lister:
        for obj in _walk(root, start, target, filters, lister):
            uri = _uri(obj)
            if log.succeeded(uri):
                results[uri] = log.states[uri]["result"]
            elif uri not in results:
                results[uri] = None  # keeps the walk's order; filled as the calls complete
                todo.append((uri, obj))
    return results, todo


def _map_on(executor: Any, workers: int | None, walked: tuple[MapResults, list[tuple[str, Any]]],
            function: Callable[..., Any], args: Any, kwargs: Any, log: MappingLog, logfile: Any,
            progress: bool | None, max_requests: int | None, gather: bool, credential: Any) -> MapResults:
    """The calls of the walked objects on the executor, their outcomes logged as they complete."""
    results, todo = walked
    bar = MapProgress(len(results), progress)
    for _ in range(len(results) - len(todo)):
        bar.add("skipped")
    kept: list[Any] | None = None if gather else []
    outcomes = executors.run(executor, workers, function, todo, args or (), kwargs or {}, max_requests, kept,
                             credential)
    try:
        for uri, (success, result) in outcomes:
            _keep(results, log, logfile, uri, success, result if gather or not success else KEPT_ON_CLUSTER)
            bar.add("done" if success else "failed")
        results.futures = kept
    except KeyboardInterrupt:
        # Ctrl-C: the calls not started are cancelled; every logged line is whole.
        logger.warning("Interrupted: the map stopped; %d objects were not run", len(todo) - bar.done - bar.failed)
        for uri, _obj in todo:
            if results.get(uri) is None and not log.states.get(uri):
                del results[uri]
    finally:
        outcomes.close()
        bar.finish()
    return results


def _keep(results: MapResults, log: MappingLog, logfile: Any, uri: str, success: bool, result: Any) -> None:
    """Record one outcome, in the results and the log."""
    if not success:
        logger.info("map: %s failed: %s", uri, result)
        results[uri] = MappedFunctionFailed(result)
        log.record(uri, False, result)
        return
    if logfile is not None and not _json_safe(result):
        raise TypeError(f"map with a logfile needs JSON results; {uri} gave a {type(result).__name__}")
    results[uri] = result
    log.record(uri, True, result)


def _map_serial(objects: Iterator[Any], function: Callable[..., Any], args: Any, kwargs: Any, log: MappingLog,
                logfile: Any, bar: MapProgress) -> MapResults:
    results = MapResults()
    stop = threading.Event()
    with _sigint(stop):
        try:
            for obj in objects:
                uri = _uri(obj)
                if log.succeeded(uri):
                    results[uri] = log.states[uri]["result"]
                    bar.add("skipped")
                    continue
                success, result = executors.call(function, obj, args or (), kwargs or {})
                _keep(results, log, logfile, uri, success, result)
                bar.add("done" if success else "failed")
                if stop.is_set():
                    break
        finally:
            bar.finish()
    return results


def search(root: Any, project: str | Filter | None = None, subject: str | Filter | None = None,
           experiment: str | Filter | None = None, scan: str | Filter | None = None,
           resource: str | Filter | None = None, use_regex: bool = False,
           level: MappingLevel | str = MappingLevel.SCAN) -> list[Any]:
    """The objects at ``level`` whose names (and those of their parents) match the filters."""
    filters = create_filter_funcs(project, subject, experiment, scan, resource, use_regex)
    return list(map_objects(root, lambda obj: obj, level, filter_function=filters).values())


def batch_download(root: Any, target_directory: str | os.PathLike[str], project: str | Filter | None = None,
                   subject: str | Filter | None = None, experiment: str | Filter | None = None,
                   scan: str | Filter | None = None, resource: str | Filter | None = None, use_regex: bool = False,
                   level: MappingLevel | str = MappingLevel.SCAN) -> list[str]:
    """``download_dir(target_directory)`` on every matching object; the folders written."""
    Path(target_directory).mkdir(parents=True, exist_ok=True)
    found = []
    for obj in search(root, project, subject, experiment, scan, resource, use_regex, level):
        logger.info("batch_download: %s", _uri(obj))
        found.append(str(obj.download_dir(os.fspath(target_directory))))
    return found
