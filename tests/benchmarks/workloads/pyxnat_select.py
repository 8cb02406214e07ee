"""A pyxnat script over a project's experiments, reading label and date of each: pyxnat
1.6.4 against the same script on ``xnat.compat.pyxnat`` (only the import differs).

Target: time <= 0.1x pyxnat. pyxnat lists the parent again for ``attrs.get`` of every
experiment, so its loop has a time budget and is extrapolated linearly past it (the
notes say so); ours reads both values from the one listing.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("pyxnat select: label and date of every experiment", "s")]


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import time

    if params["impl"] == "pyxnat":
        import pyxnat
    else:
        from xnat.compat import pyxnat  # type: ignore[no-redef]

    counter = probe.RequestCounter().install()
    interface = pyxnat.Interface(server=params["url"], user=params["user"], password=params["password"])
    before = counter.count
    start = time.perf_counter()
    experiments = interface.select.project(params["project"]).experiments()
    seconds, done = probe.timed_loop(experiments, lambda exp: (exp.label(), exp.attrs.get("date")),
                                     params["budget_s"])
    elapsed = time.perf_counter() - start
    expected = params["count"]
    if done < expected and elapsed < params["budget_s"]:
        raise AssertionError(f"the select yielded {done} experiments, the server holds {expected}")
    return {"seconds": probe.extrapolate(seconds, done, expected), "done": done, "count": expected,
            "requests": counter.count - before}


def measure(bench: Any) -> list[Any]:
    from ..results import Cell, Row, Target, summarize

    seed = bench.seed
    impls = ["ours", "pyxnat"]
    if not seed.list_project:
        reason = "; ".join(seed.errors) or "no populated project"
        return [Row(f, u, {"ours": Cell(None, error=f"seeding: {reason}")}) for f, u in FIGURES]
    params = {"project": seed.list_project, "count": seed.list_count, "budget_s": bench.cfg.list_budget_s}
    runs = bench.alternate(__file__, impls, params, reps=min(bench.cfg.reps, 3))
    n = seed.list_count
    cells = {impl: summarize(runs[impl], "seconds", "not built yet" if impl == "ours" else "") for impl in impls}
    row = Row(f"pyxnat select over {n:,} experiments: label, date", "s", cells, Target("<=", 0.1, "pyxnat"))
    for impl in impls:
        ok = [r for r in runs[impl] if not r.get("error")]
        if ok:
            r = ok[0]
            note = f"{impl}: {r['requests']:,} HTTP requests"
            if r["done"] < n:
                note += f" for {r['done']:,} of {n:,} experiments in the budget, time extrapolated linearly"
            row.notes.append(note)
    row.notes.append("ours = the same pyxnat script with `from xnat.compat import pyxnat`")
    return [row]
