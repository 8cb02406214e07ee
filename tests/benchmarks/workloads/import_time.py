"""``import xnat``: ours against xnatpy 0.8.1, in fresh interpreters (target <= 0.5x)."""

from __future__ import annotations

from typing import Any

FIGURES = [("import xnat", "s"), ("import xnat: peak RSS", "MB")]


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import sys
    import time

    if "xnat" in sys.modules:  # would make the figure meaningless
        raise RuntimeError("xnat already imported before the measurement")
    start = time.perf_counter()
    import xnat  # noqa: F401 - the measured operation

    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": probe.peak_rss_mb(), "modules": len(sys.modules)}


def measure(bench: Any) -> list[Any]:
    from ..results import Row, Target, summarize

    runs = bench.alternate(__file__, ["ours", "xnatpy"], {}, reps=max(bench.cfg.reps, 5))
    row = Row("import xnat", "s", {"ours": summarize(runs["ours"], "seconds", "not built yet"),
                                   "xnatpy": summarize(runs["xnatpy"], "seconds")},
              Target("<=", 0.5, "xnatpy"))
    rss = Row("import xnat: peak RSS", "MB", {"ours": summarize(runs["ours"], "peak_rss_mb", "not built yet"),
                                              "xnatpy": summarize(runs["xnatpy"], "peak_rss_mb")})
    return [row, rss]
