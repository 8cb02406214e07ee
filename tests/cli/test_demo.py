"""``xnat demo``: the README's first command, in-process and as a user runs it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from xnat.demo import SAMPLE_STUDY, STEPS

XNAT = [sys.executable, "-m", "xnat.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XNATPY_", "XNAT_")) or k == "XNAT_CACHE_DIR"}
    env.update(extra)
    return env


def test_demo_runs_every_step_and_exits_0(cli):
    result = cli("demo")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("Started an embedded XNAT server at http://127.0.0.1:")
    for number in range(1, STEPS + 1):
        assert f"[{number}/{STEPS}] " in out
    for expected in ("datetime.date(2021, 3, 1)", "DEMO_004_MR1", "identical to the uploaded one",
                     "DEMO_001_MR1, DEMO_002_MR1, DEMO_003_MR1", "Done. Stopping the embedded server."):
        assert expected in out
    # the search step found the three sample sessions, not the one made today
    assert "    DEMO_001_MR1, DEMO_002_MR1, DEMO_003_MR1" in out.splitlines()
    assert result.err == ""


def test_demo_against_a_running_server_leaves_its_data_there(cli, as_admin):
    result = cli("demo", "--server", as_admin, "--project", "TOUR")
    assert result.code == 0, result.err
    assert f"Using the XNAT server at {as_admin}" in result.out
    labels = cli("ls", "TOUR", "-c", "label", "--no-header").out.split()
    assert labels == [f"TOUR_00{n}" for n in range(1, len(SAMPLE_STUDY.subjects) + 2)]

    again = cli("demo", "--server", as_admin, "--project", "TOUR")
    assert again.code == 1 and len(again.err_lines) == 1
    assert again.err_lines == [(f"xnat: error: a project TOUR already exists on {as_admin}: "
                               "pass --project ID to seed the sample study under another ID")]


@pytest.mark.parametrize("argv, fragment", [
    (("demo", "--project", "bad name!"), "use letters, digits"),
    (("demo", "--keep", "--server", "http://127.0.0.1:1"), "--keep is for the built-in server"),
    (("demo", "--server", "http://127.0.0.1:1"), "could not connect"),
])
def test_demo_bad_input(cli, argv, fragment):
    result = cli(*argv)
    assert result.code == 1 and len(result.err_lines) == 1, result.err
    assert fragment in result.err


def test_demo_with_a_wrong_password(cli, as_admin):
    result = cli("demo", "--server", as_admin, "--password-stdin", stdin="wrong\n")
    assert result.code == 1 and "failed" in result.err and "wrong" not in result.err


def _read_until(process: subprocess.Popen, pattern: str, timeout: float = 60) -> re.Match:
    """Read the process's stdout lines until one matches (a thread reads: no select on a buffered pipe)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
            if re.search(pattern, line):
                return  # leave the rest unread so that the caller's pipe stays open

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    process.kill()
    pytest.fail(f"no line matching {pattern!r}; got {''.join(seen)!r}; stderr: {process.stderr.read()}")


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()


def test_xnat_ls_against_xnat_serve_lists_what_the_demo_created():
    server = subprocess.Popen([*XNAT, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env())
    try:
        url = _read_until(server, r"XNAT emulator listening on (\S+)").group(1)
        demo = subprocess.run([*XNAT, "demo", "--server", url], capture_output=True, text=True, timeout=120,
                              env=_env())
        assert demo.returncode == 0, demo.stderr
        env = _env(XNATPY_HOST=url, XNATPY_USER="admin", XNATPY_PASS="admin")
        listing = subprocess.run([*XNAT, "ls", "DEMO", "--format", "csv", "-c", "label"], capture_output=True,
                                 text=True, timeout=60, env=env)
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.split() == ["label", "DEMO_001", "DEMO_002", "DEMO_003", "DEMO_004"]
        files = subprocess.run([*XNAT, "ls", "DEMO/DEMO_004/DEMO_004_MR1/1/NIFTI", "-c", "Name", "--no-header"],
                               capture_output=True, text=True, timeout=60, env=env)
        assert files.stdout.split() == ["T1w.nii.gz"]
    finally:
        assert _stop(server) == 0


def test_demo_keep_leaves_the_server_up_until_interrupted():
    demo = subprocess.Popen([*XNAT, "demo", "--keep"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        url = _read_until(demo, r"keeps running at (\S+) ").group(1)
        env = _env(XNATPY_HOST=url, XNATPY_USER="admin", XNATPY_PASS="admin")
        listing = subprocess.run([*XNAT, "ls", "-c", "ID", "--no-header"], capture_output=True, text=True,
                                 timeout=60, env=env)
        assert listing.stdout.split() == ["DEMO"]
    finally:
        code = _stop(demo)
        assert code == 0, demo.stderr.read()[-3000:]
