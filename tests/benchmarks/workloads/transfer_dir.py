"""``download_dir`` and ``upload_dir`` of a resource of many small files, on loopback and over 20 ms.

Targets (ours / xnatpy 0.8.1, each library with its defaults unless the row says otherwise):

* loopback, 2,000 files of 16 KB (200 with --quick) in sub-folders of 100: ``upload_dir``
  with each library's default method (both ``tgz_file``) <= 0.8x, the row that compares
  like with like; download_dir and ``upload_dir(method="per_file")`` (a flattering row: our
  PUTs run in parallel, xnatpy's one after another) are shown without a target: their old
  <= 0.33x is superseded by issue 16's rows over 20 ms, since on loopback the embedded
  server, not the client, bounds both libraries;
* 20 ms per request (``proxy.DelayProxy``), 500 files of 16 KB (100 with --quick), where each
  request costs a round trip as on a real network: download_dir <= 0.2x and
  ``upload_dir(method="per_file")`` <= 0.2x.

Navigation to the resource (listings) is not timed; the transfer call is. Every run is
checked: the download must produce every file, the upload must leave every file listed on
the server (each upload run gets a fresh resource). pyxnat's ``Resource.get(extract=True)``
is shown for the loopback download; it has no per-file directory upload.
"""

from __future__ import annotations

from typing import Any

#: Where the 20 ms download_dir row's time goes (issue 16), measured outside the suite with phase
#: timers and cProfile: 500 files of 16 KB (random bytes: the zip is 8,290,522 B), the same DelayProxy,
#: 9 alternated runs with targets on tmpfs (medians), and the server's zip profiled in-process.
SLOW_DOWNLOAD_PROFILE = "\n    ".join([
    ("profile (ms; ours / xnatpy 0.8.1). Both take one zip of the resource: xnatpy GETs it into a temporary "
     "file, then extractall; ours asks for the listing and the zip at once and extracts while it streams."),
    "  listing (ours only, beside the zip, hidden): ends at ~60 / -",
    "  first byte of the zip (20 ms + the server building it): ~160 / ~135",
    "  transfer of 8.3 MB: overlapped with the extraction / ~127 into the temporary file",
    ("  unzip + write 500 files: first byte to last file ~205, ~130 of it waiting for bytes / "
     "extractall ~22 after the transfer"),
    "  verification (MD5 computed as each entry is written, then sizes): ~4 / none",
    "  total: 380 (min 306) / 291 (min 279); client CPU ~114 / ~45",
    ("server, per zip: ~180-260 ms of CPU when profiled: 100-160 before the first byte (each file's disk path "
     "resolved twice, 3 realpath calls each: 29,000 lstat for 500 files), 77-100 deflating (level 1 gains "
     "nothing on random bytes: 8,192,000 B -> 8,290,522 B); since b39c6e9 (each path checked once, a member "
     "whose start does not shrink stored) ~50 ms, and the full run after it shows 158.6 / 154.8 ms (1.02x)"),
    ("disk: this machine's ext4 has no journal, so files created soon after the previous run's tree was "
     "removed cost 0.5-1 ms each in the kernel (recently deleted inodes are skipped one by one); both "
     "clients pay it, xnatpy after the transfer (extractall then 300-500 ms), ours while the zip streams, "
     "likely why the suite, on disk, shows ours ahead (0.73x on the last run) while on tmpfs it is behind"),
    ("floor: any client taking the zip waits 20 ms + the server's build and stream, then writes 500 files; "
     "per file costs a round trip each (500 x 20 ms / 8 workers = 1.25 s). 0.2x would need ours at ~31 ms, "
     "about the round trip and the server's CPU for the zip alone, so it cannot hold against a peer that "
     "makes the same one request. What would still move the row: our client's CPU, ~2.5x xnatpy's (listing "
     "rows to jobs, then a pure-Python extraction that checks names, sizes, CRC, MD5 and renames each file "
     "into place: ~50 ms for 500 entries against extractall's ~22), which shares the 2 cores with the "
     "server and the proxy"),
])

FIGURES = [("download_dir: many small files", "s"), ("upload_dir, default method: many small files", "s"),
           ("upload_dir per_file: many small files", "s"), ("download_dir, 20 ms per request", "s"),
           ("upload_dir per_file, 20 ms per request", "s")]


def _resource(params: dict[str, Any]) -> tuple[Any, Any, str]:
    """(session, resource, how it was reached); navigation is not part of the figure.

    The listing path is tried first; ``create_object`` (xnatpy's way to open a URI) is
    the fallback, so a listing the server answers badly does not hide the transfer itself.
    """
    import xnat

    session = xnat.connect(params["url"], user=params["user"], password=params["password"])
    try:
        experiment = session.projects[params["project"]].subjects[params["subject"]].experiments[params["experiment"]]
        return session, experiment.resources[params["resource"]], "listings"
    except Exception as error:
        listing_error = f"{type(error).__name__}: {error}"[:200]
    return session, session.create_object(params["resource_uri"]), f"create_object ({listing_error})"


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import os
    import shutil
    import time

    impl, mode = params["impl"], params["mode"]
    counter = probe.RequestCounter().install()
    if impl == "pyxnat":
        import pyxnat

        if mode != "download":
            raise NotImplementedError("pyxnat has no per-file directory upload")
        interface = pyxnat.Interface(server=params["url"], user=params["user"], password=params["password"])
        resource = interface.select(params["resource_uri"].removeprefix("/data"))
        os.makedirs(params["target"], exist_ok=True)
        start = time.perf_counter()
        resource.get(params["target"], extract=True)
        seconds = time.perf_counter() - start
    else:
        _session, resource, reached = _resource(params)
        requests_before = counter.count
        start = time.perf_counter()
        if mode == "download":
            resource.download_dir(params["target"], verbose=False)
        elif mode == "upload_default":
            resource.upload_dir(params["source"])   # each library's default method
        else:
            resource.upload_dir(params["source"], method="per_file")
        seconds = time.perf_counter() - start
        requests_made = counter.count - requests_before
    result: dict[str, Any] = {"seconds": seconds, "peak_rss_mb": probe.peak_rss_mb()}
    if impl != "pyxnat":
        result["requests"] = requests_made
        result["reached_by"] = reached
    if mode == "download":
        files, _size = probe.count_files(params["target"])
        shutil.rmtree(params["target"], ignore_errors=True)
        # pyxnat also leaves the zip it downloaded beside the files.
        if files < params["count"] or (impl != "pyxnat" and files != params["count"]):
            raise AssertionError(f"{files} files downloaded, the resource has {params['count']}")
    return result


def measure(bench: Any) -> list[Any]:
    from ..proxy import DelayProxy
    from ..results import Cell, Row, Target, server_share, summarize
    from ..serverproc import Seeder

    seed = bench.seed
    if not seed.small_count:
        reason = "; ".join(seed.errors) or "no small-file resource on the server"
        return [Row(f, u, {"ours": Cell(None, error=f"seeding: {reason}")}) for f, u in FIGURES]
    base = {"project": seed.project, "subject": seed.subject, "experiment": seed.experiment,
            "count": seed.small_count}
    folder = bench.tempdir("dirs-")

    def down(impl: str, rep: int) -> dict[str, Any]:
        return {**base, "mode": "download", "resource": seed.small_resource,
                "resource_uri": f"{seed.experiment_uri}/resources/{seed.small_resource}",
                "target": str(folder / f"down-{impl}-{rep}")}

    seeder = Seeder(bench.url, bench.user, bench.password)
    labels: list[str] = []

    def uploader(mode: str, prefix: str) -> Any:
        def up(impl: str, rep: int) -> dict[str, Any]:
            label = f"{prefix}_{impl}_{rep}".upper()
            seeder.resource(seed, label)
            labels.append(label)
            return {**base, "mode": mode, "resource": label, "source": seed.small_dir,
                    "resource_uri": f"{seed.experiment_uri}/resources/{label}"}
        return up

    downloads = bench.alternate(__file__, ["ours", "xnatpy", "pyxnat"], down)
    defaults = bench.alternate(__file__, ["ours", "xnatpy"], uploader("upload_default", "UPD"))
    _check_uploads(seeder, seed, defaults, "UPD")
    uploads = bench.alternate(__file__, ["ours", "xnatpy"], uploader("upload", "UP"))
    _check_uploads(seeder, seed, uploads, "UP")
    slow_runs = _slow_runs(bench, base, folder, seeder, labels, DelayProxy)
    n, m, delay = seed.small_count, seed.slow_count, f"{bench.cfg.slow_delay_s * 1000:.0f} ms"
    rows = []
    for figure, runs, impls, bound in (
            (f"download_dir: {n:,} files of 16 KB", downloads, ["ours", "xnatpy", "pyxnat"], None),
            (f"upload_dir, default method (tgz_file): {n:,} files of 16 KB", defaults, ["ours", "xnatpy"], 0.8),
            (f"upload_dir per_file: {n:,} files of 16 KB (flattering: ours parallel, xnatpy sequential)",
             uploads, ["ours", "xnatpy"], None),
            (f"download_dir, {delay} per request: {m:,} files of 16 KB", slow_runs["download"], ["ours", "xnatpy"],
             0.2),
            (f"upload_dir per_file, {delay} per request: {m:,} files of 16 KB", slow_runs["upload"],
             ["ours", "xnatpy"], 0.2)):
        cells = {i: summarize(runs[i], "seconds", "not built yet" if i == "ours" else "") for i in impls}
        shares = {i: s for i in ("ours", "xnatpy") if (s := server_share(runs[i])) is not None}
        row = Row(figure, "s", cells, Target("<=", bound, "xnatpy") if bound else None, server_cpu=shares)
        if bound is None:
            row.notes.append("shown, no target: on loopback the embedded server bounds both libraries (its CPU "
                             "share is shown); issue 16 measures this transfer over 20 ms per request")
        for impl in ("ours", "xnatpy"):
            counts = sorted(r["requests"] for r in runs[impl] if not r.get("error") and "requests" in r)
            if counts:
                row.notes.append(f"{impl}: {counts[len(counts) // 2]:,} HTTP requests")
            fallbacks = {r["reached_by"] for r in runs[impl] if r.get("reached_by", "listings") != "listings"}
            if fallbacks:
                row.notes.append(f"{impl}: resource reached by {fallbacks.pop()}")
        rows.append(row)
    rows[0].notes.append("pyxnat: Resource.get(extract=True)")
    for row in rows[3:]:
        row.notes.append(f"loopback proxy holding each request {delay}; {slow_runs['proxied']} requests went through it")
    rows[3].notes.append(SLOW_DOWNLOAD_PROFILE)
    return rows


def _slow_runs(bench: Any, base: dict[str, Any], folder: Any, seeder: Any, labels: list[str],
               proxy_class: Any) -> dict[str, Any]:
    """download_dir and upload_dir per_file through the delaying proxy (the 500-file resource)."""
    seed = bench.seed
    if not seed.slow_count:
        failed = {"error": "seeding: no slow-network resource on the server"}
        return {"download": {"ours": [failed], "xnatpy": [failed]}, "upload": {"ours": [failed], "xnatpy": [failed]},
                "proxied": 0}
    slow = {**base, "count": seed.slow_count}
    with proxy_class("127.0.0.1", int(bench.url.rsplit(":", 1)[1]), bench.cfg.slow_delay_s) as proxy:
        def down(impl: str, rep: int) -> dict[str, Any]:
            return {**slow, "url": proxy.url, "mode": "download", "resource": seed.slow_resource,
                    "resource_uri": f"{seed.experiment_uri}/resources/{seed.slow_resource}",
                    "target": str(folder / f"slow-down-{impl}-{rep}")}

        def up(impl: str, rep: int) -> dict[str, Any]:
            label = f"SLOWUP_{impl}_{rep}".upper()
            seeder.resource(seed, label)
            labels.append(label)
            return {**slow, "url": proxy.url, "mode": "upload", "resource": label, "source": seed.slow_dir,
                    "resource_uri": f"{seed.experiment_uri}/resources/{label}"}

        reps = min(bench.cfg.reps, 3)
        downloads = bench.alternate(__file__, ["ours", "xnatpy"], down, reps=reps)
        uploads = bench.alternate(__file__, ["ours", "xnatpy"], up, reps=reps)
        proxied = proxy.requests
    _check_uploads(seeder, seed, uploads, "SLOWUP", seed.slow_count)
    return {"download": downloads, "upload": uploads, "proxied": proxied}


def _check_uploads(seeder: Any, seed: Any, uploads: dict[str, list[dict[str, Any]]], prefix: str,
                   count: int | None = None) -> None:
    """Mark an upload run failed if its resource does not list every file afterwards."""
    count = count or seed.small_count
    for impl, runs in uploads.items():
        for rep, result in enumerate(runs):
            if result.get("error"):
                continue
            label = f"{prefix}_{impl}_{rep}".upper()
            try:
                listed = seeder.file_count(seed, label)
            except Exception as error:  # the check itself failed: say so rather than trust the run
                result["error"] = f"could not check the upload: {error}"
                continue
            if listed != count:
                result["error"] = f"server lists {listed} of {count} uploaded files"
