"""Download one big file (1 GiB; 64 MiB with --quick) to disk, verified and size-checked only.

Targets: ours verified (the MD5 of the catalog checked, our default) >= 0.9x the verified
limit, ``curl | md5sum`` on the same URL; ours with a size check only (what a server without
digests allows) >= 0.9x the faster of ``curl -o`` and a raw ``http.client`` reader in 1 MiB
reads (on loopback curl's 16 KiB writes are often the slower of the two); our peak RSS
< 80 MB (the whole client process: interpreter, import, connect and both downloads). Every
timer includes connecting and logging in, as curl's does (the import is not timed); our
connect time is recorded apart, so the notes can say how much of a small download it is.
Each client checks the size of what it wrote, then deletes it.
"""

from __future__ import annotations

from typing import Any

FIGURES = [("download big file, verified: throughput", "MB/s"),
           ("download big file, size check only: throughput", "MB/s"), ("download big file: peak RSS", "MB")]


def _curl(params: dict[str, Any], target: str, probe: Any) -> tuple[float, float] | None:
    """(seconds, peak RSS MiB) of ``curl -o target``; None when curl is not installed."""
    import shutil
    import time

    curl = shutil.which("curl")
    if not curl:
        return None
    start = time.perf_counter()
    peak = probe.run_watching_rss([curl, "-sS", "-f", "-u", f"{params['user']}:{params['password']}",
                                   "-o", target, params["url"] + params["uri"]], timeout=600)
    return time.perf_counter() - start, peak


def _curl_md5(params: dict[str, Any]) -> float | None:
    """Seconds of ``curl | md5sum`` (the verified limit); None when either is missing."""
    import shutil
    import subprocess
    import time

    curl, md5sum = shutil.which("curl"), shutil.which("md5sum")
    if not curl or not md5sum:
        return None
    start = time.perf_counter()
    fetch = subprocess.Popen([curl, "-sS", "-f", "-u", f"{params['user']}:{params['password']}",
                              params["url"] + params["uri"]], stdout=subprocess.PIPE)
    digest = subprocess.run([md5sum], stdin=fetch.stdout, capture_output=True, text=True, timeout=600)
    fetch.stdout.close()  # type: ignore[union-attr]  # piped above
    if fetch.wait(timeout=600) != 0 or digest.returncode != 0 or len(digest.stdout.split()[0]) != 32:
        raise RuntimeError(f"curl | md5sum failed: {digest.stderr.strip()[:200]}")
    return time.perf_counter() - start


def _socket_reader(params: dict[str, Any], target: str) -> float:
    """Seconds for a bare ``http.client`` GET written to a file in 1 MiB reads."""
    import base64
    import http.client
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(params["url"] + params["uri"])
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
    connection.close()
    return time.perf_counter() - start


def _limit(params: dict[str, Any], target: str, probe: Any) -> dict[str, Any]:
    """The machine's limit: the faster of curl and a raw socket reader, both measured."""
    import os

    size = params["size"]
    result: dict[str, Any] = {}
    curl = _curl(params, target, probe)
    if curl is not None:
        _check_size(target, size)
        result.update(curl_mb_per_s=size / 2**20 / curl[0], peak_rss_mb=curl[1])
    seconds = _socket_reader(params, target)
    _check_size(target, size)
    os.unlink(target)
    result["socket_mb_per_s"] = size / 2**20 / seconds
    result["mb_per_s"] = max(result["socket_mb_per_s"], result.get("curl_mb_per_s", 0.0))
    result["tool"] = "curl" if result["mb_per_s"] == result.get("curl_mb_per_s") else "socket reader"
    verified = _curl_md5(params)
    if verified is not None:
        result["verified_mb_per_s"] = size / 2**20 / verified
    return result


def _check_size(target: str, size: int) -> None:
    import os

    written = os.path.getsize(target)
    if written != size:
        raise AssertionError(f"wrote {written} bytes, the file has {size}")


def client(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    import os
    import time

    impl, target, size = params["impl"], params["target"], params["size"]
    try:
        if impl == "limit":
            return _limit(params, target, probe)
        probe.RequestCounter().install()   # records the server's error answers, if any
        if impl == "ours":
            return _ours(params, probe)
        if impl == "pyxnat":
            import pyxnat

            start = time.perf_counter()   # connect included, as in curl's time
            interface = pyxnat.Interface(server=params["url"], user=params["user"], password=params["password"])
            interface.select(params["uri"].removeprefix("/data")).get(target)
        else:
            import xnat

            start = time.perf_counter()   # connect included, as in curl's time
            session = xnat.connect(params["url"], user=params["user"], password=params["password"])
            session.download(params["uri"], target, verbose=False)
        seconds, peak = time.perf_counter() - start, probe.peak_rss_mb()
        _check_size(target, size)
    finally:
        if os.path.exists(target):
            os.unlink(target)
    return {"seconds": seconds, "mb_per_s": size / 2**20 / seconds, "peak_rss_mb": peak, "tool": impl}


def _ours(params: dict[str, Any], probe: Any) -> dict[str, Any]:
    """Connect, then the default download (verified against the catalog's MD5), then one
    checked by size only (as from a server without digests); each timer includes the connect."""
    import os
    import time

    import xnat

    target, size = params["target"], params["size"]
    start = time.perf_counter()
    session = xnat.connect(params["url"], user=params["user"], password=params["password"])
    connect_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        session.download(params["uri"], target, verbose=False)
        verified_s = connect_s + time.perf_counter() - start
        _check_size(target, size)
        os.unlink(target)
        start = time.perf_counter()
        session.transferer().download(params["uri"], target, expected_size=size, verbose=False)
        sized_s = connect_s + time.perf_counter() - start
        _check_size(target, size)
    finally:
        if os.path.exists(target):
            os.unlink(target)
    return {"seconds": verified_s, "mb_per_s": size / 2**20 / verified_s, "sized_mb_per_s": size / 2**20 / sized_s,
            "connect_s": connect_s, "connect_share": connect_s / verified_s, "peak_rss_mb": probe.peak_rss_mb(),
            "tool": "ours"}


def _target_folder(bench: Any, size: int) -> Any:
    """Where downloads are written: RAM (/dev/shm) when it has room, so the figure is the
    transfer and not the disk's write-back (which made runs vary two-fold); else scratch."""
    import shutil
    import tempfile
    from pathlib import Path

    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 3 * size:
        return Path(tempfile.mkdtemp(prefix="xnat-bench-download-", dir=shm))
    return bench.tempdir("download-")


def measure(bench: Any) -> list[Any]:
    import shutil

    from ..results import Cell, Row, Target, server_share, summarize

    seed = bench.seed
    if not seed.big_size:
        reason = "; ".join(seed.errors) or "no big file on the server"
        return [Row(f, u, {"ours": Cell(None, error=f"seeding: {reason}")}) for f, u in FIGURES]
    impls = ["ours", "limit", "xnatpy", "pyxnat"]
    folder = _target_folder(bench, seed.big_size)

    def params(impl: str, rep: int) -> dict[str, Any]:
        return {"uri": seed.big_uri, "size": seed.big_size, "target": str(folder / f"{impl}-{rep}.bin")}

    try:
        runs = bench.alternate(__file__, impls, params, reps=min(bench.cfg.reps, 3))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    names = {"limit": "curl"} | {impl: impl for impl in impls}
    shares = {names[i]: s for i in ("ours", "limit") if (s := server_share(runs[i])) is not None}
    label = f"download {seed.big_size / 2**20:,.0f} MiB file"
    ours = "not built yet"
    verified = Row(f"{label}, verified: throughput", "MB/s",
                   {"ours": summarize(runs["ours"], "mb_per_s", ours),
                    "limit": summarize(runs["limit"], "verified_mb_per_s"),
                    "xnatpy": summarize(runs["xnatpy"], "mb_per_s"), "pyxnat": summarize(runs["pyxnat"], "mb_per_s")},
                   Target(">=", 0.9, "limit"), server_cpu=shares)
    connect = summarize(runs["ours"], "connect_s")
    share = summarize(runs["ours"], "connect_share")
    verified.notes.append(
        f"ours checks the MD5 of the catalog (its default); limit = curl | md5sum, same URL; xnatpy and pyxnat "
        f"check nothing. Our connect takes {connect.text('s')} of it ({share.text('x')} of our time)")
    sized = Row(f"{label}, size check only: throughput", "MB/s",
                {"ours": summarize(runs["ours"], "sized_mb_per_s", ours), "limit": summarize(runs["limit"], "mb_per_s")},
                Target(">=", 0.9, "limit"), server_cpu=shares)
    curl, sock = summarize(runs["limit"], "curl_mb_per_s"), summarize(runs["limit"], "socket_mb_per_s")
    sized.notes.append(
        f"as from a server without digests; limit = the faster of curl -o ({curl.text('MB/s')}) and a raw "
        f"http.client reader in 1 MiB reads ({sock.text('MB/s')}), medians, same URL; every client writes to {folder}")
    memory = Row(f"{label}: peak RSS", "MB",
                 {i: summarize(runs[i], "peak_rss_mb", ours if i == "ours" else "") for i in impls},
                 Target("<", 80))
    memory.notes.append("peak RSS (VmHWM) of the whole client process: interpreter + import + connect + "
                        "download (ours: both downloads); limit = curl's own")
    return [verified, sized, memory]
