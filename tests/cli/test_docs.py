"""The documentation: builds with warnings as errors, its tutorial runs, the CLI page is complete."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import xnat
from xnat.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_build_with_warnings_as_errors(tmp_path):
    try:
        import sphinx  # noqa: F401
    except ImportError:
        pytest.skip('sphinx is not installed (pip install -e ".[docs]")')
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for page in ("index", "quickstart", "tutorial", "cli", "api", "testing", "howto/transfers",
                 "howto/import", "howto/search", "howto/migrating"):
        assert (tmp_path / "html" / f"{page}.html").is_file(), page
    api = (tmp_path / "html" / "api.html").read_text(encoding="utf-8")
    assert "xnat.connect" in api and "XNATServer" in api and "XNATListing" in api
    assert "xnat_server" in api and "xnat_session" in api  # the pytest plugin's fixtures


def test_the_docs_extra_has_what_autodoc_imports():
    # Checked by hand in a venv with only ".[docs]": autodoc imports the pytest plugin,
    # so without pytest the -W build stops (werkzeug is mocked in docs/conf.py).
    pyproject = (DOCS.parent / "pyproject.toml").read_text(encoding="utf-8")
    docs = re.findall(r'"([^"]+)"', re.search(r"^docs = \[(.*)\]$", pyproject, re.M).group(1))  # type: ignore[union-attr]
    assert any(requirement.startswith("pytest") for requirement in docs), docs
    assert any(requirement.startswith("sphinx") for requirement in docs), docs


def _python_blocks(page: str) -> str:
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    return "".join("\n".join(line[3:] for line in block.splitlines()) + "\n" for block in blocks)


def test_the_tutorial_runs_as_written(xnat_server, tmp_path, monkeypatch):
    from xnat.demo import seed_study

    with xnat.connect(xnat_server.url, user="admin", password="admin", keepalive=False) as session:
        seed_study(session)
    code = _python_blocks("tutorial.rst")
    assert code.count("\n") > 40
    monkeypatch.chdir(tmp_path)
    # Our own documentation, run against the embedded server (the URL is the only change).
    exec(compile(code.replace("http://127.0.0.1:8080", xnat_server.url), "tutorial.rst", "exec"), {})


def test_the_cli_page_covers_every_command():
    text = (DOCS / "cli.rst").read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"xnat {name}" in text, name


def test_the_readme_commands_are_the_ci_commands():
    root = DOCS.parent
    readme = (root / "README.rst").read_text(encoding="utf-8")
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    test_command = 'pip install -e ".[test]" && python -m pytest -q -p no:cacheprovider'
    assert test_command in readme
    assert test_command.replace("pip install -e", "pip install -q -e") in ci
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install \".[server]\" && xnat demo" in readme
