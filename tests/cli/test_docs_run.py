"""Every code block of the README and the quick start runs as a reader pastes it, in order.

Blocks are taken from the page in reading order: Python blocks run in one namespace per
page (as in one interpreter), shell blocks run in bash with the installed ``xnat``
command (a console block's ``$`` lines, with their ``>`` continuation lines; what a block
exports or unsets holds for the blocks after it, as in one terminal). Port 8080 becomes a
free port (the only change). Installation and test commands (``pip``, ``python3 -m venv``,
``python -m pytest``, ``sphinx-build``) are not run here: ``.ci/run`` runs them; nor is
``xnat demo --keep``, which waits for Ctrl-C (``tests/cli/test_demo.py`` runs it), nor
``xnat bids`` (the CLI page's lines need a dcm2bids configuration and data to match it;
the BIDS how-to's worked example is run by its own test).
``xnat serve``, which serves until interrupted, runs with ``--background`` (in place of a
trailing ``&``) so that the next block can follow. A page that works on the tutorial's
server first runs the tutorial's block that starts it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_RUN_HERE = ("python3 -m venv", "pip install", "python -m pytest", "sphinx-build", "xnat demo --keep", "xnat bids ")
BLOCK = re.compile(r"(?:\.\. code-block:: (\w+)|::)\n\n((?:(?:    |   ).*\n|\n)+)")


def blocks(page: str) -> list[tuple[str, str]]:
    """(kind, text) of each code block, in order: kind is python, shell or text."""
    found = []
    for language, body in BLOCK.findall((ROOT / page).read_text(encoding="utf-8")):
        lines = body.rstrip("\n").splitlines()
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        text = "\n".join(line[indent:] for line in lines) + "\n"
        if language == "console":
            kind, text = "shell", _console_commands(text)
        elif "def test_" in text:
            kind = "pytest"
        elif language == "python" or (not language and re.search(r"^(import |def |with )", text, re.M)):
            kind = "python"
        elif not language and text.startswith(("xnat ", "export ", "python3 ", "pip ")):
            kind = "shell"
        else:
            kind = "text"
        found.append((kind, text))
    return found


def _console_commands(text: str) -> str:
    """The commands of a console block: ``$`` lines and their ``>`` continuations, no output."""
    commands: list[str] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            commands.append(_command(line))
        elif line.startswith("> ") and commands:
            commands[-1] += "\n" + _command(line)
    return "".join(command + "\n" for command in commands)


def _in_background(line: str) -> str:
    if line.startswith("xnat serve ") and "--background" not in line:
        return line.rstrip().removesuffix("&").rstrip() + " --background"
    return line


def _command(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line[2:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Pages whose examples use the demo's server, which the tutorial's first block starts.
ON_THE_TUTORIALS_SERVER = ("docs/howto/search.rst", "docs/howto/transfers.rst", "docs/howto/import.rst")


def run_page(page: str, workdir: Path, port: int) -> list[int]:
    """Run the page's blocks in order; returns the PIDs of servers its blocks started."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("XNATPY_", "XNAT_"))}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), XNAT_CACHE_DIR=os.environ.get("XNAT_CACHE_DIR", ""),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    namespace: dict[str, object] = {}
    servers = []
    exports = ""  # the reader's terminal keeps what a block exported
    setup = blocks("docs/tutorial.rst")[:1] if page in ON_THE_TUTORIALS_SERVER else []
    for number, (kind, text) in enumerate(setup + blocks(page), 1 - len(setup)):
        text = text.replace("8080", str(port))
        if kind == "shell":
            script = "\n".join(_in_background(line) for line in text.splitlines()
                                if not line.startswith(NOT_RUN_HERE))
            if not script.strip():
                continue
            done = subprocess.run(["bash", "-e", "-c", exports + script], cwd=workdir, env=env, capture_output=True,
                                  text=True, timeout=300)
            servers += [int(pid) for pid in re.findall(r"stop it with 'kill (\d+)'", done.stdout)]
            assert done.returncode == 0, f"{page} block {number}:\n{script}\n{done.stdout}\n{done.stderr}"
            exports += "".join(line + "\n" for line in script.splitlines() if line.startswith(("export ", "unset ")))
        elif kind == "python":
            exec(compile(text, f"{page} block {number}", "exec"), namespace)
        elif kind == "pytest":  # a test for the reader's own suite: run it with pytest, as they would
            (workdir / f"test_block_{number}.py").write_text(text, encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   f"test_block_{number}.py"], cwd=workdir, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, f"{page} block {number}:\n{done.stdout}\n{done.stderr}"
    return servers


def _stop(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


@pytest.mark.slow
@pytest.mark.parametrize("page", ["README.rst", "docs/index.rst", "docs/quickstart.rst", "docs/tutorial.rst",
                                  "docs/testing.rst", "docs/howto/search.rst", "docs/howto/transfers.rst",
                                  "docs/cli.rst", "docs/howto/import.rst"])
def test_the_page_runs_as_pasted(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("XNATPY_")]:
        monkeypatch.delenv(name)
    servers: list[int] = []
    port = _free_port()
    try:
        servers += run_page(page, tmp_path, port)
    finally:
        _stop(servers)


def test_the_blocks_are_found():
    kinds = [kind for kind, _ in blocks("README.rst")]
    assert kinds == ["shell", "shell", "shell", "python", "pytest"]


def test_console_blocks_keep_continuation_lines_and_drop_output():
    text = "$ xnat ls | while read a; do   # a loop\n>   echo $a\n> done\noutput line\n$ xnat logout\n"
    assert _console_commands(text) == "xnat ls | while read a; do\n  echo $a\ndone\nxnat logout\n"


def test_a_server_started_with_an_ampersand_runs_in_the_background():
    assert _in_background("xnat serve --port 0 --ready-file url.txt &") == \
        "xnat serve --port 0 --ready-file url.txt --background"
    assert _in_background("xnat serve --background") == "xnat serve --background"
