"""``export_bids`` of N sessions of the real Case001 DICOM: 4 threads vs serial (issue 20, ours only).

The project holds N sessions (8; ``--quick``: 4), each an import of the reference Case001
DICOM (3 series, each converted by dcm2niix; a small config matches the T1 as
``anat/T1w`` and the susceptibility series as ``anat/T2starw``; the localizer is unmatched). Each run
exports the whole project into a new, empty dataset: listing, download of every series,
dcm2niix on each, matching, the session moved in, the dataset files. Timed: the
``export_bids`` call (not the connect). Every run checks that all N sessions converted
and none failed. Shown: serial, 4 threads, and the speed-up; dcm2niix is a process of its
own per series, so threads overlap both the downloads and the conversions.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("BIDS export of N Case001 sessions: serial", "s"), ("BIDS export: 4 threads", "s"),
           ("BIDS export: speed-up of 4 threads over serial", "x")]

PROJECT = "BIDSBENCH"
WORKERS = 4
CONFIG = {"descriptions": [
    {"datatype": "anat", "suffix": "T1w", "criteria": {"SeriesDescription": "T1*"}},
    {"datatype": "anat", "suffix": "T2starw", "criteria": {"SeriesDescription": "*SUSEPTIBILITY*"}},
]}


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import tempfile
    import time
    from pathlib import Path

    import xnat

    session = xnat.connect(params["url"], user=params["user"], password=params["password"])
    try:
        project = session.projects[params["project"]]
        with tempfile.TemporaryDirectory(prefix="bids-bench-") as folder:
            start = time.perf_counter()
            report = project.export_bids(Path(folder) / "bids", CONFIG, executor=params["executor"],
                                         workers=WORKERS, progress=False)
            seconds = time.perf_counter() - start
    finally:
        session.disconnect()
    if len(report.converted) != params["count"] or not report.ok:
        raise AssertionError(f"{len(report.converted)} sessions converted of {params['count']}: {report.summary()}")
    return {"seconds": seconds, "series": report.series_converted, "peak_rss_mb": probe.peak_rss_mb()}


def case001_zip() -> bytes:
    import io
    import os
    import zipfile
    from pathlib import Path

    reference = os.environ.get("XNAT_REFERENCE")
    folder = Path(reference or "") / "dicom" / "Case001"
    if not reference or not folder.is_dir():
        raise RuntimeError("needs XNAT_REFERENCE with dicom/Case001 (the reference DICOM)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _seed(bench: Any, count: int) -> None:
    """The project: ``count`` sessions, each an import of Case001 (made once per suite run)."""
    import requests

    data = case001_zip()
    http = requests.Session()
    http.auth = (bench.user, bench.password)
    try:
        http.put(f"{bench.url}/data/projects/{PROJECT}", timeout=60).raise_for_status()
        for number in range(count):
            answer = http.post(f"{bench.url}/data/services/import", data=data, timeout=300,
                               headers={"Content-Type": "application/zip"},
                               params={"project": PROJECT, "subject": f"BB{number:02d}",
                                       "session": f"BB{number:02d}_MR"})
            if answer.status_code >= 400:
                raise RuntimeError(f"seeding: import -> {answer.status_code} {answer.text[:200]!r}")
    finally:
        http.close()


def measure(bench: Any) -> list[Any]:
    from ..results import Cell, Row, server_share, summarize

    count = 4 if bench.cfg.quick else 8
    try:
        _seed(bench, count)
    except (RuntimeError, OSError) as error:
        return [Row(figure, unit, {"ours": Cell(None, error=str(error))}) for figure, unit in FIGURES]
    modes = {"serial": None, "threads": "threads"}
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for _rep in range(1 if bench.cfg.quick else min(bench.cfg.reps, 3)):
        for mode, executor in modes.items():  # alternated, so drift in the machine's load is shared
            runs[mode].append(bench.run(__file__, "ours", {"executor": executor, "project": PROJECT,
                                                          "count": count}, timeout=600))
    cells = {mode: summarize(runs[mode], "seconds", "not built yet") for mode in modes}
    rows = []
    for (figure, unit), mode in zip(FIGURES, modes):
        share = server_share(runs[mode])
        rows.append(Row(figure, unit, {"ours": cells[mode]}, server_cpu={"ours": share} if share is not None else {}))
    rows[0].notes.append(f"N = {count} sessions of Case001, 3 series converted by dcm2niix per session; "
                         "timed: the export_bids call into an empty folder")
    serial, threads = cells["serial"].value, cells["threads"].value
    ok = serial is not None and threads is not None and threads > 0
    speedup = Cell(serial / threads if ok else None, runs=min(cells["serial"].runs, cells["threads"].runs),
                   error=None if ok else "needs the serial and threads figures")
    # no target: dcm2niix is CPU-bound and the machine's cores bound the speed-up; shown, not judged
    return rows + [Row(FIGURES[2][0], "x", {"ours": speedup})]
