"""A pyxnat script over 5,000 experiments, reading label and date of each: pyxnat 1.6.4
against the same script on ``xnat.compat.pyxnat`` (only the import differs).

The script selects the experiments of the first subjects of the populated project, as many
subjects as hold 5,000 experiments (all of them when the project holds fewer, as in
``--quick``): ``select.project(P).subject(S).experiments()`` for each, then ``label()`` and
``attrs.get("date")`` of every experiment. Target: time <= 0.1x pyxnat. pyxnat lists the parent again for ``attrs.get`` of every
experiment, so its loop has a time budget and is extrapolated linearly past it (the
notes say so); ours reads both values from the one listing.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("pyxnat select: label and date of 5,000 experiments", "s")]

#: how many experiments the script reads (issue 18: the row is measured at 5,000)
SELECTED = 5_000


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
    expected = params["count"]
    project = interface.select.project(params["project"])
    experiments = (experiment for subject in params["subjects"] for experiment in project.subject(subject).experiments())
    seconds, done = probe.timed_loop(experiments, lambda exp: (exp.label(), exp.attrs.get("date")),
                                     params["budget_s"])
    elapsed = time.perf_counter() - start
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
    subjects, n = _subjects_holding(bench, seed.list_project, SELECTED)
    params = {"project": seed.list_project, "subjects": subjects, "count": n, "budget_s": bench.cfg.list_budget_s}
    runs = bench.alternate(__file__, impls, params, reps=min(bench.cfg.reps, 3))
    cells = {impl: summarize(runs[impl], "seconds", "not built yet" if impl == "ours" else "") for impl in impls}
    row = Row(f"pyxnat select over {n:,} experiments: label, date", "s", cells, Target("<=", 0.1, "pyxnat"))
    row.notes.append(f"the experiments of {len(subjects):,} subjects of a project of {seed.list_count:,} experiments")
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


def _subjects_holding(bench: Any, project: str, wanted: int) -> tuple[list[str], int]:
    """The first subjects of ``project`` (in listing order) that hold ``wanted`` experiments, and their count."""
    import requests

    response = requests.get(f"{bench.url}/data/projects/{project}/experiments", auth=(bench.user, bench.password),
                            params={"format": "json", "columns": "ID,subject_ID"}, timeout=600)
    response.raise_for_status()
    counts: dict[str, int] = {}
    for row in response.json()["ResultSet"]["Result"]:
        counts[row["subject_ID"]] = counts.get(row["subject_ID"], 0) + 1
    subjects, total = [], 0
    for subject, count in counts.items():
        if total >= wanted:
            break
        subjects.append(subject)
        total += count
    return subjects, total
