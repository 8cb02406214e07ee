"""Download one big file (1 GiB; 64 MiB with --quick) to disk.

Targets: throughput >= 0.9x curl on the same server and URL; our peak RSS < 80 MB (the
whole client process: interpreter, import, connect and the download). The limit is curl
(``-o file``), or a raw ``http.client`` reader when curl is not installed. Each client
checks the size of what it wrote, then deletes it.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("download big file: throughput", "MB/s"), ("download big file: peak RSS", "MB")]


def _curl_or_socket(params: dict[str, Any], target: str, probe: Any) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, tool) for the limit."""
    import shutil
    import subprocess
    import time

    url = params["url"] + params["uri"]
    curl = shutil.which("curl")
    if curl:
        start = time.perf_counter()
        subprocess.run([curl, "-sS", "-f", "-u", f"{params['user']}:{params['password']}", "-o", target, url],
                       check=True, timeout=600)
        return time.perf_counter() - start, probe.children_peak_rss_mb(), "curl"
    import base64
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    token = base64.b64encode(f"{params['user']}:{params['password']}".encode()).decode()
    start = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.request("GET", parts.path, headers={"Authorization": f"Basic {token}"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {parts.path} -> {response.status}")
    with open(target, "wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
    return time.perf_counter() - start, probe.peak_rss_mb(), "socket reader"


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import os
    import time

    impl, target, size = params["impl"], params["target"], params["size"]
    tool = impl
    if impl != "limit":
        probe.RequestCounter().install()   # records the server's error answers, if any
    try:
        if impl == "limit":
            seconds, peak, tool = _curl_or_socket(params, target, probe)
        elif impl == "pyxnat":
            import pyxnat

            interface = pyxnat.Interface(server=params["url"], user=params["user"], password=params["password"])
            start = time.perf_counter()
            interface.select(params["uri"].removeprefix("/data")).get(target)
            seconds, peak = time.perf_counter() - start, probe.peak_rss_mb()
        else:
            import xnat

            session = xnat.connect(params["url"], user=params["user"], password=params["password"])
            start = time.perf_counter()
            session.download(params["uri"], target, verbose=False)
            seconds, peak = time.perf_counter() - start, probe.peak_rss_mb()
        written = os.path.getsize(target)
    finally:
        if os.path.exists(target):
            os.unlink(target)
    if written != size:
        raise AssertionError(f"wrote {written} bytes, the file has {size}")
    return {"seconds": seconds, "mb_per_s": size / 2**20 / seconds, "peak_rss_mb": peak, "tool": tool}


def measure(bench: Any) -> list[Any]:
    from ..results import Cell, Row, Target, server_share, summarize

    seed = bench.seed
    if not seed.big_size:
        reason = "; ".join(seed.errors) or "no big file on the server"
        return [Row(f, u, {"ours": Cell(None, error=f"seeding: {reason}")}) for f, u in FIGURES]
    impls = ["ours", "limit", "xnatpy", "pyxnat"]
    folder = bench.tempdir("download-")

    def params(impl: str, rep: int) -> dict[str, Any]:
        return {"uri": seed.big_uri, "size": seed.big_size, "target": str(folder / f"{impl}-{rep}.bin")}

    runs = bench.alternate(__file__, impls, params, reps=min(bench.cfg.reps, 3))
    names = {"limit": "curl"} | {impl: impl for impl in impls}
    shares = {names[i]: s for i in ("ours", "limit") if (s := server_share(runs[i])) is not None}
    label = f"download {seed.big_size / 2**20:,.0f} MiB file"
    throughput = Row(f"{label}: throughput", "MB/s",
                     {i: summarize(runs[i], "mb_per_s", "not built yet" if i == "ours" else "") for i in impls},
                     Target(">=", 0.9, "limit"), server_cpu=shares)
    tools = {r.get("tool") for r in runs["limit"] if r.get("tool")}
    throughput.notes.append(f"limit = {', '.join(sorted(tools)) or 'curl'}; files written to {bench.scratch}")
    memory = Row(f"{label}: peak RSS", "MB",
                 {i: summarize(runs[i], "peak_rss_mb", "not built yet" if i == "ours" else "") for i in impls},
                 Target("<", 80))
    memory.notes.append("whole client process (interpreter + import + connect + download); limit = curl's own RSS")
    return [throughput, memory]
