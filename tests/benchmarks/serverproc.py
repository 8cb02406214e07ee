"""The embedded XNAT server in its own process, and the data the workloads need on it.

The server runs as ``python -m xnat.cli serve`` so its CPU time is never charged to the
client being measured; :meth:`ServerProcess.cpu_seconds` reads its user+system time from
``/proc/<pid>/stat`` so each measurement can report the server's share.
"""

from __future__ import annotations

import io
import logging
import os
import re
import selectors
import signal
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

logger = logging.getLogger(__name__)

_LISTENING = re.compile(r"listening on (http://\S+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerError(RuntimeError):
    """The embedded server could not be started or seeded."""


class ServerProcess:
    """``xnat serve`` in a child process (stopped by :meth:`stop`)."""

    def __init__(self, python: str, data_dir: Path, populate: str | None, schemas: Path | None,
                 user: str, password: str, repo_root: Path, log_path: Path) -> None:
        self.command = [python, "-m", "xnat.cli", "serve", "--port", "0", "--data-dir", str(data_dir),
                        "--user", f"{user}:{password}:admin"]
        if populate:
            self.command += ["--populate", populate]
        if schemas is not None:
            self.command += ["--schemas", str(schemas)]
        self.repo_root = repo_root
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float) -> str:
        """Start the server; wait (at most ``timeout`` s) for its URL line; return the URL."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo_root), env.get("PYTHONPATH")]))
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=log, text=True,
                                        env=env, cwd=self.log_path.parent)
        log.close()
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                    if self.process.poll() is not None:
                        break
                    continue
                line = self.process.stdout.readline()
                if not line:
                    break
                match = _LISTENING.search(line)
                if match:
                    self.url = match.group(1)
                    return self.url
        finally:
            selector.close()
        self.stop()
        raise ServerError(f"the server did not start within {timeout:.0f} s: "
                          f"{' '.join(self.command[1:])}\n{_tail(self.log_path)}")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        if self.process is None:
            return 0.0
        with open(f"/proc/{self.process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        # After the command name: state is field 3; utime/stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- seeding ----------------------------------------------------------------------------

@dataclass
class Seed:
    """Where the workloads find their data on the server."""

    list_project: str = ""
    list_count: int = 0
    project: str = "BENCH"
    subject: str = "BENCH_S1"
    experiment: str = "BENCH_E1"
    big_resource: str = "BIG"
    big_name: str = "big.bin"
    big_size: int = 0
    small_resource: str = "SMALL"
    small_count: int = 0
    small_dir: str = ""
    #: A smaller resource for the slow-network rows (500 files; a peer pays a round trip per file).
    slow_resource: str = "SLOW"
    slow_count: int = 0
    slow_dir: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def experiment_uri(self) -> str:
        return f"/data/projects/{self.project}/subjects/{self.subject}/experiments/{self.experiment}"

    @property
    def big_uri(self) -> str:
        return f"{self.experiment_uri}/resources/{self.big_resource}/files/{self.big_name}"


class Seeder:
    """Creates the benchmark data through the REST API, with plain ``requests``."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 600) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.auth = (user, password)
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        response = self.http.request(method, self.url + path, timeout=self.timeout, **kwargs)  # type: ignore[arg-type]
        if response.status_code >= 400:
            raise ServerError(f"{method} {path} -> {response.status_code} {response.text[:200]!r}")
        return response

    def listing_project(self) -> tuple[str, int]:
        """The populated project with the most experiments, and that count."""
        rows = self._call("GET", "/data/projects", params={"format": "json"}).json()["ResultSet"]["Result"]
        best, count = "", -1
        for row in rows:
            project = row.get("ID") or row.get("id") or ""
            if not project or project == Seed.project:
                continue
            result = self._call("GET", f"/data/projects/{project}/experiments", params={"format": "json"}).json()
            n = len(result["ResultSet"]["Result"])
            if n > count:
                best, count = project, n
        if not best:
            raise ServerError("the populated server lists no project")
        return best, count

    def hierarchy(self, seed: Seed) -> None:
        self._call("PUT", f"/data/projects/{seed.project}")
        self._call("PUT", f"/data/projects/{seed.project}/subjects/{seed.subject}")
        self._call("PUT", seed.experiment_uri, params={"xsiType": "xnat:mrSessionData"})

    def resource(self, seed: Seed, label: str) -> None:
        self._call("PUT", f"{seed.experiment_uri}/resources/{label}", params={"format": "BENCH"})

    def big_file(self, seed: Seed, local: Path) -> None:
        self.resource(seed, seed.big_resource)
        with open(local, "rb") as handle:
            self._call("PUT", seed.big_uri, data=handle, params={"inbody": "true"},
                       headers={"Content-Type": "application/octet-stream"})
        seed.big_size = local.stat().st_size

    def small_files(self, seed: Seed, folder: Path, label: str | None = None) -> int:
        """Upload a folder's files (into ``label``, else the small-file resource) as one zip
        extracted by the server, or one by one; how many files."""
        label = label or seed.small_resource
        self.resource(seed, label)
        base = f"{seed.experiment_uri}/resources/{label}/files"
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for path in files:
                archive.write(path, path.relative_to(folder).as_posix())
        try:
            self._call("PUT", f"{base}/bench.zip", params={"extract": "true", "inbody": "true"},
                       data=buffer.getvalue(), headers={"Content-Type": "application/zip"})
        except ServerError as error:
            logger.info("zip upload refused (%s); uploading %d files one by one", error, len(files))
            for path in files:
                self._call("PUT", f"{base}/{path.relative_to(folder).as_posix()}", data=path.read_bytes())
        listed = self.file_count(seed, label)
        if listed != len(files):
            raise ServerError(f"{base} lists {listed} files after uploading {len(files)}")
        if label == seed.small_resource:
            seed.small_count = len(files)
        return len(files)


    def file_count(self, seed: Seed, label: str) -> int:
        """How many files the server lists in one of the experiment's resources."""
        base = f"{seed.experiment_uri}/resources/{label}/files"
        return len(self._call("GET", base, params={"format": "json"}).json()["ResultSet"]["Result"])


def make_big_file(path: Path, size: int) -> None:
    """Write ``size`` bytes of incompressible data (a random block repeated)."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            handle.write(block[:left])
            left -= len(block)


def make_small_files(folder: Path, count: int, size: int) -> None:
    """``count`` files of ``size`` bytes in sub-folders of 100, like a DICOM series tree."""
    for index in range(count):
        sub = folder / f"series{index // 100:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{index:05d}.dat").write_bytes(os.urandom(size))

