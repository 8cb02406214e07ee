"""What a map gives back, and how it shows its progress: :class:`MapResults` and :class:`MapProgress`.

``MapResults`` is the ``{uri: result}`` dict xnatpy's ``map`` returns, with
:meth:`~MapResults.to_pandas` for a table (pandas is the ``xnat[pandas]`` extra).
``MapProgress`` draws one progressbar2 bar on the caller's stderr (only on a terminal,
unless asked) with the counts of objects done, failed and skipped (already in the log).
"""

from __future__ import annotations

import threading
from typing import Any

from ..transfer.progress import CurrentStderr, show_bar

__all__ = ["MapProgress", "MapResults"]


class MapResults(dict[str, Any]):
    """``{uri: result}``; a failed object's result is a ``MappedFunctionFailed``."""

    def to_pandas(self) -> Any:
        """One row per object: ``uri``, ``success``, ``error`` and the result (a dict result
        spreads into one column per key; any other result is the ``result`` column)."""
        import pandas  # the xnat[pandas] extra

        rows = []
        for uri, result in self.items():
            reason = getattr(result, "reason", None)
            row: dict[str, Any] = {"uri": uri, "success": reason is None, "error": reason}
            if reason is None:
                row.update(result if isinstance(result, dict) else {"result": result})
            rows.append(row)
        return pandas.DataFrame(rows, columns=None if rows else ["uri", "success", "error"])


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
