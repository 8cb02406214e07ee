"""Every code block of the README, CONTRIBUTING and every page of docs/ runs as a reader pastes it, in order.

Blocks are taken from the page in reading order: Python blocks run in one namespace per
page (as in one interpreter), shell blocks run in bash with the installed ``xnat``
command (a console block's ``$`` lines, with their ``>`` continuation lines; what a block
exports or unsets holds for the blocks after it, as in one terminal). Port 8080 becomes a
free port (the only change). Installation and test commands (``pip``, ``python3 -m venv``,
``python -m pytest``, ``sphinx-build``) are not run here: ``.ci/run`` runs them; nor is
``xnat demo --keep``, which waits for Ctrl-C (``tests/cli/test_demo.py`` runs it).
``xnat serve``, which serves until interrupted, runs with ``--background`` (in place of a
trailing ``&``) so that the next block can follow. A page that works on the tutorial's
server (it uses ``127.0.0.1:8080`` and starts no server itself) first runs the tutorial's
block that starts it.

Every page is found by globbing ``docs/`` and the top folder's ``*.rst``, so a new page is run without
being listed here. Which blocks run is said in the page itself: ``python``, ``console``,
``bash`` and unlabelled ``::`` blocks that read as Python or shell run; ``text`` and data
formats (``json``...) do not; a block that cannot run here is preceded by an rst comment
``.. not-run: <reason>``, which readers do not see. A Python block whose first line is
``# <name>.py`` is a module the reader saves under that name: it is written to the working
folder, which is on ``sys.path`` as it is for ``python`` started there.
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
PAGES = sorted(str(page.relative_to(ROOT)) for page in [*ROOT.glob("*.rst"), *(ROOT / "docs").rglob("*.rst")])
NOT_RUN_HERE = ("python3 -m venv", "pip install", "python -m pytest", "sphinx-build", "xnat demo --keep")
# A code-block directive, or a paragraph ending in "::" (not a directive such as ".. note::").
BLOCK = re.compile(r"(?:^\.\. not-run: *(.*)\n\n)?(?:^\.\. code-block:: ([\w-]+)|^(?!\s*\.\. )[^\n]*::)\n\n"
                   r"((?:(?:    |   ).*\n|\n)+)", re.M)
RUN_AS = {"python": "python", "pycon": "python", "console": "shell", "bash": "shell", "shell": "shell", "sh": "shell"}
MODULE = re.compile(r"# \w+\.py\n")


def blocks(page: str) -> list[tuple[str, str]]:
    """(kind, text) of each code block, in order.

    kind is python, module, pytest or shell (run), text (not code: an output, a data file)
    or not-run (marked so in the page); an unlabelled block that reads as neither Python nor
    shell is unknown, which the page must say.
    """
    return blocks_of((ROOT / page).read_text(encoding="utf-8"))


def blocks_of(source: str) -> list[tuple[str, str]]:
    found = []
    for not_run, language, body in BLOCK.findall(source):
        lines = body.rstrip("\n").splitlines()
        indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
        text = "\n".join(line[indent:] for line in lines) + "\n"
        found.append(("not-run", not_run) if not_run else _kind(language, text))
    return found


def _kind(language: str, text: str) -> tuple[str, str]:
    if language == "console":
        return "shell", _console_commands(text)
    if language == "pycon":
        return "python", _session_source(text)
    if language and RUN_AS.get(language) == "shell":
        return "shell", text
    if language and language not in RUN_AS:
        return "text", text
    if "def test_" in text:
        return "pytest", text
    if language or re.search(r"^(import |from [\w.]+ import |def |with )", text, re.M):
        return ("module" if MODULE.match(text) else "python"), text
    if text.startswith(("xnat ", "export ", "python3 ", "pip ")):
        return "shell", text
    return "unknown", text


def _session_source(text: str) -> str:
    """The code of an interactive session (pycon): ``>>>`` and ``...`` lines, no output."""
    return "".join(line[4:] + "\n" for line in text.splitlines() if line[:4] in (">>> ", "... ", ">>>", "..."))


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


def on_the_tutorials_server(page: str) -> bool:
    """Whether the page's examples use the demo's server (port 8080) without starting one."""
    code = [text for kind, text in blocks(page) if kind in ("python", "module", "shell")]
    return any("8080" in text for text in code) and not any("xnat serve" in text for text in code)


def run_page(page: str, workdir: Path, port: int) -> list[int]:
    """Run the page's blocks in order; returns the PIDs of servers its blocks started."""
    setup = blocks("docs/tutorial.rst")[:1] if on_the_tutorials_server(page) else []
    return run_blocks(page, setup + blocks(page), workdir, port, first=1 - len(setup))


def run_blocks(source: str, found: list[tuple[str, str]], workdir: Path, port: int = 8080,
               first: int = 1) -> list[int]:
    """Run blocks (of ``source``, which errors name) in order, in one namespace and one terminal.

    Returns the PIDs of servers the blocks started.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith(("XNATPY_", "XNAT_"))}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), XNAT_CACHE_DIR=os.environ.get("XNAT_CACHE_DIR", ""),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    namespace: dict[str, object] = {}
    servers = []
    exports = ""  # the reader's terminal keeps what a block exported
    for number, (kind, text) in enumerate(found, first):
        text = text.replace("8080", str(port))
        if kind == "shell":
            script = "\n".join(_in_background(line) for line in text.splitlines()
                                if not line.startswith(NOT_RUN_HERE))
            if not script.strip():
                continue
            done = subprocess.run(["bash", "-e", "-c", exports + script], cwd=workdir, env=env, capture_output=True,
                                  text=True, timeout=300)
            servers += [int(pid) for pid in re.findall(r"stop it with 'kill (\d+)'", done.stdout)]
            assert done.returncode == 0, f"{source} block {number}:\n{script}\n{done.stdout}\n{done.stderr}"
            exports += "".join(line + "\n" for line in script.splitlines() if line.startswith(("export ", "unset ")))
        elif kind == "python":
            exec(compile(text, f"{source} block {number}", "exec"), namespace)
        elif kind == "module":  # the reader saves it under the name its first line gives
            (workdir / text.splitlines()[0].removeprefix("# ")).write_text(text, encoding="utf-8")
        elif kind == "pytest":  # a test for the reader's own suite: run it with pytest, as they would
            (workdir / f"test_block_{number}.py").write_text(text, encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   f"test_block_{number}.py"], cwd=workdir, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, f"{source} block {number}:\n{done.stdout}\n{done.stderr}"
    return servers


def _stop(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def _needs(page: str, request: pytest.FixtureRequest) -> None:
    """Skip, with the reason, a page whose blocks need what this machine lacks."""
    code = "".join(text for kind, text in blocks(page) if kind in ("python", "module", "shell"))
    if "XNAT_REFERENCE" in code:
        request.getfixturevalue("reference")
    if "dask" in code:
        pytest.importorskip("distributed", reason='the Dask how-to needs the dask extra (pip install "xnat[dask]")')
    if "export_bids" in code:
        from xnat.bids.convert import find_dcm2niix
        from xnat.bids.errors import BidsToolMissing

        try:
            find_dcm2niix()
        except BidsToolMissing:
            pytest.skip('dcm2niix is not installed (pip install "xnat[bids]")')


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_pasted(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  request: pytest.FixtureRequest) -> None:
    _needs(page, request)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as for python started in the folder: the reader's modules import
    for name in [name for name in os.environ if name.startswith("XNATPY_")]:
        monkeypatch.delenv(name)
    servers: list[int] = []
    port = _free_port()
    try:
        servers += run_page(page, tmp_path, port)
    finally:
        _stop(servers)
        for name in [name for name, module in sys.modules.items()
                     if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path))]:
            del sys.modules[name]  # a later page's module of the same name is its own


def test_every_block_either_runs_or_says_why_not() -> None:
    for page in PAGES:
        for number, (kind, text) in enumerate(blocks(page), 1):
            assert kind != "unknown", (f"{page} block {number} reads as neither Python nor shell: label it "
                                       f"(.. code-block:: text for output) or put '.. not-run: <reason>' "
                                       f"before it:\n{text}")
            assert kind != "not-run" or text.strip(), f"{page} block {number}: '.. not-run:' needs a reason"
        source = (ROOT / page).read_text(encoding="utf-8")
        directives = [language for _, language, _ in BLOCK.findall(source) if language]
        written = re.findall(r"^\s*\.\. code-block::", source, re.M)
        assert len(directives) == len(written), f"{page}: a code block is not found (indented? options?)"


def test_the_pages_are_found_by_discovery() -> None:
    assert {"README.rst", "CONTRIBUTING.rst", "docs/tutorial.rst", "docs/howto/dask.rst", "docs/architecture.rst"} <= set(PAGES)


def test_marked_and_module_blocks() -> None:
    text = ("Run::\n\n    xnat ls\n\n.. not-run: there is no cluster here\n\n.. code-block:: python\n\n"
            "   cluster = SLURMCluster()\n\n.. code-block:: python\n\n   # qc.py\n   def f(x):\n"
            "       return x\n\n.. code-block:: json\n\n   {}\n\nOut::\n\n   3 files\n\n.. note::\n\n   Not code.\n")
    assert [kind for kind, _ in blocks_of(text)] == ["shell", "not-run", "module", "text", "unknown"]


def test_the_blocks_are_found():
    kinds = [kind for kind, _ in blocks("README.rst")]
    assert kinds == ["shell", "shell", "shell", "python", "pytest"]


def test_interactive_sessions_keep_their_code_and_drop_output() -> None:
    text = ">>> for a in [1]:\n...     print(a)\n...\n1\n>>> a\n1\n"
    indented = "".join("   " + line + "\n" for line in text.splitlines())
    assert blocks_of(f".. code-block:: pycon\n\n{indented}") == [("python", "for a in [1]:\n    print(a)\n\na\n")]


def test_console_blocks_keep_continuation_lines_and_drop_output():
    text = "$ xnat ls | while read a; do   # a loop\n>   echo $a\n> done\noutput line\n$ xnat logout\n"
    assert _console_commands(text) == "xnat ls | while read a; do\n  echo $a\ndone\nxnat logout\n"


def test_a_server_started_with_an_ampersand_runs_in_the_background():
    assert _in_background("xnat serve --port 0 --ready-file url.txt &") == \
        "xnat serve --port 0 --ready-file url.txt --background"
    assert _in_background("xnat serve --background") == "xnat serve --background"
