"""List a project's experiments: label and ID (the common case), then label, date and xsi
type; memory per row.

Targets: label and ID <= 0.8x xnatpy and <= 1.2x raw ``requests`` + ``json``; label, date
and xsi type <= 0.05x xnatpy (a flattering row: xnatpy makes one request per experiment
for ``.date``); memory per listed experiment <= 0.5x the raw JSON rows'.

The label-and-ID runs are fresh processes of their own: connect (not timed), fetch the
listing and read label and ID of every experiment (``[(e.label, e.id) for e in
project.experiments.values()]``), both timed. The other runs: connect (not timed), then
(1) fetch the listing, (2) read label and xsi type of every experiment, (3) read the date
of every experiment. A client that makes one request
per experiment in (2) or (3) (pyxnat; xnatpy for the date) would need many minutes for
50,000 rows, so each per-object phase has a time budget and is extrapolated linearly past
it; the report says where. Memory is measured in separate runs (tracemalloc slows every
allocation): Python memory still allocated after (1) and (2) and a garbage collection,
divided by the number of experiments (as the xnatpy study measured it: ~1.4 KB per row).
The limit (raw ``requests`` + ``json``) sends the same request as our client (its columns).

The server row: the embedded server builds the same listing in-process, against
``json.dumps`` of the rows it answered (target <= 3x), see :func:`_server_build`.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("list experiments: label and ID", "s"), ("list experiments: label, date, xsi type", "s"),
           ("memory per listed experiment", "KB"), ("server: build the listing JSON", "s")]

#: The columns our client asks a project's experiments for (xnat.classes.objects.SPECS).
CLIENT_COLUMNS = "ID,URI,label,xsiType,date,project,subject_ID,insert_date"


def _fetch_and_readers(params: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """(fetch() -> list, read_main(item), read_date(item), keep-alive handle).

    ``read_main`` reads label and ID in the ``label_id`` mode, label and xsi type otherwise.
    """
    label_id = params.get("mode") == "label_id"
    impl, url, project = params["impl"], params["url"], params["project"]
    if impl == "limit":
        import json

        import requests

        http = requests.Session()
        http.auth = (params["user"], params["password"])
        http.get(url + "/data/JSESSION", timeout=60).raise_for_status()   # log in, as the others do

        def fetch() -> list[Any]:
            # The same request our client sends (its columns): the limit of that request.
            response = http.get(f"{url}/data/projects/{project}/experiments",
                                params={"format": "json", "columns": CLIENT_COLUMNS}, timeout=600)
            response.raise_for_status()
            return json.loads(response.content)["ResultSet"]["Result"]

        main = (lambda row: (row["label"], row["ID"])) if label_id else (lambda row: (row["label"], row["xsiType"]))
        return fetch, main, lambda row: row["date"], http
    if impl == "pyxnat":
        import itertools

        import pyxnat

        interface = pyxnat.Interface(server=url, user=params["user"], password=params["password"])

        def fetch() -> Any:
            # Lazy on purpose: pyxnat builds each Experiment with a query of its own, so
            # a list() here would be 50,000 requests outside any budget.
            iterator = iter(interface.select.project(project).experiments())
            first = next(iterator)          # the listing GET and the first object
            return itertools.chain([first], iterator)

        main = (lambda exp: (exp.label(), exp.id())) if label_id else (lambda exp: (exp.label(), exp.datatype()))
        return fetch, main, lambda exp: exp.attrs.get("date"), interface

    import xnat

    session = xnat.connect(url, user=params["user"], password=params["password"])

    def fetch() -> list[Any]:
        return list(session.projects[project].experiments.values())

    main = (lambda exp: (exp.label, exp.id)) if label_id else (lambda exp: (exp.label, exp.__xsi_type__))
    return fetch, main, lambda exp: exp.date, session


def _server_build(params: dict[str, Any]) -> dict[str, Any]:
    """The embedded server's own cost for the listing, against ``json.dumps`` of its rows.

    A copy of the running server's database (SQLite's backup API: consistent while it
    runs) is opened by an in-process app; the listing our client asks for is requested
    through the in-process adapter (no socket: the handler, its query and the encoder), then
    the rows it answered are encoded with ``json.dumps``. Both timed in this one process.
    """
    import json
    import shutil
    import sqlite3
    import tempfile
    import time
    from pathlib import Path

    import requests

    from xnat.testing import XNATApp, mount

    folder = Path(tempfile.mkdtemp(prefix="xnat-bench-server-"))
    try:
        source = sqlite3.connect(Path(params["data_dir"]) / "xnat.db")
        target = sqlite3.connect(folder / "xnat.db")
        source.backup(target)
        source.close()
        target.close()
        app = XNATApp(data_dir=folder, schemas_dir=params.get("schemas"),
                      users=(f"{params['user']}:{params['password']}:admin",))
        http = requests.Session()
        http.auth = (params["user"], params["password"])
        mount(http, app, "http://bench.test")
        url = f"http://bench.test/data/projects/{params['project']}/experiments"
        query = {"format": "json", "columns": CLIENT_COLUMNS}
        http.get(url, params=query, timeout=600).raise_for_status()   # warm: SQLite's page cache
        start = time.perf_counter()
        response = http.get(url, params=query, timeout=600)
        build_s = time.perf_counter() - start
        response.raise_for_status()
        rows = json.loads(response.content)["ResultSet"]["Result"]
        start = time.perf_counter()
        json.dumps(rows)
        dumps_s = time.perf_counter() - start
        return {"build_s": build_s, "dumps_s": dumps_s, "count": len(rows)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import gc
    import time
    import tracemalloc

    if params.get("mode") == "server":
        return _server_build(params)
    counter = probe.RequestCounter().install()
    fetch, read_main, read_date, handle = _fetch_and_readers(params)
    requests_before = counter.count
    budget, expected = params["budget_s"], params["count"]
    if params.get("mode") == "memory":
        # tracemalloc makes every allocation slow, so memory has runs of its own.
        gc.collect()
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
        items = fetch()
        kept: list[Any] = []
        _, main_done = probe.timed_loop(items, lambda item: (read_main(item), kept.append(item)), budget)
        if main_done < expected:
            raise RuntimeError(f"reading label and type took over {budget:g} s "
                               f"({main_done:,} of {expected:,} objects): one request per object")
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        return {"kb_per_experiment": retained / 1024 / expected, "count": len(kept)}
    start = time.perf_counter()
    items = fetch()
    fetch_s = time.perf_counter() - start
    if isinstance(items, list) and len(items) != expected:
        raise AssertionError(f"listed {len(items)} experiments, the server holds {expected}")
    seen: list[Any] = []

    def main(item: Any) -> None:
        read_main(item)
        seen.append(item)  # noqa: F821 -- `seen` is bound above; ruff is misled by the `del` below

    main_s, main_done = probe.timed_loop(items, main, budget)
    if params.get("mode") == "label_id":
        date_s, date_done = 0.0, expected
    else:
        date_s, date_done = probe.timed_loop(seen, read_date, budget)
    seconds = (fetch_s + probe.extrapolate(main_s, main_done, expected)
               + probe.extrapolate(date_s, date_done, expected))
    result = {"seconds": seconds, "fetch_s": fetch_s, "main_done": main_done, "date_done": date_done,
              "count": expected, "requests": counter.count - requests_before, "peak_rss_mb": probe.peak_rss_mb()}
    del items, seen, handle
    return result


def measure(bench: Any) -> list[Any]:
    from ..results import Cell, Row, Target, server_share, summarize

    seed = bench.seed
    impls = ["ours", "xnatpy", "pyxnat", "limit"]
    if not seed.list_project:
        reason = "; ".join(seed.errors) or "no populated project"
        return [Row(f, u, {"ours": Cell(None, error=f"seeding: {reason}")}) for f, u in FIGURES]
    params = {"project": seed.list_project, "count": seed.list_count, "budget_s": bench.cfg.list_budget_s}
    label_id_runs = bench.alternate(__file__, impls, {**params, "mode": "label_id"}, reps=min(bench.cfg.reps, 3))
    runs = bench.alternate(__file__, impls, params, reps=min(bench.cfg.reps, 3))
    memory_runs = bench.alternate(__file__, impls, {**params, "mode": "memory"}, reps=1)
    server_runs = bench.alternate(__file__, ["ours"], {**params, "mode": "server", "schemas": _text(bench.schemas),
                                                       "data_dir": str(bench.scratch / "server-data")},
                                  reps=min(bench.cfg.reps, 3))
    n = seed.list_count

    def cells_of(results: dict[str, list[dict[str, Any]]], key: str = "seconds") -> dict[str, Any]:
        return {impl: summarize(results[impl], key, "not built yet" if impl == "ours" else "") for impl in impls}

    def shares_of(results: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
        return {impl: s for impl in ("ours", "xnatpy", "limit") if (s := server_share(results[impl])) is not None}

    common = cells_of(label_id_runs)
    label_id = Row(f"list {n:,} experiments: label and ID", "s", common, Target("<=", 0.8, "xnatpy"),
                   server_cpu=shares_of(label_id_runs))
    label_id_raw = Row("  same, against raw requests+json", "s", {"ours": common["ours"], "limit": common["limit"]},
                       Target("<=", 1.2, "limit"))
    cells = cells_of(runs)
    figure = f"list {n:,} experiments: label, date, xsi type (flattering: xnatpy GETs each .date)"
    vs_peer = Row(figure, "s", cells, Target("<=", 0.05, "xnatpy"), server_cpu=shares_of(runs))
    vs_raw = Row("  same, against raw requests+json", "s", {"ours": cells["ours"], "limit": cells["limit"]},
                 Target("<=", 1.5, "limit"))
    memory = Row("memory per listed experiment", "KB", cells_of(memory_runs, "kb_per_experiment"),
                 Target("<=", 0.5, "limit"))
    _request_notes(label_id, label_id_runs, impls, n, bench.cfg.list_budget_s)
    label_id.notes.append("fresh process per run: fetch + [(e.label, e.id) for e in experiments.values()], "
                          "both timed; limit = raw requests + json of the same request (our client's columns)")
    _request_notes(vs_peer, runs, impls, n, bench.cfg.list_budget_s)
    vs_peer.notes.append("limit = raw requests + json of the same request (our client's columns)")
    memory.notes.append("Python memory still allocated (tracemalloc, after gc) once the listing is fetched and "
                        "label and type of every row read, divided by the rows; one run each, without timing; "
                        "limit = the raw JSON rows of the same request (list of dicts)")
    server = Row(f"server: build the {n:,}-row listing JSON", "s",
                 {"ours": summarize(server_runs["ours"], "build_s", "not built yet"),
                  "limit": summarize(server_runs["ours"], "dumps_s")}, Target("<=", 3, "limit"))
    server.notes.append("the embedded server's handler on a copy of the benchmark's database, in-process "
                        f"(GET ...?columns={CLIENT_COLUMNS}: query, rows, JSON); limit = json.dumps of the "
                        "rows it answered; both timed in the same process")
    return [label_id, label_id_raw, vs_peer, vs_raw, memory, server]


def _text(path: Any) -> str | None:
    return None if path is None else str(path)


def _request_notes(row: Any, runs: dict[str, list[dict[str, Any]]], impls: list[str], n: int,
                   budget_s: float) -> None:
    """Requests per implementation, and where a per-object phase was extrapolated."""
    import statistics

    for impl in impls:
        ok = [r for r in runs[impl] if not r.get("error")]
        if not ok:
            continue
        requests = statistics.median(r["requests"] for r in ok)
        partial = [r for r in ok if r["main_done"] < n or r["date_done"] < n]
        note = f"{impl}: {requests:,.0f} HTTP requests"
        if partial:
            r = partial[0]
            note += (f"; per-object phases ran {r['main_done']:,} / {r['date_done']:,} of {n:,} objects "
                     f"in the {budget_s:g} s budget, time extrapolated linearly")
        row.notes.append(note)
