"""``project.map`` over 200 experiments on executors, through a slow network (issue 17).

Each call makes 2 requests (the experiment's document and its scans listing), each held
20 ms by the loopback proxy, so one object costs >= 40 ms of waiting and the serial run
>= 8 s. 8 workers everywhere. Targets, ours only, measured in one run: 8 threads >= 6x
faster than serial; a Dask ``LocalCluster`` of 2 worker processes x 4 threads within 1.5x
of the 8 threads. Shown beside them: a ``ProcessPoolExecutor`` of 8, and a ``LocalCluster``
of 8 processes x 1 thread (each process imports xnat and logs in on its first task: on a
2-core machine those 8 start-ups are most of that figure).

What is timed is the whole ``map`` call: the walk of the tree (listings, on the caller,
through the proxy), the calls, the workers' logins from the session recipe (through the
proxy too), and the results coming back. Not timed: connecting the caller, and starting
the ``LocalCluster`` (a cluster outlives a job; its start-up is Dask's, not ours). Every
run checks that it gave a result for each of the 200 objects and that no call failed.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("map 200 experiments x 2 requests, 20 ms each: serial", "s"),
           ("map 200 experiments: 8 threads", "s"), ("map 200 experiments: 8 processes", "s"),
           ("map 200 experiments: Dask LocalCluster, 2 processes x 4 threads", "s"),
           ("map 200 experiments: Dask LocalCluster, 8 processes x 1 thread", "s"),
           ("map 200 experiments: speed-up of 8 threads over serial", "x"),
           ("map 200 experiments: Dask 2x4 / threads", "x"), ("map 200 experiments: Dask 8x1 / threads", "x"),
           ("map 200 experiments: Dask 2x4, next job on the same cluster (workers logged in) / threads", "x")]

PROJECT, SUBJECTS, EXPERIMENTS = "MAPBENCH", 20, 10
#: mode -> (executor kind, Dask worker processes x threads per process); 8 workers in each
MODES = {"serial": (None, None), "threads": ("threads", None), "processes": ("processes", None),
         "dask2x4": ("dask", (2, 4)), "dask8x1": ("dask", (8, 1))}
WORKERS = 8


def two_requests(experiment: Any) -> int:
    """The mapped call: two GETs, the document and the scans listing."""
    session = experiment.xnat_session
    document = session.get_json(experiment.uri, query={"format": "json"})
    scans = session.get_json(f"{experiment.uri}/scans", query={"format": "json"})
    return len(document["items"]) + len(scans["ResultSet"]["Result"])


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import importlib
    import time

    import xnat

    mode = params["mode"]
    # Loaded by file path, this module is not importable by a Dask worker (distributed
    # pickles a function by reference); the repository is on the workers' PYTHONPATH.
    function = importlib.import_module("tests.benchmarks.workloads.map_scale").two_requests
    session = xnat.connect(params["url"], user=params["user"], password=params["password"])
    project = session.projects[params["project"]]
    kind, shape = MODES[mode]
    executor: Any = kind
    cluster = dask_client = None
    if kind == "dask":
        import distributed

        cluster = distributed.LocalCluster(n_workers=shape[0], threads_per_worker=shape[1], processes=True,
                                           dashboard_address=None, silence_logs=40)
        executor = dask_client = distributed.Client(cluster)
    counter = probe.RequestCounter().install()
    try:
        start = time.perf_counter()
        results = project.map(function, "experiment", executor=executor,
                              workers=WORKERS if kind in ("threads", "processes") else None)
        seconds = time.perf_counter() - start
        if kind == "dask":  # the same job again: the workers have imported xnat and logged in
            start = time.perf_counter()
            project.map(function, "experiment", executor=executor)
            next_seconds: float | None = time.perf_counter() - start
    finally:
        if dask_client is not None:
            dask_client.close()
            cluster.close()
        session.disconnect()
    failed = [r for r in results.values() if isinstance(r, xnat.MappedFunctionFailed)]
    if len(results) != params["count"] or failed:
        raise AssertionError(f"{len(results)} results of {params['count']}; {len(failed)} failed: {failed[:1]}")
    return {"seconds": seconds, "next_seconds": next_seconds if kind == "dask" else None, "caller_requests": counter.count, "peak_rss_mb": probe.peak_rss_mb()}


def _seed(bench: Any) -> int:
    """The project mapped over: 20 subjects of 10 MR sessions (made once per suite run)."""
    import requests

    http = requests.Session()
    http.auth = (bench.user, bench.password)

    def put(path: str, **params: str) -> None:
        answer = http.put(bench.url + path, params=params, timeout=60)
        if answer.status_code >= 400:
            raise RuntimeError(f"seeding: PUT {path} -> {answer.status_code} {answer.text[:200]!r}")

    put(f"/data/projects/{PROJECT}")
    for s in range(SUBJECTS):
        subject = f"/data/projects/{PROJECT}/subjects/MB_S{s:02d}"
        put(subject)
        for e in range(EXPERIMENTS):
            put(f"{subject}/experiments/MB_S{s:02d}_E{e:02d}", xsiType="xnat:mrSessionData")
    http.close()
    return SUBJECTS * EXPERIMENTS


def measure(bench: Any) -> list[Any]:
    from ..proxy import DelayProxy
    from ..results import Cell, Row, Target, server_share, summarize

    count = _seed(bench)
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    # --quick (CI, a 2-minute budget for every workload): one round of the targets' modes only
    modes = ["serial", "threads", "dask2x4"] if bench.cfg.quick else list(MODES)
    with DelayProxy("127.0.0.1", int(bench.url.rsplit(":", 1)[1]), bench.cfg.slow_delay_s) as proxy:
        for _rep in range(1 if bench.cfg.quick else min(bench.cfg.reps, 3)):
            for mode in modes:  # alternated, so drift in the machine's load is shared
                runs[mode].append(bench.run(__file__, "ours", {"mode": mode, "url": proxy.url, "project": PROJECT,
                                                              "count": count}, timeout=180))
    cells = {mode: summarize(runs[mode], "seconds", "not built yet") if mode in modes else
             Cell(None, error="not run with --quick") for mode in MODES}
    cells["dask2x4 next"] = summarize(runs["dask2x4"], "next_seconds", "not built yet")
    rows = []
    for (figure, _unit), mode in zip(FIGURES, MODES):
        share = server_share(runs[mode])
        rows.append(Row(figure, "s", {"ours": cells[mode]}, server_cpu={"ours": share} if share is not None else {}))
    rows[0].notes.append(f"{count} experiments, {bench.cfg.slow_delay_s * 1000:.0f} ms held per request by a "
                         "loopback proxy; the timer spans the map call (walk, calls, worker logins), not the "
                         "caller's connect nor the LocalCluster start-up")
    rows[4].notes.append("each Dask worker process imports xnat, logs in with the job's token and builds its "
                         "classes on its first task: 8 processes pay that 8 times on this machine's cores")

    def ratio(figure: str, top: str, bottom: str, target: Target | None) -> Row:
        a, b = cells[top].value, cells[bottom].value
        ok = a is not None and b is not None and b > 0
        return Row(figure, "x", {"ours": Cell(a / b if ok else None, runs=min(cells[top].runs, cells[bottom].runs),
                                              error=None if ok else f"needs the {top} and {bottom} figures")},
                   target)

    return rows + [ratio(FIGURES[5][0], "serial", "threads", Target(">=", 6)),
                   ratio(FIGURES[6][0], "dask2x4", "threads", Target("<=", 1.5)),
                   ratio(FIGURES[7][0], "dask8x1", "threads", None),
                   ratio(FIGURES[8][0], "dask2x4 next", "threads", None)]
