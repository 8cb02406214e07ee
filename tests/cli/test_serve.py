"""``xnat serve``: --background returns once the server listens; a busy port leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

import pytest
import requests


def test_background_returns_once_the_server_answers_and_says_where_its_log_is(tmp_path):
    scratch, cache = tmp_path / "tmp", tmp_path / "cache"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "xnat.cli", "serve", "--port", "0", "--background"], capture_output=True, text=True,
        timeout=120, cwd=tmp_path, env={**os.environ, "TMPDIR": str(scratch), "XNAT_CACHE_DIR": str(cache)},
    )
    assert done.returncode == 0, done.stderr
    url = re.search(r"listening on (http://\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    pid = int(re.search(r"stop it with 'kill (\d+)'", done.stdout).group(1))  # type: ignore[union-attr]
    try:
        # No wait, no retry: the command returned, so the server answers now.
        answer = requests.get(f"{url}/data/projects", auth=("admin", "admin"), timeout=30)
        assert answer.status_code == 200
        log = cache / "serve" / f"xnat-serve-{url.rsplit(':', 1)[1]}.log"
        assert done.stdout.splitlines()[-1] == f"  its log: {log}"
        assert list(log.parent.iterdir()) == [log]
        assert log.read_text(encoding="utf-8").startswith(f"XNAT emulator listening on {url}\n")
        assert list(scratch.rglob("*.log")) == []  # no log in the temporary folder
    finally:
        os.kill(pid, signal.SIGTERM)


def test_background_on_a_busy_port_says_why(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "xnat.cli", "serve", "--port", str(port), "--background"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(tmp_path), "XNAT_CACHE_DIR": str(tmp_path / "cache")},
        )
    assert done.returncode == 1
    assert done.stderr.strip() == f"xnat: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert list((tmp_path / "cache" / "serve").iterdir()) == []  # the log said it all: removed


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


def _first_lines(argv, count, env=None):
    child = subprocess.Popen([sys.executable, "-m", "xnat.cli", "serve", "--port", "0", *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        return [child.stdout.readline() for _ in range(count)]  # type: ignore[union-attr]
    finally:
        child.terminate()
        child.wait(timeout=30)


def test_populate_says_what_it_made(tmp_path):
    # No reference data here: the example files are the synthetic ones.
    env = {**os.environ, "XNAT_REFERENCE": str(tmp_path / "none")}
    lines = _first_lines(["--populate", "projects=2,subjects=3,experiments=2,scans=1"], 3, env)
    assert lines[0].startswith("XNAT emulator listening on http://")
    assert lines[1:] == [
        ("Populated 2 private projects (PROJnnn), 6 subjects, 12 MR sessions, 9 scans, "
        "owned by the first administrator (list them with: xnat ls)\n"),
        ("  the first 3 sessions hold scans with synthetic DICOM; "
        "download one: xnat download PROJ001/PROJ001_S00001/PROJ001_S00001_MR001 ./data\n")]


def test_populate_files_zero_makes_no_files_and_says_no_more(tmp_path):
    lines = _first_lines(["--populate", "projects=1,subjects=1,experiments=1,files=0", "--data-dir",
                          str(tmp_path / "data")], 2)
    assert lines[1] == ("Populated 1 private projects (PROJnnn), 1 subjects, 1 MR sessions, "
                        "owned by the first administrator (list them with: xnat ls)\n")
    assert list((tmp_path / "data").rglob("*.dcm")) == []


def test_a_populated_session_can_be_downloaded_as_the_server_says(tmp_path):
    env = {**os.environ, "XNAT_REFERENCE": str(tmp_path / "none")}
    child = subprocess.Popen([sys.executable, "-m", "xnat.cli", "serve", "--port", "0", "--populate",
                              "projects=1,subjects=1,experiments=1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = child.stdout.readline().split(" on ")[1].strip()  # type: ignore[union-attr]
        child.stdout.readline()  # type: ignore[union-attr]
        command = child.stdout.readline().split("download one: ")[1].split()  # type: ignore[union-attr]
        assert command[0] == "xnat"
        done = subprocess.run([sys.executable, "-m", "xnat.cli", *command[1:], "-q"], cwd=tmp_path, text=True,
                              capture_output=True, timeout=120,
                              env={**env, "XNATPY_HOST": url, "XNATPY_USER": "admin", "XNATPY_PASS": "admin"})
        assert done.returncode == 0, done.stderr
        got = sorted(p.name for p in (tmp_path / "data").rglob("*.dcm"))
        assert got == sorted([f"localizer.{n}.dcm" for n in (1, 2, 3)] + [f"T1w.{n}.dcm" for n in (1, 2, 3, 4, 5)])
    finally:
        child.terminate()
        child.wait(timeout=30)


def _started(argv):
    """A ``xnat serve --port 0`` child with these options, and its URL once it listens."""
    child = subprocess.Popen([sys.executable, "-m", "xnat.cli", "serve", "--port", "0", *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("XNAT emulator listening on "), (line, child.stderr.read())  # type: ignore[union-attr]
    return child, line.split(" on ")[1].strip()


def _stop(child):
    child.terminate()
    child.wait(timeout=30)


def test_no_keep_alive_closes_every_connection_after_one_answer():
    child, url = _started(["--no-keep-alive"])
    try:
        with requests.Session() as http:
            answer = http.get(f"{url}/data/projects", auth=("admin", "admin"), timeout=30)
        assert answer.status_code == 200 and answer.headers["Connection"] == "close"
    finally:
        _stop(child)


def test_connections_are_kept_alive_by_default():
    child, url = _started([])
    try:
        with requests.Session() as http:
            answer = http.get(f"{url}/data/projects", auth=("admin", "admin"), timeout=30)
        assert answer.status_code == 200 and "Connection" not in answer.headers
    finally:
        _stop(child)


def _get(url):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"GET /data/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n")
    return sock


def test_idle_timeout_closes_a_quiet_connection():
    child, url = _started(["--idle-timeout", "0.5"])
    try:
        with _get(url) as sock, sock.makefile("rb") as answer:
            assert answer.readline().startswith(b"HTTP/1.1 200")
            answer.read()  # to the end of the connection: the server closes it (within the socket's 30 s)
    finally:
        _stop(child)


def test_max_connections_answers_one_more_with_503():
    child, url = _started(["--max-connections", "1"])
    try:
        with _get(url) as held, held.makefile("rb") as first:
            assert first.readline().startswith(b"HTTP/1.1 200")  # and the connection is kept
            with _get(url) as extra, extra.makefile("rb") as refused:
                assert refused.readline().startswith(b"HTTP/1.1 503")
    finally:
        _stop(child)


@pytest.mark.parametrize(("option", "value"), [("--idle-timeout", "0"), ("--idle-timeout", "-1"),
                                               ("--idle-timeout", "soon"), ("--idle-timeout", "nan"),
                                               ("--max-connections", "0"), ("--max-connections", "2.5")])
def test_a_bad_connection_option_is_refused(cli, option, value):
    result = cli("serve", "--port", "0", option, value)
    assert result.code == 2
    assert f"argument {option}: must be" in result.err and repr(value) in result.err
