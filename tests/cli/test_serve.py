"""``xnat serve``: --background returns once the server listens; a busy port leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

import requests


def test_background_returns_once_the_server_answers(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "xnat.cli", "serve", "--port", "0", "--background"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    url = re.search(r"listening on (http://\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    pid = int(re.search(r"stop it with 'kill (\d+)'", done.stdout).group(1))  # type: ignore[union-attr]
    try:
        # No wait, no retry: the command returned, so the server answers now.
        answer = requests.get(f"{url}/data/projects", auth=("admin", "admin"), timeout=30)
        assert answer.status_code == 200
    finally:
        os.kill(pid, signal.SIGTERM)


def test_background_on_a_busy_port_says_why(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "xnat.cli", "serve", "--port", str(port), "--background"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    assert done.returncode == 1
    assert done.stderr.strip() == f"xnat: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_a_busy_port_leaves_no_temporary_folder(cli, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.code == 1
    assert result.err_lines == [f"xnat: error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert list(scratch.iterdir()) == []


def test_the_ready_file_holds_the_url(tmp_path):
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-m", "xnat.cli", "serve", "--port", "0", "--ready-file", str(ready)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("XNAT emulator listening on http://127.0.0.1:")
        assert ready.read_text(encoding="utf-8") == line.split(" on ")[1]
    finally:
        child.terminate()
        child.wait(timeout=30)


def test_populate_says_what_it_made(tmp_path):
    child = subprocess.Popen([sys.executable, "-m", "xnat.cli", "serve", "--port", "0",
                              "--populate", "projects=2,subjects=3,experiments=2,scans=1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert child.stdout.readline().startswith("XNAT emulator listening on http://")  # type: ignore[union-attr]
        said = child.stdout.readline()  # type: ignore[union-attr]
        assert said == ("Populated 2 private projects (PROJnnn), 6 subjects, 12 MR sessions, 12 scans, "
                        "owned by the first administrator (list them with: xnat ls)\n")
    finally:
        child.terminate()
        child.wait(timeout=30)
