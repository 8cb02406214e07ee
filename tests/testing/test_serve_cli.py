"""``xnat serve`` driven through its console entry point, as a user runs it."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

SERVE = [sys.executable, "-m", "xnat.cli", "serve"]
BANNER = "XNAT emulator listening on "


def start(*options: str, env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start ``xnat serve``; return the process, its URL and seconds until the banner."""
    began = time.monotonic()
    process = subprocess.Popen(
        [*SERVE, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )
    ready, _, _ = select.select([process.stdout], [], [], 20)
    if not ready:
        process.kill()
        pytest.fail("xnat serve printed nothing within 20 s")
    line = process.stdout.readline().strip()
    elapsed = time.monotonic() - began
    if not line.startswith(BANNER):
        process.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {process.stderr.read()}")
    return process, line[len(BANNER):], elapsed


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


def test_port_zero_prints_a_working_url_and_stops_cleanly_on_interrupt():
    process, url, elapsed = start("--port", "0")
    try:
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(f"{url}/data/JSESSION", auth=("admin", "admin"), timeout=10)
        assert response.status_code == 200
        assert len(response.text.strip()) == 32
    finally:
        assert stop(process) == 0
    # Reported here rather than asserted with a timer: the issue asks for 2 s.
    print(f"xnat serve --port 0 printed its URL after {elapsed:.2f} s")


def test_users_populate_and_data_dir_survive_a_restart(tmp_path: Path):
    data_dir = tmp_path / "archive"
    options = ("--port", "0", "--data-dir", str(data_dir), "--durable", "--user", "alice:s3cret", "--user", "root:toor:admin")
    process, url, _ = start(*options, "--populate", "projects=1,subjects=3,experiments=2")
    try:
        assert requests.get(f"{url}/data/projects", auth=("alice", "wrong"), timeout=10).status_code == 401
        projects = requests.get(f"{url}/data/projects?format=json", auth=("root", "toor"), timeout=10).json()
        rows = projects["ResultSet"]["Result"]
        assert len(rows) == 1
        project = rows[0]["ID"]
        subjects = requests.get(f"{url}/data/projects/{project}/subjects?format=json", auth=("root", "toor"), timeout=10)
        assert len(subjects.json()["ResultSet"]["Result"]) == 3
        created = requests.put(f"{url}/data/projects/KEEPME", auth=("root", "toor"), timeout=10)
        assert created.status_code in (200, 201)
    finally:
        assert stop(process) == 0

    process, url, _ = start(*options)
    try:
        listing = requests.get(f"{url}/data/projects?format=json", auth=("root", "toor"), timeout=10).json()
        ids = {row["ID"] for row in listing["ResultSet"]["Result"]}
        assert {project, "KEEPME"} <= ids
    finally:
        assert stop(process) == 0


@pytest.mark.parametrize(
    "options, message",
    [
        (["--user", "nopassword"], "--user must be NAME:PASSWORD"),
        (["--user", "a:b:superuser"], "--user must be NAME:PASSWORD"),
        (["--schemas", "/nonexistent/schemas"], "no such folder"),
        (["--populate", "projects=many"], "populate"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_non_zero(options, message):
    result = subprocess.run([*SERVE, "--port", "0", *options], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("xnat: error:") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_a_clear_error():
    process, url, _ = start("--port", "0")
    try:
        port = url.rsplit(":", 1)[1]
        result = subprocess.run([*SERVE, "--port", port], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        stop(process)


def test_schemas_serves_the_folder_given(reference_schemas: Path):
    process, url, _ = start("--port", "0", "--schemas", str(reference_schemas))
    try:
        served = requests.get(f"{url}/xapi/schemas", auth=("admin", "admin"), timeout=10).json()
    finally:
        assert stop(process) == 0
    assert len(served) == 17  # the real XNAT set, not the four files of the built-in one
    assert {"xnat", "project", "security"} <= set(served)
