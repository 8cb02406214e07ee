"""Progress reporting for transfers: one object per job, safe to share between threads.

A :class:`Progress` counts bytes (and, for jobs of many files, files) and passes every
change on to two optional consumers:

* an ``update_func(bytes_done, total, finished)`` callback, the signature xnatpy 0.8
  uses (``total`` is ``None`` when the size is not known);
* a progressbar2 bar on **stderr**, shown only when ``verbose=True``, or when
  ``verbose=None`` (the default) and stderr is a terminal. A library must stay quiet
  in scripts, cron jobs and notebooks that capture output.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - imported lazily at run time (only needed when a bar is drawn)
    import progressbar

__all__ = ["CurrentStderr", "Progress", "UpdateFunc", "show_bar"]

#: ``update_func(bytes_done, total_or_None, finished)``, as in xnatpy.
UpdateFunc = Callable[[int, int | None, bool], None]


def show_bar(verbose: bool | None) -> bool:
    """Whether to draw a bar: asked for explicitly, or by default on a terminal."""
    if verbose is not None:
        return bool(verbose)
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stderr
        return False


class CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now.

    progressbar2 swaps ``sys.stderr`` for the stream it saw when first imported, which
    may since have been replaced or closed (pytest, notebooks); this indirection avoids that.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return show_bar(None)

    def fileno(self) -> int:
        return sys.stderr.fileno()


class Progress:
    """Counts the bytes (and files) of one transfer job and reports them.

    ``total`` is the number of bytes expected (``None`` when unknown); ``files`` the
    number of files in the job (``None`` for a single transfer). ``add`` may receive a
    negative count: a download that has to start over takes its bytes back.
    """

    def __init__(self, total: int | None = None, *, files: int | None = None,
                 verbose: bool | None = None, update_func: UpdateFunc | None = None,
                 label: str = "") -> None:
        self.total = total
        self.files_total = files
        self.done = 0
        self.files_done = 0
        self.finished = False
        self._update_func = update_func
        self._lock = threading.Lock()
        self._label = label
        self._want_bar = show_bar(verbose)
        self._bar: progressbar.ProgressBar | None = None  # drawn at the first bytes, when a download knows its size
        self._notify()

    def _make_bar(self, label: str) -> progressbar.ProgressBar:
        import progressbar  # imported lazily: only needed when a bar is drawn

        # progressbar2 leaves several widget constructors unannotated, which strict mypy
        # refuses to call from typed code: the widgets are built through an untyped view.
        untyped: Any = progressbar
        widgets: list[Any] = []
        if label:
            widgets.append(label + " ")
        if self.files_total is not None:
            widgets += [untyped.Variable("files", format="{formatted_value}", width=1), " "]
        widgets += [
            untyped.DataSize(), " ",
            untyped.Percentage() if self.total else untyped.AnimatedMarker(), " ",
            untyped.Bar() if self.total else "", " ",
            untyped.FileTransferSpeed(), " ",
            untyped.ETA() if self.total else untyped.Timer(),
        ]
        bar = progressbar.ProgressBar(
            max_value=self.total if self.total else progressbar.UnknownLength,
            widgets=widgets, fd=CurrentStderr(), variables={"files": self._files_text()},
        )
        bar.start()
        return bar

    def _files_text(self) -> str:
        return f"{self.files_done}/{self.files_total} files" if self.files_total is not None else ""

    def add(self, nbytes: int) -> None:
        """Count ``nbytes`` more (or fewer, when negative) bytes."""
        if not nbytes:
            return
        with self._lock:
            self.done = max(0, self.done + nbytes)
            self._notify()

    def add_total(self, nbytes: int) -> None:
        """Grow the expected total, for a size learnt only when a transfer starts."""
        with self._lock:
            self.total = (self.total or 0) + nbytes
            if self._bar is not None and self.total:
                self._bar.max_value = max(self.total, self.done)

    def set_total(self, total: int | None) -> None:
        """Replace the expected total (e.g. once an archive's real size is known)."""
        with self._lock:
            self.total = total
            if self._bar is not None and total:
                self._bar.max_value = max(total, self.done)

    def file_done(self) -> None:
        """Count one more file finished."""
        with self._lock:
            self.files_done += 1
            self._notify()

    def finish(self) -> None:
        """Report the end of the job (once)."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
            self._notify()
            if self._bar is not None:
                # dirty: an interrupted or failed transfer keeps its bar where it stopped,
                # instead of progressbar2 jumping to 100%
                complete = bool(self.total) and self.done >= (self.total or 0)
                if not complete:  # draw where it stopped (updates are throttled)
                    self._bar.update(min(self.done, self.total) if self.total else self.done, force=True)
                self._bar.finish(end="\n", dirty=not complete)

    def _notify(self) -> None:
        # Called with the lock held (or from __init__): consumers see counts in order.
        if self._update_func is not None:
            self._update_func(self.done, self.total, self.finished)
        if self._want_bar and self._bar is None and (self.done or self.finished or self.files_done):
            self._bar = self._make_bar(self._label)
        if self._bar is not None and not self.finished:
            value = self.done if not self.total else min(self.done, self.total)
            self._bar.update(value, files=self._files_text())

    def __repr__(self) -> str:
        return f"Progress(done={self.done}, total={self.total}, files={self.files_done}/{self.files_total})"
