"""What a map gives back, and how it shows its progress: :class:`MapResults` and :class:`MapProgress`.

``MapResults`` is the ``{uri: result}`` dict xnatpy's ``map`` returns, with
:meth:`~MapResults.to_pandas` for a table (pandas is the ``xnat[pandas]`` extra) and
:meth:`~MapResults.to_dask` for a Dask DataFrame (``xnat[dask]``), made on the cluster from
results that never left it when the map ran with ``gather=False``.
``MapProgress`` draws one progressbar2 bar on the caller's stderr (only on a terminal,
unless asked) with the counts of objects done, failed and skipped (already in the log).
"""

from __future__ import annotations

import threading
from typing import Any

from ..transfer.progress import CurrentStderr, show_bar
from .jobcredential import Refused

__all__ = ["KEPT_ON_CLUSTER", "KeptOnCluster", "MapProgress", "MapResults", "outcome_frame", "rows"]


class KeptOnCluster:
    """The result of an object that ran with ``gather=False``: it stays on the Dask cluster."""

    def __repr__(self) -> str:
        return "<kept on the Dask cluster: MapResults.to_dask()>"

    def __reduce__(self) -> str:
        return "KEPT_ON_CLUSTER"


#: What ``map(..., gather=False)`` holds on the caller for a successful object.
KEPT_ON_CLUSTER = KeptOnCluster()


def rows(outcomes: Any) -> list[dict[str, Any]]:
    """Table rows of ``(uri, result)`` pairs: ``uri``, ``success``, ``error`` and the result (a
    dict result spreads into one column per key; any other result is the ``result`` column)."""
    table = []
    for uri, result in outcomes:
        reason = getattr(result, "reason", None)
        row: dict[str, Any] = {"uri": uri, "success": reason is None, "error": reason}
        if reason is None:
            row.update(result if isinstance(result, dict) else {"result": result})
        table.append(row)
    return table


def outcome_frame(outcomes: list[tuple[str, tuple[bool, Any]]]) -> Any:
    """A batch's outcomes as a pandas frame, made where they are (on a Dask worker); the
    objects sent again with a fresh credential are left to their second batch."""
    import pandas  # the xnat[dask] extra brings pandas with dask[dataframe]

    kept = [(uri, result if success else _Failed(str(result))) for uri, (success, result) in outcomes
            if success or not isinstance(result, Refused)]
    return pandas.DataFrame(rows(kept), columns=None if kept else ["uri", "success", "error"])


class _Failed:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class MapResults(dict[str, Any]):
    """``{uri: result}``; a failed object's result is a ``MappedFunctionFailed``. After a map on
    a Dask client with ``gather=False`` a successful object's result is :data:`KEPT_ON_CLUSTER`
    and :attr:`futures` hold the batches' outcomes on the cluster."""

    #: The Dask futures of the batches' outcomes, kept on the cluster (``gather=False``).
    futures: list[Any] | None = None

    def to_pandas(self) -> Any:
        """One row per object: ``uri``, ``success``, ``error`` and the result (see :func:`rows`)."""
        import pandas  # the xnat[pandas] extra

        table = rows(self.items())
        return pandas.DataFrame(table, columns=None if table else ["uri", "success", "error"])

    def to_dask(self, npartitions: int = 1) -> Any:
        """The same table as a Dask DataFrame (the ``xnat[dask]`` extra).

        After ``map(..., executor=client, gather=False)`` each partition is made on the worker
        that holds a batch's outcomes, from them: no result passes through the caller (the
        columns are read from the first partition). Otherwise the frame is made from the results
        here, in ``npartitions`` parts."""
        import dask
        import dask.dataframe

        untyped: Any = dask  # dask.delayed and dask.dataframe are unannotated
        if self.futures is None:
            return untyped.dataframe.from_pandas(self.to_pandas(), npartitions=npartitions)
        parts = [untyped.delayed(outcome_frame)(future) for future in self.futures]
        return untyped.dataframe.from_delayed(parts, verify_meta=False)


class MapProgress:
    """Counts of done, failed and skipped objects, drawn as a bar when wanted."""

    def __init__(self, total: int | None, verbose: bool | None) -> None:
        """``total``: the number of objects, ``None`` while the walk has not counted them."""
        self.total = total
        self.done = self.failed = self.skipped = 0
        self._lock = threading.Lock()
        self._bar: Any = None
        if show_bar(verbose) and total != 0:
            import progressbar

            untyped: Any = progressbar  # progressbar2 leaves widget constructors unannotated
            self._label = untyped.FormatCustomText("done %(done)d failed %(failed)d skipped %(skipped)d",
                                                   {"done": 0, "failed": 0, "skipped": 0})
            if total is None:
                widgets = [self._label, " ", untyped.AnimatedMarker(), " ", untyped.Timer()]
                self._bar = untyped.ProgressBar(max_value=untyped.UnknownLength, widgets=widgets, fd=CurrentStderr())
            else:
                self._bar = untyped.ProgressBar(max_value=total, widgets=[
                    self._label, " ", untyped.Bar(), " ", untyped.Counter(), f"/{total} ", untyped.ETA()],
                    fd=CurrentStderr())

    def add(self, outcome: str) -> None:
        """Count one object: ``"done"``, ``"failed"`` or ``"skipped"``."""
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            if self._bar is not None:
                self._label.update_mapping(done=self.done, failed=self.failed, skipped=self.skipped)
                self._bar.update(self.done + self.failed + self.skipped)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()
