"""Every code block in the docstrings that ``docs/api.rst`` renders runs as a reader pastes it.

The modules are found from the page's ``automodule``, ``autoclass`` and ``autofunction``
directives; the blocks (``::`` and ``.. code-block::``) are taken from the docstrings
of the module and of its classes, functions and methods (for ``autoclass`` and
``autofunction``: of that object only), in source order, and run as the page blocks
are (:mod:`test_docs_run`): Python in one namespace per module, shell in bash, a
``def test_`` block with pytest; a block marked ``.. not-run: <reason>`` is skipped.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import re
from pathlib import Path

import pytest

from .test_docs_run import ROOT, _free_port, _stop, blocks_of, run_blocks

DIRECTIVE = re.compile(r"^\.\. auto(module|class|function):: ([\w.]+)", re.M)
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def documented() -> list[str]:
    """The objects the API page renders, as written in its directives (module or dotted object)."""
    return [name for _, name in DIRECTIVE.findall((ROOT / "docs" / "api.rst").read_text(encoding="utf-8"))]


def _tree(name: str) -> ast.AST:
    """The syntax tree of a module, or of the object ``module.object`` names."""
    module, attributes = name, []
    while (spec := _spec(module)) is None:
        module, _, last = module.rpartition(".")
        attributes.insert(0, last)
    assert spec.origin, f"docs/api.rst: {name} is not found"
    tree: ast.AST = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for part in attributes:
        tree = next(node for node in ast.iter_child_nodes(tree)
                    if isinstance(node, DOCUMENTED[1:]) and node.name == part)
    return tree


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:  # "xnat.connect": xnat is a module, xnat.connect is not
        return None


def docstring_blocks(name: str) -> list[tuple[str, str]]:
    """(kind, text) of each code block in the docstrings under ``name``, in source order."""
    nodes = [node for node in ast.walk(_tree(name)) if isinstance(node, DOCUMENTED)]
    nodes.sort(key=lambda node: getattr(node, "lineno", 0))
    found = []
    for node in nodes:
        docstring = ast.get_docstring(node)
        if docstring:
            found += blocks_of(docstring + "\n")
    return found


@pytest.mark.parametrize("name", documented())
def test_every_docstring_block_either_runs_or_says_why_not(name: str) -> None:
    for number, (kind, text) in enumerate(docstring_blocks(name), 1):
        assert kind != "unknown", (f"{name} docstring block {number} reads as neither Python nor shell: start it "
                                   f"with its imports, label it (.. code-block:: text for output) or put "
                                   f"'.. not-run: <reason>' before it:\n{text}")
        assert kind != "not-run" or text.strip(), f"{name} docstring block {number}: '.. not-run:' needs a reason"


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in documented()
                                  if any(kind != "not-run" for kind, _ in docstring_blocks(name))])
def test_the_docstring_blocks_run_as_pasted(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    servers: list[int] = []
    try:
        servers += run_blocks(f"{name} docstring", docstring_blocks(name), tmp_path, _free_port())
    finally:
        _stop(servers)


def test_the_api_page_directives_are_found() -> None:
    names = documented()
    assert {"xnat.connect", "xnat.transfer", "xnat.demo", "xnat.testing.runner"} <= set(names)
    assert [kind for kind, _ in docstring_blocks("xnat.connect")] == ["python"]  # connect's own, not the module's


def test_docstring_blocks_are_found_marked_or_unknown() -> None:
    docstring = ("Use it::\n\n    session.get('/data/projects')\n\n.. not-run: needs a cluster\n\n"
                 ".. code-block:: python\n\n    cluster = SLURMCluster()\n\nAgain::\n\n    import xnat\n")
    assert [kind for kind, _ in blocks_of(docstring)] == ["unknown", "not-run", "python"]


def test_a_failing_docstring_block_fails_and_names_itself(tmp_path: Path) -> None:
    with pytest.raises(NameError) as failed:
        run_blocks("xnat.example docstring", [("python", "import xnat\n"), ("python", "count_files\n")], tmp_path)
    assert any(str(entry.path) == "xnat.example docstring block 2" for entry in failed.traceback)
