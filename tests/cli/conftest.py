"""Fixtures for driving the ``xnat`` command through its entry point.

``cli`` runs ``xnat.cli.main([...])`` in-process with captured output and a clean
environment (no credentials from the real home folder); ``served`` is one embedded
server per module, holding the demo's sample study.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import xnat
from xnat.cli import main

ADMIN = ("admin", "admin")
ENV_NAMES = ("XNATPY_HOST", "XNAT_HOST", "XNATPY_USER", "XNAT_USER", "XNATPY_PASS", "XNAT_PASS",
             "XNATPY_JSESSION", "XNAT_JSESSION", "NETRC")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No XNAT variables, and a home folder without a .netrc."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return monkeypatch


@pytest.fixture()
def cli(clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``cli("ls", "DEMO", stdin="...")`` -> Result(code, out, err)."""

    def run(*argv: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            clean_env.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
        sys.stdout.flush()
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A running embedded server with the demo study and a non-admin user alice/secret."""
    from xnat.demo import seed_study
    from xnat.testing.runner import XNATServer

    server = XNATServer(port=0, data_dir=tmp_path_factory.mktemp("cli-server"),
                        users=["admin:admin:admin", "alice:secret"])
    server.start()
    try:
        with xnat.connect(server.url, user="admin", password="admin", keepalive=False) as session:
            seed_study(session)
        yield server
    finally:
        server.close()


@pytest.fixture()
def as_admin(served: object, clean_env: pytest.MonkeyPatch) -> str:
    """Point the environment at ``served`` as admin; returns its URL."""
    url = served.url  # type: ignore[attr-defined]
    clean_env.setenv("XNATPY_HOST", url)
    clean_env.setenv("XNATPY_USER", ADMIN[0])
    clean_env.setenv("XNATPY_PASS", ADMIN[1])
    return url
