"""Fixtures for the session tests: the embedded server over real HTTP, and a request log."""

from __future__ import annotations

import logging
import re
import socket
import time

import pytest

from xnat import auth

ENV_NAMES = auth.SERVER_VARIABLES + auth.USER_VARIABLES + auth.PASSWORD_VARIABLES + ("NETRC",)
_REQUEST_LINE = re.compile(r"^(GET|HEAD|PUT|POST|DELETE|OPTIONS) (\S+) -> (\d+)")


@pytest.fixture(autouse=True)
def isolated_credentials(monkeypatch, tmp_path):
    """No credentials from the machine running the tests: clean env, empty home."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An embedded XNAT with an admin and a normal user, over HTTP on 127.0.0.1.

    Shared by the tests of a module (they only log in and read); tests that stop or
    restart a server make their own with ``xnat_server_factory``.
    """
    from xnat.testing.runner import XNATServer

    with XNATServer(data_dir=tmp_path_factory.mktemp("xnat"), users=["admin:admin:admin", "alice:alice-pw"]) as running:
        yield running


class RequestLog:
    """The requests the embedded server handled, read from its DEBUG log lines."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog
        self._start = 0

    def reset(self) -> None:
        self._start = len(self._caplog.records)

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        found = []
        for record in self._caplog.records[self._start:]:
            if record.name != "xnat.testing.runner":
                continue
            match = _REQUEST_LINE.match(record.getMessage())
            if match:
                found.append((match.group(1), match.group(2), int(match.group(3))))
        return found


@pytest.fixture()
def request_log(caplog):
    caplog.set_level(logging.DEBUG, logger="xnat.testing.runner")
    log = RequestLog(caplog)
    log.reset()
    return log


def wait_for(condition, limit: float = 15.0) -> bool:
    """Poll until ``condition()`` holds; the limit only keeps a broken test from hanging."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
