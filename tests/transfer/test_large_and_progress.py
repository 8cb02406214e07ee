"""Flat memory on a large download; progress bars and callbacks."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import requests

from xnat.transfer import Progress, Transferer
from xnat.transfer.progress import show_bar

from .conftest import RES, generated

SIZE = 200 * 1024 * 1024


@pytest.fixture
def server_process():
    """The file server in a child process, so tracemalloc measures the client alone."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-m", "tests.transfer.serve_files"], cwd=root, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield child.stdout.readline().strip()
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_200_mb_download_has_flat_memory(server_process, tmp_path):
    digest = hashlib.md5()
    for chunk in generated(SIZE):
        digest.update(chunk)
    with requests.Session() as http:
        transferer = Transferer(http, server_process, timeout=60)
        tracemalloc.start()
        try:
            result = transferer.download(f"/gen/{SIZE}", tmp_path / "big.bin", expected_md5=digest.hexdigest(),
                                         expected_size=SIZE)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.size == SIZE and (tmp_path / "big.bin").stat().st_size == SIZE
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_large_download_resumes_after_cut(transferer, server, tmp_path):
    size = 20 * 1024 * 1024
    digest = hashlib.md5(b"".join(generated(size))).hexdigest()
    server.faults.add("cut", "/gen/", at=7 * 1024 * 1024 + 5)
    result = transferer.download(f"/gen/{size}", tmp_path / "g.bin", expected_md5=digest)
    assert result.attempts == 2
    second = server.faults.ranges("/gen/")[1]
    assert second.startswith("bytes=") and int(second[6:-1]) >= 6 * 1024 * 1024


def test_show_bar_rules(monkeypatch):
    assert show_bar(True) and not show_bar(False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not show_bar(None)  # not a terminal

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert show_bar(None)


def test_verbose_bar_on_stderr_only(transferer, server, tmp_path, capfd):
    server.app.files[RES] = {"a.bin": b"x" * 100_000}
    transferer.download(f"{RES}/files/a.bin", tmp_path / "a", verbose=True)
    out, err = capfd.readouterr()
    assert out == "" and "100%" in err
    transferer.download(f"{RES}/files/a.bin", tmp_path / "b", verbose=False)
    transferer.download(f"{RES}/files/a.bin", tmp_path / "c")  # stderr is captured: not a terminal
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_bar_for_many_files_and_unknown_size(capfd):
    progress = Progress(None, files=3, verbose=True, label="test")
    for _ in range(3):
        progress.add(10)
        progress.file_done()
    progress.finish()
    progress.finish()  # twice is harmless
    out, err = capfd.readouterr()
    assert out == "" and "3/3 files" in err


def test_update_func_sequence():
    calls = []
    progress = Progress(100, update_func=lambda *args: calls.append(args))
    progress.add(60)
    progress.add(-60)  # a download that starts over takes its bytes back
    progress.add(100)
    progress.finish()
    assert calls == [(0, 100, False), (60, 100, False), (0, 100, False), (100, 100, False), (100, 100, True)]
