"""Keeps the benchmark suite working: its quickest run, and the pieces it trusts.

No figure is asserted here (timings are the suite's business, not the tests'); these
tests check that the suite runs end to end, writes its JSON, and that the delay proxy
and the target arithmetic do what the table claims.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.benchmarks.harness import _check_library, _parse
from tests.benchmarks.proxy import DelayProxy
from tests.benchmarks.results import Cell, Row, Target, summarize

REPO = Path(__file__).resolve().parents[2]


def test_quick_run_of_two_workloads_writes_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--quick", "--reps", "1", "--no-install",
         "--only", "import,connect", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| holds" in done.stdout and "import xnat" in done.stdout
    document = json.loads(out.read_text())
    figures = {row["figure"]: row for row in document["rows"]}
    assert document["meta"]["mode"] == "quick"
    assert {"import xnat", "connect, cold cache", "connect, warm cache", "connect, 20 ms per request, warm cache",
            "import + connect, fresh process, warm cache", "connect: HTTP requests, warm cache (round trips)"
            } <= set(figures)
    # Our own import always exists, so this row is a real measurement.
    assert figures["import xnat"]["values"]["ours"] > 0
    for row in document["rows"]:
        ours = row["values"].get("ours")
        assert ours is not None or row["errors"].get("ours"), row   # a number, or the reason why not


def test_unknown_workload_is_refused() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks", "--only", "nosuch"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown workload" in done.stderr


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while (size := int(self.rfile.readline().strip(), 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_proxy_delays_each_request_on_a_kept_alive_connection(echo_server: int) -> None:
    with DelayProxy("127.0.0.1", echo_server, delay=0.05) as proxy, requests.Session() as http:
        start = time.perf_counter()
        bodies = [http.post(proxy.url + "/x", data=b"a" * 100_000).content for _ in range(3)]
        chunked = http.post(proxy.url + "/y", data=iter([b"one", b"two"])).content
        elapsed = time.perf_counter() - start
    assert bodies == [b"a" * 100_000] * 3
    assert chunked == b"onetwo"
    assert proxy.requests == 4
    assert elapsed >= 4 * 0.05      # each request was held, none skipped


def test_proxy_survives_an_unreachable_upstream() -> None:
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()                   # nothing listens there now
    with DelayProxy("127.0.0.1", port, delay=0) as proxy:
        with pytest.raises(requests.ConnectionError):
            requests.get(proxy.url, timeout=5)


def test_ratio_and_targets() -> None:
    row = Row("t", "s", {"ours": Cell(1.0), "xnatpy": Cell(10.0)}, Target("<=", 0.2, "xnatpy"))
    assert row.ratio == pytest.approx(0.1) and row.holds is True
    slow = Row("t", "s", {"ours": Cell(3.0), "xnatpy": Cell(10.0)}, Target("<=", 0.2, "xnatpy"))
    assert slow.holds is False
    rate = Row("t", "MB/s", {"ours": Cell(80.0), "limit": Cell(100.0)}, Target(">=", 0.9, "limit"))
    assert rate.holds is False
    absolute = Row("t", "MB", {"ours": Cell(50.0)}, Target("<", 80))
    assert absolute.holds is True
    missing = Row("t", "s", {"ours": Cell(None, error="x"), "xnatpy": Cell(1.0)}, Target("<=", 1, "xnatpy"))
    assert missing.ratio is None and missing.holds is None


def test_summarize_reports_errors_and_medians() -> None:
    assert summarize([{"seconds": 3}, {"seconds": 1}, {"seconds": 2}], "seconds").value == 2
    failed = summarize([{"error": "AttributeError: no projects"}], "seconds", "not built yet")
    assert failed.value is None and failed.error == "not built yet: AttributeError: no projects"
    partial = summarize([{"seconds": 1.0}, {"error": "boom"}], "seconds")
    assert partial.value == 1.0 and "1 of 2 runs failed" in partial.note and partial.error == "boom"


def test_child_output_parsing_and_library_check() -> None:
    ok = subprocess.CompletedProcess([], 0, stdout='noise\nBENCH-RESULT {"seconds": 1}\n', stderr="")
    assert _parse(ok) == {"seconds": 1}
    broken = subprocess.CompletedProcess([], 1, stdout="", stderr="Traceback\nKeyError: 'x'\n")
    assert "exit 1" in _parse(broken)["error"] and "KeyError" in _parse(broken)["error"]
    wrong = {"lib_version": "0.9.0", "lib_file": "/repo/xnat/__init__.py"}
    _check_library("xnatpy", wrong)
    assert "imported xnat 0.9.0" in wrong["error"]
    swapped = {"lib_version": "0.8.1", "lib_file": "/venv/xnat/__init__.py"}
    _check_library("ours", swapped)
    assert "imported xnatpy" in swapped["error"]
